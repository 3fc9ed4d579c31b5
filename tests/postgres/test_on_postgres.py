"""The integration suite runs again on PostgreSQL.

Each `tests/integration/test_<name>.py` has a twin `tests/postgres/test_pg_<name>.py` that imports
its tests and fixtures; the `engine` and `seeded_engine` fixtures of this folder's conftest.py hand
them a fresh PostgreSQL database instead of a DuckDB file. Modules that test DuckDB's own file
handling are listed in DUCKDB_ONLY with the reason; everything else must run on both engines.
"""

from pathlib import Path

import pytest

pytestmark = pytest.mark.postgres

HERE = Path(__file__).resolve().parent
INTEGRATION = HERE.parent / "integration"

DUCKDB_ONLY = {
    "test_backup": "backing up and restoring a DuckDB file (PostgreSQL: test_backup_on_postgres.py)",
    "test_crash": "killing a writer process on a DuckDB file and reopening the file",
    "test_misconfiguration": "locked, damaged and foreign-version DuckDB files",
    "test_generate": "the generator writes DuckDB files (moved to PostgreSQL with fund migrate)",
    "test_migrate": "DuckDB → DuckDB; DuckDB → PostgreSQL is test_migrate_to_postgres.py here",
}


def test_every_integration_module_also_runs_on_postgresql() -> None:
    modules = sorted(p.stem for p in INTEGRATION.glob("test_*.py"))
    missing = [
        m
        for m in modules
        if m not in DUCKDB_ONLY and not (HERE / f"test_pg_{m.removeprefix('test_')}.py").exists()
    ]
    assert missing == [], f"add tests/postgres/test_pg_<name>.py for {missing} (or list it in DUCKDB_ONLY)"


def test_the_key_service_suites_are_among_them() -> None:
    for name in ("ledger", "seed", "auth", "allocations", "kpi", "screening", "concurrency"):
        assert (HERE / f"test_pg_{name}.py").exists()
