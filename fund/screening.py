"""審査・採点: screening rounds, rubrics, reviewer assignments, scores and results per proposal.

A round belongs to one 年度 and has a rubric: four weights (percent, summing to 100) and an anchored
description for each of the five score levels of each perspective. Changing the rubric creates a new
version; every score keeps the version it was given under. Recused assignments (same department as
the proposal, or a declared conflict of interest) never count in the results.

Calibration and weight sensitivity live in `fund.calibration` and `fund.sensitivity`.
"""

import json
import tomllib
from dataclasses import dataclass, field
from typing import Annotated, Any

import pandas as pd
from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from fund import audit, clock
from fund.auth import Action, Actor, assignable_as_reviewer, require
from fund.calibration import calibrated_scores_sql
from fund.db import contains, like_pattern, query_df, read_session, write_session
from fund.errors import InputInvalid, NotFound, PermissionDenied, RuleViolation
from fund.export import record_export, to_csv_bytes, to_xlsx_bytes
from fund.fiscal import fiscal_label
from fund.labels import PERSPECTIVE
from fund.models import (
    AppUser,
    AuditAction,
    FiscalYear,
    Project,
    Proposal,
    ProposalStatus,
    ReviewAssignment,
    ReviewScore,
    Role,
    RubricVersion,
    ScreeningRound,
)
from fund.sensitivity import SensitivityResult, analyse
from fund.settings import get_settings

PERSPECTIVES = (1, 2, 3, 4)
LEVELS = 5
DEFAULT_WEIGHTS = [25, 25, 25, 25]
DISAGREEMENT_SD = 1.0  # a perspective whose reviewers' scores spread more than this is flagged
MAX_COMMENT = 1000
SAME_DEPARTMENT_REASON = "提案部局と同じ所属のため自動的に除斥"


# --- Rubric ------------------------------------------------------------------------------------------


def default_anchors() -> dict[str, list[str]]:
    """The anchored descriptions shipped in data/screening.toml (perspective "1"–"4" → 5 levels)."""
    with (get_settings().seed_dir / "screening.toml").open("rb") as fh:
        config = tomllib.load(fh)
    return {str(k): [str(x) for x in v] for k, v in config["anchors"].items()}


