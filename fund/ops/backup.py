"""Backups that are known to restore: a consistent copy with a manifest, and a verified restore.

DuckDB: `CHECKPOINT`, then one Parquet file per table (`COPY … TO`). `manifest.json` lists every
table with its row count, every file with its SHA-256, the schema revision and the sequences'
values, so a damaged or incomplete copy is refused before anything is touched, and the copy does not
depend on the DuckDB version that wrote it.

The manifest is signed (HMAC-SHA256) with a key that is not in the backup — `FUND_BACKUP_KEY`, or
the key file `FUND_BACKUP_KEY_FILE` (made on the first backup, readable by its owner only) — so an
edited file with a re-hashed manifest is refused. Restore executes nothing from the backup: it
builds the new database beside the target from the application's own migrations (the backup's
revision) and reads only the Parquet files' rows, then checks the checksums, the row counts and the
audit hash chain, and swaps it into place atomically (the target path always holds either the old or
the new database; the old one is kept under another name). Backups written by release 0.1.0
(`EXPORT DATABASE`, unsigned) are restored only when asked to accept an unsigned backup; their
`schema.sql` and `load.sql` are never run.

PostgreSQL: `backup` writes one Parquet file per table (portable, for inspection and archives);
operators back up and restore the server itself with `pg_dump` / `pg_restore` (see README).
"""

import hashlib
import hmac
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel

from fund import audit, clock, integrity, keys, schema
from fund.auth import SYSTEM, Action, Actor, require
from fund.db import (
    WRITE_LOCK,
    checkpoint,
    database_path,
    dispose_engines,
    get_engine,
    insert_rows,
    is_duckdb,
    write_session,
)
from fund.errors import RuleViolation
from fund.models import AuditAction
from fund.settings import DATA_DIR, get_settings

MANIFEST = "manifest.json"
FORMAT_DUCKDB = "duckdb-tables-parquet"
FORMAT_EXPORT = "duckdb-export-parquet"  # release 0.1.0: EXPORT DATABASE
FORMAT_TABLES = "table-parquet"  # PostgreSQL: for archives and inspection, restored with pg_restore

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
    schema_revision: str | None = None  # None: a database of release 0.1.0 (no version table)
    sequences: dict[str, int] = field(default_factory=dict)  # name → the last id handed out
    audit_head: dict[str, Any] | None = None  # the newest audit row copied: its id and hash
    signature: str | None = None  # HMAC-SHA256 of everything else, keyed outside the backup

    def to_json(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False, indent=2, sort_keys=True)

    def _signed_part(self) -> bytes:
        # A field added later is signed only when set, so the manifests of earlier releases still verify.
        content = {k: v for k, v in self.__dict__.items() if k != "signature" and (k != "audit_head" or v)}
        return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()

    def sign(self, key: bytes) -> None:
        self.signature = hmac.new(key, self._signed_part(), hashlib.sha256).hexdigest()

    def signed_with(self, key: bytes) -> bool:
        expected = hmac.new(key, self._signed_part(), hashlib.sha256).hexdigest()
        return self.signature is not None and hmac.compare_digest(self.signature, expected)

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


