"""AppTest: every page renders real data without an exception, with its Japanese title."""

import ast
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from fund import auth, ledger
from fund.auth import Actor
from fund.models import Role
from tests.conftest import APP, ROOT, approved_allocation
from tests.ui.conftest import press


def _menu_pages() -> list[tuple[str, str]]:
    """(file, title) of every page in app.py's PAGES table, read from its source (the menu's own list)."""
    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    (table,) = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PAGES"
    ]
    assert isinstance(table, ast.List)
    return [(ast.literal_eval(row.elts[0]), ast.literal_eval(row.elts[1])) for row in table.elts]  # type: ignore[attr-defined]


PAGES = _menu_pages()


def test_the_smoke_list_holds_every_page_file() -> None:
    files = {p for p, _ in PAGES} | {"pages/login.py"}  # login is the signed-out visitor's only page
    on_disk = {f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py") if not p.name.startswith("_")}
    assert len(PAGES) == 8 and files == on_disk


@pytest.mark.parametrize(("page", "title"), PAGES)
def test_every_page_renders_with_its_japanese_title(
    app_as: Callable[..., AppTest], page: str, title: str
) -> None:
    at = app_as(Role.admin, page)
    assert not at.exception
    assert [t.value for t in at.title] == [title]
    assert not at.error


@pytest.mark.usefixtures("seeded_engine")
def test_signed_out_visitor_sees_only_the_sign_in_form() -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "山口県デジタル実装推進基金 管理ダッシュボード"
    assert [b.label for b in at.button] == ["サインイン"]


def test_sign_in_with_wrong_password_shows_a_japanese_error(seeded_engine: Engine, admin: Actor) -> None:
    auth.create_user(
        seeded_engine, actor=admin, login="sato", role=Role.screener, password="kihon-kikin-2024"
    )
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input(key="login_name").input("sato")
    at.text_input(key="login_password").input("wrong-password")
    at.button[0].click().run()
    assert at.error[0].value == "ログイン名またはパスワードが正しくありません。"
    at.text_input(key="login_password").input("kihon-kikin-2024")
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["actor"].login == "sato"
    at.switch_page("pages/home.py").run()
    assert at.title[0].value == "ホーム"


def test_home_shows_the_seeded_balance_and_the_current_years_fund_share(
    app_as: Callable[..., AppTest],
) -> None:
    with time_machine.travel(datetime(2024, 11, 22, 1, 0, tzinfo=UTC), tick=True):  # 令和6年度
        at = app_as(Role.executive)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["基金残高"] == "20億6,000万円"
    assert metrics["令和6年度 基金充当額"] == "11億3,580万8,000円"
    assert metrics["基金の使用割合"] == "48.5%"


def test_home_and_the_fund_page_show_one_current_year_and_one_runway(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    """An approval for a later 年度 does not move ホーム off the current 年度 (令和8年度 here)."""
    approved_allocation(seeded_engine, "やまぐちデジタル実装推進事業", 30_000_000, year=2027)
    with time_machine.travel(datetime(2026, 11, 22, 1, 0, tzinfo=UTC), tick=True):
        home = {m.label: m for m in app_as(Role.executive).metric}
        fund = {m.label: m for m in app_as(Role.executive, "pages/fund_status.py").metric}
    assert home["令和8年度 基金充当額"].value == "0円"
    assert home["残り年数の目安"].value == fund["残り年数の目安"].value
    for m in (home["残り年数の目安"], fund["残り年数の目安"]):
        assert "直近ペース" in m.help and "令和" in m.help  # the assumption and the run-out 年度 beside it


@pytest.mark.usefixtures("seeded_engine")
def test_menu_is_built_per_role() -> None:
    from tests.conftest import make_actor
    from tests.ui.conftest import signed_in_app

    at = signed_in_app(make_actor(Role.department, department_id=1))
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/admin.py")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/screening.py")


def test_allocation_page_shows_the_published_totals(app_as: Callable[..., AppTest]) -> None:
    at = app_as(Role.screener, "pages/allocations.py")
    df = at.table[0].value
    cells = df.astype(str).values.ravel().tolist()
    assert "9事業計" in cells and "619,616" in cells
    assert "11事業計" in cells and "1,097,090" in cells
    assert "合計 24事業" in cells and "2,271,616" in cells
    assert cells.count("(再掲)") >= 4


def test_ledger_form_refuses_a_bad_amount_and_writes_nothing(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    before = ledger.balance(seeded_engine)
    at = app_as(Role.admin, "pages/fund_status.py")
    at.date_input(key="post_date").set_value(date(2026, 7, 1)).run()
    at.text_input(key="post_amount").input("abc")
    at.text_input(key="post_memo").input("テスト")
    press(at, "記帳する")
    assert "金額は半角数字" in at.error[0].value
    assert ledger.balance(seeded_engine) == before


def test_ledger_form_refuses_an_overdraw_with_the_shortfall(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    at = app_as(Role.admin, "pages/fund_status.py")
    at.date_input(key="post_date").set_value(date(2026, 7, 1)).run()
    at.selectbox(key="post_kind").set_value(next(k for k in ledger.LedgerKind if k.value == "drawdown"))
    at.text_input(key="post_amount").input("3000000000")
    at.text_input(key="post_memo").input("過大な取崩し")
    at.text_input(key="post_unallocated").input("配分外の例外")
    press(at, "記帳する")
    assert "残高不足" in at.error[0].value and "940,000,000円" in at.error[0].value
    assert ledger.balance(seeded_engine) == 2_060_000_000


def test_non_admin_sees_no_ledger_form(app_as: Callable[..., AppTest]) -> None:
    at = app_as(Role.executive, "pages/fund_status.py")
    assert not at.exception
    assert "記帳（管理者）" not in [s.value for s in at.subheader]


def test_department_user_sees_only_own_department_proposals(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    from fund import reference

    depts = reference.departments(seeded_engine)
    police = int(depts.loc[depts["name"] == "警察本部", "id"].iloc[0])
    at = app_as(Role.department, "pages/proposals.py", department_id=police)
    df = at.dataframe[0].value
    assert set(df["所管部局"]) == {"警察本部"}
    assert len(df) == 3
