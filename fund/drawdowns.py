"""取崩しの承認: a drawdown without an allocation, or above the administrator's threshold, is registered
as 承認待ち by the 管理者 who enters it and is posted only when a second person approves it — a 幹部 or
another 管理者, neither of whose accounts the other created that day — and only if it still passes
every check of a posting at that moment. 却下 keeps the request on record."""

from datetime import date

import pandas as pd
from sqlalchemy import Engine
from sqlmodel import Session

from fund import audit, clock, duties, ledger
from fund.auth import Action, Actor, require
from fund.db import checkpoint, query_df, write_session
from fund.errors import InputInvalid, NotFound, RuleViolation
from fund.ledger import MAX_AMOUNT_YEN, LedgerEntryCreate
from fund.models import AuditAction, DrawdownPolicy, DrawdownRequest, LedgerEntry, LedgerKind, RequestStatus
from fund.money import format_yen


def post_or_request(
    engine: Engine, *, actor: Actor, entry: LedgerEntryCreate, today: date | None = None
) -> LedgerEntry | DrawdownRequest:
    """The posting form's action: post the entry, or register it as 承認待ち when it needs a second
    approval. Raises what `ledger.post_entry` raises."""
    require(actor, Action.post_ledger)
    ledger.check_entry(entry, today=today or clock.today_jst())
    with write_session(engine) as session:
        why = ledger.approval_needed(session, entry)
        row: LedgerEntry | DrawdownRequest = (
            ledger.insert_entry(session, actor=actor, entry=entry)
            if why is None
            else add_request(session, actor=actor, entry=entry, why=why)
        )
        session.refresh(row)
        session.expunge(row)
    checkpoint(engine)
    return row


def add_request(session: Session, *, actor: Actor, entry: LedgerEntryCreate, why: str) -> DrawdownRequest:
    """Register a checked drawdown as 承認待ち in the caller's transaction (the form and the batch)."""
    ledger.checked_values(session, entry)  # refused now rather than at the approval
    request = DrawdownRequest(
        posted_on=entry.posted_on,
        fiscal_year=entry.fiscal_year,
        amount_yen=entry.amount_yen,
        memo=entry.memo,
        allocation_id=entry.allocation_id,
        unallocated_reason=entry.unallocated_reason or None,
        reason=entry.reason,
        needs_approval_because=why,
        requested_by=actor.login,
    )
    session.add(request)
    session.flush()
    audit.record(
        session,
        actor=actor.login,
        action=AuditAction.drawdown_request,
        entity="drawdown_request",
        entity_id=request.id,
        after=audit.snapshot(request),
        reason=why,
    )
    return request


def _pending(session: Session, request_id: int) -> DrawdownRequest:
    request = session.get(DrawdownRequest, request_id)
    if request is None:
        raise NotFound(f"取崩しの承認依頼 {request_id} は登録されていません。")
    if request.status != RequestStatus.pending:
        raise RuleViolation(f"取崩しの承認依頼 {request_id} は既に処理されています。")
    return request


def approve(engine: Engine, *, actor: Actor, request_id: int) -> LedgerEntry:
    """Post the requested drawdown as a second person; its ledger entry. Refused for the requester,
    for an account created that day by or for the requester, and when the posting no longer passes
    (the 年度 closed, the 配分 or the balance no longer covers it)."""
    require(actor, Action.approve_drawdown)
    with write_session(engine) as session:
        request = _pending(session, request_id)
        duties.require_second_person(session, maker=request.requested_by, checker=actor, what="取崩し")
        entry = LedgerEntryCreate(
            posted_on=request.posted_on,
            fiscal_year=request.fiscal_year,
            kind=LedgerKind.drawdown,
            amount_yen=request.amount_yen,
            memo=request.memo,
            allocation_id=request.allocation_id,
            unallocated_reason=request.unallocated_reason or "",
            reason=request.reason,
        )
        before = audit.snapshot(request)
        row = ledger.insert_entry(session, actor=actor, entry=entry, approved_request=request)
        request.status = RequestStatus.approved
        request.decided_by = actor.login
        request.decided_at = clock.now_utc()
        request.ledger_entry_id = row.id
        session.add(request)
        session.flush()
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.drawdown_approve,
            entity="drawdown_request",
            entity_id=request.id,
            before=before,
            after=audit.snapshot(request),
        )
        session.refresh(row)
        session.expunge(row)
    checkpoint(engine)
    return row


def reject(engine: Engine, *, actor: Actor, request_id: int, reason: str) -> DrawdownRequest:
    """却下 (or, by the requester, 取下げ) with a reason; nothing is posted."""
    require(actor, Action.approve_drawdown)
    if not reason.strip():
        raise InputInvalid({"decision_reason": "却下の理由を入力してください。"})
    with write_session(engine) as session:
        request = _pending(session, request_id)
        before = audit.snapshot(request)
        request.status = RequestStatus.rejected
        request.decided_by = actor.login
        request.decided_at = clock.now_utc()
        request.decision_reason = reason.strip()
        session.add(request)
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.drawdown_reject,
            entity="drawdown_request",
            entity_id=request.id,
            before=before,
            after=audit.snapshot(request),
            reason=reason.strip(),
        )
        session.flush()
        session.refresh(request)
        session.expunge(request)
    return request


def set_threshold(engine: Engine, *, actor: Actor, threshold_yen: int | None, reason: str) -> None:
    """The administrator's threshold (None: only drawdowns without an allocation need approval)."""
    require(actor, Action.set_drawdown_threshold)
    if threshold_yen is not None and not 0 <= threshold_yen <= MAX_AMOUNT_YEN:
        raise InputInvalid({"threshold_yen": "承認基準額は0円以上1兆円以下で入力してください。"})
    if not reason.strip():
        raise InputInvalid({"reason": "設定の理由を入力してください。"})
    with write_session(engine) as session:
        before = ledger.drawdown_threshold(session)
        policy = DrawdownPolicy(threshold_yen=threshold_yen, set_by=actor.login, reason=reason.strip())
        session.add(policy)
        session.flush()
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.drawdown_threshold,
            entity="drawdown_policy",
            entity_id=policy.id,
            before={"threshold_yen": before},
            after={"threshold_yen": threshold_yen},
            reason=reason.strip(),
        )


def threshold_text(engine: Engine) -> str:
    with Session(engine) as session:
        threshold = ledger.drawdown_threshold(session)
    if threshold is None:
        return "未設定（配分のない取崩しだけが承認待ちになります）"
    return f"{format_yen(threshold)} を超える取崩しは、配分があっても承認待ちになります"


PENDING_COLUMNS = [
    "依頼番号",
    "記帳日",
    "年度",
    "金額（円）",
    "摘要",
    "配分番号",
    "事業",
    "承認が必要な理由",
    "依頼者",
]


def pending_frame(engine: Engine) -> pd.DataFrame:
    """The drawdowns waiting for a second approval, oldest first."""
    df = query_df(
        engine,
        """
        SELECT r.id, r.posted_on, r.fiscal_year, r.amount_yen, r.memo, r.allocation_id,
               COALESCE(p.name, '') AS project, r.needs_approval_because, r.requested_by
        FROM drawdown_request r
        LEFT JOIN allocation a ON a.id = r.allocation_id
        LEFT JOIN project p ON p.id = a.project_id
        WHERE r.status = :pending ORDER BY r.id
        """,
        {"pending": RequestStatus.pending.value},
    )
    df.columns = PENDING_COLUMNS
    return df
