"""The integration suite, run again on PostgreSQL.

Every `tests/integration/test_*.py` module is imported here and its tests and fixtures are
collected again; the `engine` and `seeded_engine` fixtures of this folder's conftest.py hand them a
fresh PostgreSQL database instead of a DuckDB file. Modules that test DuckDB's own file handling
are listed in DUCKDB_ONLY with the reason; everything else must pass on both engines.
"""

import importlib
import pkgutil
from typing import Any

import pytest

import tests.integration

pytestmark = pytest.mark.postgres

DUCKDB_ONLY = {
    "test_backup": "EXPORT DATABASE into Parquet and restoring a DuckDB file",
    "test_crash": "killing a writer process on a DuckDB file and reopening the file",
    "test_misconfiguration": "locked, damaged and foreign-version DuckDB files",
    "test_generate": "the generator writes DuckDB files (moved to PostgreSQL with fund migrate)",
    "test_migrate": "runs DuckDB → PostgreSQL itself, below",
}


def _is_fixture(obj: Any) -> bool:
    return type(obj).__name__ == "FixtureFunctionDefinition" or hasattr(obj, "_pytestfixturefunction")


def _collect() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for info in sorted(pkgutil.iter_modules(tests.integration.__path__), key=lambda i: i.name):
        if not info.name.startswith("test_") or info.name in DUCKDB_ONLY:
            continue
        module = importlib.import_module(f"tests.integration.{info.name}")
        for name, obj in vars(module).items():
            if name.startswith("test_") and callable(obj):
                key = name if name not in found else f"{name}__{info.name.removeprefix('test_')}"
                found[key] = obj
            elif _is_fixture(obj) and name not in ("engine", "seeded_engine"):
                if name in found and found[name] is not obj:
                    raise RuntimeError(f"fixture {name} is defined differently in two integration modules")
                found[name] = obj
    return found


globals().update(_collect())


def test_the_postgres_run_covers_the_key_service_suites() -> None:
    collected = _collect()
    for name in (
        "test_two_threads_drawing_the_last_yen_leave_exactly_one_drawdown",
        "test_roll_forward_identity_holds_for_random_ledgers",
        "test_fy2024_block_totals_match_the_published_table",
        "test_password_is_stored_hashed_and_sign_in_works",
    ):
        assert name in collected
