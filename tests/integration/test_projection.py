"""基金の見通し: planned drawdowns, the projected balance, the stress test, health signals, CLI export."""

import io
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from fund import ledger, projection
from fund.auth import Actor
from fund.db import get_engine, query_df
from fund.models import Allocation, AllocationStatus, Project, Proposal, ProposalCostLine, ProposalStatus
from fund.ops import generate
from fund.ops.cli import main
from fund.projection import Level, StressTest
from tests.conftest import arranged, post_approved, posting

TODAY = date(2026, 11, 22)  # 令和8年度
BALANCE = 2_060_000_000
PLANNED_2026 = 200_000_000  # later-year sample costs of the FY2024 projects (data/proposal_cost_lines.csv)
PLANNED_2027 = 172_000_000
PACE = (804_192_000 + 1_135_808_000) // 2  # mean drawdown of 令和5・6年度


def _project_id(engine: Engine, name: str) -> int:
    with Session(engine) as s:
        pid = s.exec(select(Project.id).where(Project.name == name)).one()
    assert pid is not None
    return pid


def _approve_allocation(engine: Engine, project: str, year: int, fund_share_yen: int) -> None:
    pid = _project_id(engine, project)
    with arranged(engine) as s:
        category = s.exec(select(Project.category_id).where(Project.id == pid)).one()
        s.add(
            Allocation(
                project_id=pid,
                fiscal_year=year,
                category_id=category,
                project_cost_yen=fund_share_yen * 2,
                fund_share_yen=fund_share_yen,
                status=AllocationStatus.approved,
            )
        )


def _proposal_with_cost_line(
    engine: Engine, project: str, status: ProposalStatus, line_year: int, fund_share_yen: int
) -> None:
    pid = _project_id(engine, project)
    with arranged(engine) as s:
        proposal = Proposal(project_id=pid, fiscal_year=2026, status=status)
        s.add(proposal)
        s.flush()
        assert proposal.id is not None
        s.add(ProposalCostLine(proposal_id=proposal.id, fiscal_year=line_year, fund_share_yen=fund_share_yen))


def _post_drawdown(
    engine: Engine, admin: Actor, amount: int, day: date = date(2026, 7, 1), allocation_id: int | None = None
) -> int:
    entry = post_approved(
        engine,
        actor=admin,
        entry=posting(
            {
                "posted_on": day,
                "fiscal_year": 2026,
                "kind": "drawdown",
                "amount_yen": amount,
                "memo": "テスト",
                "allocation_id": allocation_id,
            }
        ),
    )
    assert entry.id is not None
    return entry.id


def test_planned_drawdowns_come_from_approved_allocations_and_later_year_costs(seeded_engine: Engine) -> None:
    planned = projection.planned_drawdowns(seeded_engine).set_index("fiscal_year")
    assert planned.loc[2024, "allocated_yen"] == 1_135_808_000
    assert planned.loc[2024, "later_plan_yen"] == 0
    assert list(planned.loc[[2025, 2026, 2027], "later_plan_yen"]) == [
        231_000_000,
        PLANNED_2026,
        PLANNED_2027,
    ]


def test_a_later_year_cost_covered_by_an_approved_allocation_is_not_counted_twice(
    seeded_engine: Engine,
) -> None:
    _approve_allocation(seeded_engine, "やまぐち情報スーパーネットワーク機能強化事業", 2026, 80_000_000)
    planned = projection.planned_drawdowns(seeded_engine).set_index("fiscal_year")
    assert planned.loc[2026, "allocated_yen"] == 80_000_000
    assert planned.loc[2026, "later_plan_yen"] == PLANNED_2026 - 50_000_000  # its own 2026 line dropped


def test_only_adopted_or_funded_proposals_plan_later_year_costs(seeded_engine: Engine) -> None:
    _proposal_with_cost_line(seeded_engine, "県内企業魅力発信事業", ProposalStatus.draft, 2027, 9_000_000)
    _proposal_with_cost_line(seeded_engine, "農業DX加速化事業", ProposalStatus.adopted, 2027, 7_000_000)
    planned = projection.planned_drawdowns(seeded_engine).set_index("fiscal_year")
    assert planned.loc[2027, "later_plan_yen"] == PLANNED_2027 + 7_000_000