def _in_load_order(present: set[str]) -> list[str]:
    """The tables of a database (of any revision): parents first, then any the models do not know."""
    known = [name for name in table_names() if name in present]
    return known + sorted(present - set(known) - {schema.VERSION_TABLE})


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _quote_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _check_signature(manifest: "Manifest", *, accept_unsigned: bool) -> None:
    if manifest.signature is None:
        if accept_unsigned:
            return
        raise RuleViolation(
            "このバックアップの目録には署名がありません（リリース 0.1.0 のバックアップなど）。"
            "作成元を確かめたうえで、署名のないバックアップとして復元してください（--accept-unsigned）。"
        )
    if not manifest.signed_with(keys.secret("backup", create=False)):
        raise RuleViolation(
            "バックアップの目録の署名が一致しません。ファイルが書き換えられたか、別の環境の鍵で作成された"
            "バックアップです。復元を中止しました。"
        )


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
    counts: dict[str, int] = {}
    # Under the write lock no write of this process can slip in between the counts and the copy;
    # one transaction reads one snapshot of every table.
    with WRITE_LOCK:
        progress("チェックポイント", 0, 1)
        checkpoint(engine)
        with engine.begin() as conn:
            revision = schema.status_of(conn).revision
            names = _in_load_order(schema.table_names(conn))
            total = len(names) + 2
            for i, name in enumerate(names, start=1):
                counts[name] = int(conn.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one())
                target = out_dir / f"{name}.parquet"
                if is_duckdb(engine):
                    conn.exec_driver_sql(
                        f'COPY (SELECT * FROM "{name}") TO {_quote_path(target)} (FORMAT PARQUET)'
                    )
                else:
                    pd.read_sql(text(f'SELECT * FROM "{name}"'), conn).to_parquet(target, index=False)
                progress(f"表 {name}", i, total)
            sequences = _sequence_values(conn) if is_duckdb(engine) else {}
            head = conn.execute(text("SELECT id, row_hash FROM audit_log ORDER BY id DESC LIMIT 1")).first()
    files = sorted(p for p in out_dir.rglob("*") if p.is_file() and p.name != MANIFEST)
    progress("チェックサム", total - 1, total)
    manifest = Manifest(
        format=FORMAT_DUCKDB if is_duckdb(engine) else FORMAT_TABLES,
        app_version=app_version(),
        created_at=clock.now_utc().isoformat(timespec="seconds"),
        database=engine.dialect.name,
        tables=counts,
        files={p.relative_to(out_dir).as_posix(): _sha256(p) for p in files},
        schema_revision=revision,
        sequences=sequences,
        audit_head=None if head is None else {"id": head[0], "row_hash": head[1]},
    )
    manifest.sign(keys.secret("backup", create=True))
    (out_dir / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    with write_session(engine) as session:
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.database_backup,
            entity="database",
            after={"files": len(files), "rows": sum(counts.values()), "format": manifest.format},
        )
    integrity.record_head(engine, "backup", out_dir.name)
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
        counts = _row_counts(con)
        counts.pop(schema.VERSION_TABLE, None)  # a new database at head holds only its version
        return sum(counts.values()) == 0
    finally:
        con.close()


def _sequence_values(conn: Any) -> dict[str, int]:
    """The last value each DuckDB sequence handed out (0 when unused)."""
    rows = conn.exec_driver_sql("SELECT sequence_name, start_value, last_value FROM duckdb_sequences()")
    return {str(name): int(last) if last is not None else int(start) - 1 for name, start, last in rows}


def _advance_sequences(con: duckdb.DuckDBPyConnection, floors: dict[str, int] | None = None) -> None:
    """Make sure every `<table>_id_seq` hands out ids above the table's largest id and above the
    value it had reached when the backup was taken (ids of deleted rows are never handed out again)."""
    sequences = {r[0] for r in con.execute("SELECT sequence_name FROM duckdb_sequences()").fetchall()}
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    for name in sorted(tables):
        seq = f"{name}_id_seq"
        if seq not in sequences:
            continue
        row = con.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{name}"').fetchone()
        wanted = max(int(row[0]) if row else 0, (floors or {}).get(seq, 0))
        start = con.execute(
            "SELECT start_value, last_value FROM duckdb_sequences() WHERE sequence_name = ?", [seq]
        ).fetchone()
        current = int(start[1]) if start and start[1] is not None else (int(start[0]) - 1 if start else 0)
        if current < wanted:
            con.execute(f"SELECT MAX(nextval('{seq}')) FROM range(?)", [wanted - current])


def _remove_db_files(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)


