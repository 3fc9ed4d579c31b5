"""審査担当の割当: who reviews which proposal, recusal by department or declared conflict, and the export."""

from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Engine
from sqlmodel import Session, select

from fund import audit, duties
from fund.auth import Action, Actor, assignable_as_reviewer, require
from fund.db import contains, like_pattern, query_df, read_session, write_session
from fund.errors import InputInvalid, NotFound, PermissionDenied, RuleViolation
from fund.export import record_export, to_csv_bytes, to_xlsx_bytes
from fund.fiscal import fiscal_label
from fund.models import (
    AppUser,
    AuditAction,
    Project,
    Proposal,
    ProposalStatus,
    ReviewAssignment,
    Role,
    ScreeningRound,
)
from fund.screening.rounds import require_open, round_label
from fund.screening.rubric import SAME_DEPARTMENT_REASON


def reviewers(engine: Engine) -> pd.DataFrame:
    """Active 審査担当 who can be assigned, with their department (recusal uses it)."""
    return query_df(
        engine,
        """
        SELECT u.id, u.login, u.display_name, d.name AS department
        FROM app_user u LEFT JOIN department d ON d.id = u.department_id
        WHERE u.role = :role AND u.active ORDER BY u.display_name, u.id
        """,
        {"role": Role.screener.value},
    )


def round_proposals(engine: Engine, *, round_id: int) -> pd.DataFrame:
    """Proposals that can be screened in the round: its 年度, no longer 下書き."""
    return query_df(
        engine,
        """
        SELECT pr.id, p.name AS project, d.name AS department, pr.status
        FROM proposal pr
        JOIN project p ON p.id = pr.project_id
        JOIN department d ON d.id = p.department_id
        JOIN screening_round r ON r.fiscal_year = pr.fiscal_year
        WHERE r.id = :r AND pr.status <> :draft
        ORDER BY d.sort_order, p.name
        """,
        {"r": round_id, "draft": ProposalStatus.draft.value},
    )


def assignable_proposals(
    engine: Engine, *, round_id: int, department: str | None = None, search: str = "", limit: int = 1_000
) -> tuple[pd.DataFrame, int]:
    """`round_proposals` narrowed by department name and a text in the project name, at most `limit`
    rows (in the same order), and how many proposals match in all."""
    clauses = ["r.id = :r", "pr.status <> :draft"]
    params: dict[str, Any] = {"r": round_id, "draft": ProposalStatus.draft.value, "limit": limit}
    if department:
        clauses.append("d.name = :dept")
        params["dept"] = department
    if search.strip():
        clauses.append(contains("p.name", "q"))
        params["q"] = like_pattern(search)
    df = query_df(
        engine,
        f"""
        SELECT pr.id, p.name AS project, d.name AS department, pr.status,
               COUNT(*) OVER () AS total
        FROM proposal pr
        JOIN project p ON p.id = pr.project_id
        JOIN department d ON d.id = p.department_id
        JOIN screening_round r ON r.fiscal_year = pr.fiscal_year
        WHERE {" AND ".join(clauses)}
        ORDER BY d.sort_order, p.name, pr.id
        LIMIT :limit
        """,
        params,
    )
    total = int(df["total"].iloc[0]) if len(df) else 0
    return df.drop(columns=["total"]), total


@dataclass(frozen=True)
class AssignmentResult:
    created: int
    auto_recused: int
    skipped: int  # already assigned