def test_a_newer_adopted_proposal_replaces_the_older_plan_of_the_same_project(seeded_engine: Engine) -> None:
    # the FY2024 proposal planned 30,000,000円 for 2027; a FY2026 adopted proposal now plans 12,000,000円
    _proposal_with_cost_line(seeded_engine, "建設DX総合推進事業", ProposalStatus.adopted, 2027, 12_000_000)
    planned = projection.planned_drawdowns(seeded_engine).set_index("fiscal_year")
    assert planned.loc[2027, "later_plan_yen"] == PLANNED_2027 - 15_000_000 + 12_000_000


def test_seeded_fund_runs_out_in_reiwa_10_at_the_recent_pace(seeded_engine: Engine) -> None:
    p = projection.project(projection.figures(seeded_engine), today=TODAY)
    assert p.balance_yen == BALANCE
    assert p.recent_pace_yen == PACE == 970_000_000
    first = p.table.iloc[0]
    assert (int(first["fiscal_year"]), int(first["planned_yen"]), int(first["assumed_yen"])) == (
        2026,
        PLANNED_2026,
        PACE - PLANNED_2026,
    )
    assert p.run_out_year == 2028
    assert p.runway_years == 2.1  # 2 years + 120,000,000 / 970,000,000
    assert projection.runway_text(p) == "2.1年"
    assert projection.run_out_text(p) == "令和10年度に不足"


def test_every_projected_year_follows_the_balance_identity(seeded_engine: Engine) -> None:
    p = projection.project(
        projection.figures(seeded_engine),
        today=TODAY,
        stress=StressTest(cost_overrun_pct=25, interest_rate_pct=1.5),
    )
    # From the current 年度 (TODAY is in 令和8年度) to the horizon, or to the 年度 the fund runs out.
    assert p.table["fiscal_year"].iloc[0] == 2026 and len(p.table) >= 2
    opening = BALANCE
    for r in p.table.itertuples(index=False):
        assert r.opening_yen == opening
        assert r.closing_yen == r.opening_yen + r.interest_yen - r.planned_yen - r.assumed_yen
        opening = r.closing_yen


def test_planned_costs_alone_never_exhaust_the_seeded_fund(seeded_engine: Engine) -> None:
    p = projection.project(
        projection.figures(seeded_engine), today=TODAY, stress=StressTest(assume_recent_pace=False)
    )
    assert p.run_out_year is None and p.runway_years is None
    ends = list(p.table["closing_yen"])
    assert ends[:2] == [BALANCE - PLANNED_2026, BALANCE - PLANNED_2026 - PLANNED_2027]
    assert len(ends) == projection.MIN_HORIZON_YEARS
    assert projection.runway_text(p) == "10年以上"


def test_cost_overrun_scales_every_future_drawdown(seeded_engine: Engine) -> None:
    p = projection.project(
        projection.figures(seeded_engine),
        today=TODAY,
        stress=StressTest(cost_overrun_pct=50, assume_recent_pace=False),
    )
    assert list(p.table["planned_yen"][:3]) == [300_000_000, 258_000_000, 0]


def test_a_one_year_slip_moves_planned_drawdowns_to_the_next_year(seeded_engine: Engine) -> None:
    p = projection.project(
        projection.figures(seeded_engine),
        today=TODAY,
        stress=StressTest(slip_one_year=True, assume_recent_pace=False),
    )
    assert list(p.table["planned_yen"][:3]) == [0, PLANNED_2026, PLANNED_2027]


def test_interest_is_earned_on_each_opening_balance(seeded_engine: Engine) -> None:
    p = projection.project(
        projection.figures(seeded_engine),
        today=TODAY,
        stress=StressTest(interest_rate_pct=1.0, assume_recent_pace=False),
    )
    assert int(p.table["interest_yen"].iloc[0]) == 20_600_000
    assert int(p.table["interest_yen"].iloc[1]) == round(int(p.table["opening_yen"].iloc[1]) * 0.01)


