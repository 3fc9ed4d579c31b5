"""採点: scores per perspective, each reviewer's queue and the progress of a round or 年度."""

from typing import Annotated, Any

import pandas as pd
from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import Engine
from sqlmodel import select

from fund import audit, clock, duties
from fund.auth import Action, Actor, require
from fund.db import query_df, read_session, write_session
from fund.errors import InputInvalid, RuleViolation
from fund.labels import PERSPECTIVE
from fund.models import (
    AuditAction,
    ReviewScore,
)
from fund.proposals import revisions
from fund.screening.assignments import _own_assignment
from fund.screening.rounds import require_open
from fund.screening.rubric import LEVELS, MAX_COMMENT, PERSPECTIVES, _latest_rubric_row


class ScoreCreate(BaseModel):
    perspective: Annotated[int, Field(ge=1, le=4)]
    score: Annotated[int, Field(ge=1, le=LEVELS, strict=True)]
    comment: Annotated[str, Field(max_length=MAX_COMMENT)] = ""

    @field_validator("comment")
    @classmethod
    def strip_comment(cls, value: str) -> str:
        return value.strip()


def validate_scores(entries: list[dict[str, Any]]) -> list[ScoreCreate]:
    """Validate every perspective's entry; raises InputInvalid keyed `score_<n>` / `comment_<n>`."""
    errors: dict[str, str] = {}
    valid: list[ScoreCreate] = []
    if not entries:
        raise InputInvalid({"scores": "採点する観点がありません。"})
    for entry in entries:
        perspective = entry.get("perspective")
        label = PERSPECTIVE.get(perspective, str(perspective)) if isinstance(perspective, int) else ""
        try:
            valid.append(ScoreCreate.model_validate(entry))
        except ValidationError as exc:
            for err in exc.errors():
                name = str(err["loc"][0]) if err["loc"] else "score"
                if name == "perspective":
                    errors["perspective"] = "観点は1〜4のいずれかです。"
                elif name == "comment":
                    errors[f"comment_{perspective}"] = (
                        f"「{label}」のコメントは{MAX_COMMENT:,}文字以内で入力してください。"
                    )
                else:
                    errors[f"score_{perspective}"] = f"「{label}」の点数を1〜5の整数で選んでください。"
    perspectives = [v.perspective for v in valid]
    if len(set(perspectives)) != len(perspectives):
        errors["perspective"] = "同じ観点が重複しています。"
    if errors:
        raise InputInvalid(errors)
    return valid


def save_scores(engine: Engine, *, actor: Actor, assignment_id: int, entries: list[dict[str, Any]]) -> int:
    """Save the reviewer's score (1–5) and comment per perspective, all or nothing; returns rows changed.

    Upsert per (assignment, perspective). A new or changed score is given under the round's current
    rubric version; an unchanged one keeps its version. Only the reviewer's own, non-recused
    assignment. Raises InputInvalid, PermissionDenied, RuleViolation, NotFound.
    """
    require(actor, Action.score)
    scores = validate_scores(entries)
    changed = 0
    with write_session(engine) as session:
        assignment = _own_assignment(session, actor, assignment_id)
        require_open(session, assignment.round_id)
        if assignment.recused:
            raise RuleViolation(
                f"この提案は除斥されているため採点できません（理由: {assignment.recusal_reason}）。"
            )
        duties.require_not_recused(session, actor=actor, proposal_id=assignment.proposal_id, what="採点")
        rubric = _latest_rubric_row(session, assignment.round_id)
        judged = revisions.current_revision(session, assignment.proposal_id)
        for item in scores:
            row = session.exec(
                select(ReviewScore).where(
                    ReviewScore.assignment_id == assignment_id, ReviewScore.perspective == item.perspective
                )
            ).first()
            before = audit.snapshot(row) if row is not None else None
            if row is None:
                row = ReviewScore(
                    assignment_id=assignment_id,
                    perspective=item.perspective,
                    score=item.score,
                    comment=item.comment,
                    rubric_version_id=rubric.id or 0,
                    proposal_revision=judged,
                )
            elif row.score == item.score and row.comment == item.comment and row.proposal_revision == judged:
                continue
            else:
                row.score = item.score
                row.comment = item.comment
                row.rubric_version_id = rubric.id or 0
                row.proposal_revision = judged
                row.is_sample = False
                row.scored_at = clock.now_utc()
            session.add(row)
            session.flush()
            audit.record(
                session,
                actor=actor.login,
                action=AuditAction.screening_score,
                entity="review_score",
                entity_id=row.id,
                before=before,
                after=audit.snapshot(row),
            )
            changed += 1
    return changed