class RubricInput(BaseModel):
    weights: list[Annotated[int, Field(ge=0, le=100)]]
    anchors: dict[str, list[str]]

    @field_validator("weights")
    @classmethod
    def four_weights(cls, value: list[int]) -> list[int]:
        if len(value) != len(PERSPECTIVES):
            raise ValueError("four weights")
        return value

    @field_validator("anchors")
    @classmethod
    def five_levels_each(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        if sorted(value) != [str(p) for p in PERSPECTIVES]:
            raise ValueError("four perspectives")
        cleaned = {}
        for key, levels in value.items():
            levels = [str(t).strip() for t in levels]
            if len(levels) != LEVELS or any(not t or len(t) > 200 for t in levels):
                raise ValueError("five levels")
            cleaned[key] = levels
        return cleaned


def validate_rubric(weights: list[int], anchors: dict[str, list[str]]) -> RubricInput:
    """Check weights (4 integers 0–100 summing to 100) and anchors; raises InputInvalid in Japanese."""
    try:
        rubric = RubricInput.model_validate({"weights": weights, "anchors": anchors})
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "form"
            errors[name] = (
                "重みは4つの観点それぞれに0〜100%の整数で入力してください。"
                if name == "weights"
                else "評価基準は4つの観点それぞれに5段階すべての説明（各200文字以内）を入力してください。"
            )
        raise InputInvalid(errors) from None
    total = sum(rubric.weights)
    if total != 100:
        raise InputInvalid({"weights": f"重みの合計は100%にしてください（現在の合計は{total}%です）。"})
    return rubric


@dataclass(frozen=True)
class Rubric:
    id: int
    round_id: int
    version: int
    weights: list[int]
    anchors: dict[str, list[str]]


def _json_list(raw: Any) -> Any:
    return json.loads(raw) if isinstance(raw, str) else raw


def _latest_rubric_row(session: Session, round_id: int) -> RubricVersion:
    row = session.exec(
        select(RubricVersion)
        .where(RubricVersion.round_id == round_id)
        .order_by(col(RubricVersion.version).desc())
        .limit(1)
    ).first()
    if row is None:
        raise NotFound(f"審査ラウンド {round_id} には評価基準が登録されていません。")
    return row


def current_rubric(engine: Engine, *, round_id: int) -> Rubric:
    """The newest rubric version of the round. Raises NotFound."""
    with read_session(engine) as session:
        row = _latest_rubric_row(session, round_id)
        return Rubric(
            id=row.id or 0,
            round_id=row.round_id,
            version=row.version,
            weights=[int(w) for w in _json_list(row.weights)],
            anchors={str(k): list(v) for k, v in _json_list(row.anchors).items()},
        )


def latest_weights(engine: Engine, *, round_id: int) -> list[int]:
    return current_rubric(engine, round_id=round_id).weights


def rubric_versions(engine: Engine, *, round_id: int) -> pd.DataFrame:
    """Every rubric version of the round: weights w1–w4 (%) and how many scores were given under it."""
    df = query_df(
        engine,
        """
        SELECT rv.id, rv.version, rv.weights, rv.created_by, rv.created_at,
               (SELECT COUNT(*) FROM review_score s WHERE s.rubric_version_id = rv.id) AS scores
        FROM rubric_version rv WHERE rv.round_id = :r ORDER BY rv.version
        """,
        {"r": round_id},
    )
    weights = [[int(w) for w in _json_list(raw)] for raw in df["weights"]]
    for p in PERSPECTIVES:
        df[f"w{p}"] = [w[p - 1] for w in weights]
    return df.drop(columns=["weights"])


# --- Rounds ----------------------------------------------------------------------------------------


def rounds(engine: Engine) -> pd.DataFrame:
    return query_df(
        engine,
        "SELECT id, fiscal_year, name, is_sample FROM screening_round ORDER BY fiscal_year DESC, id DESC",
    )


def round_label(fiscal_year: int, name: str) -> str:
    return f"{fiscal_label(fiscal_year)} {name}"


def create_round(
    engine: Engine,
    *,
    actor: Actor,
    fiscal_year: int,
    name: str,
    weights: list[int] | None = None,
    anchors: dict[str, list[str]] | None = None,
) -> ScreeningRound:
    """Create a round for a 年度 with rubric version 1 (equal weights unless given).

    Raises InputInvalid (blank name, unknown 年度, weights not summing to 100, duplicate name).
    """
    require(actor, Action.score)
    name = name.strip()
    errors: dict[str, str] = {}
    if not name or len(name) > 120:
        errors["name"] = "ラウンド名を120文字以内で入力してください。"
    try:
        rubric = validate_rubric(weights or list(DEFAULT_WEIGHTS), anchors or default_anchors())
    except InputInvalid as exc:
        errors.update(exc.field_errors)
    if errors:
        raise InputInvalid(errors)
    with write_session(engine) as session:
        if session.get(FiscalYear, fiscal_year) is None:
            raise InputInvalid({"fiscal_year": f"{fiscal_label(fiscal_year)}は登録されていません。"})
        duplicate = session.exec(
            select(ScreeningRound.id).where(
                ScreeningRound.fiscal_year == fiscal_year, ScreeningRound.name == name
            )
        ).first()
        if duplicate is not None:
            raise InputInvalid(
                {"name": f"{fiscal_label(fiscal_year)}には同じ名前のラウンド「{name}」が既にあります。"}
            )
        screening_round = ScreeningRound(fiscal_year=fiscal_year, name=name)
        session.add(screening_round)
        session.flush()
        version = RubricVersion(
            round_id=screening_round.id or 0,
            version=1,
            weights=rubric.weights,
            anchors=rubric.anchors,
            created_by=actor.login,
        )
        session.add(version)
        session.flush()
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.screening_round_create,
            entity="screening_round",
            entity_id=screening_round.id,
            after={**audit.snapshot(screening_round), "weights": rubric.weights},
        )
        session.refresh(screening_round)
        session.expunge(screening_round)
    return screening_round