def test_a_harsher_stress_brings_the_run_out_year_forward(seeded_engine: Engine) -> None:
    base = projection.project(projection.figures(seeded_engine), today=TODAY)
    harsh = projection.project(
        projection.figures(seeded_engine), today=TODAY, stress=StressTest(cost_overrun_pct=60)
    )
    assert harsh.run_out_year == 2027 < (base.run_out_year or 0)
    assert harsh.table["fiscal_year"].iloc[-1] == 2027  # the table stops at the run-out year


def test_only_the_undrawn_part_of_this_years_allocations_is_still_to_come(
    seeded_engine: Engine, admin: Actor
) -> None:
    # 建設DX総合推進事業 planned 20,000,000円 for 2026 (data/proposal_cost_lines.csv); its approved 2026
    # allocation of 60,000,000円 replaces that plan
    _approve_allocation(seeded_engine, "建設DX総合推進事業", 2026, 60_000_000)
    allocation_id = int(query_df(seeded_engine, "SELECT MAX(id) AS id FROM allocation")["id"].iloc[0])
    _post_drawdown(seeded_engine, admin, 50_000_000, allocation_id=allocation_id)
    assert projection.committed_remaining(seeded_engine, today=TODAY)[2026] == (
        PLANNED_2026 - 20_000_000 + 60_000_000 - 50_000_000
    )
    status = projection.fund_status(projection.figures(seeded_engine), today=TODAY)
    assert status.planned_this_year_yen == PLANNED_2026 - 20_000_000 + 60_000_000
    assert status.drawn_this_year_yen == 50_000_000
    assert status.committed_future_yen == PLANNED_2027
    assert status.balance_yen == BALANCE - 50_000_000


def test_a_drawdown_outside_any_allocation_leaves_the_plans_in_place(
    seeded_engine: Engine, admin: Actor
) -> None:
    """An exception (管理者, with a reason) is money out, not the drawing of a plan: counted once."""
    _post_drawdown(seeded_engine, admin, 50_000_000)
    assert projection.committed_remaining(seeded_engine, today=TODAY)[2026] == PLANNED_2026


def test_money_already_drawn_this_year_counts_towards_the_recent_pace(
    seeded_engine: Engine, admin: Actor
) -> None:
    _post_drawdown(seeded_engine, admin, 300_000_000)
    first = projection.project(projection.figures(seeded_engine), today=TODAY).table.iloc[0]
    assert int(first["planned_yen"]) == PLANNED_2026
    assert int(first["assumed_yen"]) == PACE - PLANNED_2026 - 300_000_000
    assert int(first["closing_yen"]) == BALANCE - PACE


def test_projection_display_shows_sen_yen_with_the_shortfall_marked(seeded_engine: Engine) -> None:
    shown = projection.projection_display(projection.project(projection.figures(seeded_engine), today=TODAY))
    assert list(shown.columns)[:2] == ["年度", "期首残高（千円）"]
    last = shown.iloc[-1]
    assert last["年度"] == "令和10年度（2028年度）"
    assert last["年度末残高（千円）"] == "▲850,000" and last["判定"] == "不足"


def test_seeded_signals_explain_the_fund_in_plain_japanese(seeded_engine: Engine) -> None:
    sig = {s.name: s for s in projection.signals(projection.figures(seeded_engine), today=TODAY)}
    assert list(sig) == ["保有割合", "乖離率", "今年度の取崩し", "翌年度の必要額"]
    assert sig["保有割合"].value == f"{BALANCE / (PLANNED_2026 + PLANNED_2027):.2f}倍"
    # the plans are covered, but the runway (new projects at the recent pace) runs out in 令和10年度
    assert sig["保有割合"].level == Level.caution and "令和10年度に不足" in sig["保有割合"].explanation
    # every planned yen is a sample later-year cost, and the signal says so
    assert sig["保有割合"].explanation.endswith("（計画取崩しのうち 3億7,200万円 はサンプルの後年度計画）")
    assert sig["乖離率"].value == "▲100.0%" and sig["乖離率"].level == Level.caution
    assert "令和7年度" in sig["乖離率"].explanation
    assert sig["今年度の取崩し"].level == Level.caution
    assert sig["翌年度の必要額"].level == Level.ok
    assert all(s.explanation for s in sig.values())


