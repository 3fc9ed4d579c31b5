"""Who may see a proposal: one lookup with department scoping, for every read of one proposal."""

from sqlmodel import Session

from fund.auth import Actor, require_department
from fund.errors import NotFound
from fund.models import Project, Proposal


def visible_proposal(session: Session, actor: Actor, proposal_id: int) -> tuple[Proposal, Project]:
    """The proposal and its project. Raises NotFound, PermissionDenied (another department's)."""
    proposal = session.get(Proposal, proposal_id)
    project = session.get(Project, proposal.project_id) if proposal is not None else None
    if proposal is None or project is None:
        raise NotFound(f"提案番号 {proposal_id} は見つかりません。")
    require_department(actor, project.department_id)
    return proposal, project
