"""`fund db upgrade`: bring a database to this release's schema without losing a row.

1. Refuse what cannot be upgraded (newer, foreign, half-made) before touching anything.
2. Take a `fund backup` (audited), so there is always a verified copy to go back to.
3. Migrate in one transaction: a release-0.1.0 database (no version table) is first stamped as the
   baseline, then every later revision runs. DuckDB works on a copy beside the file, which replaces
   the original only once verified; PostgreSQL's transactional DDL rolls everything back on failure.
4. Before committing: every table keeps its row count and the audit chain still holds; the upgrade
   adds its own audit row in the same transaction.
"""

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from sqlalchemy import Connection, text
from sqlmodel import Session

from fund import audit, integrity, schema
from fund.auth import SYSTEM, Action, Actor, require
from fund.db import (
    WRITE_LOCK,
    checkpoint,
    database_path,
    dispose_engines,
    get_engine,
    is_duckdb,
    require_file,
)
from fund.errors import RuleViolation
from fund.models import AuditAction
from fund.ops.backup import Progress, backup_now
from fund.settings import get_settings


@dataclass(frozen=True)
class UpgradeReport:
    before: schema.Status
    after: str
    backup_dir: Path | None  # None when there was nothing to upgrade
    tables: dict[str, int]  # rows per table after the upgrade


class UpgradeFailed(RuleViolation):
    pass


UNCHANGED = "元のデータベースは更新前のままです（監査ログにバックアップの記録が加わっただけです）。"


def _noop(_step: str, _done: int, _total: int) -> None:
    return None


def _counts(conn: Connection, tables: set[str]) -> dict[str, int]:
    return {
        name: int(conn.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one())
        for name in sorted(tables)
    }


def upgrade(
    url: str | None = None, *, create: bool = False, actor: Actor = SYSTEM, progress: Progress | None = None
) -> UpgradeReport:
    """Upgrade the database at `url` (default FUND_DATABASE_URL) to the head revision; `create`: a
    missing DuckDB file is created (first start), otherwise it is refused."""
    require(actor, Action.manage_users)
    progress = progress or _noop
    url = url or get_settings().database_url
    if not create:
        require_file(url)
    engine = get_engine(url)  # a missing driver, a lock or a damaged file stops here, in Japanese
    found = schema.status(engine)
    if found.state is schema.State.current:
        return UpgradeReport(found, found.head, None, {})
    if found.state is schema.State.empty:
        schema.create(engine)
        return UpgradeReport(found, found.head, None, {})
    if found.state not in (schema.State.behind, schema.State.unversioned):
        raise schema.SchemaMismatch(found.message)
    progress("バックアップ", 0, 3)
    backup_dir, _manifest = backup_now(engine, actor=actor)
    progress("スキーマの更新", 1, 3)
    try:
        if is_duckdb(engine):
            tables = _upgrade_duckdb_copy(url, found, actor)
        else:
            with WRITE_LOCK, engine.begin() as conn:
                tables = _migrate(conn, found, actor)
    except UpgradeFailed as exc:
        raise UpgradeFailed(f"{exc.message} {UNCHANGED}バックアップ: {backup_dir}") from None
    except Exception as exc:  # a failing migration: rolled back, reported with where the backup is
        raise UpgradeFailed(
            f"スキーマを更新できませんでした（{type(exc).__name__}: {str(exc).splitlines()[0][:200]}）。"
            f"{UNCHANGED}バックアップ: {backup_dir}"
        ) from exc
    integrity.record_head(get_engine(url), "upgrade", f"{found.revision or '0.1.0'} → {found.head}")
    progress("完了", 3, 3)
    return UpgradeReport(found, found.head, backup_dir, tables)


def _upgrade_duckdb_copy(url: str, found: schema.Status, actor: Actor) -> dict[str, int]:
    """Migrate a copy of the file; the original is replaced only by a copy that passed every check."""
    path = database_path(url)
    assert path is not None, "a DuckDB URL names a file"
    with WRITE_LOCK:
        checkpoint(get_engine(url))
        dispose_engines()  # release the file before it is copied and replaced
        staging = path.with_name(path.name + ".upgrading")
        staging.unlink(missing_ok=True)
        shutil.copyfile(path, staging)
        try:
            staged = get_engine(f"duckdb:///{staging}")
            with staged.begin() as conn:
                tables = _migrate(conn, found, actor)
            checkpoint(staged)
            dispose_engines()
            os.replace(staging, path)
        finally:
            dispose_engines()
            staging.unlink(missing_ok=True)
    return tables


def _migrate(conn: Connection, found: schema.Status, actor: Actor) -> dict[str, int]:
    """Stamp, migrate and verify inside the caller's transaction; raise to roll it all back."""
    before = _counts(conn, schema.table_names(conn) - {schema.VERSION_TABLE})
    cfg = schema.config(conn)
    if found.state is schema.State.unversioned:
        command.stamp(cfg, schema.BASELINE)
    command.upgrade(cfg, "head")
    after = _counts(conn, set(before))
    lost = [
        f"{name}（更新前 {n:,}件、更新後 {after[name]:,}件）"
        for name, n in before.items()
        if after[name] != n
    ]
    if lost:
        raise UpgradeFailed("更新後の件数が更新前と一致しません: " + "、".join(lost) + "。")
    with Session(bind=conn) as session:
        broken = audit.chain_break(session)
        if broken is not None:
            raise UpgradeFailed(f"更新後の監査ログの連鎖が番号 {broken} で途切れています。")
        row = audit.record(
            session,
            actor=actor.login,
            action=AuditAction.database_upgrade,
            entity="database",
            before={"revision": found.revision or "0.1.0（版の記録なし）"},
            after={"revision": found.head, "rows": sum(before.values())},
        )
        integrity.baseline(session, row)  # rows written before after-images existed get theirs
    return after
