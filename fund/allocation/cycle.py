"""The budget cycle after an allocation is approved: 補正, 繰越 and 決算 (不用額).

A 補正 changes the allocation's 基金充当額 up or down (down to 0円 = 取消) but never below what is
already drawn or carried over. A 繰越 moves an unspent part into the 翌年度 as an allocation of its
own. Both are registered by one person (審査担当・管理者) and approved by another (幹部・管理者);
only the approval moves money. 決算確定 turns what each approved allocation has left into 不用額,
which returns to the headroom. Every step writes its audit row and a row of the allocation's history.
"""

from collections.abc import Sequence

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from fund import audit, clock, duties, integrity
from fund.allocation.ceiling import check_ceiling, fund_ceiling
from fund.allocation.workflow import approve_allocation, open_year
from fund.auth import Action, Actor, can, require
from fund.db import write_session
from fund.errors import InputInvalid, NotFound, RuleViolation
from fund.fiscal import fiscal_label
from fund.ledger import MAX_AMOUNT_YEN, AllocationFigures, allocation_figures
from fund.models import (
    Allocation,
    AllocationChange,
    AllocationChangeKind,
    AllocationStatus,
    AuditAction,
    FiscalYear,
)
from fund.money import format_yen, round_yen

MAX_REASON = 500
LAPSE_REASON = "決算確定により未執行額を不用額とした"


def _reason(reason: str, what: str) -> str:
    text = reason.strip()
    if not text or len(text) > MAX_REASON:
        raise InputInvalid({"reason": f"{what}の理由を{MAX_REASON}文字以内で入力してください。"})
    return text


def _yen(value: int, field: str, label: str, *, minimum: int) -> None:
    if not minimum <= value <= MAX_AMOUNT_YEN:
        raise InputInvalid({field: f"{label}は{minimum}円以上1兆円以下の整数（円）で入力してください。"})


def _approved(session: Session, allocation_id: int) -> Allocation:
    """The approved allocation of an open 年度 that a 補正 or 繰越 changes."""
    row = session.get(Allocation, allocation_id)
    if row is None:
        raise NotFound(f"配分番号 {allocation_id} は見つかりません。")
    if row.status != AllocationStatus.approved:
        raise RuleViolation(
            f"配分番号 {allocation_id} は承認待ちです。承認前の配分は取り下げて登録し直してください。"
        )
    open_year(session, row.fiscal_year)
    return row


def _carried_in(session: Session, allocation_id: int) -> bool:
    return (
        session.exec(
            select(AllocationChange.id).where(AllocationChange.carried_to_id == allocation_id)
        ).first()
        is not None
    )


def _refuse_second_pending(session: Session, allocation_id: int) -> None:
    pending = session.exec(
        select(AllocationChange).where(
            AllocationChange.allocation_id == allocation_id,
            AllocationChange.status == AllocationStatus.proposed,
        )
    ).first()
    if pending is not None:
        raise RuleViolation(
            f"配分番号 {allocation_id} には承認待ちの変更（変更番号 {pending.id}）があります。"
            "承認または取下げの後に登録してください。"
        )


def _below_floor(label: str, new_share: int, f: AllocationFigures) -> RuleViolation:
    floor = f["drawn_yen"] + f["carried_yen"]
    return RuleViolation(
        f"{label} の補正後の基金充当額 {format_yen(new_share)} は、取崩し済み {format_yen(f['drawn_yen'])} と"
        f"繰越 {format_yen(f['carried_yen'])} の合計 {format_yen(floor)} を {format_yen(floor - new_share)} "
        "下回るため登録できません。"
    )


def _record(
    session: Session, actor: Actor, action: AuditAction, change: AllocationChange, **kw: object
) -> None:
    audit.record(
        session,
        actor=actor.login,
        action=action,
        entity="allocation_change",
        entity_id=change.id,
        after=audit.snapshot(change),
        reason=change.reason,
        **kw,  # type: ignore[arg-type]
    )


def _register(
    session: Session, actor: Actor, change: AllocationChange, action: AuditAction
) -> AllocationChange:
    """Insert a 補正 or 繰越 awaiting approval with its audit row; returned detached."""
    session.add(change)
    session.flush()
    _record(session, actor, action, change)
    return _detached(session, change)


