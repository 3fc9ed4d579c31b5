"""`fund migrate`: every table copied, counts and balance verified, ids continue (DuckDB → DuckDB).

The copy to PostgreSQL is tested in tests/postgres/test_migrate_to_postgres.py.
"""

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from fund import audit, ledger
from fund.auth import Actor
from fund.db import get_engine, query_df
from fund.errors import PermissionDenied, RuleViolation
from fund.models import Role
from fund.ops import generate, migrate
from fund.ops.cli import main
from tests.conftest import make_actor, post_approved, posting


def _post(engine: Engine, actor: Actor, amount: int) -> int:
    entry = post_approved(
        engine,
        actor=actor,
        entry=posting(
            {
                "posted_on": date(2025, 6, 2),
                "fiscal_year": 2025,
                "kind": "drawdown",
                "amount_yen": amount,
                "memo": "移行前の取崩し",
            }
        ),
    )
    assert entry.id is not None
    return entry.id


def test_every_table_is_copied_with_the_same_counts_and_balance(
    seeded_engine: Engine, admin: Actor, tmp_path: Path
) -> None:
    entry_id = _post(seeded_engine, admin, 1_000_000)
    ledger.reverse_entry(
        seeded_engine, actor=admin, entry_id=entry_id, posted_on=date(2025, 6, 3), reason="誤り"
    )
    url = f"duckdb:///{tmp_path / 'copy.duckdb'}"
    report = migrate.migrate(source=seeded_engine, target_url=url, actor=admin)
    target = get_engine(url)
    source_counts = migrate.row_counts(seeded_engine)
    assert report.tables == source_counts
    assert set(report.tables) == {t.name for t in migrate.tables()}
    after = migrate.row_counts(target)
    assert after == {**source_counts, "audit_log": source_counts["audit_log"] + 1}
    assert ledger.balance(target) == ledger.balance(seeded_engine) == report.balance_yen
    assert ledger.roll_forward(target).equals(ledger.roll_forward(seeded_engine))
    assert audit.verify_chain(target) is None
    last = query_df(target, "SELECT actor, action FROM audit_log ORDER BY id DESC LIMIT 1")
    assert last.values.tolist() == [[admin.login, "migrate"]]


def test_ids_continue_after_the_largest_copied_id(
    seeded_engine: Engine, admin: Actor, tmp_path: Path
) -> None:
    url = f"duckdb:///{tmp_path / 'copy.duckdb'}"
    migrate.migrate(source=seeded_engine, target_url=url, actor=admin)
    target = get_engine(url)
    largest = int(query_df(target, "SELECT MAX(id) AS m FROM ledger_entry")["m"].iloc[0])
    assert _post(target, admin, 1_000) == largest + 1


def test_a_generated_database_with_reversals_and_sub_categories_copies_exactly(
    tmp_path: Path, admin: Actor
) -> None:
    source = get_engine(f"duckdb:///{tmp_path / 'gen.duckdb'}")
    generate.generate(source, proposals=300, seed_value=5)
    url = f"duckdb:///{tmp_path / 'copy.duckdb'}"
    report = migrate.migrate(source=source, target_url=url, actor=admin)
    assert report.tables["ledger_entry"] > 2_000
    sql = "SELECT kind, COUNT(*) AS n, SUM(amount_yen) AS s FROM ledger_entry GROUP BY kind ORDER BY kind"
    assert query_df(get_engine(url), sql).equals(query_df(source, sql))


def test_a_target_with_data_or_the_source_itself_is_refused(
    seeded_engine: Engine, admin: Actor, seeded_template: Path
) -> None:
    with pytest.raises(RuleViolation, match="移行先にデータがあります"):
        migrate.migrate(source=seeded_engine, target_url=f"duckdb:///{seeded_template}", actor=admin)
    with pytest.raises(RuleViolation, match="同じ"):
        migrate.migrate(source=seeded_engine, target_url=str(seeded_engine.url), actor=admin)


def test_only_the_administrator_migrates(seeded_engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(PermissionDenied):
        migrate.migrate(
            source=seeded_engine,
            target_url=f"duckdb:///{tmp_path / 'x.duckdb'}",
            actor=make_actor(Role.executive),
        )


@pytest.mark.usefixtures("seeded_engine")
def test_cli_migrates_the_configured_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"duckdb:///{tmp_path / 'cli.duckdb'}"
    assert main(["migrate", "--to", url]) == 0
    out = capsys.readouterr()
    assert "移行しました" in out.out and "基金残高" in out.out
    assert "完了" in out.err
    assert main(["migrate", "--to", url]) == 2  # not empty any more
    assert "移行先にデータがあります" in capsys.readouterr().err
