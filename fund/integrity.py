"""After-images: the audit trail covers the money and the authority, not only itself.

Every write that changes a watched column of a ledger entry, an allocation or its change, a proposal's
status, a user's login, role, department, activity or password, or a 年度's closing adds, in the same
transaction, an `audit_image` row per changed row: what those columns hold now (None once deleted).
The images are keyed like the chain and their hashes are part of the audit row's own hash.

`verify` compares every watched row with its newest image, so an amount edited in SQL, a row deleted
or inserted without the app, a role raised or a closed 年度 re-opened is named; the chain head written
outside the database at each backup, restore and 決算確定 (`record_head`) shows audit rows deleted
from the end. Rows written in bulk (an upgraded old database, the benchmark's generator) get their
images once from `baseline`, attached to that operation's audit row.
"""

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Engine, event, inspect
from sqlmodel import Session, SQLModel, col, select

from fund import audit, clock, keys, labels
from fund.errors import RuleViolation
from fund.fiscal import fiscal_label
from fund.models import (
    Allocation,
    AllocationChange,
    AppUser,
    AuditImage,
    AuditLog,
    DrawdownPolicy,
    DrawdownRequest,
    FiscalYear,
    LedgerEntry,
    Proposal,
)
from fund.settings import get_settings

_PASSWORD = "password"  # the image holds a digest of the password hash, never the hash itself

# table → (model, its watched columns, its name in messages)
WATCHED: dict[str, tuple[type[SQLModel], tuple[str, ...], str]] = {
    "ledger_entry": (
        LedgerEntry,
        ("posted_on", "fiscal_year", "kind", "amount_yen", "project_id", "allocation_id",
         "reverses_entry_id", "unallocated_reason", "is_estimate"),
        "基金台帳",
    ),
    "allocation": (
        Allocation,
        ("project_id", "proposal_id", "fiscal_year", "budget_stage", "project_cost_yen",
         "fund_share_yen", "status", "approved_by"),
        "年度配分",
    ),
    "allocation_change": (
        AllocationChange,
        ("allocation_id", "kind", "fund_delta_yen", "status", "approved_by"),
        "配分の変更",
    ),
    "drawdown_request": (
        DrawdownRequest,
        ("amount_yen", "allocation_id", "status", "decided_by", "ledger_entry_id"),
        "取崩しの承認依頼",
    ),
    "drawdown_policy": (DrawdownPolicy, ("threshold_yen",), "取崩しの承認基準額"),
    "proposal": (Proposal, ("project_id", "fiscal_year", "status"), "事業提案"),
    "app_user": (
        AppUser,
        ("login", "role", "department_id", "active", _PASSWORD, "oidc_subject"),
        "利用者",
    ),
    "fiscal_year": (FiscalYear, ("closed", "closed_by", "annual_cap_yen"), "年度"),
}  # fmt: skip
_TABLE_OF = {model: table for table, (model, _cols, _label) in WATCHED.items()}

COLUMN_LABELS = {
    "posted_on": "記帳日",
    "fiscal_year": "年度",
    "kind": "種別",
    "amount_yen": "金額（円）",
    "project_id": "事業番号",
    "allocation_id": "配分番号",
    "reverses_entry_id": "取り消す記帳",
    "unallocated_reason": "配分のない理由",
    "is_estimate": "推計",
    "proposal_id": "提案番号",
    "budget_stage": "予算の段階",
    "project_cost_yen": "事業費（円）",
    "fund_share_yen": "基金充当額（円）",
    "status": "状態",
    "approved_by": "承認者",
    "fund_delta_yen": "基金の増減（円）",
    "login": "ログイン名",
    "role": "役割",
    "department_id": "部局番号",
    "active": "有効",
    _PASSWORD: "パスワード",
    "oidc_subject": "組織アカウントの識別子",
    "closed": "決算確定",
    "closed_by": "決算確定者",
    "decided_by": "承認・却下した人",
    "ledger_entry_id": "記帳した台帳番号",
    "threshold_yen": "承認基準額（円）",
    "annual_cap_yen": "年度の上限（円）",
    # columns of the other tables' snapshots (fund/audit.py `snapshot`)
    "id": "番号",
    "year": "年度",
    "name": "名称",
    "display_name": "表示名",
    "created_at": "作成日時",
    "updated_at": "更新日時",
    "created_by": "作成者",
    "category_id": "区分番号",
    "round_id": "審査ラウンド番号",
    "reviewer_id": "審査担当番号",
    "is_sample": "サンプル",
    "version": "版",
    "weights": "重み（%）",
}
_YEAR_COLUMNS = {"fiscal_year", "year"}

