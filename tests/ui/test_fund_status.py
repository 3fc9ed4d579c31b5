"""AppTest for 基金の状況: headline, charts, stress test, field-level refusals, reversal, exports."""

import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest
import time_machine
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from fund import ledger
from fund.db import query_df
from fund.models import LedgerKind, Role
from tests.conftest import UTC, approved_allocation, make_actor, posting
from tests.ui.conftest import press


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _siblings(node: Any, key: str) -> list[Any] | None:
    """The elements that share a container with the widget `key` (the field and what is shown under it)."""
    children = list(getattr(node, "children", {}).values())
    if any(getattr(c, "key", None) == key for c in children):
        return children
    for child in children:
        found = _siblings(child, key)
        if found is not None:
            return found
    return None


def _errors_next_to(at: AppTest, key: str) -> list[str]:
    siblings = _siblings(at._tree, key) or []
    return [c.value for c in siblings if type(c).__name__ == "Error"]


def test_headline_shows_balance_plan_runway_and_share_used(app_as: Callable[..., AppTest]) -> None:
    # In 令和8年度 the seed plans the FY2024 projects' later-year costs (data/proposal_cost_lines.csv):
    # 200,000,000円 for 2026 and 172,000,000円 for 2027.
    with time_machine.travel(datetime(2026, 11, 22, 10, 0, tzinfo=UTC), tick=True):
        at = app_as(Role.executive, "pages/fund_status.py")
    assert not at.exception
    metrics = _metrics(at)
    assert metrics["現在の基金残高"] == "20億6,000万円"
    assert metrics["基金の使用割合"] == "48.5%"
    assert metrics["今年度の取崩し予定"] == "2億円"
    assert metrics["翌年度以降の取崩し予定"] == "1億7,200万円"
    assert metrics["残り年数の目安"].endswith(("年", "年以上"))
    help_text = next(m.help for m in at.metric if m.label == "現在の基金残高")
    assert "2,060,000千円" in help_text


def test_the_years_ahead_show_what_is_owed_with_the_projections_own_figures(
    app_as: Callable[..., AppTest],
) -> None:
    with time_machine.travel(datetime(2026, 11, 22, 10, 0, tzinfo=UTC), tick=True):
        at = app_as(Role.executive, "pages/fund_status.py")
    owed = next(d.value for d in at.dataframe if "後年度負担（採択事業の計画、千円）" in d.value.columns)
    assert owed.to_dict("list") == {
        "年度": ["令和8年度（2026年度）", "令和9年度（2027年度）"],
        "承認済み配分の未取崩し（千円）": ["0", "0"],
        "後年度負担（採択事業の計画、千円）": ["200,000", "172,000"],
        "計（千円）": ["200,000", "172,000"],
        "サンプル": ["サンプルを含む", "サンプルを含む"],  # sample later-year costs (proposal_cost_lines.csv)
    }
    projected = next(d.value for d in at.dataframe if "計画取崩し（千円）" in d.value.columns)
    assert list(projected["計画取崩し（千円）"][:2]) == ["200,000", "172,000"]


def test_charts_have_japanese_titles_and_short_year_labels(app_as: Callable[..., AppTest]) -> None:
    at = app_as(Role.executive, "pages/fund_status.py")
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    text = json.dumps(specs, ensure_ascii=False)
    for title in (
        "基金残高の推移（年度末、億円）",
        "年度別・区分別の取崩し（億円）",
        "年度別・所管部局別の取崩し（億円）",
        "の増減（億円）",
    ):
        assert title in text
    assert "令和6年度" in text and "令和6年度（2024年度）" not in text


def test_stress_sliders_bring_the_run_out_forward(app_as: Callable[..., AppTest]) -> None:
    at = app_as(Role.executive, "pages/fund_status.py")
    base = _metrics(at)["この条件での残り年数"]
    at.slider(key="stress_overrun").set_value(100).run()
    harsh = _metrics(at)["この条件での残り年数"]
    assert float(harsh.rstrip("年")) < float(base.rstrip("年以上"))
    assert not at.exception


