"""Hostile text typed by users is shown as plain text on every page: never as markdown or HTML."""

from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from fund import auth, clock, kpi, ledger, proposals
from fund.auth import Actor
from fund.db import query_df
from fund.models import FiscalYear, LedgerKind, Role
from tests.conftest import arranged, make_proposal, posting
from tests.ui.conftest import signed_in_app

SCRIPT = "<script>alert(1)</script>"
MD_LINK = "[x](javascript:alert(1))"
BOLD = "**bold**"
PAYLOADS = [SCRIPT, MD_LINK, BOLD]
PAGES = [
    "pages/home.py",
    "pages/fund_status.py",
    "pages/proposals.py",
    "pages/screening.py",
    "pages/allocations.py",
    "pages/kpi.py",
    "pages/admin.py",
    "pages/account.py",
]
# Element types whose body Streamlit renders as markdown.
MARKDOWN_TYPES = (
    "markdown",
    "caption",
    "title",
    "header",
    "subheader",
    "error",
    "info",
    "success",
    "warning",
)


def markdown_texts(at: AppTest) -> list[str]:
    texts: list[str] = []
    for kind in MARKDOWN_TYPES:
        texts.extend(str(el.value) for el in getattr(at, kind))
    texts.extend(str(el.label) for el in at.get("expander"))
    texts.extend(str(el.label) for el in at.tabs)
    return texts


def dataframe_cells(at: AppTest) -> set[str]:
    cells: set[str] = set()
    for df in at.dataframe:
        cells |= {str(v) for v in df.value.astype(str).to_numpy().ravel()}
    return cells


@pytest.fixture
def hostile(seeded_engine: Engine, admin: Actor) -> Engine:
    """Hostile text in every kind of user-entered field that exists."""
    for i, text in enumerate(PAYLOADS):
        auth.create_user(
            seeded_engine,
            actor=admin,
            login=f"hostile{i}",
            role=Role.screener,
            password=None,
            display_name=text,
        )
        ledger.post_entry(
            seeded_engine,
            actor=admin,
            entry=posting(
                {
                    "posted_on": date(2025, 7, 1),
                    "fiscal_year": 2025,
                    "kind": LedgerKind.deposit,
                    "amount_yen": 1_000 + i,
                    "memo": text,
                }
            ),
        )
    ind = query_df(seeded_engine, "SELECT id, unit FROM kpi_indicator ORDER BY id LIMIT 1").iloc[0]
    data: dict[str, Any] = {
        "indicator_id": int(ind["id"]),
        "fiscal_year": 2025,
        "actual_value": 1.0,
        "unit": str(ind["unit"]),
        "measured_on": date(2025, 12, 1),
        "source": SCRIPT,
    }
    kpi.enter_actual(seeded_engine, actor=admin, data=data, today=date(2026, 1, 31))
    year = clock.current_fiscal_year() + 1
    with arranged(seeded_engine) as session:
        if session.get(FiscalYear, year) is None:
            session.add(FiscalYear(year=year))
    for i, text in enumerate(PAYLOADS):
        proposals.save_proposal(
            seeded_engine,
            actor=admin,
            data=make_proposal(
                seeded_engine,
                year,
                project_name=f"{text} {i}",
                req1_reason=text,
                summary=text,
                purpose=text,
                problem=text,
                novelty_note=text,
                cost_lines=[
                    {
                        "fiscal_year": year,
                        "project_cost_yen": 30_000_000,
                        "fund_share_yen": 20_000_000,
                        "note": text,
                    }
                ],
                kpis=[{"name": text, "unit": "件", "baseline": 0, "target_first": 1, "target_later": 2}],
            ),
            submit=True,
        )
    return seeded_engine


@pytest.mark.usefixtures("hostile")
@pytest.mark.parametrize("page", PAGES)
def test_no_page_renders_user_text_as_markdown(page: str) -> None:
    actor = Actor(login="test_admin", role=Role.admin, display_name=BOLD)
    at = signed_in_app(actor, page)
    assert not at.exception
    leaked = [t for t in markdown_texts(at) for p in PAYLOADS if p in t]
    assert leaked == []


@pytest.mark.usefixtures("hostile")
def test_the_signed_in_name_is_plain_text_in_the_sidebar() -> None:
    at = signed_in_app(Actor(login="test_admin", role=Role.admin, display_name=MD_LINK))
    assert any(MD_LINK in t.value for t in at.sidebar.text)


@pytest.mark.usefixtures("hostile")
def test_hostile_text_reaches_the_tables_verbatim() -> None:
    at = signed_in_app(Actor(login="test_admin", role=Role.admin, display_name="管理者"), "pages/admin.py")
    assert set(PAYLOADS) <= dataframe_cells(at)
    at = signed_in_app(
        Actor(login="test_admin", role=Role.admin, display_name="管理者"), "pages/fund_status.py"
    )
    assert not at.exception
    assert set(PAYLOADS) <= dataframe_cells(at)


def test_hostile_text_typed_into_the_admin_form_is_stored_and_shown_verbatim(seeded_engine: Engine) -> None:
    at = signed_in_app(Actor(login="test_admin", role=Role.admin, display_name="管理者"), "pages/admin.py")
    at.text_input(key="new_login").input("typed")
    at.text_input(key="new_name").input(SCRIPT)
    at.selectbox(key="new_role").select(Role.screener)
    at = next(b for b in at.button if b.label == "追加する").click().run()
    assert not at.exception and not at.error
    stored = query_df(seeded_engine, "SELECT display_name FROM app_user WHERE login = 'typed'")
    assert stored["display_name"].iloc[0] == SCRIPT
    assert SCRIPT in dataframe_cells(at)
    assert not [t for t in markdown_texts(at) if SCRIPT in t]


def _row_count(engine: Engine, table: str) -> int:
    return int(query_df(engine, f"SELECT COUNT(*) AS n FROM {table}")["n"].iloc[0])


def test_sql_fragments_in_the_audit_filter_show_the_empty_state(seeded_engine: Engine) -> None:
    entries = _row_count(seeded_engine, "ledger_entry")
    at = signed_in_app(Actor(login="test_admin", role=Role.admin, display_name="管理者"), "pages/admin.py")
    for fragment in ("' OR 1=1 --", '"; DROP TABLE ledger_entry; --'):
        at.text_input(key="audit_actor").input(fragment).run()
        assert not at.exception
        assert any("条件に合う記録はありません" in i.value for i in at.info)
    assert entries == 26 and _row_count(seeded_engine, "ledger_entry") == entries  # the seed's 26 entries


@pytest.mark.parametrize(
    ("page", "key", "tab"),
    [("pages/proposals.py", "prop_search", None), ("pages/screening.py", "res_search", "結果")],
)
def test_sql_fragments_in_the_search_boxes_are_harmless(
    seeded_engine: Engine, page: str, key: str, tab: str | None
) -> None:
    tables = ("ledger_entry", "proposal", "screening_round")
    before = {table: _row_count(seeded_engine, table) for table in tables}
    at = signed_in_app(Actor(login="test_admin", role=Role.admin, display_name="管理者"), page)
    if tab is not None:  # only the open tab of the 審査・採点 page runs
        at.session_state["screening_tab"] = tab
        at.run()
    for fragment in ("' OR 1=1 --", '"; DROP TABLE ledger_entry; --', "%"):
        at.text_input(key=key).input(fragment).run()
        assert not at.exception
        assert not at.error
    assert all(before.values())
    assert {table: _row_count(seeded_engine, table) for table in tables} == before
