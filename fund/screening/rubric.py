"""評価基準: the four weights and the anchored levels of a round, in versions."""

import json
import tomllib
from dataclasses import dataclass
from typing import Annotated, Any

import pandas as pd
from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from fund.db import query_df, read_session
from fund.errors import InputInvalid, NotFound
from fund.models import (
    RubricVersion,
)
from fund.settings import get_settings

PERSPECTIVES = (1, 2, 3, 4)
LEVELS = 5
DEFAULT_WEIGHTS = [25, 25, 25, 25]
DISAGREEMENT_SD = 1.0  # a perspective whose reviewers' scores spread more than this is flagged
MAX_COMMENT = 1000
SAME_DEPARTMENT_REASON = "提案部局と同じ所属のため自動的に除斥"


def default_anchors() -> dict[str, list[str]]:
    """The anchored descriptions shipped in data/screening.toml (perspective "1"–"4" → 5 levels)."""
    with (get_settings().seed_dir / "screening.toml").open("rb") as fh:
        config = tomllib.load(fh)
    return {str(k): [str(x) for x in v] for k, v in config["anchors"].items()}


class RubricCreate(BaseModel):
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


def validate_rubric(weights: list[int], anchors: dict[str, list[str]]) -> RubricCreate:
    """Check weights (4 integers 0–100 summing to 100) and anchors; raises InputInvalid in Japanese."""
    try:
        rubric = RubricCreate.model_validate({"weights": weights, "anchors": anchors})
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


def anchors_from_text(texts: dict[int, str]) -> dict[str, list[str]]:
    """Anchors as typed (one level per line, blank lines dropped), keyed as the rubric stores them."""
    return {str(p): [line for line in text.splitlines() if line.strip()] for p, text in texts.items()}
