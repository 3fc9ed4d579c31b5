"""職務分離: who may not judge or decide a proposal, and the checks every service makes with it.

A person is recused from a proposal when they wrote it, submitted it, belong to its department
(the bureau's roles), or declared a conflict on one of its review assignments. A recused person
cannot score it, change its status (差戻し and 採択 included) or register its allocation.

Money is registered by one person and approved by another (`require_second_person`): never by the
same login, and never through an account that one of the two created for the other that same day
(an administrator cannot approve their own entry through a second account they just made)."""

from datetime import timedelta

from sqlmodel import Session, col, select

from fund import clock
from fund.auth import Actor
from fund.errors import PermissionDenied, RuleViolation
from fund.models import (
    AppUser,
    AuditAction,
    AuditLog,
    Project,
    Proposal,
    ProposalEvent,
    ProposalStatus,
    ReviewAssignment,
    Role,
)

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


def _created_today_by(session: Session, *, login: str, creator: str) -> bool:
    """Whether `creator` made the account `login` on this Japan-time day."""
    user = session.exec(select(AppUser).where(AppUser.login == login)).first()
    if user is None or user.id is None:
        return False
    start = clock.day_start_utc(clock.today_jst())
    made = session.exec(
        select(AuditLog.id).where(
            AuditLog.action == AuditAction.user_create.value,
            AuditLog.entity_id == str(user.id),
            AuditLog.actor == creator,
            col(AuditLog.occurred_at) >= start,
            col(AuditLog.occurred_at) < start + timedelta(days=1),
        )
    ).first()
    return made is not None


def require_second_person(session: Session, *, maker: str, checker: Actor, what: str) -> None:
    """Raise RuleViolation unless `checker` is a second, independent person for `maker`'s entry."""
    if maker == checker.login:
        raise RuleViolation(f"自分が登録した{what}は承認できません。別の幹部または管理者が承認してください。")
    if _created_today_by(session, login=checker.login, creator=maker) or _created_today_by(
        session, login=maker, creator=checker.login
    ):
        raise RuleViolation(
            f"登録者と承認者の一方が、もう一方のアカウントを今日作成しているため、この{what}は承認できません"
            "（職務分離）。別の幹部または管理者が承認してください。"
        )