# Codes shown in their Japanese words: (table, column) → code → word
_CODE_WORDS: dict[tuple[str, str], dict[str, str]] = {
    ("ledger_entry", "kind"): {k.value: v for k, v in labels.LEDGER_KIND.items()},
    ("allocation", "budget_stage"): {k.value: v for k, v in labels.BUDGET_STAGE.items()},
    ("allocation", "status"): {k.value: v for k, v in labels.ALLOCATION_STATUS.items()},
    ("allocation_change", "kind"): {k.value: v for k, v in labels.ALLOCATION_CHANGE.items()},
    ("allocation_change", "status"): {k.value: v for k, v in labels.ALLOCATION_STATUS.items()},
    ("proposal", "status"): {k.value: v for k, v in labels.PROPOSAL_STATUS.items()},
    ("drawdown_request", "status"): {k.value: v for k, v in labels.REQUEST_STATUS.items()},
    ("app_user", "role"): {k.value: v for k, v in labels.ROLE.items()},
}

_PENDING = "integrity_pending"  # session.info: (table, row id) → the changed object, None if deleted


def _source(column: str) -> str:
    return "password_hash" if column == _PASSWORD else column


def _value(column: str, value: Any) -> Any:
    if column == _PASSWORD:
        return None if value is None else hashlib.sha256(str(value).encode()).hexdigest()
    return audit.jsonable(value)


def image_of(table: str, values: Callable[[str], Any]) -> dict[str, Any]:
    """The watched columns of one row as plain JSON (`values`: a column's stored value)."""
    return {c: _value(c, values(_source(c))) for c in WATCHED[table][1]}


def image_hash(table: str, row_id: str, image: dict[str, Any] | None, key: bytes) -> str:
    payload = json.dumps([table, row_id, image], ensure_ascii=False, sort_keys=True)
    return hmac.new(key, payload.encode("utf-8"), hashlib.sha256).hexdigest()


# --- Images in every write --------------------------------------------------------------------------


def _after_flush(session: Session, _context: Any) -> None:
    """Note each watched row this flush changed (the lists still show the flush's own changes)."""
    pending: dict[tuple[str, str], Any] = session.info.setdefault(_PENDING, {})
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = _TABLE_OF.get(type(obj))
        if table is None:
            continue
        state = inspect(obj)
        key = state.mapper.primary_key_from_instance(obj)[0]  # new rows get their identity only later
        if key is None:
            continue
        row_id = str(key)
        if obj in session.deleted:
            pending[(table, row_id)] = None
        elif obj in session.new or any(
            state.attrs[_source(c)].history.has_changes() for c in WATCHED[table][1]
        ):
            pending[(table, row_id)] = obj


def _before_commit(session: Session) -> None:
    """Write the images of the transaction's watched changes onto its last audit row."""
    session.flush()  # what is still unflushed is noted too
    pending: dict[tuple[str, str], Any] = session.info.pop(_PENDING, {})
    rows: list[AuditLog] = session.info.pop(audit.AUDIT_ROWS, [])
    if not pending:
        return
    if not rows:
        names = "、".join(f"{WATCHED[t][2]} {i}" for t, i in sorted(pending))
        raise RuleViolation(f"監査記録のない変更は保存できません（{names}）。")
    images = [
        AuditImage(
            audit_id=0,
            table_name=table,
            row_id=row_id,
            image=None if obj is None else image_of(table, partial(getattr, obj)),
        )
        for (table, row_id), obj in sorted(pending.items())
    ]
    _attach(session, rows[-1], images)
    session.flush()


def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(audit.AUDIT_ROWS, None)


def _attach(session: Session, row: AuditLog, images: list[AuditImage]) -> None:
    """Key the images, hang them on `row` (the transaction's newest audit row) and re-hash it."""
    key = keys.secret("audit", create=False)
    for image in images:
        image.audit_id = row.id or 0
        image.image_hash = image_hash(image.table_name, image.row_id, image.image, key)
    session.add_all(images)
    session.flush()
    _rehash(session, row, key)


