"""Saving proposals: drafts and submissions in one transaction with their audit row and KPIs."""

from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from fund import audit, clock, duties, kpi
from fund.auth import Action, Actor, require, require_department
from fund.db import write_session
from fund.errors import NotFound, RuleViolation, StaleEdit
from fund.labels import PROPOSAL_STATUS
from fund.models import (
    AppUser,
    AuditAction,
    KpiIndicator,
    KpiTarget,
    Project,
    Proposal,
    ProposalCostLine,
    ProposalEvent,
    ProposalReturn,
    ProposalStatus,
    ReturnKind,
    ReviewAssignment,
)
from fund.proposals import revisions
from fund.proposals.rules import ProposalCreate, ProposalKpiCreate, remember_project, validate

# Proposal fields copied one-to-one between the input model and the table row (both directions).
PROPOSAL_TEXT_AND_EVIDENCE_FIELDS = (
    "summary",
    "purpose",
    "problem",
    "meets_req1",
    "meets_req2",
    "meets_req3",
    "req1_reason",
    "req2_reason",
    "req3_reason",
    "national_funds_yen",
    "other_funds_yen",
    "expected_users",
    "uses_per_user_per_year",
    "procedures_per_year",
    "minutes_saved_per_procedure",
    "novelty",
    "novelty_note",
)


def _apply(proposal: Proposal, p: ProposalCreate) -> None:
    first = p.line_for(p.fiscal_year)
    proposal.fiscal_year = p.fiscal_year
    for name in PROPOSAL_TEXT_AND_EVIDENCE_FIELDS:
        setattr(proposal, name, getattr(p, name))
    proposal.project_cost_yen = first.project_cost_yen if first else 0
    proposal.fund_share_yen = first.fund_share_yen if first else 0
    proposal.kpis = [k.model_dump(mode="json") for k in p.kpis if not k.is_blank()]
    proposal.updated_at = clock.now_utc()


def _replace_cost_lines(session: Session, proposal_id: int, p: ProposalCreate) -> None:
    for old in session.exec(select(ProposalCostLine).where(ProposalCostLine.proposal_id == proposal_id)):
        session.delete(old)
    session.flush()
    for line in sorted((c for c in p.cost_lines if not c.is_blank()), key=lambda c: c.fiscal_year):
        session.add(
            ProposalCostLine(
                proposal_id=proposal_id,
                fiscal_year=line.fiscal_year,
                project_cost_yen=line.project_cost_yen,
                fund_share_yen=line.fund_share_yen,
                note=line.note.strip(),
            )
        )


def _event(
    session: Session, proposal: Proposal, *, actor: Actor, to: ProposalStatus, reason: str = ""
) -> None:
    assert proposal.id is not None
    session.add(
        ProposalEvent(
            proposal_id=proposal.id,
            from_status=None if to == ProposalStatus.draft else proposal.status.value,  # None: created
            to_status=to.value,
            actor=actor.login,
            reason=reason,
        )
    )


def _materialise_kpis(session: Session, proposal: Proposal) -> None:
    """On submission: the proposal's KPIs become tracked indicators with their two targets.

    A resubmission after a 差戻し keeps the indicators of the first submission (DuckDB cannot delete
    a referenced row in the transaction that deleted its references); the revision keeps the KPIs
    as corrected."""
    assert proposal.id is not None
    if (
        session.exec(select(KpiIndicator.id).where(KpiIndicator.proposal_id == proposal.id)).first()
        is not None
    ):
        return
    for raw in proposal.kpis:
        k = ProposalKpiCreate.model_validate(raw)
        indicator = KpiIndicator(
            project_id=proposal.project_id,
            proposal_id=proposal.id,
            kind=k.kind,
            name=k.name,
            unit=k.unit,
            baseline_value=k.baseline,
            baseline_year=proposal.fiscal_year - 1
            if k.baseline is not None
            else None,  # measured before year 1
            source_note=f"提案番号 {proposal.id}",
        )
        session.add(indicator)
        session.flush()
        assert indicator.id is not None
        for year, value in (
            (proposal.fiscal_year, k.target_first),
            (proposal.fiscal_year + 2, k.target_later),
        ):
            if value is not None:
                session.add(KpiTarget(indicator_id=indicator.id, fiscal_year=year, target_value=value))
        session.flush()
        kpi.refresh_years(session, indicator_ids=[indicator.id])