def _detached(session: Session, change: AllocationChange) -> AllocationChange:
    session.refresh(change)
    session.expunge(change)
    return change


def revise_allocation(
    engine: Engine,
    *,
    actor: Actor,
    allocation_id: int,
    fund_share_yen: int,
    reason: str,
    project_cost_yen: int | None = None,
) -> AllocationChange:
    """Register a 補正 of an approved allocation: its new 基金充当額 (and 事業費), awaiting approval."""
    require(actor, Action.allocate)
    _yen(fund_share_yen, "fund_share_yen", "補正後の基金充当額", minimum=0)
    if project_cost_yen is not None:
        _yen(project_cost_yen, "project_cost_yen", "補正後の事業費", minimum=0)
    why = _reason(reason, "補正")
    with write_session(engine) as session:
        row = _approved(session, allocation_id)
        label = f"配分番号 {allocation_id}"
        if _carried_in(session, allocation_id):
            raise RuleViolation(
                f"{label} は前年度からの繰越分のため補正できません。残りは決算で不用額になります。"
            )
        _refuse_second_pending(session, allocation_id)
        cost = row.project_cost_yen if project_cost_yen is None else project_cost_yen
        if fund_share_yen > cost:
            raise InputInvalid(
                {"fund_share_yen": f"基金充当額は事業費（{format_yen(cost)}）以下にしてください。"}
            )
        delta, cost_delta = fund_share_yen - row.fund_share_yen, cost - row.project_cost_yen
        if delta == 0 and cost_delta == 0:
            raise InputInvalid({"fund_share_yen": "補正前と同じ額です。補正後の額を入力してください。"})
        if fund_share_yen < (f := allocation_figures(session, allocation_id))["drawn_yen"] + f["carried_yen"]:
            raise _below_floor(label, fund_share_yen, f)
        if delta > 0:
            check_ceiling(fund_ceiling(engine, fiscal_year=row.fiscal_year), adding_yen=delta)
        return _register(
            session,
            actor,
            AllocationChange(
                allocation_id=allocation_id,
                kind=AllocationChangeKind.revision,
                fund_delta_yen=delta,
                cost_delta_yen=cost_delta,
                reason=why,
                requested_by=actor.login,
            ),
            AuditAction.allocation_revise,
        )


def carry_over(
    engine: Engine, *, actor: Actor, allocation_id: int, amount_yen: int, reason: str
) -> AllocationChange:
    """Register a 繰越 of part of an approved allocation's unspent 基金充当額 into the 翌年度."""
    require(actor, Action.allocate)
    _yen(amount_yen, "amount_yen", "繰越額", minimum=1)
    why = _reason(reason, "繰越")
    with write_session(engine) as session:
        row = _approved(session, allocation_id)
        label = f"配分番号 {allocation_id}"
        if _carried_in(session, allocation_id):
            raise RuleViolation(f"{label} は前年度からの繰越分のため、さらに繰り越すことはできません。")
        _next_year(session, row.fiscal_year)
        _refuse_second_pending(session, allocation_id)
        _check_unspent(label, amount_yen, allocation_figures(session, allocation_id))
        return _register(
            session,
            actor,
            AllocationChange(
                allocation_id=allocation_id,
                kind=AllocationChangeKind.carry_over,
                fund_delta_yen=amount_yen,
                cost_delta_yen=_carried_cost(row, amount_yen),
                reason=why,
                requested_by=actor.login,
            ),
            AuditAction.allocation_carry_over,
        )


def _next_year(session: Session, fiscal_year: int) -> None:
    target = session.get(FiscalYear, fiscal_year + 1)
    label = fiscal_label(fiscal_year + 1)
    if target is None:
        raise RuleViolation(
            f"繰越先の{label}が登録されていません。管理者が data/fund.toml の fiscal_years に年度を加え、fund seed で登録してください。"
        )
    if target.closed:
        raise RuleViolation(f"繰越先の{label}は決算確定済みです。")


def _check_unspent(label: str, amount_yen: int, f: AllocationFigures) -> None:
    if amount_yen > f["unspent_yen"]:
        raise RuleViolation(
            f"{label} の未執行額は {format_yen(f['unspent_yen'])}（基金充当額 {format_yen(f['fund_share_yen'])} − "
            f"取崩し済み {format_yen(f['drawn_yen'])} − 繰越済み {format_yen(f['carried_yen'])}）です。"
            f"繰越額 {format_yen(amount_yen)} は {format_yen(amount_yen - f['unspent_yen'])} 超過します。"
        )