def test_health_signals_are_shown_with_explanations(app_as: Callable[..., AppTest]) -> None:
    at = app_as(Role.executive, "pages/fund_status.py")
    shown = " ".join(a.value for a in [*at.success, *at.warning])
    for name in ("保有割合", "乖離率", "今年度の取崩し", "翌年度の必要額"):
        assert name in shown
    assert not at.error


def test_posting_into_a_closed_year_is_refused_at_the_year_field(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    at = app_as(Role.admin, "pages/fund_status.py")
    at.date_input(key="post_date").set_value(date(2024, 7, 1)).run()
    at.text_input(key="post_amount").input("1000")
    at.text_input(key="post_memo").input("決算確定後の記帳")
    at.text_input(key="post_reason").input("記帳漏れの訂正")
    press(at, "記帳する")
    assert _errors_next_to(at, "post_year") == ["令和6年度（2024年度）は決算確定済みのため、記帳できません。"]
    assert len(at.error) == 1
    assert ledger.balance(seeded_engine) == 2_060_000_000


def test_an_overdraw_is_refused_at_the_amount_field(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    at = app_as(Role.admin, "pages/fund_status.py")
    at.date_input(key="post_date").set_value(date(2026, 7, 1)).run()
    at.selectbox(key="post_kind").set_value(LedgerKind.drawdown)
    at.text_input(key="post_amount").input("2060000001")
    at.text_input(key="post_memo").input("過大な取崩し")
    at.text_input(key="post_unallocated").input("配分外の例外")
    press(at, "記帳する")
    errors = _errors_next_to(at, "post_amount")
    assert len(errors) == 1 and "不足額は 1円" in errors[0]
    assert ledger.balance(seeded_engine) == 2_060_000_000


@pytest.mark.parametrize("amount", ["0", "-5", "1000000000001", "12万"])
def test_a_bad_amount_is_refused_at_the_amount_field(
    app_as: Callable[..., AppTest], seeded_engine: Engine, amount: str
) -> None:
    at = app_as(Role.admin, "pages/fund_status.py")
    at.date_input(key="post_date").set_value(date(2026, 7, 1)).run()
    at.text_input(key="post_amount").input(amount)
    at.text_input(key="post_memo").input("積立")
    press(at, "記帳する")
    errors = _errors_next_to(at, "post_amount")
    assert len(errors) == 1 and errors[0].startswith("金額は")
    assert ledger.balance(seeded_engine) == 2_060_000_000


def test_a_date_outside_every_registered_year_is_refused_at_the_year_field(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    at = app_as(Role.admin, "pages/fund_status.py")
    at.date_input(key="post_date").set_value(date(2021, 7, 1)).run()
    at.text_input(key="post_amount").input("1000")
    at.text_input(key="post_memo").input("積立")
    at.text_input(key="post_reason").input("基金創設前の記帳の訂正")
    press(at, "記帳する")
    assert _errors_next_to(at, "post_year") == ["令和3年度（2021年度）は登録されていません。"]
    assert ledger.balance(seeded_engine) == 2_060_000_000


def test_missing_memo_is_refused_at_the_memo_field(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    at = app_as(Role.admin, "pages/fund_status.py")
    at.date_input(key="post_date").set_value(date(2026, 7, 1)).run()
    at.text_input(key="post_amount").input("1000")
    press(at, "記帳する")
    assert _errors_next_to(at, "post_memo") == ["摘要を入力してください（500文字以内）。"]
    assert ledger.balance(seeded_engine) == 2_060_000_000


def test_an_administrator_reverses_an_entry_once(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    entry = ledger.post_entry(
        seeded_engine,
        actor=make_actor(Role.admin),
        entry=posting(
            {
                "posted_on": date(2026, 7, 1),
                "fiscal_year": 2026,
                "kind": "deposit",
                "amount_yen": 5_000_000,
                "memo": "誤った積立",
            }
        ),
    )
    assert ledger.balance(seeded_engine) == 2_065_000_000
    at = app_as(Role.admin, "pages/fund_status.py")
    at.number_input(key="reverse_id").set_value(entry.id)
    at.date_input(key="reverse_date").set_value(date(2026, 7, 2))
    at.text_input(key="reverse_reason").input("金額誤り")
    press(at, "取り消す")
    assert not at.exception
    assert f"台帳番号 {entry.id} を取り消しました" in at.success[0].value
    assert ledger.balance(seeded_engine) == 2_060_000_000
    assert _metrics(at)["現在の基金残高"] == "20億6,000万円"

    at.number_input(key="reverse_id").set_value(entry.id)
    at.text_input(key="reverse_reason").input("もう一度")
    press(at, "取り消す")
    errors = _errors_next_to(at, "reverse_id")
    assert len(errors) == 1 and "既に" in errors[0]
    assert ledger.balance(seeded_engine) == 2_060_000_000


def test_an_administrator_closes_a_year_after_confirming(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    at = app_as(Role.admin, "pages/fund_status.py")
    at.selectbox(key="close_year_pick").set_value(2025)
    press(at, "決算確定する")
    assert at.error[0].value == "確認のチェックを入れてください。"
    at.checkbox(key="close_confirm").check()
    press(at, "決算確定する")
    assert "令和7年度（2025年度）を決算確定しました。" in at.success[0].value
    closed = query_df(seeded_engine, "SELECT closed FROM fiscal_year WHERE year = 2025")
    assert bool(closed["closed"].iloc[0])


def test_executive_sees_no_posting_reversal_or_closing(app_as: Callable[..., AppTest]) -> None:
    at = app_as(Role.executive, "pages/fund_status.py")
    assert not at.exception
    headers = [s.value for s in at.subheader]
    assert "基金台帳" in headers  # the page did render its read-only part
    for name in ("記帳（管理者）", "取消（逆仕訳）", "決算確定（管理者）"):
        assert name not in headers
    assert not [b for b in at.button if b.label in ("記帳する", "取り消す", "決算確定する")]


def test_ledger_filters_narrow_the_list(app_as: Callable[..., AppTest]) -> None:
    at = app_as(Role.executive, "pages/fund_status.py")
    assert len(at.dataframe[-1].value) == 26
    at.selectbox(key="ledger_year").set_value(2024).run()
    assert len(at.dataframe[-1].value) == 24
    at.selectbox(key="ledger_kind").set_value(LedgerKind.deposit).run()
    assert not at.exception
    assert any("条件に合う記帳はありません。" in i.value for i in at.info)


def test_every_download_is_recorded_in_the_audit_log(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    at = app_as(Role.executive, "pages/fund_status.py")
    at.selectbox(key="ledger_year").set_value(2024).run()
    at.download_button(key="dl_ledger_csv").click().run()
    at.download_button(key="dl_rollforward_xlsx").click().run()
    rows = query_df(
        seeded_engine, "SELECT actor, entity, after_values FROM audit_log WHERE action = 'export' ORDER BY id"
    )
    assert list(rows["entity"]) == ["基金台帳", "基金_年度別増減"]
    assert set(rows["actor"]) == {"test_executive"}
    first = rows["after_values"].iloc[0]
    first = json.loads(first) if isinstance(first, str) else first
    assert first["filters"]["年度"] == 2024 and first["filters"]["形式"] == "csv" and first["rows"] == 24


def _grow(engine: Engine, *, projects: int, deposits: int) -> None:
    """Many more projects and ledger entries than the seed has (a national-scale deployment)."""
    from sqlalchemy import text

    with engine.begin() as conn:
        dept, cat = conn.execute(text("SELECT department_id, category_id FROM project LIMIT 1")).one()
        conn.execute(
            text(
                "INSERT INTO project (name, department_id, category_id, summary, first_fiscal_year)"
                " VALUES (:name, :d, :c, '', 2025)"
            ),
            [{"name": f"大量事業{i:05d}", "d": dept, "c": cat} for i in range(projects)],
        )
        conn.execute(
            text(
                "INSERT INTO ledger_entry (posted_on, fiscal_year, kind, amount_yen, memo, is_estimate,"
                " created_by, created_at) VALUES (:d, 2025, 'interest', 1, :m, FALSE, 'test', CURRENT_TIMESTAMP)"
            ),
            [{"d": date(2025, 6, 1), "m": f"運用益{i}"} for i in range(deposits)],
        )


def test_a_large_ledger_shows_its_newest_thousand_rows_and_says_so(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    _grow(seeded_engine, projects=2_001, deposits=1_200)
    total = ledger.ledger_count(seeded_engine)
    total_projects = 2_001 + 24  # the seed's FY2024 projects and the grown ones
    at = app_as(Role.admin, "pages/fund_status.py")
    assert not at.exception
    shown = [df.value for df in at.dataframe if "台帳番号" in df.value.columns]
    assert len(shown) == 1 and len(shown[0]) == 1_000
    assert any(f"全 {total:,} 件" in i.value for i in at.info)
    # Too many projects to list: the 事業 filter searches by name, and posting asks for the number.
    assert not [s for s in at.selectbox if s.key in ("ledger_project", "post_project")]
    assert at.number_input(key="post_project_id").label == "事業番号（返還など、取崩し以外の場合）"
    assert at.text_input(key="ledger_project_search").label == "事業名（一部）"
    assert f"事業が {total_projects:,}件" in at.number_input(key="post_project_id").help
    at.text_input(key="ledger_project_search").input("大量事業0000").run()
    assert not at.exception
    assert any("条件に合う記帳はありません" in i.value for i in at.info)
    # Every row goes to the download, not only those on screen.
    data = ledger.ledger_export_bytes(seeded_engine, fmt="csv", filters={})
    assert data.decode("utf-8-sig").count("\n") == total + 1


def test_a_drawdown_is_posted_against_its_allocation_chosen_on_the_form(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    alloc = approved_allocation(seeded_engine, "やまぐちデジタル実装推進事業", 10_000_000)
    at = app_as(Role.admin, "pages/fund_status.py")
    at.date_input(key="post_date").set_value(date(2026, 7, 1)).run()
    at.selectbox(key="post_kind").set_value(LedgerKind.drawdown)
    picker = at.selectbox(key="post_allocation")
    assert picker.options == [
        "配分なし",
        f"配分番号 {alloc}　令和8年度（2026年度）　やまぐちデジタル実装推進事業（残り 10,000,000円）",
    ]
    picker.set_value(alloc)
    at.text_input(key="post_amount").input("4000000")
    at.text_input(key="post_memo").input("委託料（第1回）")
    press(at, "記帳する")
    assert not at.exception and not at.error
    row = query_df(
        seeded_engine, "SELECT allocation_id, amount_yen FROM ledger_entry ORDER BY id DESC LIMIT 1"
    )
    assert row.to_dict("records") == [{"allocation_id": alloc, "amount_yen": 4_000_000}]
    assert at.selectbox(key="post_allocation").options[1].endswith("（残り 6,000,000円）")
    # The amount and the memo are blank again: pressing 記帳する once more cannot post it twice.
    assert (at.text_input(key="post_amount").value, at.text_input(key="post_memo").value) == ("", "")


def test_a_drawdown_without_an_allocation_or_reason_is_refused_at_the_allocation_field(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    at = app_as(Role.admin, "pages/fund_status.py")
    at.date_input(key="post_date").set_value(date(2026, 7, 1)).run()
    at.selectbox(key="post_kind").set_value(LedgerKind.drawdown)
    at.text_input(key="post_amount").input("1000")
    at.text_input(key="post_memo").input("紐付けのない取崩し")
    press(at, "記帳する")
    assert _errors_next_to(at, "post_allocation") == [
        "取崩しは配分（配分番号）に紐付けて記帳してください。配分のない取崩しは、例外としてその理由を入力してください。"
    ]
    assert ledger.balance(seeded_engine) == 2_060_000_000


def test_a_drawdown_without_an_allocation_waits_for_a_second_person_on_the_page(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    at = app_as(Role.admin, "pages/fund_status.py")
    at.date_input(key="post_date").set_value(date(2026, 7, 1)).run()
    at.selectbox(key="post_kind").set_value(LedgerKind.drawdown)
    at.text_input(key="post_amount").input("2,000,000")
    at.text_input(key="post_memo").input("国の内示前の立替")
    at.text_input(key="post_unallocated").input("交付決定前の立替（財政課と協議済み）")
    press(at, "記帳する")
    assert not at.exception
    assert "配分のない取崩しのため、承認待ち（依頼番号 1）として登録しました。" in at.success[0].value
    assert ledger.balance(seeded_engine) == 2_060_000_000
    at.button(key="drawdown_approve").click().run()
    assert "自分が登録した取崩しは承認できません。" in at.error[0].value
    assert ledger.balance(seeded_engine) == 2_060_000_000

    boss = app_as(Role.executive, "pages/fund_status.py")
    assert "承認待ちの取崩し" in [s.value for s in boss.subheader]
    pending = next(d.value for d in boss.dataframe if "依頼番号" in d.value.columns)
    assert pending["摘要"].tolist() == ["国の内示前の立替"] and pending["金額（円）"].tolist() == [
        "2,000,000"
    ]
    boss.button(key="drawdown_approve").click().run()
    assert not boss.exception
    assert "依頼番号 1 を承認し、台帳番号" in boss.success[0].value
    assert ledger.balance(seeded_engine) == 2_058_000_000
    assert any("承認待ちの取崩しはありません。" in i.value for i in boss.info)


def test_the_administrator_sets_the_approval_threshold_with_a_reason(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    at = app_as(Role.admin, "pages/fund_status.py")
    assert any("承認基準額: 未設定" in c.value for c in at.caption)
    at.text_input(key="drawdown_threshold_yen").input("五千万")
    at.text_input(key="drawdown_threshold_reason").input("規程の改正")
    press(at, "設定する")
    assert _errors_next_to(at, "drawdown_threshold_yen") == [
        "金額は半角数字（円単位の整数）で入力してください。"
    ]
    at.text_input(key="drawdown_threshold_yen").input("50,000,000")
    at.text_input(key="drawdown_threshold_reason").input("")
    press(at, "設定する")
    assert _errors_next_to(at, "drawdown_threshold_reason") == ["設定の理由を入力してください。"]
    at.text_input(key="drawdown_threshold_reason").input("規程の改正")
    press(at, "設定する")
    assert not at.exception
    assert any("50,000,000円 を超える取崩しは、配分があっても承認待ち" in c.value for c in at.caption)
    assert query_df(seeded_engine, "SELECT threshold_yen FROM drawdown_policy")["threshold_yen"].tolist() == [
        50_000_000
    ]


def test_the_ledger_list_reads_like_the_roll_forward(app_as: Callable[..., AppTest]) -> None:
    """年度 in 和暦, ▲ for what leaves the fund (never '-2,613,000'), the 推計 mark as a word."""
    at = app_as(Role.executive, "pages/fund_status.py")
    listed = at.dataframe[-1].value
    assert set(listed["年度"]) <= {"令和4年度", "令和5年度", "令和6年度", "令和7年度", "令和8年度"}
    amounts = listed["金額（円）"].tolist()
    assert any(a.startswith("▲") for a in amounts) and not any(a.startswith("-") for a in amounts)
    assert set(listed["推計"]) <= {"推計", ""}