def test_the_owed_table_marks_the_years_planned_by_sample_proposals(seeded_engine: Engine) -> None:
    owed = projection.owed_display(projection.figures(seeded_engine), today=TODAY)
    assert owed["年度"].tolist() == ["令和8年度（2026年度）", "令和9年度（2027年度）"]
    assert owed["サンプル"].tolist() == ["サンプルを含む", "サンプルを含む"]


def test_a_drawdown_this_year_clears_the_no_drawdown_signal(seeded_engine: Engine, admin: Actor) -> None:
    _post_drawdown(seeded_engine, admin, 1_000_000)
    sig = {s.name: s for s in projection.signals(projection.figures(seeded_engine), today=TODAY)}
    assert sig["今年度の取崩し"].level == Level.ok


def test_commitments_beyond_the_balance_raise_both_shortage_signals(seeded_engine: Engine) -> None:
    _approve_allocation(seeded_engine, "県内企業魅力発信事業", 2027, 3_000_000_000)
    sig = {s.name: s for s in projection.signals(projection.figures(seeded_engine), today=TODAY)}
    assert sig["保有割合"].level == Level.alert
    assert sig["翌年度の必要額"].level == Level.alert
    assert "不足額は" in sig["翌年度の必要額"].explanation


def test_the_deviation_rate_of_a_year_drawn_as_planned_is_zero(seeded_engine: Engine) -> None:
    sig = {s.name: s for s in projection.signals(projection.figures(seeded_engine), today=date(2025, 6, 1))}
    assert sig["乖離率"].value == "+0.0%" and sig["乖離率"].level == Level.ok


def test_waterfall_steps_add_up_to_the_year_end_balance(seeded_engine: Engine) -> None:
    wf = projection.waterfall(projection.figures(seeded_engine), fiscal_year=2024)
    assert list(wf["項目"]) == ["前年度末残高", "積立", "運用益", "返還等", "取崩し", "年度末残高"]
    assert int(wf["金額（円）"].iloc[:-1].sum()) == int(wf["金額（円）"].iloc[-1]) == BALANCE
    empty_year = projection.waterfall(projection.figures(seeded_engine), fiscal_year=2026)
    assert int(empty_year["金額（円）"].iloc[0]) == int(empty_year["金額（円）"].iloc[-1]) == BALANCE


def test_drawdowns_by_category_and_department_add_up_to_each_years_drawdown(seeded_engine: Engine) -> None:
    rf = ledger.roll_forward(seeded_engine).set_index("fiscal_year")
    for by in ("category", "department"):
        df = ledger.drawdowns_by(seeded_engine, by=by)
        totals = df.groupby("年度")["取崩し（円）"].sum()
        assert totals.loc[2023] == rf.loc[2023, "drawdown_yen"]
        assert totals.loc[2024] == rf.loc[2024, "drawdown_yen"] == 1_135_808_000
    cats = ledger.drawdowns_by(seeded_engine, by="category")
    assert "1(1) 生活関連分野" in set(cats["区分"])
    assert "事業別内訳なし" in set(cats["区分"])


def test_balance_path_joins_actuals_and_projection(seeded_engine: Engine) -> None:
    p = projection.project(projection.figures(seeded_engine), today=TODAY)
    path = projection.balance_path(projection.figures(seeded_engine), p)
    actual = path[path["区分"] == "実績"]
    assert list(actual["和暦"]) == ["令和4年度", "令和5年度", "令和6年度", "令和7年度"]
    assert int(actual["残高（円）"].iloc[-1]) == BALANCE
    projected = path[path["区分"] == "見通し"]
    assert int(projected["年度"].iloc[0]) == 2025  # starts at the last actual point


