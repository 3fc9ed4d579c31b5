"""Registering, approving (maker–checker), withdrawing allocations and 再掲, each audited."""

from pydantic import BaseModel, ValidationError, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from fund import audit, clock, duties
from fund.allocation.ceiling import check_ceiling, fund_ceiling
from fund.auth import Action, Actor, can, require
from fund.db import write_session
from fund.errors import InputInvalid, NotFound, RuleViolation
from fund.fiscal import fiscal_label
from fund.labels import BUDGET_STAGE
from fund.ledger import MAX_AMOUNT_YEN
from fund.models import (
    Allocation,
    AllocationStatus,
    AuditAction,
    BudgetStage,
    Category,
    FiscalYear,
    Project,
    Proposal,
    ProposalStatus,
    Relisting,
)


class AllocationCreate(BaseModel):
    """A new allocation as typed on the form: amounts in integer yen."""

    project_id: int
    fiscal_year: int = PydanticField(ge=2000, le=2100)
    budget_stage: BudgetStage = BudgetStage.initial
    category_id: int | None = None  # None: the project's main 区分
    project_cost_yen: int = PydanticField(ge=0, le=MAX_AMOUNT_YEN)
    fund_share_yen: int = PydanticField(gt=0, le=MAX_AMOUNT_YEN)
    proposal_id: int | None = None
    fund_share_is_estimate: bool = False

    @model_validator(mode="after")
    def share_within_cost(self) -> "AllocationCreate":
        if self.fund_share_yen > self.project_cost_yen:
            raise ValueError("share_exceeds_cost")
        return self


_FIELD_MESSAGES = {
    "project_id": "事業を選択してください。",
    "fiscal_year": "年度を選択してください。",
    "budget_stage": "予算の段階（当初・補正・専決）を選択してください。",
    "project_cost_yen": "事業費は0円以上1兆円以下の金額を数字で入力してください（画面では千円単位）。",
    "fund_share_yen": "基金充当額は1円以上1兆円以下の金額を数字で入力してください（画面では千円単位）。",
}


def validate_allocation(data: dict[str, object]) -> AllocationCreate:
    """An allocation from form input (the `propose_allocation` input); raises InputInvalid with a
    Japanese message per field."""
    try:
        return AllocationCreate.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "fund_share_yen"
            if "share_exceeds_cost" in str(err.get("msg", "")):
                errors["fund_share_yen"] = "基金充当額は事業費以下にしてください。"
            else:
                errors[name] = _FIELD_MESSAGES.get(name, "入力内容を確認してください。")
        raise InputInvalid(errors) from None


def open_year(session: Session, fiscal_year: int) -> FiscalYear:
    year = session.get(FiscalYear, fiscal_year)
    if year is None:
        raise InputInvalid({"fiscal_year": f"{fiscal_label(fiscal_year)}は登録されていません。"})
    if year.closed:
        raise RuleViolation(f"{fiscal_label(fiscal_year)}は決算確定済みのため、配分を登録・承認できません。")
    return year


def _adopted_proposal(session: Session, project_id: int, fiscal_year: int) -> int | None:
    """The newest adopted (or 事業化) proposal of the project for the 年度, if any."""
    return session.exec(
        select(Proposal.id)
        .where(
            Proposal.project_id == project_id,
            Proposal.fiscal_year == fiscal_year,
            col(Proposal.status).in_([ProposalStatus.adopted, ProposalStatus.funded]),
        )
        .order_by(col(Proposal.id).desc())
    ).first()


def insert_allocation(
    session: Session,
    engine: Engine,
    *,
    actor: Actor,
    alloc_in: AllocationCreate,
    with_ceiling_check: bool = True,
) -> Allocation:
    """Checks and insert shared by `propose_allocation` and scenario promotion (the caller holds the
    write session; a caller inserting several rows checks the ceiling once for their sum)."""
    open_year(session, alloc_in.fiscal_year)
    project = session.get(Project, alloc_in.project_id)
    if project is None:
        raise InputInvalid({"project_id": "指定された事業が見つかりません。"})
    category_id = alloc_in.category_id or project.category_id
    if session.get(Category, category_id) is None:
        raise InputInvalid({"category_id": "指定された区分が見つかりません。"})
    if alloc_in.proposal_id is not None:
        proposal = session.get(Proposal, alloc_in.proposal_id)
        if proposal is None or proposal.project_id != project.id:
            raise InputInvalid({"proposal_id": "指定された提案はこの事業のものではありません。"})
    else:  # the allocation answers the project's adopted 要求 of the 年度 (its history starts there)
        alloc_in = alloc_in.model_copy(
            update={"proposal_id": _adopted_proposal(session, project.id or 0, alloc_in.fiscal_year)}
        )
    if alloc_in.proposal_id is not None:
        duties.require_not_recused(session, actor=actor, proposal_id=alloc_in.proposal_id, what="配分の登録")
    existing = session.exec(
        select(Allocation).where(
            Allocation.project_id == project.id,
            Allocation.fiscal_year == alloc_in.fiscal_year,
            Allocation.budget_stage == alloc_in.budget_stage,
        )
    ).first()
    if existing is not None:
        raise RuleViolation(
            f"「{project.name}」の{fiscal_label(alloc_in.fiscal_year)}{BUDGET_STAGE[alloc_in.budget_stage]}"
            f"の配分は既に登録されています（配分番号 {existing.id}）。"
        )
    if with_ceiling_check:
        check_ceiling(
            fund_ceiling(engine, fiscal_year=alloc_in.fiscal_year, replacing_project_ids=(project.id or 0,)),
            adding_yen=alloc_in.fund_share_yen,
        )
    row = Allocation.model_validate(
        alloc_in.model_dump()
        | {"category_id": category_id, "status": AllocationStatus.proposed, "proposed_by": actor.login}
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor.login,
        action=AuditAction.allocation_propose,
        entity="allocation",
        entity_id=row.id,
        after=audit.snapshot(row),
    )
    return row


