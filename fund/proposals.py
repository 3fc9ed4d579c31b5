"""事業提案: listing proposals with the derived citizen-feel evidence."""

import pandas as pd
from sqlalchemy import Engine

from fund.auth import Actor
from fund.db import query_df
from fund.labels import NOVELTY, PROPOSAL_STATUS
from fund.models import Novelty, ProposalStatus, Role


def evidence(
    *,
    expected_users: int,
    uses_per_user_per_year: float,
    procedures_per_year: int,
    minutes_saved_per_procedure: float,
    fund_share_yen: int,
) -> dict[str, float | None]:
    """Derived evidence: touchpoints/年 (users × uses), resident hours saved/年, 基金充当額 per 1,000 touchpoints."""
    touchpoints = expected_users * uses_per_user_per_year
    hours_saved = procedures_per_year * minutes_saved_per_procedure / 60
    per_thousand = fund_share_yen / touchpoints * 1000 if touchpoints > 0 else None
    return {"touchpoints": touchpoints, "hours_saved": hours_saved, "yen_per_1000_touchpoints": per_thousand}


def proposal_frame(
    engine: Engine,
    *,
    actor: Actor,
    fiscal_year: int | None = None,
    status: ProposalStatus | None = None,
    department_id: int | None = None,
    search: str | None = None,
    limit: int = 1000,
) -> pd.DataFrame:
    """Proposals with project, department, money and derived evidence. 事業担当 see their own department only."""
    clauses: list[str] = []
    params: dict[str, object] = {"limit": limit}
    if actor.role == Role.department:
        department_id = actor.department_id if actor.department_id is not None else -1
    if fiscal_year is not None:
        clauses.append("pr.fiscal_year = :fy")
        params["fy"] = fiscal_year
    if status is not None:
        clauses.append("pr.status = :status")
        params["status"] = status.value
    if department_id is not None:
        clauses.append("p.department_id = :dept")
        params["dept"] = department_id
    if search:
        clauses.append("(p.name LIKE :q OR pr.summary LIKE :q)")
        params["q"] = f"%{search}%"
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    df = query_df(
        engine,
        f"""
        SELECT pr.id, pr.fiscal_year, p.name AS project, d.name AS department, pr.status,
               pr.project_cost_yen, pr.fund_share_yen, pr.expected_users, pr.uses_per_user_per_year,
               pr.procedures_per_year, pr.minutes_saved_per_procedure, pr.novelty, pr.is_sample,
               (p.first_fiscal_year = pr.fiscal_year) AS is_new
        FROM proposal pr
        JOIN project p ON p.id = pr.project_id
        JOIN department d ON d.id = p.department_id
        {where}
        ORDER BY pr.fiscal_year DESC, pr.id
        LIMIT :limit
        """,
        params,
    )
    df["touchpoints"] = df["expected_users"] * df["uses_per_user_per_year"]
    df["hours_saved"] = df["procedures_per_year"] * df["minutes_saved_per_procedure"] / 60
    df["yen_per_1000_touchpoints"] = (
        df["fund_share_yen"] / df["touchpoints"].where(df["touchpoints"] > 0)
    ) * 1000
    df["status_label"] = [PROPOSAL_STATUS[ProposalStatus(s)] for s in df["status"]]
    df["novelty_label"] = [NOVELTY[Novelty(n)] if isinstance(n, str) else "" for n in df["novelty"]]
    return df


def status_counts(engine: Engine, *, fiscal_year: int) -> dict[str, int]:
    """Proposals of the 年度 per status label, every status listed (zero included)."""
    df = query_df(
        engine,
        "SELECT status, COUNT(*) AS n FROM proposal WHERE fiscal_year = :fy GROUP BY status",
        {"fy": fiscal_year},
    )
    counts = dict(zip(df["status"], df["n"], strict=True))
    return {label: int(counts.get(s.value, 0)) for s, label in PROPOSAL_STATUS.items()}


def timeline(engine: Engine, *, proposal_id: int) -> pd.DataFrame:
    """The proposal's status changes, oldest first, with Japanese labels and JST times."""
    df = query_df(
        engine,
        "SELECT occurred_at, from_status, to_status, actor, reason FROM proposal_event "
        "WHERE proposal_id = :p ORDER BY occurred_at, id",
        {"p": proposal_id},
    )
    label = {s.value: PROPOSAL_STATUS[s] for s in ProposalStatus}
    return pd.DataFrame(
        {
            "日時": pd.to_datetime(df["occurred_at"], utc=True)
            .dt.tz_convert("Asia/Tokyo")
            .dt.strftime("%Y-%m-%d %H:%M"),
            "変更前": [label.get(s, "") if isinstance(s, str) else "" for s in df["from_status"]],
            "変更後": [label.get(s, s) for s in df["to_status"]],
            "担当者": df["actor"],
            "理由": df["reason"],
        }
    )
