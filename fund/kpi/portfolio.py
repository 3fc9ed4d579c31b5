"""The roll-up per 年度 and by the four perspectives: residents reached, touchpoints, hours saved."""

from datetime import date

import pandas as pd
from sqlalchemy import Engine

from fund import clock
from fund.auth import SYSTEM
from fund.db import query_df
from fund.kpi.queries import KpiFilter, _status_sql, filter_options
from fund.kpi.rules import JUDGED
from fund.labels import PERSPECTIVE
from fund.models import (
    AllocationStatus,
    KpiStatus,
    Novelty,
    ProposalStatus,
)

REACH_UNIT = "人"
NOVEL = ("national_first", "prefecture_first")


def funded_evidence_by_year(engine: Engine) -> pd.DataFrame:
    """Per 年度, over funded proposals (事業化, or with an approved allocation for the 年度): projects,
    expected users (人), touchpoints per year (users × uses), hours saved per year (procedures ×
    minutes ÷ 60), projects marked 全国初/県内初, and whether any figure is sample data."""
    return query_df(
        engine,
        """
        SELECT pr.fiscal_year,
               COUNT(DISTINCT pr.project_id) AS funded_projects,
               SUM(pr.expected_users) AS expected_users,
               SUM(pr.expected_users * pr.uses_per_user_per_year) AS touchpoints,
               SUM(pr.procedures_per_year * pr.minutes_saved_per_procedure) / 60.0 AS hours_saved,
               SUM(CASE WHEN pr.novelty IN (:national_first, :prefecture_first) THEN 1 ELSE 0 END)
                   AS novel_projects,
               MAX(CASE WHEN pr.is_sample THEN 1 ELSE 0 END) AS any_sample
        FROM proposal pr
        WHERE pr.status = :funded
           OR EXISTS (SELECT 1 FROM allocation a WHERE a.project_id = pr.project_id
                      AND a.fiscal_year = pr.fiscal_year AND a.status = :approved)
        GROUP BY pr.fiscal_year
        ORDER BY pr.fiscal_year
        """,
        {
            "national_first": Novelty.national_first.value,
            "prefecture_first": Novelty.prefecture_first.value,
            "funded": ProposalStatus.funded.value,
            "approved": AllocationStatus.approved.value,
        },
    )


def _reach_by_year(engine: Engine, *, today: date) -> pd.DataFrame:
    """Residents reached per 年度 from perspective-1 indicators counted in 人: target and actual.

    One figure per project and 年度 (the largest, when a project has several such indicators), so
    the same residents are not counted twice. The actual is NULL when nothing was measured."""
    cte, row_where, params = _status_sql(KpiFilter(perspective=1), today=today)
    params["reach_unit"] = REACH_UNIT
    return query_df(
        engine,
        f"""{cte}
        SELECT fiscal_year, SUM(reach_target) AS reach_target, SUM(reach_actual) AS reach_actual,
               COUNT(*) AS reach_projects
        FROM (SELECT s.fiscal_year, s.project_id, MAX(s.target_value) AS reach_target,
                     MAX(s.actual_value) AS reach_actual
              FROM kpi_status s {row_where} AND s.unit = :reach_unit
              GROUP BY s.fiscal_year, s.project_id) per_project
        GROUP BY fiscal_year
        """,
        params,
    )


def _projects_on_track_by_year(engine: Engine, *, today: date) -> pd.DataFrame:
    """Per 年度: projects judged (at least one indicator-year with an actual) and on track (none of
    those 遅れ)."""
    cte, _, params = _status_sql(KpiFilter(), today=today)
    return query_df(
        engine,
        f"""{cte}
        SELECT fiscal_year, COUNT(*) AS projects_judged,
               SUM(CASE WHEN behind = 0 THEN 1 ELSE 0 END) AS projects_on_track
        FROM (SELECT fiscal_year, project_id,
                     MAX(CASE WHEN status = :s_behind THEN 1 ELSE 0 END) AS behind
              FROM kpi_status WHERE status IN (:s_achieved, :s_on_track, :s_behind)
              GROUP BY fiscal_year, project_id) per_project
        GROUP BY fiscal_year
        """,
        params,
    )