def propose_allocation(engine: Engine, *, actor: Actor, allocation: AllocationCreate) -> Allocation:
    """Register an allocation awaiting approval (審査担当・管理者). 新規 follows from the project's first 年度.

    Raises InputInvalid (bad input), RuleViolation (closed year, duplicate, ceiling exceeded).
    """
    require(actor, Action.allocate)
    alloc_in = allocation
    with write_session(engine) as session:
        row = insert_allocation(session, engine, actor=actor, alloc_in=alloc_in)
        session.refresh(row)
        session.expunge(row)
    return row


def approve_allocation(engine: Engine, *, actor: Actor, allocation_id: int) -> Allocation:
    """Approve an allocation (幹部・管理者), never one's own; the ceilings are checked again.

    Once approved, the allocation's undrawn 基金充当額 counts as a committed drawdown.
    """
    require(actor, Action.approve_allocation)
    with write_session(engine) as session:
        row = session.get(Allocation, allocation_id)
        if row is None:
            raise NotFound(f"配分番号 {allocation_id} は見つかりません。")
        if row.status == AllocationStatus.approved:
            raise RuleViolation(
                f"配分番号 {allocation_id} は既に承認されています（承認者 {row.approved_by}）。"
            )
        duties.require_second_person(session, maker=row.proposed_by, checker=actor, what="配分")
        open_year(session, row.fiscal_year)
        check_ceiling(
            fund_ceiling(
                engine,
                fiscal_year=row.fiscal_year,
                exclude_allocation_id=row.id,
                replacing_project_ids=(row.project_id,),
            ),
            adding_yen=row.fund_share_yen,
        )
        before = audit.snapshot(row)
        row.status = AllocationStatus.approved
        row.approved_by = actor.login
        row.approved_at = clock.now_utc()
        session.add(row)
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.allocation_approve,
            entity="allocation",
            entity_id=row.id,
            before=before,
            after=audit.snapshot(row),
        )
        session.refresh(row)
        session.expunge(row)
    return row


def withdraw_allocation(engine: Engine, *, actor: Actor, allocation_id: int, reason: str) -> None:
    """Remove an allocation still awaiting approval (差戻し・取下げ), with a reason. Approved ones stay."""
    if not (can(actor, Action.allocate) or can(actor, Action.approve_allocation)):
        require(actor, Action.allocate)
    if not reason.strip():
        raise InputInvalid({"reason": "差戻し・取下げの理由を入力してください。"})
    with write_session(engine) as session:
        row = session.get(Allocation, allocation_id)
        if row is None:
            raise NotFound(f"配分番号 {allocation_id} は見つかりません。")
        if row.status != AllocationStatus.proposed:
            raise RuleViolation(
                "承認済みの配分は取り下げられません。減額は補正の配分として登録してください。"
            )
        before = audit.snapshot(row)
        session.delete(row)
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.allocation_withdraw,
            entity="allocation",
            entity_id=allocation_id,
            before=before,
            reason=reason.strip(),
        )


def add_relisting(
    engine: Engine, *, actor: Actor, project_id: int, fiscal_year: int, category_id: int
) -> Relisting:
    """再掲: list the project again under a further 区分, without an amount (it counts once)."""
    require(actor, Action.allocate)
    with write_session(engine) as session:
        project = session.get(Project, project_id)
        if project is None:
            raise InputInvalid({"project_id": "指定された事業が見つかりません。"})
        if session.get(Category, category_id) is None:
            raise InputInvalid({"category_id": "指定された区分が見つかりません。"})
        allocs = session.exec(
            select(Allocation).where(
                Allocation.project_id == project_id, Allocation.fiscal_year == fiscal_year
            )
        ).all()
        if not allocs:
            raise RuleViolation(
                f"「{project.name}」には{fiscal_label(fiscal_year)}の配分がないため再掲できません。"
            )
        if category_id in {a.category_id for a in allocs}:
            raise RuleViolation("主たる区分と同じ区分には再掲できません。")
        dup = session.exec(
            select(Relisting).where(
                Relisting.project_id == project_id,
                Relisting.fiscal_year == fiscal_year,
                Relisting.category_id == category_id,
            )
        ).first()
        if dup is not None:
            raise RuleViolation(f"「{project.name}」はこの区分に既に再掲されています。")
        row = Relisting(project_id=project_id, fiscal_year=fiscal_year, category_id=category_id)
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.relisting_add,
            entity="relisting",
            entity_id=row.id,
            after=audit.snapshot(row),
        )
        session.refresh(row)
        session.expunge(row)
    return row