def assign_reviewers(
    engine: Engine, *, actor: Actor, round_id: int, proposal_ids: list[int], reviewer_ids: list[int]
) -> AssignmentResult:
    """Assign every reviewer to every proposal (existing pairs are kept as they are).

    A reviewer whose department is the proposing department is recused automatically.
    Raises InputInvalid (nothing chosen, not a 審査担当, proposal outside the round), NotFound.
    """
    require(actor, Action.score)
    errors: dict[str, str] = {}
    if not proposal_ids:
        errors["proposals"] = "割り当てる提案を1件以上選んでください。"
    if not reviewer_ids:
        errors["reviewers"] = "割り当てる審査担当を1人以上選んでください。"
    if errors:
        raise InputInvalid(errors)
    created = recused = skipped = 0
    with write_session(engine) as session:
        screening_round = require_open(session, round_id)
        users: list[AppUser] = []
        for reviewer_id in dict.fromkeys(reviewer_ids):
            user = session.get(AppUser, reviewer_id)
            if user is None or not assignable_as_reviewer(Role(user.role)) or not user.active:
                raise InputInvalid({"reviewers": "審査担当として有効な利用者だけを割り当てられます。"})
            users.append(user)
        for proposal_id in dict.fromkeys(proposal_ids):
            proposal = session.get(Proposal, proposal_id)
            if proposal is None:
                raise NotFound(f"提案 {proposal_id} は見つかりません。")
            project = session.get(Project, proposal.project_id)
            assert project is not None
            if proposal.fiscal_year != screening_round.fiscal_year:
                raise InputInvalid(
                    {
                        "proposals": f"「{project.name}」は{fiscal_label(proposal.fiscal_year)}の提案のため、"
                        f"{fiscal_label(screening_round.fiscal_year)}のラウンドには割り当てられません。"
                    }
                )
            if proposal.status == ProposalStatus.draft:
                raise InputInvalid(
                    {"proposals": f"「{project.name}」は下書きのため審査に割り当てられません。"}
                )
            for user in users:
                exists = session.exec(
                    select(ReviewAssignment.id).where(
                        ReviewAssignment.round_id == round_id,
                        ReviewAssignment.proposal_id == proposal_id,
                        ReviewAssignment.reviewer_id == user.id,
                    )
                ).first()
                if exists is not None:
                    skipped += 1
                    continue
                why = duties.recusal_reason(session, login=user.login, proposal_id=proposal_id)
                if why == duties.SAME_DEPARTMENT:
                    why = SAME_DEPARTMENT_REASON
                assignment = ReviewAssignment(
                    round_id=round_id,
                    proposal_id=proposal_id,
                    reviewer_id=user.id or 0,
                    recused=why is not None,
                    recusal_reason=why or "",
                )
                session.add(assignment)
                session.flush()
                audit.record(
                    session,
                    actor=actor.login,
                    action=AuditAction.screening_assign,
                    entity="review_assignment",
                    entity_id=assignment.id,
                    after=audit.snapshot(assignment),
                )
                created += 1
                recused += int(why is not None)
    return AssignmentResult(created=created, auto_recused=recused, skipped=skipped)


def _own_assignment(session: Session, actor: Actor, assignment_id: int) -> ReviewAssignment:
    assignment = session.get(ReviewAssignment, assignment_id)
    if assignment is None:
        raise NotFound(f"審査の割当 {assignment_id} は見つかりません。")
    reviewer = session.get(AppUser, assignment.reviewer_id)
    if reviewer is None or reviewer.login != actor.login:
        raise PermissionDenied("自分に割り当てられた提案だけを採点・申告できます。")
    return assignment


def declare_conflict(engine: Engine, *, actor: Actor, assignment_id: int, reason: str) -> None:
    """The reviewer declares a conflict of interest: the assignment is recused and never counts.

    Raises InputInvalid (no reason), PermissionDenied (not their assignment), RuleViolation (already recused).
    """
    require(actor, Action.score)
    reason = reason.strip()
    if not reason or len(reason) > 500:
        raise InputInvalid({"reason": "利益相反の理由を500文字以内で入力してください。"})
    with write_session(engine) as session:
        assignment = _own_assignment(session, actor, assignment_id)
        require_open(session, assignment.round_id)
        if assignment.recused:
            raise RuleViolation(f"この提案は既に除斥されています（理由: {assignment.recusal_reason}）。")
        before = audit.snapshot(assignment)
        assignment.recused = True
        assignment.recusal_reason = reason
        session.add(assignment)
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.screening_declare_conflict,
            entity="review_assignment",
            entity_id=assignment.id,
            before=before,
            after=audit.snapshot(assignment),
            reason=reason,
        )