def save_score(
    engine: Engine, *, actor: Actor, assignment_id: int, perspective: int, score: int, comment: str = ""
) -> int:
    """One perspective's score; see `save_scores`."""
    return save_scores(
        engine,
        actor=actor,
        assignment_id=assignment_id,
        entries=[{"perspective": perspective, "score": score, "comment": comment}],
    )


def assignment_scores(engine: Engine, *, actor: Actor, assignment_id: int) -> dict[int, tuple[int, str]]:
    """The reviewer's saved scores for their assignment: perspective → (score, comment)."""
    with read_session(engine) as session:
        _own_assignment(session, actor, assignment_id)
    df = query_df(
        engine,
        "SELECT perspective, score, comment FROM review_score WHERE assignment_id = :a ORDER BY perspective",
        {"a": assignment_id},
    )
    return {int(r.perspective): (int(r.score), str(r.comment)) for r in df.itertuples(index=False)}


# --- My queue --------------------------------------------------------------------------------------


def my_queue(engine: Engine, *, actor: Actor, round_id: int, pending_only: bool = False) -> pd.DataFrame:
    """The actor's assignments in the round: project, department, perspectives scored, done, recused,
    and whether a score was given to an earlier version of the proposal (it was corrected since)."""
    df = query_df(
        engine,
        """
        SELECT ra.id AS assignment_id, ra.proposal_id, p.name AS project, d.name AS department,
               ra.recused, ra.recusal_reason,
               (SELECT COUNT(*) FROM review_score s WHERE s.assignment_id = ra.id) AS scored,
               EXISTS (
                   SELECT 1 FROM review_score s
                   WHERE s.assignment_id = ra.id AND COALESCE(s.proposal_revision, 1) < (
                       SELECT COALESCE(MAX(v.revision), 1) FROM proposal_revision v
                       WHERE v.proposal_id = ra.proposal_id)
               ) AS earlier_revision
        FROM review_assignment ra
        JOIN app_user u ON u.id = ra.reviewer_id
        JOIN proposal pr ON pr.id = ra.proposal_id
        JOIN project p ON p.id = pr.project_id
        JOIN department d ON d.id = p.department_id
        WHERE ra.round_id = :r AND u.login = :login
        ORDER BY d.sort_order, p.name
        """,
        {"r": round_id, "login": actor.login},
    )
    df["scored"] = df["scored"].astype("int64")
    df["done"] = (df["scored"] >= len(PERSPECTIVES)) & ~df["recused"].astype(bool)
    df["earlier_revision"] = df["earlier_revision"].astype(bool)
    df["state"] = [
        "除斥"
        if bool(rec)
        else ("完了" if bool(done) else f"未完了（{n}/4観点）")
        + ("・採点後に提案が修正されました" if earlier else "")
        for rec, done, n, earlier in zip(
            df["recused"], df["done"], df["scored"], df["earlier_revision"], strict=True
        )
    ]
    if pending_only:
        df = df[~df["done"] & ~df["recused"].astype(bool)].reset_index(drop=True)
    return df


def queue_progress(engine: Engine, *, actor: Actor, round_id: int) -> dict[str, int]:
    """'x of y done' for the actor: done, total (recused excluded) and recused."""
    q = my_queue(engine, actor=actor, round_id=round_id)
    recused = int(q["recused"].astype(bool).sum())
    return {"done": int(q["done"].sum()), "total": len(q) - recused, "recused": recused}


def progress(engine: Engine, *, fiscal_year: int) -> dict[str, int]:
    """Screening progress for the 年度: assignments, completed (all four perspectives scored), recused."""
    df = query_df(
        engine,
        """
        SELECT COUNT(*) AS assignments,
               COALESCE(SUM(CASE WHEN ra.recused THEN 1 ELSE 0 END), 0) AS recused,
               COALESCE(SUM(CASE WHEN NOT ra.recused AND sc.n = 4 THEN 1 ELSE 0 END), 0) AS done
        FROM review_assignment ra
        JOIN screening_round r ON r.id = ra.round_id
        LEFT JOIN (
            SELECT s.assignment_id, COUNT(*) AS n
            FROM review_score s
            JOIN review_assignment a ON a.id = s.assignment_id
            JOIN screening_round sr ON sr.id = a.round_id
            WHERE sr.fiscal_year = :fy
            GROUP BY s.assignment_id
        ) sc ON sc.assignment_id = ra.id
        WHERE r.fiscal_year = :fy
        """,
        {"fy": fiscal_year},
    )
    return {k: int(v) for k, v in df.iloc[0].items()}
