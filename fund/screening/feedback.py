"""Feedback: what the reviewers said, to the screeners during a round and to the department after it.

During the round, screeners read every counted reviewer's scores and comments beside the results.
After the decision, whoever may see a proposal (its own department included) reads the outcome from
the frozen snapshot: the decision and its reason, the mean score per perspective, the rank, and each
reviewer's scores and comments — reviewers named only when the round's policy says so, otherwise
審査担当A, B, … in a fixed order."""

import string
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine
from sqlmodel import col, select

from fund.auth import Action, Actor, require
from fund.db import query_df, read_session
from fund.labels import PERSPECTIVE
from fund.models import ScreeningDecision
from fund.proposals.access import visible_proposal
from fund.screening.rounds import decided_round_ids
from fund.screening.rubric import PERSPECTIVES

COMMENT_COLUMNS = ["審査担当", "観点", "点数", "コメント", "採点した版"]


def reviewer_comments(engine: Engine, *, actor: Actor, round_id: int, proposal_id: int) -> pd.DataFrame:
    """Every counted reviewer's score and comment on the proposal in the round, for the screeners."""
    require(actor, Action.view_screening)
    df = query_df(
        engine,
        """
        SELECT u.display_name AS reviewer, s.perspective, s.score, s.comment,
               COALESCE(s.proposal_revision, 1) AS revision
        FROM review_score s
        JOIN review_assignment ra ON ra.id = s.assignment_id
        JOIN app_user u ON u.id = ra.reviewer_id
        WHERE ra.round_id = :r AND ra.proposal_id = :p AND NOT ra.recused
        ORDER BY u.display_name, s.perspective
        """,
        {"r": round_id, "p": proposal_id},
    )
    return _comment_table(df.to_dict("records"), names=None)


def _comment_table(rows: list[dict[str, Any]], *, names: dict[str, str] | None) -> pd.DataFrame:
    return pd.DataFrame(
        [
            [
                names[r["reviewer"]] if names is not None else r["reviewer"],
                PERSPECTIVE[int(r["perspective"])],
                int(r["score"]),
                str(r["comment"] or ""),
                f"第{int(r['revision'])}版",
            ]
            for r in rows
        ],
        columns=COMMENT_COLUMNS,
    )


@dataclass(frozen=True)
class RoundFeedback:
    round_title: str
    decided_at: datetime
    decision: str
    reason: str
    rank: int | None  # by the raw weighted total; None when not scored on every perspective
    ranked: int  # proposals ranked in the round
    perspective_means: pd.DataFrame  # 観点, 平均点, 重み
    weighted_total: float | None
    comments: pd.DataFrame  # COMMENT_COLUMNS


def _pseudonyms(logins: list[str]) -> dict[str, str]:
    """審査担当A, B, … by login order: stable within the round, and no name behind it."""
    ordered = sorted(set(logins))
    return {
        login: f"審査担当{string.ascii_uppercase[i % 26]}{'' if i < 26 else i // 26}"
        for i, login in enumerate(ordered)
    }


def _of_snapshot(row: ScreeningDecision, proposal_id: int) -> RoundFeedback:
    snap = row.snapshot
    decided = next(d for d in snap["decisions"] if int(d["proposal_id"]) == proposal_id)
    ranked = [r for r in snap["ranking"] if r["rank"] is not None]
    mine = next((r for r in snap["ranking"] if int(r["proposal_id"]) == proposal_id), None)
    weights = snap["rubric"]["weights"]
    means = pd.DataFrame(
        {
            "観点": [PERSPECTIVE[p] for p in PERSPECTIVES],
            "平均点": [None if mine is None else mine[f"p{p}"] for p in PERSPECTIVES],
            "重み": [f"{weights[p - 1]}%" for p in PERSPECTIVES],
        }
    )
    scores = [
        s | {"revision": s["proposal_revision"]}
        for s in snap["scores"]
        if int(s["proposal_id"]) == proposal_id
    ]
    if snap["policy"]["feedback_names"]:
        names = {s["reviewer"]: s["reviewer_name"] for s in scores}
    else:
        names = _pseudonyms([s["reviewer"] for s in scores])
    return RoundFeedback(
        round_title=str(snap["round"]["title"]),
        decided_at=datetime.fromisoformat(snap["decided_at"]),
        decision=str(decided["decision"]),
        reason=str(decided["reason"]),
        rank=None if mine is None or mine["rank"] is None else int(mine["rank"]),
        ranked=len(ranked),
        perspective_means=means,
        weighted_total=None if mine is None else mine["weighted_total"],
        comments=_comment_table(scores, names=names),
    )


def proposal_feedback(engine: Engine, *, actor: Actor, proposal_id: int) -> list[RoundFeedback]:
    """The outcome of every decided round that reviewed the proposal, newest first; empty while
    no round that reviewed it is decided. Anyone who may see the proposal may read it."""
    require(actor, Action.view_proposals)
    with read_session(engine) as session:
        visible_proposal(session, actor, proposal_id)
        decided = session.exec(
            select(ScreeningDecision)
            .where(col(ScreeningDecision.round_id).in_(decided_round_ids(session, proposal_id)))
            .order_by(col(ScreeningDecision.decided_at).desc())
        ).all()
        for r in decided:
            session.expunge(r)
    return [_of_snapshot(r, proposal_id) for r in decided]
