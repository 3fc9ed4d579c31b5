"""Schema migrations on PostgreSQL: Alembic's autogenerate finds no difference between the revisions
and the models, and release 0.1.0's data (no version table) is upgraded with every row. The
DuckDB file cases are in tests/integration/test_schema_upgrade.py."""

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from alembic import command
from sqlalchemy import JSON, Engine, text
from sqlmodel import SQLModel

from fund import audit, ledger, schema
from fund.db import dispose_engines, get_engine, query_df
from fund.ops import backup, upgrade
from fund.ops.seed import seed
from tests.conftest import ROOT

RELEASE_010_BACKUP = ROOT / "tests" / "fixtures" / "release-0.1.0-backup"
# Release 0.1.0's tables, in this release's dependency order (later tables have no file).
RELEASE_010_TABLES = [t for t in backup.table_names() if (RELEASE_010_BACKUP / f"{t}.parquet").is_file()]
RELEASE_010_SEQUENCES = {f"{t}_id_seq" for t in RELEASE_010_TABLES} - {
    "fiscal_year_id_seq",
    "kpi_year_id_seq",
}

pytestmark = pytest.mark.postgres


def _counts(engine: Engine) -> dict[str, int]:
    names = query_df(
        engine, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    )["table_name"]
    return {n: int(query_df(engine, f'SELECT COUNT(*) AS n FROM "{n}"')["n"].iloc[0]) for n in names}


def test_autogenerate_finds_no_difference_between_the_revisions_and_the_models(pg_url: str) -> None:
    engine = get_engine(pg_url)
    with engine.begin() as conn:
        command.upgrade(schema.config(conn), "head")
    assert schema.differences(engine) == []
    assert schema.status(engine).state is schema.State.current


def test_autogenerate_reports_a_column_the_models_do_not_have(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE department ADD COLUMN note VARCHAR"))
    diffs = schema.differences(engine)
    assert [(d[0], d[2], d[3].name) for d in diffs] == [("remove_column", "department", "note")]


def _load_release_010(engine: Engine) -> None:
    """Release 0.1.0's rows (its own backup of a database filled through its services) into a
    database with 0.1.0's schema and no version table, as `fund migrate --to postgresql…` left it."""
    with engine.begin() as conn:
        command.upgrade(schema.config(conn), schema.BASELINE)
        conn.execute(text("DROP TABLE alembic_version"))
    for table in RELEASE_010_TABLES:
        frame = pd.read_parquet(RELEASE_010_BACKUP / f"{table}.parquet")
        json_columns = _json_columns(table)
        for column in json_columns:  # DuckDB wrote JSON as its text
            frame[column] = frame[column].map(lambda v: None if v is None else json.loads(v))
        frame.to_sql(table, engine, if_exists="append", index=False, dtype=json_columns)
    with engine.begin() as conn:
        for table in RELEASE_010_TABLES:
            if f"{table}_id_seq" in RELEASE_010_SEQUENCES:
                conn.execute(text(f"SELECT setval('{table}_id_seq', (SELECT MAX(id) FROM {table}))"))


def _json_columns(table: str) -> dict[str, Any]:
    model = SQLModel.metadata.tables[table]
    return {c.name: JSON() for c in model.columns if isinstance(c.type, JSON)}


def test_release_0_1_0_on_postgresql_is_stamped_upgraded_and_keeps_every_row(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUND_BACKUP_DIR", str(tmp_path / "backups"))
    engine = get_engine(pg_url)
    _load_release_010(engine)
    manifest = json.loads((RELEASE_010_BACKUP / "manifest.json").read_text(encoding="utf-8"))
    assert _counts(engine) == manifest["tables"]
    assert audit.verify_chain(engine) is None
    assert schema.status(engine).state is schema.State.unversioned
    with pytest.raises(schema.SchemaMismatch, match="fund db upgrade"):
        seed(engine)

    report = upgrade.upgrade(pg_url)

    assert report.before.state is schema.State.unversioned and report.after == schema.head()
    assert report.backup_dir is not None and (report.backup_dir / "manifest.json").is_file()
    after = _counts(engine)
    assert after.pop("alembic_version") == 1
    assert after.pop("allocation_change") == 0  # 0003's new table starts empty
    for new_in_0004 in ("proposal_revision", "proposal_return", "round_policy", "screening_decision"):
        assert after.pop(new_in_0004) == 0
    assert after.pop("session_end") == 0  # 0005: no session of the old database was ended
    # 0006: every ledger entry, allocation, proposal, user and 年度 gets its baseline after-image
    watched = ("ledger_entry", "allocation", "allocation_change", "proposal", "app_user", "fiscal_year")
    assert after.pop("drawdown_request") == after.pop("drawdown_policy") == 0  # 0007: nothing waits yet
    assert after.pop("audit_image") == sum(manifest["tables"].get(t, 0) for t in watched)
    assert after == {**manifest["tables"], "audit_log": manifest["tables"]["audit_log"] + 2}
    assert ledger.balance(engine) == 2_060_123_456  # 20.6億円 and the 123,456円 of interest posted
    assert audit.verify_chain(engine) is None
    unlinked = query_df(engine, "SELECT fiscal_year FROM ledger_entry WHERE unallocated_reason IS NOT NULL")
    assert unlinked["fiscal_year"].tolist() == [2023]
    dispose_engines()


def test_a_newer_postgresql_database_is_refused_and_left_alone(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    url = engine.url.render_as_string(hide_password=False)
    with pytest.raises(schema.SchemaMismatch, match="新しいリリース"):
        upgrade.upgrade(url)
    assert query_df(engine, "SELECT version_num FROM alembic_version")["version_num"].tolist() == [
        "9999_from_the_future"
    ]
