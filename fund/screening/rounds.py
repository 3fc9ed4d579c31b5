"""審査ラウンド: a 年度's screening round and its new rubric versions."""

import pandas as pd
from sqlalchemy import Engine
from sqlmodel import select

from fund import audit
from fund.auth import Action, Actor, require
from fund.db import query_df, write_session
from fund.errors import InputInvalid, NotFound, RuleViolation
from fund.fiscal import fiscal_label
from fund.models import (
    AuditAction,
    FiscalYear,
    RubricVersion,
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