def portfolio_by_year(engine: Engine, *, today: date | None = None) -> pd.DataFrame:
    """Per 年度: funded projects, residents reached (KPI target/actual, proposals' expected users),
    touchpoints per year, hours saved per year, projects judged / on track and the on-track share."""
    today = today or clock.today_jst()
    evidence = funded_evidence_by_year(engine).set_index("fiscal_year")
    reach = _reach_by_year(engine, today=today).set_index("fiscal_year")
    judged = _projects_on_track_by_year(engine, today=today).set_index("fiscal_year")
    years, _ = filter_options(engine, actor=SYSTEM)  # the roll-up covers the whole fund
    rows = []
    for year in sorted(set(evidence.index.astype(int)) | set(years)):
        ev = evidence.loc[year] if year in evidence.index else None
        rc = reach.loc[year] if year in reach.index else None
        n_judged = int(judged.loc[year, "projects_judged"]) if year in judged.index else 0
        n_on_track = int(judged.loc[year, "projects_on_track"]) if year in judged.index else 0
        rows.append(
            {
                "fiscal_year": year,
                "funded_projects": 0 if ev is None else int(ev["funded_projects"]),
                "reach_target": 0.0
                if rc is None or pd.isna(rc["reach_target"])
                else float(rc["reach_target"]),
                "reach_actual": None
                if rc is None or pd.isna(rc["reach_actual"])
                else float(rc["reach_actual"]),
                "expected_users": 0
                if ev is None or pd.isna(ev["expected_users"])
                else int(ev["expected_users"]),
                "touchpoints": 0.0 if ev is None or pd.isna(ev["touchpoints"]) else float(ev["touchpoints"]),
                "hours_saved": 0.0 if ev is None or pd.isna(ev["hours_saved"]) else float(ev["hours_saved"]),
                "novel_projects": 0 if ev is None else int(ev["novel_projects"]),
                "projects_judged": n_judged,
                "projects_on_track": n_on_track,
                "on_track_share": n_on_track / n_judged if n_judged else None,
                "evidence_is_sample": bool(ev is not None and ev["any_sample"] > 0),
            }
        )
    return pd.DataFrame(rows)


def perspective_rollup(
    engine: Engine,
    *,
    fiscal_year: int | None = None,
    today: date | None = None,
    by_year: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per perspective (1 reach … 4 novelty): indicator-years evidencing it, their statuses,
    the share judged on track (達成+順調 ÷ 達成+順調+遅れ), and the portfolio measure that goes with it:
    residents reached (人), touchpoints per year (回), hours saved per year (時間), novel projects (事業).

    The measures come from `portfolio_by_year` (pass `by_year` when it has been read already)."""
    today = today or clock.today_jst()
    evidence = by_year if by_year is not None else portfolio_by_year(engine, today=today)
    if fiscal_year is not None:
        evidence = evidence[evidence["fiscal_year"] == fiscal_year]
    reach_actual = pd.to_numeric(evidence["reach_actual"], errors="coerce").sum(min_count=1)
    measures = {
        1: ("想定利用者数（人）", float(evidence["expected_users"].sum())),
        2: ("利用回数（回/年）", float(evidence["touchpoints"].sum())),
        3: ("削減時間（時間/年）", float(evidence["hours_saved"].sum())),
        4: ("全国初・県内初（事業）", float(evidence["novel_projects"].sum())),
    }
    cte, row_where, params = _status_sql(KpiFilter(fiscal_year=fiscal_year), today=today)
    by_status = ", ".join(
        f"SUM(CASE WHEN s.status = :s{i} THEN 1 ELSE 0 END) AS s{i}" for i in range(len(KpiStatus))
    )
    params |= {f"s{i}": status.value for i, status in enumerate(KpiStatus)}
    # Perspectives are single digits 1–4 in a JSON list, so a text match is exact.
    per = query_df(
        engine,
        f"""{cte}
        SELECT pv.n AS perspective, COUNT(DISTINCT s.indicator_id) AS indicators, {by_status}
        FROM kpi_status s
        JOIN (VALUES (1), (2), (3), (4)) AS pv (n)
          ON s.perspectives_text LIKE '%' || CAST(pv.n AS VARCHAR) || '%'
        {row_where}
        GROUP BY pv.n
        """,
        params,
    ).set_index("perspective")
    rows = []
    for p, label in PERSPECTIVE.items():
        found = per.loc[p] if p in per.index else None
        counts = {
            status.value: 0 if found is None else int(found[f"s{i}"]) for i, status in enumerate(KpiStatus)
        }
        judged = sum(counts[s] for s in JUDGED)
        good = counts[KpiStatus.achieved.value] + counts[KpiStatus.on_track.value]
        measure_label, measure_value = measures[p]
        rows.append(
            {
                "perspective": p,
                "perspective_label": label,
                "indicators": 0 if found is None else int(found["indicators"]),
                **counts,
                "on_track_share": good / judged if judged else None,
                "measure_label": measure_label,
                "measure_value": measure_value,
                "reach_actual": float(reach_actual) if p == 1 else None,
                "reach_target": float(evidence["reach_target"].sum()) if p == 1 else None,
            }
        )
    return pd.DataFrame(rows)