def _carried_cost(row: Allocation, amount_yen: int) -> int:
    """The 事業費 that goes with a carried 基金充当額: the allocation's own ratio, never below the amount."""
    if row.fund_share_yen == 0:
        return amount_yen
    return max(amount_yen, round_yen(row.project_cost_yen * amount_yen / row.fund_share_yen))


def approve_change(engine: Engine, *, actor: Actor, change_id: int) -> AllocationChange:
    """Approve a 補正 or 繰越 (幹部・管理者, never one's own); the figures are checked again."""
    require(actor, Action.approve_allocation)
    with write_session(engine) as session:
        change = session.get(AllocationChange, change_id)
        if change is None or change.kind == AllocationChangeKind.lapse:
            raise NotFound(f"変更番号 {change_id} は見つかりません。")
        if change.status == AllocationStatus.approved:
            raise RuleViolation(
                f"変更番号 {change_id} は既に承認されています（承認者 {change.approved_by}）。"
            )
        duties.require_second_person(session, maker=change.requested_by, checker=actor, what="補正・繰越")
        row = _approved(session, change.allocation_id)
        before = audit.snapshot(row)
        f = allocation_figures(session, change.allocation_id)
        label = f"配分番号 {row.id}"
        if change.kind == AllocationChangeKind.revision:
            new_share = row.fund_share_yen + change.fund_delta_yen
            if new_share < f["drawn_yen"] + f["carried_yen"]:
                raise _below_floor(label, new_share, f)
            if change.fund_delta_yen > 0:
                check_ceiling(
                    fund_ceiling(engine, fiscal_year=row.fiscal_year, exclude_change_id=change_id),
                    adding_yen=change.fund_delta_yen,
                )
            row.fund_share_yen = new_share
            row.project_cost_yen += change.cost_delta_yen
            session.add(row)
        else:
            _next_year(session, row.fiscal_year)
            _check_unspent(label, change.fund_delta_yen, f)
            change.carried_to_id = _carried_allocation(session, row, change, actor).id
        change.status = AllocationStatus.approved
        change.approved_by = actor.login
        change.approved_at = clock.now_utc()
        session.add(change)
        session.flush()
        _record(
            session,
            actor,
            AuditAction.allocation_change_approve,
            change,
            before={"allocation": before},
        )
        return _detached(session, change)


def _carried_allocation(
    session: Session, row: Allocation, change: AllocationChange, actor: Actor
) -> Allocation:
    """The 翌年度 allocation a 繰越 creates: approved with the 繰越 itself."""
    carried = Allocation(
        project_id=row.project_id,
        proposal_id=row.proposal_id,
        fiscal_year=row.fiscal_year + 1,
        budget_stage=row.budget_stage,
        category_id=row.category_id,
        project_cost_yen=change.cost_delta_yen,
        fund_share_yen=change.fund_delta_yen,
        fund_share_is_estimate=row.fund_share_is_estimate,
        status=AllocationStatus.approved,
        proposed_by=change.requested_by,
        approved_by=actor.login,
        approved_at=clock.now_utc(),
    )
    session.add(carried)
    session.flush()
    return carried


def withdraw_change(engine: Engine, *, actor: Actor, change_id: int, reason: str) -> None:
    """Remove a 補正 or 繰越 still awaiting approval (差戻し・取下げ), with a reason."""
    if not (can(actor, Action.allocate) or can(actor, Action.approve_allocation)):
        require(actor, Action.allocate)
    why = _reason(reason, "差戻し・取下げ")
    with write_session(engine) as session:
        change = session.get(AllocationChange, change_id)
        if change is None or change.kind == AllocationChangeKind.lapse:
            raise NotFound(f"変更番号 {change_id} は見つかりません。")
        if change.status != AllocationStatus.proposed:
            raise RuleViolation(f"変更番号 {change_id} は承認済みのため取り下げられません。")
        before = audit.snapshot(change)
        session.delete(change)
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.allocation_change_withdraw,
            entity="allocation_change",
            entity_id=change_id,
            before=before,
            reason=why,
        )


