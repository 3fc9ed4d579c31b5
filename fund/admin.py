"""The 管理 page's services: the audit log with filters and export, and the chain check."""

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from fund import clock, integrity
from fund.audit import verify_chain
from fund.auth import Action, Actor, require
from fund.db import contains, like_pattern, query_df
from fund.errors import InputInvalid
from fund.export import record_export, to_csv_bytes, to_xlsx_bytes
from fund.labels import AUDIT_ACTION, ENTITY
from fund.models import AuditAction

MAX_ROWS = 5_000
DEFAULT_PERIOD_DAYS = 30


COLUMNS = {
    "id": "番号",
    "occurred_at": "日時",
    "actor": "利用者",
    "action_label": "操作",
    "action": "操作コード",
    "entity_label": "対象",
    "entity": "対象コード",
    "entity_id": "対象ID",
    "before_values": "変更前",
    "after_values": "変更後",
    "reason": "理由",
}


@dataclass(frozen=True)
class AuditFilters:
    since: date | None = None  # JST dates, inclusive
    until: date | None = None
    actor: str = ""  # part of the login
    action: str | None = None
    entity: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "actor": self.actor or None,
            "action": self.action,
            "entity": self.entity,
        }


@dataclass
class ChainStatus:
    rows: int
    broken_id: int | None
    broken_row: pd.DataFrame = field(default_factory=pd.DataFrame)
    findings: list[str] = field(default_factory=list)  # every mismatch, the chain's break first

    @property
    def ok(self) -> bool:
        return not self.findings


def default_period(today: date) -> tuple[date, date]:
    """The audit log's period when the page opens: the last 30 days up to today (Japan time)."""
    return today - timedelta(days=DEFAULT_PERIOD_DAYS), today


def action_label(code: str) -> str:
    """The Japanese name of a stored audit action ('' for a code this release does not know)."""
    try:
        return AUDIT_ACTION[AuditAction(code)]
    except ValueError:
        return ""


def audit_choices(engine: Engine, *, actor: Actor) -> dict[str, list[str]]:
    """Distinct actions and entities for the filter boxes."""
    require(actor, Action.view_admin)
    actions = query_df(engine, "SELECT DISTINCT action FROM audit_log ORDER BY action")["action"].tolist()
    entities = query_df(engine, "SELECT DISTINCT entity FROM audit_log ORDER BY entity")["entity"].tolist()
    return {"action": [str(a) for a in actions], "entity": [str(e) for e in entities]}


def _values_text(entity: str, value: Any) -> str:
    """A before/after record as words ('金額（円）: 2,084,500、状態: 承認済み'), not raw JSON."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return str(value)
    if not isinstance(value, dict):
        return _json_text(value)
    return "、".join(
        f"{integrity.COLUMN_LABELS.get(k, k)}: {integrity.shown(entity, k, v)}"
        for k, v in sorted(value.items())
    )


def _json_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def audit_search(
    engine: Engine, *, actor: Actor, filters: AuditFilters, limit: int = MAX_ROWS, row_id: int | None = None
) -> pd.DataFrame:
    """Audit rows matching the filters, newest first, times in JST, with Japanese column names."""
    require(actor, Action.view_admin)
    if filters.since and filters.until and filters.since > filters.until:
        raise InputInvalid({"period": "期間の開始日が終了日より後になっています。"})
    where: list[str] = []
    params: dict[str, Any] = {"limit": min(max(limit, 1), MAX_ROWS)}
    if filters.since:
        where.append("occurred_at >= :since")
        params["since"] = clock.day_start_utc(filters.since)
    if filters.until:
        where.append("occurred_at < :until")
        params["until"] = clock.day_end_utc(filters.until)
    if filters.actor.strip():
        where.append(contains("LOWER(actor)", "actor"))
        params["actor"] = like_pattern(filters.actor.lower())
    if filters.action:
        where.append("action = :action")
        params["action"] = filters.action
    if filters.entity:
        where.append("entity = :entity")
        params["entity"] = filters.entity
    if row_id is not None:
        where.append("id = :row_id")
        params["row_id"] = row_id
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    df = query_df(
        engine,
        f"""
        SELECT id, occurred_at, actor, action, entity, entity_id, before_values, after_values, reason
        FROM audit_log {clause} ORDER BY id DESC LIMIT :limit
        """,
        params,
    )
    if not df.empty:
        df["occurred_at"] = clock.jst_text(df["occurred_at"])
    df["before_values"] = [_values_text(e, v) for e, v in zip(df["entity"], df["before_values"], strict=True)]
    df["after_values"] = [_values_text(e, v) for e, v in zip(df["entity"], df["after_values"], strict=True)]
    df["action_label"] = [action_label(str(a)) or str(a) for a in df["action"]]
    df["entity_label"] = [ENTITY.get(str(e), str(e)) for e in df["entity"]]
    return df[list(COLUMNS)].rename(columns=COLUMNS)


# The screen shows the words; the codes stay in the export, for whoever reads the log by program.
SCREEN_COLUMNS = [label for column, label in COLUMNS.items() if column not in ("action", "entity")]


def export_audit_log(engine: Engine, *, actor: Actor, filters: AuditFilters, fmt: str) -> bytes:
    """The filtered log as xlsx or CSV (formula-neutralised); the export itself is audited."""
    require(actor, Action.view_admin)
    df = audit_search(engine, actor=actor, filters=filters)
    if fmt == "xlsx":
        data = to_xlsx_bytes(df, sheet_name="監査ログ", title="監査ログ（日時は日本時間）")
    elif fmt == "csv":
        data = to_csv_bytes(df)
    else:
        raise InputInvalid({"format": "出力形式は xlsx または CSV を選んでください。"})
    record_export(
        engine, actor=actor, what="audit_log", filters={**filters.as_dict(), "format": fmt}, rows=len(df)
    )
    return data


def chain_status(engine: Engine, *, actor: Actor) -> ChainStatus:
    """`fund audit verify` for the page: the chain, the data against its after-images and the heads
    kept outside the database; the first broken audit row for display."""
    require(actor, Action.view_admin)
    rows = int(query_df(engine, "SELECT COUNT(*) AS n FROM audit_log")["n"].iloc[0])
    findings = [f.message for f in integrity.verify(engine)]
    broken = verify_chain(engine)
    if broken is None:
        return ChainStatus(rows=rows, broken_id=None, findings=findings)
    row = audit_search(engine, actor=actor, filters=AuditFilters(), row_id=broken)
    return ChainStatus(rows=rows, broken_id=broken, broken_row=row, findings=findings)