def _rehash(session: Session, row: AuditLog, key: bytes) -> None:
    """The row's hash over every image it carries."""
    carried = session.exec(select(AuditImage.image_hash).where(AuditImage.audit_id == row.id)).all()
    row.row_hash = audit.row_hash(row, list(carried), key)
    session.add(row)


def guard_session() -> None:
    """Register the hooks once: no watched change is committed without its audit row and image."""
    for name, hook in (
        ("after_flush", _after_flush),
        ("before_commit", _before_commit),
        ("after_rollback", _forget),
    ):
        if not event.contains(Session, name, hook):
            event.listen(Session, name, hook)


# --- Rows written before images existed -------------------------------------------------------------


def _current_rows(session: Session, table: str) -> Iterator[tuple[str, dict[str, Any]]]:
    model, columns, _label = WATCHED[table]
    key_column = inspect(model).primary_key[0].name
    names = [key_column, *(_source(c) for c in columns)]
    for values in session.execute(select(*(getattr(model, n) for n in names))):
        stored = dict(zip(names, values, strict=True))
        yield str(stored[key_column]), image_of(table, stored.__getitem__)


def _imaged(session: Session, table: str) -> set[str]:
    return set(session.exec(select(AuditImage.row_id).where(AuditImage.table_name == table)).all())


def baseline(session: Session, row: AuditLog) -> int:
    """Give every watched row that has no image yet its image, on `row`; the number of images."""
    key = keys.secret("audit", create=False)
    records = []
    for table in WATCHED:
        known = _imaged(session, table)
        for row_id, image in _current_rows(session, table):
            if row_id not in known:
                records.append((row.id, table, row_id, image, image_hash(table, row_id, image, key)))
    if not records:
        return 0
    frame = pd.DataFrame(records, columns=["audit_id", "table_name", "row_id", "image", "image_hash"])
    if session.connection().dialect.name == "duckdb":
        frame["image"] = [json.dumps(i, ensure_ascii=False) for i in frame["image"]]
        raw: Any = session.connection().connection.driver_connection
        raw.register("new_images", frame)
        try:
            raw.execute(
                "INSERT INTO audit_image (audit_id, table_name, row_id, image, image_hash) "
                "SELECT audit_id, table_name, row_id, image::JSON, image_hash FROM new_images"
            )
        finally:
            raw.unregister("new_images")
    else:
        session.execute(AuditImage.__table__.insert(), frame.to_dict("records"))  # type: ignore[attr-defined]
    _rehash(session, row, key)
    session.flush()
    return len(records)


# --- The chain head, kept outside the database ------------------------------------------------------

_RESTARTS = ("restore", "upgrade")


def record_head(engine: Engine, event_name: str, detail: str = "") -> None:
    """Write the newest audit row's id and hash to the heads file (after a backup, restore or 決算確定).

    A restore or an upgrade starts the heads afresh: the chain is then the restored one, or re-keyed."""
    with Session(engine) as session:
        head = session.exec(select(AuditLog).order_by(col(AuditLog.id).desc()).limit(1)).first()
    if head is None:
        return
    line = {
        "event": event_name,
        "detail": detail,
        "at": clock.now_jst().isoformat(timespec="seconds"),
        "audit_id": head.id,
        "row_hash": head.row_hash,
    }
    path = get_settings().audit_heads_file
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, ensure_ascii=False) + "\n")


def _heads() -> list[dict[str, Any]]:
    path = get_settings().audit_heads_file
    if not path.is_file():
        return []
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    restarts = [i for i, line in enumerate(lines) if line["event"] in _RESTARTS]
    return lines[restarts[-1] :] if restarts else lines


# --- Verification -----------------------------------------------------------------------------------

_EVENTS = {"backup": "バックアップ", "restore": "復元", "upgrade": "更新", "close": "決算確定"}


@dataclass(frozen=True)
class Finding:
    """One thing that does not match its audit record, in Japanese."""

    message: str


def shown(table: str, column: str, value: Any) -> str:
    """A stored value in words: codes as their Japanese label, はい/いいえ, grouped digits."""
    if (table, column) in _CODE_WORDS:
        return _CODE_WORDS[(table, column)].get(str(value), str(value))
    if value is None:
        return "（なし）"
    if column == _PASSWORD:
        return "（別の値）"
    if isinstance(value, bool):
        return "はい" if value else "いいえ"
    if isinstance(value, int) and column in _YEAR_COLUMNS:
        return fiscal_label(value)
    if isinstance(value, int) and (column == "id" or column.endswith("_id")):
        return str(value)  # a number that names a row, not an amount
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return "・".join(shown(table, column, v) for v in value)
    if isinstance(value, str) and "T" in value:  # a moment as the snapshot keeps it (UTC, ISO)
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return clock.in_japan(moment).strftime(clock.TIMESTAMP_FORMAT)
    return str(value)