def _create_in_session(
    session: Session, *, actor: Actor, p: ProposalCreate, project: Project | None
) -> Proposal:
    if project is None:
        assert p.category_id is not None
        project = Project(
            name=p.project_name,
            department_id=p.department_id,
            category_id=p.category_id,
            summary=p.summary,
            first_fiscal_year=p.fiscal_year,
        )
        session.add(project)
        session.flush()
        remember_project(session, project)
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.project_create,
            entity="project",
            entity_id=project.id,
            after=audit.snapshot(project),
        )
    assert project.id is not None
    proposal = Proposal(project_id=project.id, fiscal_year=p.fiscal_year, created_by=actor.login)
    _apply(proposal, p)
    session.add(proposal)
    session.flush()
    assert proposal.id is not None
    _replace_cost_lines(session, proposal.id, p)
    _event(session, proposal, actor=actor, to=ProposalStatus.draft, reason="下書きを作成")
    audit.record(
        session,
        actor=actor.login,
        action=AuditAction.proposal_create,
        entity="proposal",
        entity_id=proposal.id,
        after=audit.snapshot(proposal),
    )
    return proposal


def _held(session: Session, proposal_id: int | None) -> ProposalReturn | None:
    return session.exec(select(ProposalReturn).where(ProposalReturn.proposal_id == proposal_id)).first()


def _submit_in_session(session: Session, *, actor: Actor, proposal: Proposal, reason: str = "") -> None:
    """Submit (or resubmit after a 差戻し): the content becomes the next revision, and the submitter
    is recused from every review of it."""
    assert proposal.id is not None
    held = _held(session, proposal.id)
    if held is not None and held.kind == ReturnKind.withdrawn:
        raise RuleViolation(f"提案番号 {proposal.id} は取り下げられているため提出できません。")
    project = session.get(Project, proposal.project_id)
    assert project is not None
    revision = revisions.store(
        session, proposal_id=proposal.id, content=_input_of(proposal, project, session), by=actor.login
    )
    if held is not None:
        session.delete(held)
        reason = reason or f"第{revision}版として再提出"
    for assignment in session.exec(
        select(ReviewAssignment)
        .join(AppUser, col(AppUser.id) == col(ReviewAssignment.reviewer_id))
        .where(ReviewAssignment.proposal_id == proposal.id, AppUser.login == actor.login)
    ):
        if not assignment.recused:
            assignment.recused, assignment.recusal_reason = True, duties.SUBMITTER
            session.add(assignment)
    before = audit.snapshot(proposal)
    _event(session, proposal, actor=actor, to=ProposalStatus.submitted, reason=reason)
    proposal.status = ProposalStatus.submitted
    proposal.version += 1
    proposal.updated_at = clock.now_utc()
    session.add(proposal)
    session.flush()
    _materialise_kpis(session, proposal)
    audit.record(
        session,
        actor=actor.login,
        action=AuditAction.proposal_status,
        entity="proposal",
        entity_id=proposal.id,
        before=before,
        after=audit.snapshot(proposal),
        reason=reason,
    )


def create_in_session(
    session: Session, *, actor: Actor, p: ProposalCreate, project: Project | None, submit: bool
) -> int:
    """For the bulk intake: create one validated proposal inside the caller's transaction; its id."""
    proposal = _create_in_session(session, actor=actor, p=p, project=project)
    if submit:
        _submit_in_session(session, actor=actor, proposal=proposal)
    assert proposal.id is not None
    return proposal.id


def _detach(proposal: Proposal, session: Session) -> Proposal:
    session.flush()
    session.refresh(proposal)
    session.expunge(proposal)
    return proposal


