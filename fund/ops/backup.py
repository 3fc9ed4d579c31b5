"""Backups that are known to restore: a consistent export with a manifest, and a verified restore.

DuckDB: `CHECKPOINT`, then `EXPORT DATABASE ... (FORMAT PARQUET)` (schema.sql, load.sql, one Parquet
file per table; the sequences are exported with their current values). `manifest.json` lists every
table with its row count and every file with its SHA-256, so a damaged or incomplete copy is
refused before anything is touched.

Restore builds the new database beside the target, checks the checksums, the row counts and the
audit hash chain, and only then moves it into place (the previous file is kept, renamed).

PostgreSQL: `backup` writes one Parquet file per table (portable, for inspection and archives);
operators back up and restore the server itself with `pg_dump` / `pg_restore` (see README).
"""

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from sqlalchemy import Engine, text
from sqlmodel import SQLModel

from fund import audit, clock
from fund.auth import SYSTEM, Action, Actor, require
from fund.db import (
    WRITE_LOCK,
    checkpoint,
    database_path,
    dispose_engines,
    get_engine,
    is_duckdb,
    write_session,
)
from fund.errors import RuleViolation
from fund.models import AuditAction
from fund.settings import DATA_DIR, get_settings

MANIFEST = "manifest.json"
FORMAT_DUCKDB = "duckdb-export-parquet"
FORMAT_TABLES = "table-parquet"

# progress(step description, done, total)
Progress = Callable[[str, int, int], None]


@dataclass
class Manifest:
    format: str
    app_version: str
    created_at: str
    database: str
    tables: dict[str, int]
    files: dict[str, str] = field(default_factory=dict)  # relative path → sha256
    duckdb_version: str = duckdb.__version__

    def to_json(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False, indent=2, sort_keys=True)

    @classmethod
    def load(cls, directory: Path) -> "Manifest":
        path = directory / MANIFEST
        if not path.is_file():
            raise RuleViolation(f"{directory} にバックアップの目録（{MANIFEST}）がありません。")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except (ValueError, TypeError) as exc:
            raise RuleViolation(f"バックアップの目録（{MANIFEST}）を読み取れません: {exc}") from None


@dataclass
class RestoreReport:
    tables: dict[str, int]
    previous_file: Path | None


def app_version() -> str:
    try:
        return version("fund")
    except PackageNotFoundError:
        return "unknown"


def table_names() -> list[str]:
    """The application's tables, parents before children."""
    return [t.name for t in SQLModel.metadata.sorted_tables]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _quote_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _noop(_step: str, _done: int, _total: int) -> None:
    return None


def _prepare_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and any(out_dir.iterdir()):
        raise RuleViolation(f"出力先 {out_dir} は空ではありません。新しいフォルダを指定してください。")
    out_dir.mkdir(parents=True, exist_ok=True)


def backup(
    engine: Engine, *, out_dir: Path, actor: Actor = SYSTEM, progress: Progress | None = None
) -> Manifest:
    """Write a consistent copy of the database to `out_dir` (must be new or empty) with a manifest."""
    require(actor, Action.manage_users)
    progress = progress or _noop
    out_dir = out_dir.resolve()
    _prepare_out_dir(out_dir)
    names = table_names()
    total = len(names) + 3
    counts: dict[str, int] = {}
    # Under the write lock no write of this process can slip in between the counts and the export.
    with WRITE_LOCK:
        progress("チェックポイント", 0, total)
        checkpoint(engine)
        with engine.connect() as conn:
            for i, name in enumerate(names, start=1):
                counts[name] = int(conn.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one())
                if not is_duckdb(engine):
                    df = pd.read_sql(text(f'SELECT * FROM "{name}"'), conn)
                    df.to_parquet(out_dir / f"{name}.parquet", index=False)
                progress(f"表 {name}", i, total)
            if is_duckdb(engine):
                progress("書き出し（EXPORT DATABASE）", len(names) + 1, total)
                conn.exec_driver_sql(f"EXPORT DATABASE {_quote_path(out_dir)} (FORMAT PARQUET)")
                conn.commit()
    files = sorted(p for p in out_dir.rglob("*") if p.is_file() and p.name != MANIFEST)
    progress("チェックサム", len(names) + 2, total)
    manifest = Manifest(
        format=FORMAT_DUCKDB if is_duckdb(engine) else FORMAT_TABLES,
        app_version=app_version(),
        created_at=clock.now_utc().isoformat(timespec="seconds"),
        database=engine.dialect.name,
        tables=counts,
        files={p.relative_to(out_dir).as_posix(): _sha256(p) for p in files},
    )
    (out_dir / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    with write_session(engine) as session:
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.database_backup,
            entity="database",
            after={"files": len(files), "rows": sum(counts.values()), "format": manifest.format},
        )
    progress("完了", total, total)
    return manifest


