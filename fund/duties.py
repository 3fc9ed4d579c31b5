"""職務分離: who may not judge or decide a proposal, and the checks every service makes with it.

A person is recused from a proposal when they wrote it, submitted it, belong to its department
(the bureau's roles), or declared a conflict on one of its review assignments. A recused person
cannot score it, change its status (差戻し and 採択 included) or register its allocation."""

from sqlmodel import Session, select

from fund.auth import Actor
from fund.errors import PermissionDenied
from fund.models import AppUser, Project, Proposal, ProposalEvent, ProposalStatus, ReviewAssignment, Role

AUTHOR = "提案の作成者"
SUBMITTER = "提案の提出者"
SAME_DEPARTMENT = "提案部局と同じ所属"


def recusal_reason(session: Session, *, login: str, proposal_id: int) -> str | None:
    """Why `login` is recused from the proposal, or None."""
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        return None
    if proposal.created_by == login:
        return AUTHOR
    submitted = session.exec(
        select(ProposalEvent.id).where(
            ProposalEvent.proposal_id == proposal_id,
            ProposalEvent.to_status == ProposalStatus.submitted.value,
            ProposalEvent.actor == login,
        )
    ).first()
    if submitted is not None:
        return SUBMITTER
    user = session.exec(select(AppUser).where(AppUser.login == login)).first()
    if user is None:
        return None
    project = session.get(Project, proposal.project_id)
    if (
        Role(user.role) != Role.department
        and project is not None
        and user.department_id == project.department_id
    ):
        return SAME_DEPARTMENT
    declared = session.exec(
        select(ReviewAssignment.recusal_reason).where(
            ReviewAssignment.proposal_id == proposal_id,
            ReviewAssignment.reviewer_id == user.id,
            ReviewAssignment.recused,
        )
    ).first()
    return f"利益相反の申告（{declared}）" if declared else None


def require_not_recused(session: Session, *, actor: Actor, proposal_id: int, what: str) -> None:
    """Raise PermissionDenied naming the reason when the actor is recused from the proposal."""
    reason = recusal_reason(session, login=actor.login, proposal_id=proposal_id)
    if reason is not None:
        raise PermissionDenied(
            f"あなたはこの提案（提案番号 {proposal_id}）の{reason}のため、{what}はできません（職務分離）。"
            "別の担当者に依頼してください。"
        )
