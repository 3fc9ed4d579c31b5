"""差戻し and 取下げ: a submitted proposal goes back to its department, with a reason.

差戻し (審査担当・管理者, never a recused person): the department corrects the 下書き and submits it
again as the next revision; scores given to the earlier revision stay with it and are flagged.
取下げ (the department itself): the proposal leaves screening for good; the project may be proposed
again for the 年度. Neither is possible once a decided round holds the proposal."""

from sqlalchemy import Engine
from sqlmodel import Session, select

from fund import audit, clock, duties
from fund.auth import Action, Actor, require, require_department
from fund.db import write_session
from fund.errors import InputInvalid, NotFound, RuleViolation, StaleEdit
from fund.labels import PROPOSAL_STATUS, RETURN_KIND
from fund.models import (
    AuditAction,
    Project,
    Proposal,
    ProposalReturn,
    ProposalStatus,
    ReturnKind,
)
from fund.proposals import revisions
from fund.proposals.drafts import _detach, _event, _input_of
from fund.proposals.rules import REASON_MAX
from fund.screening.rounds import decided_round_ids

S = ProposalStatus
RETURNABLE = (S.submitted, S.in_review, S.on_hold)


def return_state(session: Session, proposal_id: int) -> ProposalReturn | None:
    return session.exec(select(ProposalReturn).where(ProposalReturn.proposal_id == proposal_id)).first()


def _send_back(
    engine: Engine, *, actor: Actor, proposal_id: int, reason: str, version: int | None, kind: ReturnKind
) -> Proposal:
    reason = reason.strip()
    word = RETURN_KIND[kind]
    if not reason or len(reason) > REASON_MAX:
        raise InputInvalid({"reason": f"{word}の理由を{REASON_MAX:,}文字以内で入力してください。"})
    with write_session(engine) as session:
        proposal = session.get(Proposal, proposal_id)
        project = session.get(Project, proposal.project_id) if proposal is not None else None
        if proposal is None or project is None:
            raise NotFound(f"提案番号 {proposal_id} は見つかりません。")
        if kind == ReturnKind.withdrawn:
            require_department(actor, project.department_id)
        else:
            duties.require_not_recused(session, actor=actor, proposal_id=proposal_id, what="差戻し")
        if version is not None and proposal.version != version:
            raise StaleEdit("他の利用者が先に更新しました。画面を開き直して最新の内容を確認してください。")
        held = return_state(session, proposal_id)
        allowed = RETURNABLE + ((S.draft,) if kind == ReturnKind.withdrawn and held is not None else ())
        if proposal.status not in allowed or (held is not None and held.kind == ReturnKind.withdrawn):
            state = RETURN_KIND[held.kind] if held is not None else PROPOSAL_STATUS[proposal.status]
            raise RuleViolation(f"提案番号 {proposal_id} は「{state}」のため{word}できません。")
        if decided_round_ids(session, proposal_id):
            raise RuleViolation(f"提案番号 {proposal_id} の審査結果は確定済みのため、{word}できません。")
        before = audit.snapshot(proposal)
        # submitted before 0004: keep what was judged as revision 1
        if proposal.status != S.draft and not revisions.any_stored(session, proposal_id):
            revisions.store(
                session, proposal_id=proposal_id, content=_input_of(proposal, project, session), by=""
            )
        _event(session, proposal, actor=actor, to=S.draft, reason=f"【{word}】{reason}")
        if held is not None:
            session.delete(held)
            session.flush()
        session.add(ProposalReturn(proposal_id=proposal_id, kind=kind, reason=reason, actor=actor.login))
        proposal.status = S.draft
        proposal.version += 1
        proposal.updated_at = clock.now_utc()
        session.add(proposal)
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.proposal_return
            if kind == ReturnKind.returned
            else AuditAction.proposal_withdraw,
            entity="proposal",
            entity_id=proposal.id,
            before=before,
            after=audit.snapshot(proposal),
            reason=reason,
        )
        return _detach(proposal, session)


def return_proposal(
    engine: Engine, *, actor: Actor, proposal_id: int, reason: str, version: int | None = None
) -> Proposal:
    """差戻し: back to the department as a 下書き for correction. Raises PermissionDenied (role,
    recused), InputInvalid (reason), RuleViolation (status, decided round), NotFound, StaleEdit."""
    require(actor, Action.change_status)
    return _send_back(
        engine, actor=actor, proposal_id=proposal_id, reason=reason, version=version, kind=ReturnKind.returned
    )


def withdraw_proposal(
    engine: Engine, *, actor: Actor, proposal_id: int, reason: str, version: int | None = None
) -> Proposal:
    """取下げ by the proposing department (or the bureau on its behalf). Same refusals as 差戻し."""
    require(actor, Action.submit_proposal)
    return _send_back(
        engine,
        actor=actor,
        proposal_id=proposal_id,
        reason=reason,
        version=version,
        kind=ReturnKind.withdrawn,
    )