def verify_files(directory: Path, manifest: Manifest, progress: Progress | None = None) -> None:
    """Refuse a backup whose files are missing or differ from the manifest."""
    if not manifest.files:
        raise RuleViolation("バックアップの目録にファイルの一覧がありません。")
    progress = progress or _noop
    total = len(manifest.files) + 4
    for i, (rel, expected) in enumerate(sorted(manifest.files.items())):
        progress(f"チェックサム {rel}", i, total)
        path = directory / rel
        if not path.is_file():
            raise RuleViolation(f"バックアップのファイル {rel} がありません。復元を中止しました。")
        if _sha256(path) != expected:
            raise RuleViolation(
                f"バックアップのファイル {rel} のチェックサムが目録と一致しません（破損または改変）。"
                "復元を中止しました。"
            )


def _row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    present = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    counts: dict[str, int] = {}
    for name in present:
        row = con.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()
        counts[name] = int(row[0]) if row else 0
    return counts


def is_empty_database(path: Path) -> bool:
    """True when the file does not exist or holds no rows in any table."""
    if not path.exists():
        return True
    con = duckdb.connect(str(path), read_only=True)
    try:
        return sum(_row_counts(con).values()) == 0
    finally:
        con.close()


def _advance_sequences(con: duckdb.DuckDBPyConnection) -> None:
    """Make sure every `<table>_id_seq` hands out ids above the table's largest id."""
    sequences = {r[0] for r in con.execute("SELECT sequence_name FROM duckdb_sequences()").fetchall()}
    for name in table_names():
        seq = f"{name}_id_seq"
        if seq not in sequences:
            continue
        row = con.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{name}"').fetchone()
        max_id = int(row[0]) if row else 0
        start = con.execute(
            "SELECT start_value, last_value FROM duckdb_sequences() WHERE sequence_name = ?", [seq]
        ).fetchone()
        current = int(start[1]) if start and start[1] is not None else (int(start[0]) - 1 if start else 0)
        if current < max_id:
            con.execute(f"SELECT MAX(nextval('{seq}')) FROM range(?)", [max_id - current])


def _remove_db_files(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)


