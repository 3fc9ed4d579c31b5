"""Backups on PostgreSQL: a portable per-table Parquet dump with a manifest; restores go through pg_restore."""

import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from fund import schema
from fund.auth import Actor
from fund.db import dispose_engines, get_engine
from fund.errors import RuleViolation
from fund.ops import backup

pytestmark = pytest.mark.postgres


def test_a_postgresql_backup_writes_every_table_as_parquet_with_checksums(
    seeded_engine: Engine, admin: Actor, tmp_path: Path
) -> None:
    manifest = backup.backup(seeded_engine, out_dir=tmp_path / "bk", actor=admin)
    assert manifest.format == backup.FORMAT_TABLES and manifest.database == "postgresql"
    saved = json.loads((tmp_path / "bk" / "manifest.json").read_text(encoding="utf-8"))
    assert set(saved["tables"]) == set(backup.table_names())
    for table, rows in manifest.tables.items():
        assert len(pd.read_parquet(tmp_path / "bk" / f"{table}.parquet")) == rows
    backup.verify_files(tmp_path / "bk", manifest)


def test_restoring_a_postgresql_dump_points_to_pg_restore(
    seeded_engine: Engine, admin: Actor, tmp_path: Path
) -> None:
    backup.backup(seeded_engine, out_dir=tmp_path / "bk", actor=admin)
    with pytest.raises(RuleViolation, match="pg_restore"):
        backup.restore(tmp_path / "bk", url=f"duckdb:///{tmp_path / 'x.duckdb'}", actor=admin)


def test_restore_into_postgresql_is_refused_with_the_pg_restore_advice(
    pg_url: str, admin: Actor, tmp_path: Path
) -> None:
    duck = get_engine(f"duckdb:///{tmp_path / 'src.duckdb'}")
    schema.create(duck)
    backup.backup(duck, out_dir=tmp_path / "bk", actor=admin)
    dispose_engines()
    with pytest.raises(RuleViolation, match="pg_restore"):
        backup.restore(tmp_path / "bk", url=pg_url, actor=admin)
