"""審査・採点: screening rounds, scores and results per proposal."""

import pandas as pd
from sqlalchemy import Engine

from fund.db import query_df

DISAGREEMENT_SD = 1.0  # a perspective whose reviewers' scores spread more than this is flagged


def rounds(engine: Engine) -> pd.DataFrame:
    return query_df(
        engine,
        "SELECT id, fiscal_year, name, is_sample FROM screening_round ORDER BY fiscal_year DESC, id DESC",
    )


def latest_weights(engine: Engine, *, round_id: int) -> list[int]:
    df = query_df(
        engine,
        "SELECT weights FROM rubric_version WHERE round_id = :r ORDER BY version DESC LIMIT 1",
        {"r": round_id},
    )
    import json

    raw = df["weights"].iloc[0]
    return [int(w) for w in (raw if isinstance(raw, list) else json.loads(raw))]


def results(engine: Engine, *, round_id: int) -> pd.DataFrame:
    """Per proposal: mean score per perspective (1–4), weighted total (max 5), reviews and spread.

    Recused reviews never count.
    """
    scores = query_df(
        engine,
        """
        SELECT ra.proposal_id, p.name AS project, d.name AS department, s.perspective,
               AVG(s.score) AS mean_score, STDDEV_SAMP(s.score) AS sd, COUNT(*) AS n
        FROM review_score s
        JOIN review_assignment ra ON ra.id = s.assignment_id AND NOT ra.recused
        JOIN proposal pr ON pr.id = ra.proposal_id
        JOIN project p ON p.id = pr.project_id
        JOIN department d ON d.id = p.department_id
        WHERE ra.round_id = :r
        GROUP BY ra.proposal_id, p.name, d.name, s.perspective
        ORDER BY ra.proposal_id, s.perspective
        """,
        {"r": round_id},
    )
    if scores.empty:
        return pd.DataFrame(
            columns=[
                "proposal_id",
                "project",
                "department",
                "p1",
                "p2",
                "p3",
                "p4",
                "weighted_total",
                "reviews",
                "max_sd",
                "disagreement",
            ]
        )
    weights = latest_weights(engine, round_id=round_id)
    wide = scores.pivot_table(
        index=["proposal_id", "project", "department"], columns="perspective", values="mean_score"
    ).reset_index()
    wide.columns = ["proposal_id", "project", "department"] + [f"p{int(c)}" for c in wide.columns[3:]]
    spread = scores.groupby("proposal_id").agg(reviews=("n", "max"), max_sd=("sd", "max")).reset_index()
    out = wide.merge(spread, on="proposal_id")
    out["weighted_total"] = sum(out[f"p{i + 1}"] * weights[i] / 100 for i in range(4))
    out["disagreement"] = out["max_sd"] > DISAGREEMENT_SD
    out = out.sort_values("weighted_total", ascending=False).reset_index(drop=True)
    out.insert(0, "rank", range(1, len(out) + 1))
    return out


def progress(engine: Engine, *, fiscal_year: int) -> dict[str, int]:
    """Screening progress for the 年度: assignments, completed (all four perspectives scored), recused."""
    df = query_df(
        engine,
        """
        SELECT COUNT(*) AS assignments,
               COUNT(*) FILTER (WHERE ra.recused) AS recused,
               COUNT(*) FILTER (WHERE NOT ra.recused AND (
                   SELECT COUNT(*) FROM review_score s WHERE s.assignment_id = ra.id) = 4) AS done
        FROM review_assignment ra JOIN screening_round r ON r.id = ra.round_id
        WHERE r.fiscal_year = :fy
        """,
        {"fy": fiscal_year},
    )
    return {k: int(v) for k, v in df.iloc[0].items()}