def new_rubric_version(
    engine: Engine,
    *,
    actor: Actor,
    round_id: int,
    weights: list[int],
    anchors: dict[str, list[str]] | None = None,
) -> Rubric:
    """Add a rubric version with new weights and/or anchors (anchors default to the current ones).

    Scores already given keep their version. Raises InputInvalid, NotFound, RuleViolation (no change).
    """
    require(actor, Action.score)
    with write_session(engine) as session:
        if session.get(ScreeningRound, round_id) is None:
            raise NotFound(f"審査ラウンド {round_id} は見つかりません。")
        latest = _latest_rubric_row(session, round_id)
        old_weights = [int(w) for w in _json_list(latest.weights)]
        old_anchors = {str(k): list(v) for k, v in _json_list(latest.anchors).items()}
        rubric = validate_rubric(weights, anchors if anchors is not None else old_anchors)
        if rubric.weights == old_weights and rubric.anchors == old_anchors:
            raise RuleViolation(
                f"第{latest.version}版から重み・評価基準が変わっていないため、新しい版は作りません。"
            )
        row = RubricVersion(
            round_id=round_id,
            version=latest.version + 1,
            weights=rubric.weights,
            anchors=rubric.anchors,
            created_by=actor.login,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.screening_rubric_version,
            entity="rubric_version",
            entity_id=row.id,
            before={"version": latest.version, "weights": old_weights},
            after={"version": row.version, "weights": rubric.weights, "anchors": rubric.anchors},
        )
        return Rubric(
            id=row.id or 0,
            round_id=round_id,
            version=row.version,
            weights=rubric.weights,
            anchors=rubric.anchors,
        )


