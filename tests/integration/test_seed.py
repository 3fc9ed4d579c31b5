"""The seeded FY2024 data reproduces the source document's figures exactly."""

import pandas as pd
from sqlalchemy import Engine

from fund import allocation, ledger, reference
from fund.db import query_df
from fund.ops.seed import seed
from tests.conftest import ROOT


def _block_totals(engine: Engine) -> dict[str, tuple[int, int]]:
    totals = allocation.category_totals(allocation.allocation_rows(engine, fiscal_year=2024))
    return {r.block_code: (int(r.projects), int(r.project_cost_yen) // 1000) for r in totals.itertuples()}


def test_fy2024_block_totals_match_the_published_table(seeded_engine: Engine) -> None:
    totals = _block_totals(seeded_engine)
    assert totals["social_issue_life"] == (9, 619_616)
    assert totals["social_issue_industry"] == (11, 1_097_090)
    assert totals["foundation_infrastructure"] == (1, 510_994)
    assert totals["foundation_talent"] == (2, 38_690)
    assert totals["foundation_inclusion"] == (1, 5_226)


def test_fy2024_category_two_and_grand_total(seeded_engine: Engine) -> None:
    totals = _block_totals(seeded_engine)
    cat2 = [v for k, v in totals.items() if k.startswith("foundation")]
    assert (sum(n for n, _ in cat2), sum(s for _, s in cat2)) == (4, 554_910)
    year = allocation.year_totals(seeded_engine, fiscal_year=2024)
    assert year["projects"] == 24
    assert year["project_cost_yen"] == 2_271_616_000
    assert year["new_projects"] == 11


def test_relistings_carry_no_amount_and_are_not_counted(seeded_engine: Engine) -> None:
    rows = allocation.allocation_rows(seeded_engine, fiscal_year=2024)
    relisted = rows[rows["is_relisting"]]
    assert sorted(relisted["project"]) == sorted(
        [
            "やまぐちDX加速化事業",
            "やまぐちDX加速化事業",
            "映像解析等支援システム事業",
            "AIトランスフォーメーション推進事業",
        ]
    )
    assert relisted["project_cost_yen"].isna().all()


def test_layout_reproduces_the_published_subtotals(seeded_engine: Engine) -> None:
    layout = allocation.table_layout(allocation.allocation_rows(seeded_engine, fiscal_year=2024))
    subtotals = {r.label: r.project_cost_yen for r in layout if r.kind == "subtotal"}
    assert subtotals == {"9事業計": 619_616_000, "11事業計": 1_097_090_000}
    grand = [r for r in layout if r.kind == "grand_total"][0]
    assert (grand.label, grand.project_cost_yen) == ("合計 24事業", 2_271_616_000)
    assert [r.name for r in layout if r.kind == "section"] == [
        "【20事業 17.2億円】",
        "【4事業 5.5億円（再掲除く）】",
    ]


def test_ledger_reproduces_fund_size_and_stated_balance(seeded_engine: Engine) -> None:
    rf = ledger.roll_forward(seeded_engine)
    assert int(rf["deposit_yen"].sum()) == 4_000_000_000
    assert ledger.balance(seeded_engine) == 2_060_000_000
    assert int(rf["closing_yen"].iloc[-1]) == 2_060_000_000


def test_estimated_figures_are_marked(seeded_engine: Engine) -> None:
    df = query_df(seeded_engine, "SELECT COUNT(*) AS n FROM allocation WHERE NOT fund_share_is_estimate")
    assert int(df["n"].iloc[0]) == 0
    df = query_df(seeded_engine, "SELECT COUNT(*) AS n FROM ledger_entry WHERE NOT is_estimate")
    assert int(df["n"].iloc[0]) == 0


def test_seeding_twice_changes_nothing(seeded_engine: Engine) -> None:
    tables = [
        "department",
        "category",
        "project",
        "proposal",
        "allocation",
        "relisting",
        "ledger_entry",
        "kpi_indicator",
        "kpi_target",
        "kpi_actual",
        "review_score",
        "app_user",
        "audit_log",
    ]

    def counts() -> dict[str, int]:
        return {
            t: int(query_df(seeded_engine, f"SELECT COUNT(*) AS n FROM {t}")["n"].iloc[0]) for t in tables
        }

    before = counts()
    report = seed(seeded_engine)
    assert report.total == 0
    assert counts() == before


def test_stated_kpi_targets_are_seeded(seeded_engine: Engine) -> None:
    df = query_df(
        seeded_engine,
        """SELECT i.name, t.fiscal_year, t.target_value, i.direction FROM kpi_target t
           JOIN kpi_indicator i ON i.id = t.indicator_id""",
    )
    got = {(r.name, int(r.fiscal_year)): (float(r.target_value), r.direction) for r in df.itertuples()}
    assert got[("導入地域数", 2024)][0] == 2 and got[("導入地域数", 2026)][0] == 16
    assert got[("対象者数", 2024)][0] == 1200 and got[("対象者数", 2026)][0] == 9600
    assert got[("周南市内での苦情・目撃数", 2026)] == (800, "lower")
    assert got[("捕獲システムでの野犬捕獲頭数", 2026)][0] == 100


def test_every_seeded_drawdown_is_linked_to_its_allocation_or_explained(seeded_engine: Engine) -> None:
    drawdowns = query_df(
        seeded_engine,
        "SELECT fiscal_year, allocation_id, unallocated_reason FROM ledger_entry WHERE kind = 'drawdown'",
    )
    linked = drawdowns["allocation_id"].notna()
    explained = drawdowns["unallocated_reason"].notna()
    assert (linked != explained).all()  # one or the other, never both or neither
    assert drawdowns.loc[explained, "fiscal_year"].tolist() == [2023]
    assert int(linked.sum()) == 24


def test_the_assumptions_users_read_in_the_app_state_the_seeds_own_figures() -> None:
    """「前提と出典」 quotes figures: they must be the ones the seed files hold."""
    text = reference.assumptions_text()
    allocations = pd.read_csv(ROOT / "data" / "allocations.csv")
    ledger_rows = pd.read_csv(ROOT / "data" / "ledger.csv")
    fy2024_share = int(allocations.loc[allocations["fiscal_year"] == 2024, "fund_share_yen"].sum())
    fy2023_draw = int(ledger_rows.loc[ledger_rows["fiscal_year"] == 2023, "amount_yen"].sum())
    assert f"{fy2024_share:,}円" in text and f"{fy2023_draw:,}円" in text
    assert fy2024_share == 1_135_808_000 and fy2023_draw == 804_192_000
    assert "data/README.md" not in text and "TODO" not in text