def save_proposal(
    engine: Engine,
    *,
    actor: Actor,
    data: dict[str, Any],
    proposal_id: int | None = None,
    version: int | None = None,
    submit: bool = False,
) -> Proposal:
    """Create (proposal_id None) or update a draft, and submit it when `submit` is true.

    Returns the saved proposal. Raises PermissionDenied, InputInvalid (Japanese message per field;
    nothing saved), StaleEdit (someone saved after `version` was read), NotFound, RuleViolation
    (the proposal is no longer a draft).
    """
    require(actor, Action.create_proposal if proposal_id is None else Action.edit_proposal)
    if submit:
        require(actor, Action.submit_proposal)
    with write_session(engine) as session:
        if proposal_id is None:
            p, project = validate(session, actor=actor, data=data, final=submit)
            require_department(actor, p.department_id)
            proposal = _create_in_session(session, actor=actor, p=p, project=project)
        else:
            proposal = _load_for_edit(session, actor=actor, proposal_id=proposal_id, version=version)
            p, _ = validate(session, actor=actor, data=data, final=submit, proposal=proposal)
            _update_in_session(session, actor=actor, proposal=proposal, p=p)
        if submit:
            _submit_in_session(session, actor=actor, proposal=proposal)
        return _detach(proposal, session)


def _load_for_edit(session: Session, *, actor: Actor, proposal_id: int, version: int | None) -> Proposal:
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound(f"提案番号 {proposal_id} は見つかりません。")
    project = session.get(Project, proposal.project_id)
    assert project is not None
    require_department(actor, project.department_id)
    if version is None:
        raise StaleEdit("編集を始めた時点の版が分かりません。画面を開き直してから編集してください。")
    if proposal.version != version:
        raise StaleEdit(
            "他の利用者が先に更新しました（あなたが開いた版: "
            f"{version}、現在の版: {proposal.version}）。画面を開き直して最新の内容を確認してください。"
        )
    held = _held(session, proposal_id)
    if held is not None and held.kind == ReturnKind.withdrawn:
        raise RuleViolation(f"提案番号 {proposal_id} は取り下げられているため編集できません。")
    if proposal.status != ProposalStatus.draft:
        raise RuleViolation(
            f"提案番号 {proposal_id} は「{PROPOSAL_STATUS[proposal.status]}」のため編集できません。"
            "編集できるのは下書きだけです。"
        )
    return proposal


def _update_in_session(session: Session, *, actor: Actor, proposal: Proposal, p: ProposalCreate) -> None:
    before = audit.snapshot(proposal)
    project = session.get(Project, proposal.project_id)
    assert project is not None and proposal.id is not None
    # A project first proposed in this draft moves with the draft's 年度 (新規 stays right).
    if project.first_fiscal_year == proposal.fiscal_year and p.fiscal_year != proposal.fiscal_year:
        others = session.exec(
            select(Proposal.id).where(Proposal.project_id == project.id, Proposal.id != proposal.id)
        ).first()
        if others is None:
            project.first_fiscal_year = p.fiscal_year
            session.add(project)
    _apply(proposal, p)
    proposal.version += 1
    session.add(proposal)
    _replace_cost_lines(session, proposal.id, p)
    audit.record(
        session,
        actor=actor.login,
        action=AuditAction.proposal_update,
        entity="proposal",
        entity_id=proposal.id,
        before=before,
        after=audit.snapshot(proposal),
    )


def _input_of(proposal: Proposal, project: Project, session: Session) -> dict[str, Any]:
    lines = session.exec(
        select(ProposalCostLine)
        .where(ProposalCostLine.proposal_id == proposal.id)
        .order_by(col(ProposalCostLine.fiscal_year))
    ).all()
    return {
        "project_name": project.name,
        "department_id": project.department_id,
        "category_id": project.category_id,
        "fiscal_year": proposal.fiscal_year,
        **{name: getattr(proposal, name) for name in PROPOSAL_TEXT_AND_EVIDENCE_FIELDS},
        "cost_lines": [
            {
                "fiscal_year": c.fiscal_year,
                "project_cost_yen": c.project_cost_yen,
                "fund_share_yen": c.fund_share_yen,
                "note": c.note,
            }
            for c in lines
        ],
        "kpis": list(proposal.kpis or []),
    }