# --- Assignments -----------------------------------------------------------------------------------


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
        screening_round = session.get(ScreeningRound, round_id)
        if screening_round is None:
            raise NotFound(f"審査ラウンド {round_id} は見つかりません。")
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
                same_department = (
                    user.department_id is not None and user.department_id == project.department_id
                )
                assignment = ReviewAssignment(
                    round_id=round_id,
                    proposal_id=proposal_id,
                    reviewer_id=user.id or 0,
                    recused=same_department,
                    recusal_reason=SAME_DEPARTMENT_REASON if same_department else "",
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
                recused += int(same_department)
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


# --- Scoring ---------------------------------------------------------------------------------------


class ScoreInput(BaseModel):
    perspective: Annotated[int, Field(ge=1, le=4)]
    score: Annotated[int, Field(ge=1, le=LEVELS, strict=True)]
    comment: Annotated[str, Field(max_length=MAX_COMMENT)] = ""

    @field_validator("comment")
    @classmethod
    def strip_comment(cls, value: str) -> str:
        return value.strip()


def validate_scores(entries: list[dict[str, Any]]) -> list[ScoreInput]:
    """Validate every perspective's entry; raises InputInvalid keyed `score_<n>` / `comment_<n>`."""
    errors: dict[str, str] = {}
    valid: list[ScoreInput] = []
    if not entries:
        raise InputInvalid({"scores": "採点する観点がありません。"})
    for entry in entries:
        perspective = entry.get("perspective")
        label = PERSPECTIVE.get(perspective, str(perspective)) if isinstance(perspective, int) else ""
        try:
            valid.append(ScoreInput.model_validate(entry))
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
        if assignment.recused:
            raise RuleViolation(
                f"この提案は除斥されているため採点できません（理由: {assignment.recusal_reason}）。"
            )
        rubric = _latest_rubric_row(session, assignment.round_id)
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
                )
            elif row.score == item.score and row.comment == item.comment:
                continue
            else:
                row.score = item.score
                row.comment = item.comment
                row.rubric_version_id = rubric.id or 0
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
    """The actor's assignments in the round: project, department, perspectives scored, done, recused."""
    df = query_df(
        engine,
        """
        SELECT ra.id AS assignment_id, ra.proposal_id, p.name AS project, d.name AS department,
               ra.recused, ra.recusal_reason,
               (SELECT COUNT(*) FROM review_score s WHERE s.assignment_id = ra.id) AS scored
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
    df["state"] = [
        "除斥" if bool(rec) else ("完了" if bool(done) else f"未完了（{n}/4観点）")
        for rec, done, n in zip(df["recused"], df["done"], df["scored"], strict=True)
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


# --- Results ---------------------------------------------------------------------------------------

RESULT_COLUMNS = [
    "rank",
    "calibrated_rank",
    "proposal_id",
    "project",
    "department",
    "p1",
    "p2",
    "p3",
    "p4",
    "c1",
    "c2",
    "c3",
    "c4",
    "weighted_total",
    "calibrated_total",
    "reviews",
    "max_sd",
    "disagreement",
]


def _results_sql() -> str:
    """One row per scored proposal of round `:r`: raw (p1–p4) and calibrated (c1–c4) means per
    perspective, the largest per-perspective sample standard deviation and the reviewers counted.
    Portable SQL (DuckDB and PostgreSQL): the pivot is a conditional aggregate."""
    pivot = ",\n".join(
        f"MAX(CASE WHEN perspective = {p} THEN mean_score END) AS p{p}, "
        f"MAX(CASE WHEN perspective = {p} THEN calibrated_mean END) AS c{p}"
        for p in PERSPECTIVES
    )
    return f"""
        WITH cal AS ({calibrated_scores_sql()}),
        per AS (
            SELECT proposal_id, perspective, AVG(score) AS mean_score, STDDEV_SAMP(score) AS sd,
                   AVG(calibrated) AS calibrated_mean
            FROM cal GROUP BY proposal_id, perspective
        ),
        wide AS (
            SELECT proposal_id, {pivot}, MAX(sd) AS max_sd FROM per GROUP BY proposal_id
        ),
        counted AS (
            SELECT proposal_id, COUNT(DISTINCT reviewer_id) AS reviews FROM cal GROUP BY proposal_id
        )
        SELECT wide.*, counted.reviews, p.name AS project, d.name AS department
        FROM wide
        JOIN counted ON counted.proposal_id = wide.proposal_id
        JOIN proposal pr ON pr.id = wide.proposal_id
        JOIN project p ON p.id = pr.project_id
        JOIN department d ON d.id = p.department_id
        ORDER BY p.name COLLATE "C", wide.proposal_id
    """


def results(engine: Engine, *, round_id: int) -> pd.DataFrame:
    """Per proposal: mean score per perspective (p1–p4) and calibrated mean (c1–c4), weighted total with the current weights,
    the calibrated total (see `fund.calibration`), reviews counted, the largest per-perspective
    standard deviation and a disagreement flag. Ranked by the raw weighted total.

    Recused reviews never count. A proposal not yet scored on every perspective has no total.
    The aggregation and the pivot run in SQL; totals and ranks are column arithmetic.
    """
    out = query_df(engine, _results_sql(), {"r": round_id})
    if out.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    weights = latest_weights(engine, round_id=round_id)
    for prefix in ("p", "c"):
        for p in PERSPECTIVES:
            out[f"{prefix}{p}"] = out[f"{prefix}{p}"].astype("float64")
    # Weighted total (1–5 scale): Σ weight_i × mean_i / 100; NaN until every perspective is scored.
    out["weighted_total"] = sum(out[f"p{p}"] * weights[p - 1] / 100 for p in PERSPECTIVES)
    out["calibrated_total"] = sum(out[f"c{p}"] * weights[p - 1] / 100 for p in PERSPECTIVES)
    out["max_sd"] = out["max_sd"].astype("float64")
    out["reviews"] = out["reviews"].fillna(0).astype("int64")
    out["disagreement"] = out["max_sd"].fillna(0) > DISAGREEMENT_SD
    out["rank"] = out["weighted_total"].round(9).rank(ascending=False, method="min").astype("Int64")
    out["calibrated_rank"] = (
        out["calibrated_total"].round(9).rank(ascending=False, method="min").astype("Int64")
    )
    # The statement orders by name (code point order, as Python compares strings) and id; a stable
    # sort on the two ranks keeps that order among ties.
    out = out.sort_values(["rank", "calibrated_rank"], kind="stable", na_position="last").reset_index(
        drop=True
    )
    return out[RESULT_COLUMNS]


@dataclass(frozen=True)
class ResultFilters:
    """What the 結果 tab filters on; the export applies exactly the same filters."""

    departments: tuple[str, ...] = field(default_factory=tuple)
    disagreement_only: bool = False
    search: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "departments": list(self.departments),
            "disagreement_only": self.disagreement_only,
            "search": self.search,
        }


def filter_results(df: pd.DataFrame, filters: ResultFilters) -> pd.DataFrame:
    out = df
    if filters.departments:
        out = out[out["department"].isin(list(filters.departments))]
    if filters.disagreement_only:
        out = out[out["disagreement"].astype(bool)]
    if filters.search.strip():
        out = out[out["project"].str.contains(filters.search.strip(), regex=False)]
    return out.reset_index(drop=True)


RESULT_TABLE_COLUMNS = [
    "順位（素点）",
    "順位（補正後）",
    "事業名",
    "所管部局",
    *[PERSPECTIVE[p] for p in PERSPECTIVES],
    "加重合計（素点）",
    "加重合計（補正後）",
    "審査数",
    "最大ばらつき（標準偏差）",
    "評価が割れている",
]


def results_table(df: pd.DataFrame) -> pd.DataFrame:
    """The ranking with Japanese headers, scores rounded to 2 decimals: the screen and the export."""
    out = pd.DataFrame(
        {
            "順位（素点）": df["rank"],
            "順位（補正後）": df["calibrated_rank"],
            "事業名": df["project"],
            "所管部局": df["department"],
            **{PERSPECTIVE[p]: df[f"p{p}"].astype("float64").round(2) for p in PERSPECTIVES},
            "加重合計（素点）": df["weighted_total"].astype("float64").round(2),
            "加重合計（補正後）": df["calibrated_total"].astype("float64").round(2),
            "審査数": df["reviews"],
            "最大ばらつき（標準偏差）": df["max_sd"].astype("float64").round(2),
            "評価が割れている": df["disagreement"].astype(bool),
        },
        columns=RESULT_TABLE_COLUMNS,
    )
    return out.reset_index(drop=True)


def filtered_results_table(engine: Engine, *, round_id: int, filters: ResultFilters) -> pd.DataFrame:
    """`results` → `filter_results` → `results_table`: what the 結果 tab shows."""
    return results_table(filter_results(results(engine, round_id=round_id), filters))


def export_results(engine: Engine, *, actor: Actor, round_id: int, filters: ResultFilters, fmt: str) -> bytes:
    """The ranking exactly as filtered on screen, as xlsx or CSV (UTF-8 with BOM); audited.

    Raises PermissionDenied, NotFound, RuleViolation (unknown format).
    """
    title, is_sample = _export_round(engine, actor=actor, round_id=round_id, fmt=fmt)
    table = filtered_results_table(engine, round_id=round_id, filters=filters)
    weights = latest_weights(engine, round_id=round_id)
    if fmt == "xlsx":
        data = to_xlsx_bytes(
            table,
            sheet_name="審査結果",
            title=f"{title} 審査結果"
            + ("（サンプルデータ）" if is_sample and "サンプル" not in title else "")
            + "　重み: "
            + " / ".join(f"{PERSPECTIVE[p]} {weights[p - 1]}%" for p in PERSPECTIVES),
        )
    else:
        data = to_csv_bytes(table)
    record_export(
        engine,
        actor=actor,
        what=f"screening_results.{fmt}",
        filters={"round_id": round_id, **filters.as_dict()},
        rows=len(table),
    )
    return data


# --- Weight sensitivity -----------------------------------------------------------------------------


def weight_sensitivity(
    engine: Engine, *, round_id: int, step: int, funding_line: int | None = None, calibrated: bool = False
) -> SensitivityResult:
    """Move each weight ±`step` points (renormalised) and report who keeps their rank band.

    `calibrated` ranks by calibrated means instead of raw means. See `fund.sensitivity`.
    Raises InputInvalid for a step outside 1–50 or a funding line below 1.
    """
    _check_sensitivity_input(step, funding_line)
    return sensitivity_of(
        results(engine, round_id=round_id),
        weights=latest_weights(engine, round_id=round_id),
        step=step,
        funding_line=funding_line,
        calibrated=calibrated,
    )


def _check_sensitivity_input(step: int, funding_line: int | None) -> None:
    if not 1 <= step <= 50:
        raise InputInvalid({"step": "重みの変動幅は1〜50ポイントで指定してください。"})
    if funding_line is not None and funding_line < 1:
        raise InputInvalid({"funding_line": "採択ラインは1件以上で指定してください。"})


def sensitivity_of(
    res: pd.DataFrame,
    *,
    weights: list[int],
    step: int,
    funding_line: int | None = None,
    calibrated: bool = False,
) -> SensitivityResult:
    """`weight_sensitivity` on a ranking already read with `results` (the page reads it once)."""
    _check_sensitivity_input(step, funding_line)
    source = "c" if calibrated else "p"
    means = res[["proposal_id", "project", "department"]].copy()
    for p in PERSPECTIVES:
        means[f"p{p}"] = res[f"{source}{p}"].astype("float64")
    return analyse(means, weights=weights, step=step, funding_line=funding_line)


def export_sensitivity(
    engine: Engine,
    *,
    actor: Actor,
    round_id: int,
    step: int,
    funding_line: int | None = None,
    calibrated: bool = False,
    fmt: str,
) -> bytes:
    """The 感度分析 table (every proposal) as xlsx or CSV (UTF-8 with BOM); audited.

    Raises PermissionDenied, NotFound, InputInvalid, RuleViolation (unknown format).
    """
    title, _ = _export_round(engine, actor=actor, round_id=round_id, fmt=fmt)
    table = sensitivity_table(
        weight_sensitivity(
            engine, round_id=round_id, step=step, funding_line=funding_line, calibrated=calibrated
        )
    )
    if fmt == "xlsx":
        basis = (
            f"採択ライン 上位{funding_line}件" if funding_line is not None else "上位・中位・下位（3等分）"
        )
        data = to_xlsx_bytes(
            table,
            sheet_name="感度分析",
            title=f"{title} 重みの感度分析（±{step}ポイント、{basis}"
            + ("、補正後の点数" if calibrated else "")
            + "）",
        )
    else:
        data = to_csv_bytes(table)
    record_export(
        engine,
        actor=actor,
        what=f"screening_sensitivity.{fmt}",
        filters={
            "round_id": round_id,
            "step": step,
            "funding_line": funding_line,
            "calibrated": calibrated,
        },
        rows=len(table),
    )
    return data


def sensitivity_table(result: SensitivityResult) -> pd.DataFrame:
    """The sensitivity table with Japanese headers for the 感度分析 tab."""
    t = result.table
    return pd.DataFrame(
        {
            "順位": t["base_rank"],
            "事業名": t["project"],
            "所管部局": t["department"],
            "加重合計": t["base_total"].astype("float64").round(2),
            "現在の区分": t["base_band"],
            "最高順位": t["best_rank"],
            "最低順位": t["worst_rank"],
            "取りうる区分": t["bands_seen"],
            "区分が変わるシナリオ数": t["changed_scenarios"],
            "判定": ["安定" if r else "境界" for r in t["robust"]],
        }
    )


def perspective_scores_long(df: pd.DataFrame) -> pd.DataFrame:
    """One row per proposal × perspective (事業名, 観点, 平均点, 順位) for the chart of scores by perspective."""
    columns = ["事業名", "観点", "観点番号", "平均点", "順位"]
    if df.empty:
        return pd.DataFrame(columns=columns)
    n = len(df)
    k = len(PERSPECTIVES)
    numbers = list(PERSPECTIVES) * n
    return pd.DataFrame(
        {
            "事業名": df["project"].to_numpy().repeat(k),
            "観点": [PERSPECTIVE[p] for p in numbers],
            "観点番号": numbers,
            "平均点": df[[f"p{p}" for p in PERSPECTIVES]].astype("float64").to_numpy().reshape(-1),
            "順位": df["rank"].to_numpy().repeat(k),
        },
        columns=columns,
    )


def anchors_from_text(texts: dict[int, str]) -> dict[str, list[str]]:
    """Anchors as typed (one level per line, blank lines dropped), keyed as the rubric stores them."""
    return {str(p): [line for line in text.splitlines() if line.strip()] for p, text in texts.items()}


def ranking_headline(df: pd.DataFrame) -> str:
    """One line for busy readers: who leads on the raw and on the calibrated total (from `results`)."""
    if df.empty:
        return ""

    def leader(rank_col: str, total_col: str) -> str:
        top = df[df[rank_col] == df[rank_col].min()].sort_values("project")
        others = f" ほか{len(top) - 1}件" if len(top) > 1 else ""
        return f"{top['project'].iloc[0]}{others}（{float(top[total_col].iloc[0]):.2f}点）"

    return f"素点の1位: {leader('rank', 'weighted_total')}　補正後の1位: {leader('calibrated_rank', 'calibrated_total')}"


@dataclass(frozen=True)
class RankingSummary:
    """The counts above the ranking (from `results`, as filtered)."""

    proposals: int
    disagreements: int  # proposals whose reviewers disagree (see DISAGREEMENT_SD)
    rank_changes: int  # proposals whose rank differs between the raw and the calibrated total


def ranking_summary(df: pd.DataFrame) -> RankingSummary:
    return RankingSummary(
        proposals=len(df),
        disagreements=int(df["disagreement"].astype(bool).sum()),
        rank_changes=int((df["rank"] != df["calibrated_rank"]).sum()),
    )


def robust_counts(result: SensitivityResult) -> tuple[int, int]:
    """(stable, borderline): proposals whose rank band never changes, and those whose band can."""
    robust = result.table["robust"].astype(bool)
    return int(robust.sum()), int((~robust).sum())
