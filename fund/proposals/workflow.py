"""The status workflow: which moves are allowed, by whom, and the exceptions 管理者 may make."""

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from fund import audit, clock, duties
from fund.auth import Action, Actor, can, require, require_department
from fund.db import write_session
from fund.errors import InputInvalid, NotFound, PermissionDenied, RuleViolation, StaleEdit
from fund.labels import PROPOSAL_STATUS
from fund.models import (
    AuditAction,
    Project,
    Proposal,
    ProposalStatus,
    ReviewAssignment,
    ReviewScore,
)
from fund.proposals.drafts import _detach, _event, _input_of, _submit_in_session
from fund.proposals.rules import REASON_MAX, validate
from fund.screening.rounds import decided_round_ids, policy

S = ProposalStatus

# The normal path: (from, to) → needs a reason. Submitting is the department's step; the rest is
# the bureau's (審査担当・管理者).
TRANSITIONS: dict[tuple[ProposalStatus, ProposalStatus], bool] = {
    (S.draft, S.submitted): False,
    (S.submitted, S.in_review): False,
    (S.in_review, S.adopted): False,
    (S.in_review, S.rejected): True,
    (S.in_review, S.on_hold): False,
    (S.on_hold, S.in_review): False,
    (S.on_hold, S.adopted): False,
    (S.on_hold, S.rejected): True,
    (S.adopted, S.funded): False,
}


@dataclass(frozen=True)
class TransitionOption:
    to_status: ProposalStatus
    label: str
    reason_required: bool
    is_override: bool


def _is_override(current: ProposalStatus, to: ProposalStatus) -> bool:
    """Any other move between submitted statuses is an exception (管理者, with a reason).

    Nothing goes back to 下書き: the content and the KPIs are fixed once submitted.
    """
    return (current, to) not in TRANSITIONS and current != to and S.draft not in (current, to)


def available_transitions(
    actor: Actor, *, status: ProposalStatus, department_id: int, recused: bool = False, decided: bool = False
) -> list[TransitionOption]:
    """The status changes this actor may make on a proposal in `status` (for the page's buttons):
    none of the bureau's steps when the actor is recused from it, only 事業化 once its round is decided."""
    options: list[TransitionOption] = []
    for to in ProposalStatus:
        try:
            _check_transition(actor, status, to, department_id)
        except (PermissionDenied, RuleViolation):
            continue
        if _bureau_step(status, to) and (recused or _frozen(status, to, decided=decided)):
            continue
        override = _is_override(status, to)
        label = f"{PROPOSAL_STATUS[to]}にする" + ("（例外）" if override else "")
        options.append(
            TransitionOption(to, label, override or TRANSITIONS.get((status, to), False), override)
        )
    return options


def _bureau_step(current: ProposalStatus, to: ProposalStatus) -> bool:
    """Every status change but the department's own submission of its draft."""
    return (current, to) != (S.draft, S.submitted)


def _frozen(current: ProposalStatus, to: ProposalStatus, *, decided: bool) -> bool:
    """A decided round freezes its proposals' status; only 採択 → 事業化 goes on."""
    return decided and (current, to) != (S.adopted, S.funded)


def _check_transition(actor: Actor, current: ProposalStatus, to: ProposalStatus, department_id: int) -> None:
    if (current, to) == (S.draft, S.submitted):
        require(actor, Action.submit_proposal)
        require_department(actor, department_id)
        return
    if (current, to) in TRANSITIONS:
        require(actor, Action.change_status)
        return
    if _is_override(current, to):
        require(actor, Action.override_status)
        return
    raise RuleViolation(
        f"「{PROPOSAL_STATUS[current]}」から「{PROPOSAL_STATUS[to]}」へは変更できません。"
        + ("提出後の提案は下書きに戻せません。" if to == S.draft else "")
    )


