"""The audit trail: one row per write or export, hash-chained so tampering is detectable."""

import enum
import hashlib
import json
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from fund import clock
from fund.db import query_df
from fund.models import AuditAction, AuditLog


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


def _row_hash(row: AuditLog) -> str:
    payload = json.dumps(
        [
            jsonable(row.occurred_at),
            row.actor,
            row.action,
            row.entity,
            row.entity_id,
            row.before_values,
            row.after_values,
            row.reason,
            row.prev_hash,
        ],
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


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
    row.row_hash = _row_hash(row)
    session.add(row)
    session.flush()
    return row


def latest_id(engine: Engine) -> int:
    """The newest audit row's id (0 when none). Every write adds an audit row in its own transaction,
    so this number changes exactly when the data does: the pages key their caches on it."""
    with engine.connect() as conn:
        latest = conn.execute(text("SELECT MAX(id) FROM audit_log")).scalar()
    return int(latest or 0)


def verify_chain(engine: Engine) -> int | None:
    """The id of the first audit row whose hash or link is broken, or None when the chain holds."""
    with Session(engine) as session:
        return chain_break(session)


def chain_break(session: Session) -> int | None:
    """`verify_chain` inside the caller's transaction (an upgrade checks before it commits)."""
    prev = ""
    for row in session.exec(select(AuditLog).order_by(col(AuditLog.id))):
        if row.prev_hash != prev or _row_hash(row) != row.row_hash:
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
