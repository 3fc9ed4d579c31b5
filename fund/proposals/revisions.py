"""版: what a proposal said at each submission, and what changed between two of them."""

from typing import Any

import pandas as pd
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from fund.auth import Actor
from fund.db import read_session
from fund.models import ProposalRevision
from fund.proposals.access import visible_proposal

# The stored content's keys, in the order and words the detail shows them.
FIELD_LABELS = {
    "project_name": "事業名",
    "fiscal_year": "年度",
    "summary": "事業概要",
    "purpose": "目的",
    "problem": "現状・課題",
    "req1_reason": "要件1の該当理由",
    "req2_reason": "要件2の該当理由",
    "req3_reason": "要件3の該当理由",
    "national_funds_yen": "国庫支出金（円）",
    "other_funds_yen": "その他財源（円）",
    "expected_users": "想定利用者数（人）",
    "uses_per_user_per_year": "1人あたり年間利用回数",
    "procedures_per_year": "年間手続件数",
    "minutes_saved_per_procedure": "1件あたり短縮時間（分）",
    "novelty": "新規性",
    "novelty_note": "新規性の説明",
    "cost_lines": "費用計画",
    "kpis": "成果指標",
}


def current_revision(session: Session, proposal_id: int) -> int:
    """The proposal's revision now: the newest stored one, 1 for a proposal submitted before 0004."""
    newest = session.exec(
        select(func.max(ProposalRevision.revision)).where(ProposalRevision.proposal_id == proposal_id)
    ).one()
    return int(newest or 1)


def any_stored(session: Session, proposal_id: int) -> bool:
    return (
        session.exec(select(ProposalRevision.id).where(ProposalRevision.proposal_id == proposal_id)).first()
        is not None
    )


def store(session: Session, *, proposal_id: int, content: dict[str, Any], by: str) -> int:
    """Keep `content` as the proposal's next revision (1 at the first submission); its number."""
    newest = session.exec(
        select(func.max(ProposalRevision.revision)).where(ProposalRevision.proposal_id == proposal_id)
    ).one()
    number = int(newest or 0) + 1
    session.add(ProposalRevision(proposal_id=proposal_id, revision=number, content=content, submitted_by=by))
    session.flush()
    return number


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(
            "・" + "、".join(f"{k}: {v}" for k, v in item.items() if v not in (None, ""))
            if isinstance(item, dict)
            else str(item)
            for item in value
        )
    return "" if value is None else str(value)


def changes(before: dict[str, Any], after: dict[str, Any]) -> pd.DataFrame:
    """The fields that differ between two revisions' contents: 項目, 前の版, この版."""
    rows = [
        {"項目": label, "前の版": _text(before.get(key)), "この版": _text(after.get(key))}
        for key, label in FIELD_LABELS.items()
        if before.get(key) != after.get(key)
    ]
    return pd.DataFrame(rows, columns=["項目", "前の版", "この版"])


def revisions(engine: Engine, *, actor: Actor, proposal_id: int) -> list[ProposalRevision]:
    """Every stored revision of the proposal, oldest first (department scoping applies)."""
    with read_session(engine) as session:
        visible_proposal(session, actor, proposal_id)
        rows = session.exec(
            select(ProposalRevision)
            .where(ProposalRevision.proposal_id == proposal_id)
            .order_by(col(ProposalRevision.revision))
        ).all()
        for row in rows:
            session.expunge(row)
        return list(rows)