def restore(
    source: Path,
    *,
    url: str | None = None,
    force: bool = False,
    actor: Actor = SYSTEM,
    progress: Progress | None = None,
) -> RestoreReport:
    """Rebuild the database named by `url` (default FUND_DATABASE_URL) from a backup directory."""
    require(actor, Action.manage_users)
    progress = progress or _noop
    source = source.resolve()
    url = url or get_settings().database_url
    manifest = Manifest.load(source)
    if manifest.format != FORMAT_DUCKDB:
        raise RuleViolation(
            "このバックアップは PostgreSQL から表ごとに書き出したものです。PostgreSQL の復元は "
            "pg_dump / pg_restore で行ってください（README の「セキュリティと運用」）。"
        )
    target = database_path(url)
    if target is None:
        raise RuleViolation(
            "復元先は DuckDB のファイル（duckdb:///…）にしてください。PostgreSQL には pg_restore を使います。"
        )
    total = len(manifest.files) + 4
    verify_files(source, manifest, progress)
    step = len(manifest.files)
    progress("復元先の確認", step, total)
    dispose_engines()
    target = target.resolve()
    try:
        empty = is_empty_database(target)
    except duckdb.Error as exc:
        if "lock" in str(exc).lower():
            raise RuleViolation(
                "復元先のデータベースは他のプロセス（画面など）が使用中です。"
                "アプリを停止してから復元してください。"
            ) from None
        if not force:
            raise RuleViolation(
                f"復元先 {target.name} を確認できません（{type(exc).__name__}）。"
                "置き換えてよい場合は --force を付けてください。"
            ) from None
        empty = False
    if not empty and not force:
        raise RuleViolation(
            f"復元先 {target.name} には既にデータがあります。置き換える場合は --force を付けてください"
            "（元のファイルは名前を変えて残します）。"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(target.name + ".restoring")
    _remove_db_files(staging)
    progress("取り込み（IMPORT DATABASE）", step + 1, total)
    con = duckdb.connect(str(staging))
    try:
        con.execute(f"IMPORT DATABASE {_quote_path(source)}")
        _advance_sequences(con)
        counts = _row_counts(con)
        con.execute("CHECKPOINT")
    except duckdb.Error as exc:
        con.close()
        _remove_db_files(staging)
        raise RuleViolation(f"バックアップを取り込めませんでした: {exc}") from None
    con.close()
    progress("件数と監査ログの検証", step + 2, total)
    mismatched = [
        f"{name}（目録 {expected:,}件、復元 {counts.get(name, 0):,}件）"
        for name, expected in manifest.tables.items()
        if counts.get(name, 0) != expected
    ]
    if mismatched:
        _remove_db_files(staging)
        raise RuleViolation("復元した件数が目録と一致しません: " + "、".join(mismatched))
    staging_url = f"duckdb:///{staging}"
    try:
        broken = audit.verify_chain(get_engine(staging_url))
    finally:
        dispose_engines()
    if broken is not None:
        _remove_db_files(staging)
        raise RuleViolation(f"復元した監査ログの連鎖が番号 {broken} で途切れています。復元を中止しました。")
    progress("置き換え", step + 3, total)
    previous: Path | None = None
    if target.exists():
        stamp = clock.stamp_jst()
        previous = target.with_name(f"{target.name}.before-restore-{stamp}")
        target.rename(previous)
        wal = target.with_name(target.name + ".wal")
        if wal.exists():
            wal.rename(previous.with_name(previous.name + ".wal"))
    shutil.move(str(staging), str(target))
    engine = get_engine(f"duckdb:///{target}")
    with write_session(engine) as session:
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.database_restore,
            entity="database",
            after=_restore_note(manifest, previous),
        )
    checkpoint(engine)
    dispose_engines()
    progress("完了", total, total)
    return RestoreReport(tables=counts, previous_file=previous)


def _restore_note(manifest: Manifest, previous: Path | None) -> dict[str, Any]:
    return {
        "backup_created_at": manifest.created_at,
        "backup_app_version": manifest.app_version,
        "rows": sum(manifest.tables.values()),
        "previous_file": previous.name if previous else None,
    }


def backup_root() -> Path:
    """Where the 管理 page writes backups: FUND_BACKUP_DIR, or data/backups next to the seed data."""
    configured = os.environ.get("FUND_BACKUP_DIR")
    return Path(configured) if configured else DATA_DIR / "backups"


def backup_now(engine: Engine, *, actor: Actor, progress: Progress | None = None) -> tuple[Path, Manifest]:
    """A backup into a new time-stamped folder under `backup_root()` (JST time in the name)."""
    stamp = clock.stamp_jst()
    out_dir = backup_root() / f"fund-{stamp}"
    return out_dir, backup(engine, out_dir=out_dir, actor=actor, progress=progress)