def test_cli_ledger_export_writes_csv_and_xlsx_that_read_back(
    seeded_engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_csv = tmp_path / "ledger.csv"
    assert main(["ledger", "export", "--format", "csv", "--out", str(out_csv)]) == 0
    raw = out_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    df = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig")
    assert len(df) == 26
    assert int(df["金額（円）"].sum()) == BALANCE

    out_xlsx = tmp_path / "rf.xlsx"
    assert (
        main(
            [
                "ledger",
                "--year",
                "2024",
                "export",
                "--format",
                "xlsx",
                "--table",
                "roll-forward",
                "--out",
                str(out_xlsx),
            ]
        )
        == 0
    )
    ws = openpyxl.load_workbook(out_xlsx).active
    assert ws is not None
    rows = [r for r in ws.iter_rows(values_only=True) if any(v is not None for v in r)]
    assert rows[0][0] == "基金の年度別増減（単位：千円）"
    header, body = rows[1], rows[2:]
    assert (
        len(body) == 1 and body[0][header.index("年度末残高（千円）")] == 2_060_000
    )  # each header names its unit

    exports = query_df(seeded_engine, "SELECT entity FROM audit_log WHERE action = 'export' ORDER BY id")
    assert list(exports["entity"]) == ["基金台帳", "基金_年度別増減"]
    assert "保存しました" in capsys.readouterr().out


@pytest.mark.usefixtures("seeded_engine")
def test_cli_ledger_with_a_year_still_prints_the_roll_forward(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ledger", "--year", "2024"]) == 0
    out = capsys.readouterr().out
    assert "令和6年度（2024年度）" in out and "2,060,000" in out


@pytest.mark.usefixtures("seeded_engine")
def test_cli_refuses_an_unknown_export_format(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["ledger", "export", "--format", "pdf", "--out", str(tmp_path / "x.pdf")])


STRESSES = [
    StressTest(cost_overrun_pct=overrun, slip_one_year=slip, interest_rate_pct=rate, assume_recent_pace=pace)
    for overrun in (0.0, 60.0)
    for slip in (False, True)
    for rate in (0.0, 1.5)
    for pace in (True, False)
]


def _no_contradiction(fig: projection.Figures, today: date) -> None:
    for stress in STRESSES:
        p = projection.project(fig, today=today, stress=stress)
        sig = {s.name: s for s in projection.signals(fig, today=today, stress=stress)}
        runs_out = p.run_out_year is not None
        assert (sig["保有割合"].level == Level.ok) <= (not runs_out), stress
        next_short = runs_out and (p.run_out_year or 0) <= p.current_year + 1
        assert (sig["翌年度の必要額"].value == "不足") == next_short, stress
        if runs_out:
            assert projection.runway_text(p) != "10年以上"


def test_the_signals_never_contradict_the_runway_under_any_stress_on_the_seeded_data(
    seeded_engine: Engine,
) -> None:
    _no_contradiction(projection.figures(seeded_engine), TODAY)


def test_the_signals_never_contradict_the_runway_under_any_stress_on_a_generated_database(
    tmp_path: Path,
) -> None:
    """The generator writes DuckDB (on the PostgreSQL run too: the rule is the same Python)."""
    engine = get_engine(f"duckdb:///{tmp_path / 'generated.duckdb'}")
    generate.generate(engine, proposals=300, seed_value=11)
    _no_contradiction(projection.figures(engine), TODAY)


def test_every_stress_control_moves_the_figures_it_claims_to_move(seeded_engine: Engine) -> None:
    fig = projection.figures(seeded_engine)
    quiet = StressTest(assume_recent_pace=False)
    base = projection.project(fig, today=TODAY, stress=quiet)
    first_close = int(base.table["closing_yen"].iloc[0])

    def first(stress: StressTest) -> int:
        return int(projection.project(fig, today=TODAY, stress=stress).table["closing_yen"].iloc[0])

    # 上振れ: more is drawn this 年度; 運用益: interest is added; 1年遅れ: this 年度's plan moves out
    assert first(StressTest(cost_overrun_pct=50, assume_recent_pace=False)) == first_close - PLANNED_2026 // 2
    assert first(StressTest(interest_rate_pct=1.0, assume_recent_pace=False)) == first_close + BALANCE // 100
    assert first(StressTest(slip_one_year=True, assume_recent_pace=False)) == first_close + PLANNED_2026
    # 直近ペース: the unbudgeted 年度 draw the pace; the slip still moves the plan with the pace on
    with_pace = projection.project(fig, today=TODAY)
    assert int(with_pace.table["closing_yen"].iloc[0]) == BALANCE - PACE
    slipped = projection.project(fig, today=TODAY, stress=StressTest(slip_one_year=True))
    assert int(slipped.table["closing_yen"].iloc[0]) == BALANCE - (PACE - PLANNED_2026)
    assert (slipped.runway_years or 0) > (with_pace.runway_years or 0)