def assignment_frame(engine: Engine, *, round_id: int, limit: int | None = None) -> pd.DataFrame:
    """All assignments of the round (or the first `limit`): proposal, reviewer, recusal and how many
    perspectives are scored."""
    return query_df(
        engine,
        f"""
        SELECT ra.id AS assignment_id, p.name AS project, d.name AS department,
               u.display_name AS reviewer, ra.recused, ra.recusal_reason,
               COALESCE(sc.scored, 0) AS scored
        FROM review_assignment ra
        JOIN proposal pr ON pr.id = ra.proposal_id
        JOIN project p ON p.id = pr.project_id
        JOIN department d ON d.id = p.department_id
        JOIN app_user u ON u.id = ra.reviewer_id
        LEFT JOIN (
            SELECT s.assignment_id, COUNT(*) AS scored
            FROM review_score s JOIN review_assignment a ON a.id = s.assignment_id
            WHERE a.round_id = :r GROUP BY s.assignment_id
        ) sc ON sc.assignment_id = ra.id
        WHERE ra.round_id = :r
        ORDER BY d.sort_order, p.name, u.display_name, ra.id
        {"LIMIT :limit" if limit is not None else ""}
        """,
        {"r": round_id, "limit": limit},
    )


def assignment_count(engine: Engine, *, round_id: int) -> int:
    """How many assignments the round has (recused included)."""
    df = query_df(engine, "SELECT COUNT(*) AS n FROM review_assignment WHERE round_id = :r", {"r": round_id})
    return int(df["n"].iloc[0])


ASSIGNMENT_TABLE_COLUMNS = {
    "project": "事業名",
    "department": "所管部局",
    "reviewer": "審査担当",
    "recused": "除斥",
    "recusal_reason": "除斥の理由",
    "scored": "採点済み観点数",
}


def assignment_table(df: pd.DataFrame) -> pd.DataFrame:
    """`assignment_frame` with Japanese headers: the 設定 tab and the export."""
    return df[list(ASSIGNMENT_TABLE_COLUMNS)].rename(columns=ASSIGNMENT_TABLE_COLUMNS).reset_index(drop=True)


def _export_round(engine: Engine, *, actor: Actor, round_id: int, fmt: str) -> tuple[str, bool]:
    """The checks every screening export makes; returns the round's title and whether it is sample data."""
    require(actor, Action.view_screening)
    require(actor, Action.export)
    if fmt not in ("xlsx", "csv"):
        raise RuleViolation("出力形式は xlsx または csv を指定してください。")
    with read_session(engine) as session:
        screening_round = session.get(ScreeningRound, round_id)
        if screening_round is None:
            raise NotFound(f"審査ラウンド {round_id} は見つかりません。")
        return round_label(screening_round.fiscal_year, screening_round.name), screening_round.is_sample


def export_assignments(engine: Engine, *, actor: Actor, round_id: int, fmt: str) -> bytes:
    """Every assignment of the round as xlsx or CSV (UTF-8 with BOM); audited.

    Raises PermissionDenied, NotFound, RuleViolation (unknown format).
    """
    title, _ = _export_round(engine, actor=actor, round_id=round_id, fmt=fmt)
    table = assignment_table(assignment_frame(engine, round_id=round_id))
    if fmt == "xlsx":
        data = to_xlsx_bytes(table, sheet_name="審査担当の割当", title=f"{title} 審査担当の割当")
    else:
        data = to_csv_bytes(table)
    record_export(
        engine,
        actor=actor,
        what=f"screening_assignments.{fmt}",
        filters={"round_id": round_id},
        rows=len(table),
    )
    return data