def approve_pending(engine: Engine, *, actor: Actor, allocation_id: int) -> str:
    """Approve what awaits approval on an allocation: the allocation itself, or its 補正 / 繰越.

    Returns what was approved, in Japanese (for the CLI and the page's message)."""
    with write_session(engine) as session:
        row = session.get(Allocation, allocation_id)
        if row is None:
            raise NotFound(f"配分番号 {allocation_id} は見つかりません。")
        proposed = row.status == AllocationStatus.proposed
        pending = session.exec(
            select(AllocationChange.id).where(
                AllocationChange.allocation_id == allocation_id,
                AllocationChange.status == AllocationStatus.proposed,
            )
        ).first()
    if proposed:
        approve_allocation(engine, actor=actor, allocation_id=allocation_id)
        return f"配分番号 {allocation_id} を承認しました。"
    if pending is None:
        raise RuleViolation(f"配分番号 {allocation_id} に承認待ちの配分・補正・繰越はありません。")
    change = approve_change(engine, actor=actor, change_id=pending)
    if change.kind == AllocationChangeKind.carry_over:
        return (
            f"配分番号 {allocation_id} の繰越 {format_yen(change.fund_delta_yen)} を承認しました"
            f"（翌年度の配分番号 {change.carried_to_id}）。"
        )
    return f"配分番号 {allocation_id} の補正（{format_yen(change.fund_delta_yen)}）を承認しました。"


def close_year(engine: Engine, *, actor: Actor, fiscal_year: int) -> list[AllocationChange]:
    """決算確定: no further postings into the 年度; what each approved allocation has left becomes
    不用額 (returned to the headroom). Refused while allocations, 補正 or 繰越 await approval.

    Returns the 不用額 rows."""
    require(actor, Action.close_year)
    with write_session(engine) as session:
        year = session.get(FiscalYear, fiscal_year)
        label = fiscal_label(fiscal_year)
        if year is None:
            raise NotFound(f"{label}は登録されていません。")
        if year.closed:
            raise RuleViolation(f"{label}は既に決算確定済みです。")
        allocations = session.exec(
            select(Allocation).where(Allocation.fiscal_year == fiscal_year).order_by(col(Allocation.id))
        ).all()
        _refuse_pending(session, label, allocations)
        lapses = []
        for row in allocations:
            left = allocation_figures(session, row.id or 0)["unspent_yen"]
            if row.status == AllocationStatus.approved and left > 0:
                lapse = AllocationChange(
                    allocation_id=row.id or 0,
                    kind=AllocationChangeKind.lapse,
                    fund_delta_yen=left,
                    status=AllocationStatus.approved,
                    reason=LAPSE_REASON,
                    requested_by=actor.login,
                    approved_by=actor.login,
                    approved_at=clock.now_utc(),
                )
                session.add(lapse)
                session.flush()
                _record(session, actor, AuditAction.allocation_lapse, lapse)
                lapses.append(lapse)
        before = audit.snapshot(year)
        year.closed = True
        year.closed_at = clock.now_utc()
        year.closed_by = actor.login
        session.add(year)
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.fiscal_year_close,
            entity="fiscal_year",
            entity_id=fiscal_year,
            before=before,
            after=audit.snapshot(year),
        )
        closed = [_detached(session, lapse) for lapse in lapses]
    integrity.record_head(engine, "close", label)  # the 決算 is pinned outside the database too
    return closed


def _refuse_pending(session: Session, label: str, allocations: Sequence[Allocation]) -> None:
    proposed = [str(a.id) for a in allocations if a.status == AllocationStatus.proposed]
    if proposed:
        raise RuleViolation(
            f"{label}には承認待ちの配分が {len(proposed)}件あります（配分番号 {'、'.join(proposed)}）。"
            "承認するか取り下げてから決算確定してください。"
        )
    ids = [a.id for a in allocations]
    changes = session.exec(
        select(AllocationChange)
        .where(
            col(AllocationChange.allocation_id).in_(ids), AllocationChange.status == AllocationStatus.proposed
        )
        .order_by(col(AllocationChange.id))
    ).all()
    if changes:
        numbers = "、".join(f"変更番号 {c.id}（配分番号 {c.allocation_id}）" for c in changes)
        raise RuleViolation(
            f"{label}には承認待ちの補正・繰越が {len(changes)}件あります（{numbers}）。"
            "承認するか取り下げてから決算確定してください。"
        )
