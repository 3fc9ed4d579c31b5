"""`fund generate`: a synthetic national-scale database that keeps every rule of the real one."""

from pathlib import Path

import pytest
from sqlalchemy import Engine

from fund import audit, ledger
from fund.db import dispose_engines, get_engine, query_df
from fund.errors import RuleViolation
from fund.ops import generate
from fund.ops.cli import main

N = 1_000


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gen") / "gen.duckdb"
    steps: list[tuple[str, int, int]] = []
    generate.generate(
        get_engine(f"duckdb:///{path}"), proposals=N, seed_value=7, progress=lambda *a: steps.append(a)
    )
    dispose_engines()
    assert steps[-1][1] == steps[-1][2]  # the progress reached its end
    return path


@pytest.fixture
def gen(generated: Path) -> Engine:
    return get_engine(f"duckdb:///{generated}")


def _one(engine: Engine, sql: str) -> float:
    return float(query_df(engine, sql).iloc[0, 0])


def test_exactly_the_requested_number_of_synthetic_proposals_is_created(gen: Engine) -> None:
    mark = generate.MARK
    n = _one(
        gen,
        f"SELECT COUNT(*) FROM proposal pr JOIN project p ON p.id = pr.project_id WHERE p.name LIKE '%{mark}%'",
    )
    assert n == N


def test_volumes_per_proposal_are_those_of_a_national_programme(gen: Engine) -> None:
    scores = _one(gen, "SELECT COUNT(*) FROM review_score WHERE is_sample") / N
    entries = _one(gen, "SELECT COUNT(*) FROM ledger_entry WHERE created_by = 'generate'") / N
    cost_lines = _one(gen, "SELECT COUNT(*) FROM proposal_cost_line") / N
    assert 4 <= scores <= 7
    assert 7 <= entries <= 14
    assert 1.2 <= cost_lines <= 2.5
    assert _one(gen, "SELECT COUNT(DISTINCT fiscal_year) FROM proposal") >= 8
    assert _one(gen, "SELECT COUNT(*) FROM kpi_actual") > 0


def test_the_balance_never_goes_negative_on_any_day(gen: Engine) -> None:
    lowest = _one(
        gen,
        """
        WITH signed AS (
            SELECT e.posted_on AS d,
                   (CASE WHEN COALESCE(o.kind, e.kind) = 'drawdown' THEN -1 ELSE 1 END)
                   * (CASE WHEN e.kind = 'reversal' THEN -1 ELSE 1 END) * e.amount_yen AS a
            FROM ledger_entry e LEFT JOIN ledger_entry o ON o.id = e.reverses_entry_id
        ), daily AS (SELECT d, SUM(a) AS x FROM signed GROUP BY d)
        SELECT MIN(b) FROM (SELECT SUM(x) OVER (ORDER BY d) AS b FROM daily) running
        """,
    )
    assert lowest >= 0


def test_drawdowns_add_up_to_each_approved_allocation(gen: Engine) -> None:
    mismatched = _one(
        gen,
        """
        SELECT COUNT(*) FROM allocation a
        JOIN (SELECT allocation_id, SUM(amount_yen) AS drawn FROM ledger_entry
              WHERE kind = 'drawdown' AND created_by = 'generate' GROUP BY allocation_id) d
          ON d.allocation_id = a.id
        WHERE a.fund_share_yen <> d.drawn
        """,
    )
    assert mismatched == 0


def test_postings_respect_the_fiscal_year_rules(gen: Engine) -> None:
    outside = _one(
        gen,
        """
        SELECT COUNT(*) FROM ledger_entry
        WHERE created_by = 'generate' AND NOT (
            posted_on BETWEEN make_date(fiscal_year, 4, 1) AND make_date(fiscal_year + 1, 5, 31))
        """,
    )
    assert outside == 0


def test_roll_forward_identity_holds_and_ends_at_the_balance(gen: Engine) -> None:
    rf = ledger.roll_forward(gen)
    for row in rf.itertuples(index=False):
        assert row[6] == row[1] + row[2] + row[3] + row[5] - row[4]
    assert int(rf.iloc[-1, 6]) == ledger.balance(gen)