def restore(
    source: Path,
    *,
    url: str | None = None,
    force: bool = False,
    accept_unsigned: bool = False,
    actor: Actor = SYSTEM,
    progress: Progress | None = None,
) -> RestoreReport:
    """Rebuild the database named by `url` (default FUND_DATABASE_URL) from a backup directory.
    `accept_unsigned` admits a backup whose manifest has no signature (release 0.1.0)."""
    require(actor, Action.manage_users)
    progress = progress or _noop
    source = source.resolve()
    url = url or get_settings().database_url
    manifest = Manifest.load(source)
    if manifest.format not in (FORMAT_DUCKDB, FORMAT_EXPORT):
        raise RuleViolation(
            "このバックアップは PostgreSQL から表ごとに書き出したものです。PostgreSQL の復元は "
            "pg_dump / pg_restore で行ってください（README の「セキュリティと運用」）。"
        )
    target = database_path(url)
    if target is None:
        raise RuleViolation(
            "復元先は DuckDB のファイル（duckdb:///…）にしてください。PostgreSQL には pg_restore を使います。"
        )
    _check_signature(manifest, accept_unsigned=accept_unsigned)
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
    progress("取り込み", step + 1, total)
    try:
        counts = _load(source, manifest, staging)
    except RuleViolation:
        dispose_engines()
        _remove_db_files(staging)
        raise
    except (duckdb.Error, SQLAlchemyError) as exc:
        dispose_engines()
        _remove_db_files(staging)
        raise RuleViolation(f"バックアップを取り込めませんでした: {str(exc).splitlines()[0]}") from None
    progress("件数と監査ログの検証", step + 2, total)
    mismatched = [
        f"{name}（目録 {expected:,}件、復元 {counts.get(name, 0):,}件）"
        for name, expected in manifest.tables.items()
        if counts.get(name, 0) != expected
    ]
    if mismatched:
        _remove_db_files(staging)
        raise RuleViolation("復元した件数が目録と一致しません: " + "、".join(mismatched))
    try:
        findings = _restored_findings(get_engine(f"duckdb:///{staging}"), manifest)
    finally:
        dispose_engines()
    if findings:
        _remove_db_files(staging)
        raise RuleViolation(
            "復元したデータが監査ログと一致しません。復元を中止しました（監査ログの鍵 FUND_AUDIT_KEY が"
            "作成元と同じかも確かめてください）: " + " ".join(f.message for f in findings[:5])
        )
    progress("置き換え", step + 3, total)
    previous: Path | None = None
    if target.exists():
        # The old file gets a second name first; then one rename puts the new one in its place.
        # At every instant the target path holds a whole database, the old one or the new one.
        previous = target.with_name(f"{target.name}.before-restore-{clock.stamp_jst()}")
        os.link(target, previous)
        wal = target.with_name(target.name + ".wal")
        if wal.exists():
            os.link(wal, previous.with_name(previous.name + ".wal"))
            wal.unlink()
    os.replace(staging, target)
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
    integrity.record_head(engine, "restore", source.name)
    dispose_engines()
    progress("完了", total, total)
    return RestoreReport(tables=counts, previous_file=previous)


def _restored_findings(engine: Engine, manifest: Manifest) -> list[integrity.Finding]:
    """The restored data against its audit trail, and the trail against the head the manifest names."""
    findings = integrity.verify(engine, heads=False)
    head = manifest.audit_head
    if head is not None:
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT row_hash FROM audit_log WHERE id = :id"), {"id": head["id"]}
            ).scalar()
        if found != head["row_hash"]:
            findings.append(
                integrity.Finding(f"目録に記録した監査ログの先頭（番号 {head['id']}）がありません。")
            )
    return findings


def _load(source: Path, manifest: Manifest, staging: Path) -> dict[str, int]:
    """Build the backup's database in `staging`; its row counts per table. The schema comes from
    the application's migrations (release 0.1.0 is the baseline revision), the rows from the Parquet
    files only: no statement of the backup is ever executed."""
    engine = get_engine(f"duckdb:///{staging}")
    with engine.begin() as conn:
        command.upgrade(schema.config(conn), manifest.schema_revision or schema.BASELINE)
    dispose_engines()
    known = set(table_names()) | {schema.VERSION_TABLE}
    unknown = sorted(set(manifest.tables) - known)
    if unknown:
        raise RuleViolation("このリリースにない表がバックアップに含まれています: " + "、".join(unknown))
    con = duckdb.connect(str(staging))
    try:
        for name in _in_load_order(set(manifest.tables)):
            parquet = f"read_parquet({_quote_path(source / f'{name}.parquet')})"
            columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {parquet}").fetchall()]
            own = {r[0] for r in con.execute(f'DESCRIBE "{name}"').fetchall()}
            foreign = [c for c in columns if c not in own]
            if foreign:  # only the table's own columns are named in the statement
                raise RuleViolation(
                    f"表 {name} のファイルに、この表にない列があります: " + "、".join(foreign[:5])
                )
            insert_rows(con, name, columns, parquet)
        _advance_sequences(con, manifest.sequences)
        counts = _row_counts(con)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    counts.pop(schema.VERSION_TABLE, None)
    return counts


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
    for n in range(2, 100):  # two backups in one second (an upgrade right after a restore)
        if not out_dir.exists():
            break
        out_dir = backup_root() / f"fund-{stamp}-{n}"
    return out_dir, backup(engine, out_dir=out_dir, actor=actor, progress=progress)
