"""`fund migrate --to postgresql+psycopg://…`: a DuckDB database moves to PostgreSQL intact."""

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from fund import allocation, audit, kpi, ledger, screening
from fund.auth import SYSTEM, Actor
from fund.db import get_engine, query_df
from fund.ops import generate, migrate
from fund.ops.cli import main
from tests.conftest import _use_database, posting

pytestmark = pytest.mark.postgres


@pytest.fixture
def duckdb_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """A seeded DuckDB file with 300 generated proposals on top, named by FUND_DATABASE_URL."""
    url = _use_database(monkeypatch, tmp_path / "source.duckdb")
    engine = get_engine(url)
    generate.generate(engine, proposals=300, seed_value=11)
    return engine


def test_duckdb_to_postgresql_copies_every_table_and_the_figures_match(
    duckdb_source: Engine, pg_url: str, admin: Actor
) -> None:
    report = migrate.migrate(source=duckdb_source, target_url=pg_url, actor=admin)
    target = get_engine(pg_url)
    assert target.dialect.name == "postgresql"
    counts = migrate.row_counts(duckdb_source)
    assert report.tables == counts
    assert migrate.row_counts(target) == {**counts, "audit_log": counts["audit_log"] + 1}
    assert ledger.balance(target) == ledger.balance(duckdb_source)
    assert ledger.roll_forward(target).equals(ledger.roll_forward(duckdb_source))
    for year in (2024, 2025):
        theirs = allocation.allocation_rows(duckdb_source, fiscal_year=year)
        ours = allocation.allocation_rows(target, fiscal_year=year)
        assert ours[["project_id", "fund_share_yen"]].equals(theirs[["project_id", "fund_share_yen"]])
    round_id = int(screening.rounds(duckdb_source)["id"].iloc[0])
    a = screening.results(duckdb_source, round_id=round_id)
    b = screening.results(target, round_id=round_id)
    assert a["proposal_id"].tolist() == b["proposal_id"].tolist()
    assert len(kpi.kpi_frame(target, actor=SYSTEM)) == len(kpi.kpi_frame(duckdb_source, actor=SYSTEM))
    assert audit.verify_chain(target) is None


def test_after_the_move_postgresql_takes_new_postings_with_the_next_ids(
    duckdb_source: Engine, pg_url: str, admin: Actor
) -> None:
    migrate.migrate(source=duckdb_source, target_url=pg_url, actor=admin)
    target = get_engine(pg_url)
    largest = int(query_df(target, "SELECT MAX(id) AS m FROM ledger_entry")["m"].iloc[0])
    before = ledger.balance(target)
    entry = ledger.post_entry(
        target,
        actor=admin,
        entry=posting(
            {
                "posted_on": date(2026, 6, 1),
                "fiscal_year": 2026,
                "kind": "deposit",
                "amount_yen": 5_000,
                "memo": "移行後の積立",
            }
        ),
    )
    assert entry.id == largest + 1
    assert ledger.balance(target) == before + 5_000
    assert audit.verify_chain(target) is None


@pytest.mark.usefixtures("duckdb_source")
def test_cli_moves_the_configured_duckdb_file_to_postgresql(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "--to", pg_url]) == 0
    out = capsys.readouterr().out
    assert "postgresql+psycopg://" in out and "移行しました" in out