def counted_reviews(session: Session, proposal_id: int) -> tuple[int, int]:
    """(complete counted reviews, the minimum) in the newest round that reviewed the proposal."""
    round_id = session.exec(
        select(func.max(ReviewAssignment.round_id)).where(ReviewAssignment.proposal_id == proposal_id)
    ).one()
    if round_id is None:
        return 0, policy(session, 0).min_reviews
    per_assignment = (
        select(ReviewScore.assignment_id)
        .join(ReviewAssignment, col(ReviewAssignment.id) == col(ReviewScore.assignment_id))
        .where(
            ReviewAssignment.round_id == round_id,
            ReviewAssignment.proposal_id == proposal_id,
            col(ReviewAssignment.recused).is_(False),
        )
        .group_by(col(ReviewScore.assignment_id))
        .having(func.count() >= 4)
    )
    done = len(session.exec(per_assignment).all())
    return done, policy(session, int(round_id)).min_reviews


def _check_reviews(session: Session, actor: Actor, proposal_id: int, reason: str) -> bool:
    """採択 needs the round's minimum of counted reviews; below it only a 管理者 with a reason (an
    exception, so True)."""
    done, needed = counted_reviews(session, proposal_id)
    if done >= needed:
        return False
    shortfall = f"審査の件数が足りません（完了した審査 {done}件、必要 {needed}件）。"
    if not can(actor, Action.screening_exception):
        raise RuleViolation(f"{shortfall}採択には{needed}人以上の審査担当の採点が必要です。")
    if not reason:
        raise InputInvalid({"reason": f"{shortfall}例外として採択する理由を入力してください。"})
    return True


def change_status(
    engine: Engine,
    *,
    actor: Actor,
    proposal_id: int,
    to_status: ProposalStatus,
    reason: str = "",
    version: int | None = None,
) -> Proposal:
    """Move a proposal along the workflow; writes the timeline event and the audit row together.

    `version` (optional) is the version the user saw; a newer one raises StaleEdit. Submitting
    checks the stored content with every rule. Raises PermissionDenied, RuleViolation,
    InputInvalid (missing reason or incomplete proposal), NotFound, StaleEdit.
    """
    reason = reason.strip()
    if len(reason) > REASON_MAX:
        raise InputInvalid({"reason": f"理由は{REASON_MAX:,}文字以内で入力してください。"})
    with write_session(engine) as session:
        proposal = session.get(Proposal, proposal_id)
        if proposal is None:
            raise NotFound(f"提案番号 {proposal_id} は見つかりません。")
        project = session.get(Project, proposal.project_id)
        assert project is not None
        current = proposal.status
        _check_transition(actor, current, to_status, project.department_id)
        if version is not None and proposal.version != version:
            raise StaleEdit(
                f"他の利用者が先に更新しました（現在の状態: {PROPOSAL_STATUS[current]}）。"
                "画面を開き直して最新の内容を確認してください。"
            )
        override = _is_override(current, to_status)
        if _bureau_step(current, to_status):
            duties.require_not_recused(session, actor=actor, proposal_id=proposal_id, what="状態の変更")
            if _frozen(current, to_status, decided=bool(decided_round_ids(session, proposal_id))):
                raise RuleViolation(
                    f"提案番号 {proposal_id} の審査結果は確定済みのため、状態は変更できません（事業化を除く）。"
                )
        if (override or TRANSITIONS.get((current, to_status), False)) and not reason:
            what = "例外的な状態変更" if override else f"{PROPOSAL_STATUS[to_status]}"
            raise InputInvalid({"reason": f"{what}には理由の入力が必要です。"})
        if to_status == S.adopted:
            override = _check_reviews(session, actor, proposal_id, reason) or override
        if to_status == S.submitted:
            validate(
                session,
                actor=actor,
                data=_input_of(proposal, project, session),
                final=True,
                proposal=proposal,
            )
            _submit_in_session(session, actor=actor, proposal=proposal, reason=reason)
            return _detach(proposal, session)
        before = audit.snapshot(proposal)
        _event(session, proposal, actor=actor, to=to_status, reason=("【例外】" if override else "") + reason)
        proposal.status = to_status
        proposal.version += 1
        proposal.updated_at = clock.now_utc()
        session.add(proposal)
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.proposal_override if override else AuditAction.proposal_status,
            entity="proposal",
            entity_id=proposal.id,
            before=before,
            after=audit.snapshot(proposal),
            reason=reason,
        )
        return _detach(proposal, session)