def test_one_audit_row_records_the_generation_and_the_chain_holds(gen: Engine) -> None:
    rows = query_df(gen, "SELECT actor, action FROM audit_log WHERE action = 'generate'")
    assert list(rows["actor"]) == ["generate"]
    assert audit.verify_chain(gen) is None


def test_every_funded_proposal_has_an_allocation(gen: Engine) -> None:
    missing = _one(
        gen,
        """
        SELECT COUNT(*) FROM proposal pr
        WHERE pr.status = 'funded' AND NOT EXISTS (SELECT 1 FROM allocation a WHERE a.proposal_id = pr.id)
        """,
    )
    assert missing == 0


def test_the_same_seed_gives_the_same_data(tmp_path: Path) -> None:
    totals = []
    for name in ("a", "b"):
        engine = get_engine(f"duckdb:///{tmp_path / name}.duckdb")
        generate.generate(engine, proposals=200, seed_value=3)
        totals.append(
            query_df(
                engine,
                "SELECT SUM(fund_share_yen) AS s, COUNT(*) AS n FROM proposal "
                "UNION ALL SELECT SUM(score), COUNT(*) FROM review_score",
            ).values.tolist()
        )
    assert totals[0] == totals[1]


def test_generating_twice_into_the_same_database_is_refused(gen: Engine) -> None:
    with pytest.raises(RuleViolation, match="既に合成データ"):
        generate.generate(gen, proposals=10)


@pytest.mark.usefixtures("gen")
def test_generation_into_postgresql_is_refused_with_the_migrate_hint() -> None:
    class FakePg:
        class dialect:
            name = "postgresql"

    with pytest.raises(RuleViolation, match="fund migrate"):
        generate.generate(FakePg(), proposals=10)  # type: ignore[arg-type]


def test_cli_generates_with_a_progress_bar_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"duckdb:///{tmp_path / 'cli.duckdb'}"
    assert main(["generate", "--proposals", "150", "--seed", "2", "--out", url]) == 0
    out = capsys.readouterr()
    assert "合成データを作成しました（提案 150件" in out.out
    assert "[##############################] 9/9" in out.err
    dispose_engines()
    assert main(["generate", "--proposals", "150", "--out", url]) == 2
    assert "--replace" in capsys.readouterr().err
    assert main(["generate", "--proposals", "120", "--out", url, "--replace"]) == 0


def test_the_derived_kpi_years_match_a_rebuild_from_the_indicators(gen: Engine) -> None:
    from fund import kpi

    columns = "indicator_id, fiscal_year, target_value, target_on_path, actual_value, achievement_rate"
    written = query_df(gen, f"SELECT {columns} FROM kpi_year ORDER BY indicator_id, fiscal_year")
    assert len(written) > N  # several 年度 per indicator
    with gen.begin() as conn:
        kpi.refresh_years(conn)
    rebuilt = query_df(gen, f"SELECT {columns} FROM kpi_year ORDER BY indicator_id, fiscal_year")
    assert written.equals(rebuilt)


def test_the_optimiser_sees_every_candidate_of_a_large_year(gen: Engine) -> None:
    from fund import optimiser
    from fund.models import Role
    from tests.conftest import make_actor

    # the optimiser's candidates: adopted proposals whose project has no allocation for the 年度
    year, n = query_df(
        gen,
        "SELECT fiscal_year, COUNT(*) AS n FROM proposal p WHERE status = 'adopted' AND NOT EXISTS"
        " (SELECT 1 FROM allocation a WHERE a.project_id = p.project_id AND a.fiscal_year = p.fiscal_year)"
        " GROUP BY fiscal_year ORDER BY n DESC, fiscal_year DESC LIMIT 1",
    ).iloc[0]
    frame = optimiser.candidate_frame(gen, actor=make_actor(Role.admin), fiscal_year=int(year))
    assert len(frame) == int(n)
