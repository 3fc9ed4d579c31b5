"""審査ラウンド: a 年度's screening round and its new rubric versions."""

import pandas as pd
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from fund import audit, clock
from fund.auth import Action, Actor, can, require
from fund.db import query_df, read_session, write_session
from fund.errors import InputInvalid, NotFound, PermissionDenied, RuleViolation
from fund.fiscal import fiscal_label
from fund.models import (
    AuditAction,
    FiscalYear,
    ReviewAssignment,
    ReviewScore,
    RoundPolicy,
    RubricVersion,
    ScreeningDecision,
    ScreeningRound,
)
from fund.screening.rubric import (
    DEFAULT_WEIGHTS,
    Rubric,
    _json_list,
    _latest_rubric_row,
    default_anchors,
    validate_rubric,
)


def rounds(engine: Engine) -> pd.DataFrame:
    return query_df(
        engine,
        "SELECT id, fiscal_year, name, is_sample FROM screening_round ORDER BY fiscal_year DESC, id DESC",
    )


def round_label(fiscal_year: int, name: str) -> str:
    return f"{fiscal_label(fiscal_year)} {name}"


def require_open(session: Session, round_id: int) -> ScreeningRound:
    """The round, unless its result is decided (確定): after that nothing in it changes."""
    screening_round = session.get(ScreeningRound, round_id)
    if screening_round is None:
        raise NotFound(f"審査ラウンド {round_id} は見つかりません。")
    decided = session.exec(select(ScreeningDecision).where(ScreeningDecision.round_id == round_id)).first()
    if decided is not None:
        raise RuleViolation(
            f"{round_label(screening_round.fiscal_year, screening_round.name)}の審査結果は"
            f"{clock.in_japan(decided.decided_at):%Y年%m月%d日}に確定済みのため、変更できません"
            f"（確定時のハッシュ {decided.content_hash[:12]}…）。"
        )
    return screening_round


def policy(session: Session, round_id: int) -> RoundPolicy:
    """The round's review rules (the defaults when none were set)."""
    row = session.exec(select(RoundPolicy).where(RoundPolicy.round_id == round_id)).first()
    return row or RoundPolicy(round_id=round_id)


def decided_round_ids(session: Session, proposal_id: int) -> list[int]:
    """The decided rounds in which the proposal was assigned for review."""
    return list(
        session.exec(
            select(ScreeningDecision.round_id)
            .join(ReviewAssignment, col(ReviewAssignment.round_id) == col(ScreeningDecision.round_id))
            .where(ReviewAssignment.proposal_id == proposal_id)
            .distinct()
        ).all()
    )


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
    reason: str = "",
) -> Rubric:
    """Add a rubric version with new weights and/or anchors (anchors default to the current ones).

    Scores already given keep their version. Once the round has a score the rubric is fixed: a new
    version needs a 管理者 and a reason. Raises InputInvalid, NotFound, PermissionDenied,
    RuleViolation (no change, decided round).
    """
    require(actor, Action.score)
    reason = reason.strip()
    with write_session(engine) as session:
        require_open(session, round_id)
        latest = _latest_rubric_row(session, round_id)
        old_weights = [int(w) for w in _json_list(latest.weights)]
        old_anchors = {str(k): list(v) for k, v in _json_list(latest.anchors).items()}
        rubric = validate_rubric(weights, anchors if anchors is not None else old_anchors)
        if rubric.weights == old_weights and rubric.anchors == old_anchors:
            raise RuleViolation(
                f"第{latest.version}版から重み・評価基準が変わっていないため、新しい版は作りません。"
            )
        scored = session.exec(
            select(ReviewScore.id)
            .join(ReviewAssignment, col(ReviewAssignment.id) == col(ReviewScore.assignment_id))
            .where(ReviewAssignment.round_id == round_id)
        ).first()
        if scored is not None:
            if not can(actor, Action.screening_exception):
                raise PermissionDenied(
                    "採点が始まったラウンドの重み・評価基準は固定されています。新しい版は管理者が理由を添えて作成します。"
                )
            if not reason or len(reason) > 500:
                raise InputInvalid(
                    {"reason": "採点開始後に評価基準を改める理由を500文字以内で入力してください。"}
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
            reason=reason,
        )
        return Rubric(
            id=row.id or 0,
            round_id=round_id,
            version=row.version,
            weights=rubric.weights,
            anchors=rubric.anchors,
        )


MAX_MIN_REVIEWS = 10


def set_policy(
    engine: Engine, *, actor: Actor, round_id: int, min_reviews: int, feedback_names: bool, reason: str
) -> RoundPolicy:
    """Set the round's review rules: the counted reviews a proposal needs before 採択, and whether
    departments see the reviewers' names beside their comments. 管理者 only, with a reason: the
    minimum is a safeguard the screeners themselves must not lower. Raises PermissionDenied,
    NotFound, InputInvalid, RuleViolation (decided round, no change)."""
    require(actor, Action.screening_exception)
    reason = reason.strip()
    errors: dict[str, str] = {}
    if not 1 <= min_reviews <= MAX_MIN_REVIEWS:
        errors["min_reviews"] = f"採択に必要な審査数は1〜{MAX_MIN_REVIEWS}件で指定してください。"
    if not reason or len(reason) > 500:
        errors["reason"] = "審査ルールを変える理由を500文字以内で入力してください。"
    if errors:
        raise InputInvalid(errors)
    with write_session(engine) as session:
        require_open(session, round_id)
        row = session.exec(select(RoundPolicy).where(RoundPolicy.round_id == round_id)).first()
        before = policy(session, round_id)
        if before.min_reviews == min_reviews and before.feedback_names == feedback_names:
            raise RuleViolation("審査ルールが変わっていないため、記録しませんでした。")
        old = {"min_reviews": before.min_reviews, "feedback_names": before.feedback_names}
        row = row or RoundPolicy(round_id=round_id)
        row.min_reviews, row.feedback_names = min_reviews, feedback_names
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.screening_policy,
            entity="screening_round",
            entity_id=round_id,
            before=old,
            after={"min_reviews": min_reviews, "feedback_names": feedback_names},
            reason=reason,
        )
        session.refresh(row)
        session.expunge(row)
    return row


def round_policy(engine: Engine, *, round_id: int) -> RoundPolicy:
    """The round's review rules, for the pages (defaults when none were set)."""
    with read_session(engine) as session:
        row = policy(session, round_id)
        if row.id is not None:
            session.expunge(row)
        return row
