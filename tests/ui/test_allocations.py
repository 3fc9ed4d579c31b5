"""AppTest: the 年度配分 page — table and filters, maker–checker, the annual cap, scenarios, the optimiser."""

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from fund import allocation, allocation_export, optimiser, reference, scenario
from fund.auth import Actor
from fund.db import query_df
from fund.models import AllocationStatus, Role
from tests.conftest import adopted_copies, approved_allocation
from tests.ui.conftest import press, signed_in_app
from tests.ui.test_safety import BOLD, PAYLOADS, hostile, markdown_texts  # noqa: F401 (hostile is a fixture)

PAGE = "pages/allocations.py"


def _cells(at: AppTest, n: int = 0) -> list[str]:
    return at.dataframe[n].value.astype(str).values.ravel().tolist()


def _printed_cells(at: AppTest) -> list[str]:
    """Every cell of the 配分表 (printed as a table, not the grid)."""
    return at.table[0].value.astype(str).values.ravel().tolist()


def _open_tab(at: AppTest, name: str) -> AppTest:
    """Switch to a tab of the page (only the open tab runs, as in the browser)."""
    at.session_state["alloc_tab"] = name
    return at.run()


def _propose(at: AppTest, *, year: int, share: int) -> AppTest:
    _open_tab(at, "配分の登録・承認")
    at.selectbox(key="reg_year").set_value(year).run()
    """Register `share` yen (typed in 千円, as the form asks) with twice that as the 事業費."""
    at.text_input(key="reg_cost").input(str(share * 2 // 1_000))
    at.text_input(key="reg_share").input(str(share // 1_000))
    return press(at, "承認待ちとして登録")


def test_revisions_and_carry_overs_open_on_the_year_being_executed(app_as: Callable[..., AppTest]) -> None:
    # In November of 令和8年度 the 補正 and 繰越 are of 令和8年度's allocations, not of 令和7年度's.
    with time_machine.travel(datetime(2026, 11, 22, 10, 0, tzinfo=UTC), tick=True):
        at = _open_tab(app_as(Role.screener, PAGE), "補正・繰越")
    assert not at.exception
    assert at.selectbox(key="cyc_year").value == 2026
    assert "令和7年度（2025年度）" in at.selectbox(key="cyc_year").options  # still offered


def test_registration_asks_for_sen_yen_grouped_as_typed_and_refuses_what_is_not_a_number(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    at = _open_tab(app_as(Role.screener, PAGE), "配分の登録・承認")
    at.selectbox(key="reg_year").set_value(2025).run()
    at.text_input(key="reg_cost").input("300000").run()
    assert at.text_input(key="reg_cost").value == "300,000"  # 3億円, not 300,000円
    at.text_input(key="reg_share").input("２０万")
    at = press(at, "承認待ちとして登録")
    assert [e.value for e in at.error] == [
        "基金充当額は1円以上1兆円以下の金額を数字で入力してください（画面では千円単位）。"
    ]
    pending = "SELECT project_cost_yen, fund_share_yen FROM allocation WHERE status = :s"
    proposed = {"s": AllocationStatus.proposed.value}
    assert query_df(seeded_engine, pending, proposed).empty  # nothing saved
    at.text_input(key="reg_share").input("200,000")
    at = press(at, "承認待ちとして登録")
    assert any("を承認待ちとして登録しました" in s.value for s in at.success)
    assert query_df(seeded_engine, pending, proposed).values.tolist() == [[300_000_000, 200_000_000]]


def test_page_shows_the_table_with_amount_columns_and_the_seed_figures(
    app_as: Callable[..., AppTest],
) -> None:
    at = app_as(Role.executive, PAGE)
    assert not at.exception
    assert at.title[0].value == "年度配分"
    assert at.subheader[0].value == "令和6年度（2024年度）当初予算における基金活用事業一覧"
    table = at.table[0].value
    assert list(table.columns) == [
        "区分",
        "事業名【所管部局】",
        "事業概要",
        "予算額（千円）",
        "基金充当額（千円）",
        "備考",
    ]
    cells = _printed_cells(at)
    for figure in ("619,616", "1,097,090", "510,994", "38,690", "5,226", "2,271,616"):
        assert figure in cells
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["事業数"] == "24事業"


def test_the_breakdown_switch_splits_the_fund_share_into_initial_supplementary_and_carried(
    app_as: Callable[..., AppTest],
) -> None:
    at = app_as(Role.executive, PAGE)
    at.toggle(key="alloc_breakdown").set_value(True).run()
    assert not at.exception
    table = at.table[0].value
    assert list(table.columns) == [
        "区分",
        "事業名【所管部局】",
        "予算額（千円）",
        "基金充当額 当初（千円）",
        "基金充当額 補正（千円）",
        "基金充当額 前年度繰越（千円）",
        "基金充当額 計（千円）",
        "備考",
    ]
    total = table[table["区分"] == "合計 24事業"].iloc[0]
    assert total.iloc[2:7].tolist() == ["2,271,616", "1,135,808", "0", "0", "1,135,808"]
    assert any(c.value.startswith("※基金充当額の内訳") for c in at.caption)


def test_filters_narrow_the_table_to_a_department_and_a_category(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    at = app_as(Role.executive, PAGE)
    police = int(reference.departments(seeded_engine).set_index("name").at["警察本部", "id"])
    at.selectbox(key="alloc_dept").set_value(police).run()
    assert {m.label: m.value for m in at.metric}["事業数"] == "3事業"
    assert "合計 3事業" in _printed_cells(at)
    at.selectbox(key="alloc_dept").set_value(None).run()
    at.selectbox(key="alloc_cat").set_value("foundation").run()
    cells = _printed_cells(at)
    assert "合計 4事業" in cells and "554,910" in cells
    assert "9事業計" not in cells


def test_department_staff_see_the_table_but_no_registration_tabs(app_as: Callable[..., AppTest]) -> None:
    at = app_as(Role.department, PAGE, department_id=1)
    assert not at.exception
    assert [t.label for t in at.tabs] == ["配分表"]


def test_screener_proposes_and_a_different_executive_approves(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    at = _propose(app_as(Role.screener, PAGE), year=2025, share=10_000_000)
    assert not at.error
    assert "承認待ちとして登録しました" in at.success[0].value
    assert "承認する" not in [b.label for b in at.button]  # a screener cannot approve
    at = _open_tab(app_as(Role.executive, PAGE), "配分の登録・承認")
    at.selectbox(key="reg_year").set_value(2025).run()
    at.button(key="approve_btn").click().run()
    assert not at.error
    assert "承認しました" in at.success[0].value
    approved = allocation.allocation_frame(seeded_engine, fiscal_year=2025, status=AllocationStatus.approved)
    assert list(approved["proposed_by"]) == ["test_screener"] and list(approved["approved_by"]) == [
        "test_executive"
    ]


def test_approving_your_own_allocation_shows_the_refusal(app_as: Callable[..., AppTest]) -> None:
    at = _propose(app_as(Role.admin, PAGE), year=2025, share=10_000_000)
    at.button(key="approve_btn").click().run()
    assert "自分が登録した配分は承認できません" in at.error[0].value


def test_allocation_over_the_annual_cap_is_refused_with_the_figures(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    at = _open_tab(app_as(Role.admin, PAGE), "配分の登録・承認")
    at.selectbox(key="reg_year").set_value(2025).run()
    at.number_input(key="cap_sen").set_value(5_000)
    at.text_input(key="cap_reason").input("財政課協議")
    at.button(key="cap_set").click().run()
    assert "年間上限額を 5,000千円 に設定しました" in at.success[0].value
    assert {m.label: m.value for m in at.metric}["年間上限額（管理者設定）"] == "500万円"
    at = _propose(at, year=2025, share=6_000_000)
    message = at.error[0].value
    assert "上限は 5,000,000円" in message and "現在の合計は 0円" in message and "1,000,000円 超過" in message
    assert allocation.allocation_frame(seeded_engine, fiscal_year=2025).empty


def test_optimiser_runs_shows_the_objective_budget_and_reasons_and_saves_a_scenario(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    adopted_copies(seeded_engine, year=2025)  # adopted, no allocation yet: the candidates
    at = _open_tab(app_as(Role.screener, PAGE), "最適化")
    assert at.selectbox(key="opt_year").value == 2025  # the newest 年度 with candidates
    headroom = allocation.fund_ceiling(seeded_engine, fiscal_year=2025).headroom_yen
    assert at.number_input(key="opt_ceiling_2025").value == headroom // 1_000  # its own headroom, in 千円
    candidates = next(d.value for d in at.dataframe if "score" in d.value.columns)
    assert set(candidates["score"]) == {"未採点"}  # the copies have no scores: said so, not 「None」
    at.radio(key="opt_objective").set_value("touchpoints")
    at.number_input(key="opt_ceiling_2025").set_value(500_000)  # 千円
    at.text_input(key="opt_name_2025_0").input("5億円の案")
    at.button(key="opt_run").click().run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[f"目的値（{optimiser.OBJECTIVES['touchpoints']}）"].endswith("回/年")
    used = int(metrics["使用額 / 上限"].removesuffix("千円").replace(",", ""))
    assert 0 < used <= 500_000
    reasons = at.dataframe[len(at.dataframe) - 1].value
    assert list(reasons.columns) == ["事業名", "所管部局", "基金充当額（千円）", "理由"]
    assert all(r.startswith("予算") for r in reasons["理由"])
    saved = scenario.scenario_list(seeded_engine, fiscal_year=2025)
    assert list(saved["name"]) == ["5億円の案"] and list(saved["origin"]) == ["optimiser"]


def test_scenario_is_created_copied_and_compared(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    adopted_copies(seeded_engine, year=2025)
    at = _open_tab(app_as(Role.screener, PAGE), "シナリオ")
    assert at.selectbox(key="scn_year").value == 2025
    at.text_input(key="scn_new_name").input("手動案")
    at.button(key="scn_create").click().run()
    assert "シナリオ「手動案」を作成しました" in at.success[0].value
    at.text_input(key="scn_copy_name").input("手動案の複製")
    at.button(key="scn_copy").click().run()
    assert "「手動案の複製」として複製しました" in at.success[0].value
    assert "採択する提案と金額に違いはありません。" in [i.value for i in at.info]
    actions = list(query_df(seeded_engine, "SELECT action FROM audit_log ORDER BY id")["action"])
    assert actions[-2:] == ["scenario.create", "scenario.copy"]


def test_download_buttons_export_the_filtered_table_and_are_audited(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    at = app_as(Role.executive, PAGE)
    police = int(reference.departments(seeded_engine).set_index("name").at["警察本部", "id"])
    at.selectbox(key="alloc_dept").set_value(police).run()
    labels = [b.label for b in at.download_button]
    assert labels == ["Excel（xlsx）で保存", "CSV（UTF-8 BOM付き）で保存", "CSV（Shift_JIS）で保存"]
    at.download_button(key="dl_xlsx_utf-8-sig").click().run()
    log = query_df(
        seeded_engine, "SELECT actor, entity, after_values FROM audit_log WHERE action = 'export' ORDER BY id"
    )
    assert list(log["actor"]) == ["test_executive"] and list(log["entity"]) == ["allocation_table"]
    assert f'"department_id": {police}' in str(log["after_values"].iloc[0]).replace("'", '"')


def test_only_the_open_tab_runs_and_each_tab_opens(app_as: Callable[..., AppTest]) -> None:
    at = app_as(Role.admin, PAGE)
    assert [t.label for t in at.tabs] == ["配分表", "配分の登録・承認", "補正・繰越", "シナリオ", "最適化"]
    keys = {w.key for w in at.selectbox}
    assert "alloc_year" in keys and "reg_year" not in keys and "opt_year" not in keys
    for name, key in (
        ("配分の登録・承認", "reg_year"),
        ("補正・繰越", "cyc_year"),
        ("シナリオ", "scn_year"),
        ("最適化", "opt_year"),
    ):
        _open_tab(at, name)
        assert not at.exception
        assert key in {w.key for w in at.selectbox}
        assert "alloc_year" not in {w.key for w in at.selectbox}


def _all_lines(engine: Engine) -> int:
    return len(allocation_export.table_frame(allocation.allocation_rows(engine, fiscal_year=2024)))


def test_a_long_table_shows_its_first_lines_and_says_so(
    app_as: Callable[..., AppTest], seeded_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(allocation_export, "SCREEN_LINES", 10)
    at = app_as(Role.executive, PAGE)
    assert not at.exception
    table = at.table[0].value
    assert len(table) == 10
    assert list(table["事業名【所管部局】"])[0].startswith("1 デジタルの力を活用した地域の社会課題解決")
    notice = at.info[0].value
    assert f"表の先頭 10 行を表示しています（全 {_all_lines(seeded_engine)} 行）" in notice
    assert "すべての行は、下の Excel・CSV の保存ボタンで保存できます。" in notice
    # The totals above the table still cover every line.
    assert {m.label: m.value for m in at.metric}["事業数"] == "24事業"


def test_a_short_table_shows_every_line_without_a_notice(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    at = app_as(Role.executive, PAGE)
    assert len(at.table[0].value) == _all_lines(seeded_engine)
    assert not [i for i in at.info if "行を表示しています" in i.value]


@pytest.mark.usefixtures("hostile")
def test_no_tab_renders_user_text_as_markdown() -> None:
    actor = Actor(login="test_admin", role=Role.admin, display_name=BOLD)
    at = signed_in_app(actor, PAGE)
    for name in ("配分表", "配分の登録・承認", "シナリオ", "最適化"):
        _open_tab(at, name)
        assert not at.exception
        leaked = [t for t in markdown_texts(at) for p in PAYLOADS if p in t]
        assert leaked == []


def test_a_revision_is_registered_by_a_screener_approved_by_an_executive_and_shown_in_the_history(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    alloc = approved_allocation(seeded_engine, "やまぐちデジタル実装推進事業", 10_000_000)
    at = _open_tab(app_as(Role.screener, PAGE), "補正・繰越")
    at.selectbox(key="cyc_year").set_value(2026).run()
    at.selectbox(key="cyc_alloc").set_value(alloc).run()
    at.number_input(key="cyc_share").set_value(7_000_000)
    at.text_input(key="cyc_revise_reason").input("入札差金")
    at = press(at, "補正を登録")
    assert not at.error
    assert f"配分番号 {alloc} の補正（▲3,000,000円）を承認待ちとして登録しました" in at.success[0].value
    assert "承認する" not in [b.label for b in at.button]  # a screener cannot approve

    at = _open_tab(app_as(Role.executive, PAGE), "補正・繰越")
    at.selectbox(key="cyc_year").set_value(2026).run()
    assert "▲3,000,000円" in _cells(at, 0) and "入札差金" in _cells(at, 0)
    at.button(key="cyc_approve").click().run()
    assert not at.error and "を承認しました" in at.success[0].value
    at.selectbox(key="cyc_alloc").set_value(alloc).run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["基金充当額（補正後）（千円）"] == "7,000" and metrics["残り（未執行）（千円）"] == "7,000"
    history = at.dataframe[0].value  # nothing awaits approval any more: the history is the only table
    assert list(history["段階"]) == ["査定", "予算化", "補正"]
    assert list(history["金額"]) == ["10,000,000円", "10,000,000円", "▲3,000,000円"]
    assert list(history["摘要・理由"])[1:] == ["当初予算", "入札差金"]


def test_a_carry_over_larger_than_the_unspent_part_is_refused_at_once_with_the_figures(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    alloc = approved_allocation(seeded_engine, "やまぐちデジタル実装推進事業", 10_000_000)
    at = _open_tab(app_as(Role.screener, PAGE), "補正・繰越")
    at.selectbox(key="cyc_year").set_value(2026).run()
    at.selectbox(key="cyc_alloc").set_value(alloc).run()
    at.number_input(key="cyc_carry").set_value(12_000_000)
    at.text_input(key="cyc_carry_reason").input("資材納期の遅れ")
    at = press(at, "繰越を登録")
    assert "未執行額は 10,000,000円" in at.error[0].value and "2,000,000円 超過" in at.error[0].value
    assert allocation.pending_changes(seeded_engine, fiscal_year=2026).empty
