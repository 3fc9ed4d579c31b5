"""The audit trail: one row per write or export, chained with a key kept outside the database.

Each row's hash is an HMAC (fund.keys) over its fields, the previous row's hash and the hashes of the
after-images it carries (fund.integrity), so no one without the key can edit, insert, delete or
recompute a row unseen. Databases from before revision 0006 (no audit_image table) carry the unkeyed
SHA-256 chain of release 0.1.0 until they are upgraded.
"""

import enum
import hashlib
import hmac
import json
import weakref
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, inspect, text
from sqlmodel import Session, col, select

from fund import clock, keys
from fund.db import query_df
from fund.models import AuditAction, AuditImage, AuditLog

AUDIT_ROWS = "audit_rows"  # session.info: the audit rows this transaction added, in order


def jsonable(value: Any) -> Any:
    """Plain JSON values for before/after snapshots (dates as ISO text, enums as their value)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return clock.as_utc(value).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def snapshot(row: Any) -> dict[str, Any]:
    """A row's fields as plain JSON (password hashes left out)."""
    data = row.model_dump()
    data.pop("password_hash", None)
    result: dict[str, Any] = jsonable(data)
    return result


def _payload(row: AuditLog) -> list[Any]:
    return [
        jsonable(row.occurred_at),
        row.actor,
        row.action,
        row.entity,
        row.entity_id,
        row.before_values,
        row.after_values,
        row.reason,
        row.prev_hash,
    ]


def legacy_row_hash(row: AuditLog) -> str:
    """The unkeyed hash of release 0.1.0 to revision 0005 (checked once more when 0006 re-keys)."""
    payload = json.dumps(_payload(row), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def row_hash(row: AuditLog, image_hashes: Sequence[str], key: bytes) -> str:
    """The keyed hash of an audit row with the hashes of the after-images it carries."""
    payload = json.dumps([*_payload(row), sorted(image_hashes)], ensure_ascii=False, sort_keys=True)
    return hmac.new(key, payload.encode("utf-8"), hashlib.sha256).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    action: AuditAction,
    entity: str,
    entity_id: Any = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditLog:
    """Add an audit row to the caller's transaction (call inside `write_session`)."""
    last = session.exec(select(AuditLog.row_hash).order_by(col(AuditLog.id).desc()).limit(1)).first()
    row = AuditLog(
        occurred_at=clock.now_utc(),
        actor=actor,
        action=action.value,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        before_values=jsonable(before) if before is not None else None,
        after_values=jsonable(after) if after is not None else None,
        reason=reason,
        prev_hash=last or "",
    )
    if keyed(session):
        row.row_hash = row_hash(row, [], keys.secret("audit", create=last is None))
    else:  # a database not yet upgraded (the backup before its upgrade)
        row.row_hash = legacy_row_hash(row)
    session.add(row)
    session.flush()
    session.info.setdefault(AUDIT_ROWS, []).append(row)
    return row


def latest_id(engine: Engine) -> int:
    """The newest audit row's id (0 when none). Every write adds an audit row in its own transaction,
    so this number changes exactly when the data does: the pages key their caches on it."""
    with engine.connect() as conn:
        latest = conn.execute(text("SELECT MAX(id) FROM audit_log")).scalar()
    return int(latest or 0)


_KEYED: "weakref.WeakKeyDictionary[Engine, bool]" = weakref.WeakKeyDictionary()


def keyed(session: Session) -> bool:
    """Whether the database carries the keyed chain (revision 0006 on; remembered per engine once so)."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    if not _KEYED.get(engine):
        _KEYED[engine] = inspect(session.connection()).has_table(AuditImage.__tablename__)
    return _KEYED[engine]


def verify_chain(engine: Engine) -> int | None:
    """The id of the first audit row whose hash or link is broken, or None when the chain holds."""
    with Session(engine) as session:
        return chain_break(session)


def chain_break(session: Session) -> int | None:
    """`verify_chain` inside the caller's transaction (an upgrade checks before it commits)."""
    is_keyed = keyed(session)
    images: dict[int, list[str]] = {}
    key = b""
    if is_keyed:
        key = keys.secret("audit", create=False)
        for audit_id, image_hash in session.exec(select(AuditImage.audit_id, AuditImage.image_hash)):
            images.setdefault(audit_id, []).append(image_hash)
    prev = ""
    for row in session.exec(select(AuditLog).order_by(col(AuditLog.id))):
        expected = row_hash(row, images.get(row.id or 0, []), key) if is_keyed else legacy_row_hash(row)
        if row.prev_hash != prev or not hmac.compare_digest(expected, row.row_hash):
            return row.id
        prev = row.row_hash
    return None


def audit_frame(engine: Engine, *, limit: int = 500, action: str | None = None) -> pd.DataFrame:
    """The newest audit rows for the 管理 page, times in JST."""
    where = "WHERE action = :action" if action else ""
    df = query_df(
        engine,
        f"""
        SELECT id, occurred_at, actor, action, entity, entity_id, reason
        FROM audit_log {where} ORDER BY id DESC LIMIT :limit
        """,
        {"limit": limit, "action": action},
    )
    df.columns = ["番号", "日時", "利用者", "操作", "対象", "対象ID", "理由"]
    if not df.empty:
        df["日時"] = clock.jst_text(df["日時"])
    return df