def _row_name(table: str, row_id: str) -> str:
    if table == "fiscal_year":
        return fiscal_label(int(row_id))
    return f"{WATCHED[table][2]} 番号 {row_id}"


def _compare(
    table: str, row_id: str, now: dict[str, Any] | None, newest: tuple[int, dict[str, Any] | None] | None
) -> list[str]:
    """`newest`: the audit row id and the image of the row's newest after-image."""
    name = _row_name(table, row_id)
    if newest is None:
        return [f"{name}: 監査記録がありません（アプリを通さずに追加された行）。"]
    at, image = f"監査ログ 番号 {newest[0]}", newest[1]
    if now is None:
        return [] if image is None else [f"{name}: 削除されています（{at} の後に削除の記録がありません）。"]
    if image is None:
        return [f"{name}: {at} で削除された行が存在しています。"]
    return [
        f"{name}: {COLUMN_LABELS[c]} が {at} では {shown(table, c, image.get(c))}、"
        f"現在は {shown(table, c, now.get(c))} です。"
        for c in WATCHED[table][1]
        if image.get(c) != now.get(c)
    ]


def _quiet(_step: str) -> None:
    return None


def verify(engine: Engine, *, heads: bool = True, progress: Callable[[str], None] = _quiet) -> list[Finding]:
    """Everything that does not match the audit trail: the chain, each image, each watched row and
    (`heads`) the heads recorded outside the database. Empty when all holds. A database from before
    revision 0006 has only its chain to check."""
    findings: list[Finding] = []
    with Session(engine) as session:
        progress("監査ログの連鎖")
        broken = audit.chain_break(session)
        if broken is not None:
            findings.append(
                Finding(
                    f"監査ログの連鎖が番号 {broken} で途切れています（行の書き換え・挿入・削除、"
                    "または鍵を持たない者による再計算）。"
                )
            )
        if not audit.keyed(session):
            return findings
        findings += _images_against_rows(session, progress)
        if heads:
            findings += _heads_against_chain(session)
    return findings


def _images_against_rows(session: Session, progress: Callable[[str], None]) -> list[Finding]:
    key = keys.secret("audit", create=False)
    findings: list[Finding] = []
    newest: dict[tuple[str, str], tuple[int, dict[str, Any] | None]] = {}
    progress("変更後の記録（監査ログの各行が記録した内容）")
    columns: tuple[Any, ...] = (
        AuditImage.audit_id,
        AuditImage.table_name,
        AuditImage.row_id,
        AuditImage.image,
        AuditImage.image_hash,
    )
    for audit_id, table, row_id, image, stored in session.execute(
        sa.select(*columns).order_by(col(AuditImage.id))
    ):
        if not hmac.compare_digest(stored, image_hash(table, row_id, image, key)):
            findings.append(
                Finding(
                    f"監査ログ 番号 {audit_id} の記録（{_row_name(table, row_id)}）が書き換えられています。"
                )
            )
        newest[(table, row_id)] = (audit_id, image)
    for table, (_model, _columns, label) in WATCHED.items():
        progress(label)
        current = dict(_current_rows(session, table))
        ids = sorted(set(current) | {i for t, i in newest if t == table}, key=lambda v: (len(v), v))
        for row_id in ids:
            for message in _compare(table, row_id, current.get(row_id), newest.get((table, row_id))):
                findings.append(Finding(message))
    return findings


def _heads_against_chain(session: Session) -> list[Finding]:
    findings: list[Finding] = []
    for head in _heads():
        row = session.get(AuditLog, head["audit_id"])
        when = f"{head['at'][:16].replace('T', ' ')} の{_EVENTS.get(head['event'], head['event'])}"
        if row is None:
            findings.append(
                Finding(
                    f"{when}で記録した監査ログの先頭（番号 {head['audit_id']}）がありません"
                    "（監査ログの末尾が削除されています）。"
                )
            )
        elif row.row_hash != head["row_hash"]:
            findings.append(
                Finding(f"{when}で記録した監査ログの先頭（番号 {head['audit_id']}）が記録と一致しません。")
            )
    return findings
