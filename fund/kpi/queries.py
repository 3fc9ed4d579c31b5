"""Reads: indicator-years with their status (scoped to the actor), counts, the overdue list, trend data."""

import json
import math
from dataclasses import dataclass, replace
from datetime import date

import pandas as pd
from sqlalchemy import Engine

from fund import clock
from fund.auth import Actor, department_scope, scoped_department
from fund.db import query_df
from fund.fiscal import fiscal_year_bounds, fiscal_year_of
from fund.kpi.rules import ON_TRACK_RATE, TRACKED_INDICATOR_SQL, TRACKED_PARAMS, tracked_year_sql
from fund.labels import KPI_KIND, PERSPECTIVE
from fund.models import (
    KpiKind,
    KpiStatus,
)


def _perspective_list(value: object) -> list[int]:
    if isinstance(value, list):
        return [int(v) for v in value]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return [int(v) for v in json.loads(str(value))]


FRAME_COLUMNS = [
    "indicator_id",
    "project_id",
    "project",
    "department_id",
    "department",
    "kind",
    "kind_label",
    "indicator",
    "unit",
    "baseline_value",
    "baseline_year",
    "direction",
    "perspectives",
    "perspective_labels",
    "source_note",
    "fiscal_year",
    "target_value",
    "target_on_path",
    "target_year_is_estimate",
    "actual_value",
    "measured_on",
    "source",
    "is_sample",
    "entered_by",
    "achievement_rate",
    "status",
    "year_finished",
]


@dataclass(frozen=True)
class KpiFilter:
    """Which indicator-years to look at. Indicator filters (部局, 事業, 指標) narrow the indicators
    before the path is computed; row filters (年度, 部局名, 観点, 状況) narrow the result."""

    department_id: int | None = None
    project_id: int | None = None
    indicator_id: int | None = None
    fiscal_year: int | None = None
    department: str | None = None
    perspective: int | None = None
    status: str | None = None
    target_years_only: bool = False


_STATUS_CTE = """
WITH kpi_status AS (
    SELECT y.*, y.fiscal_year <= :last_finished_year AS year_finished,
           CASE
               WHEN y.achievement_rate IS NULL AND y.fiscal_year > :last_finished_year THEN :s_not_due
               WHEN y.achievement_rate IS NULL THEN :s_not_measured
               WHEN y.achievement_rate >= 1 THEN :s_achieved
               WHEN y.achievement_rate >= :on_track_rate THEN :s_on_track
               ELSE :s_behind
           END AS status
    FROM kpi_year y
    WHERE {tracked} {indicator_where}
)
"""


def _status_sql(flt: KpiFilter, *, today: date) -> tuple[str, str, dict[str, object]]:
    """(the WITH clause defining `kpi_status`, a WHERE clause over it aliased `s`, parameters)."""
    params: dict[str, object] = {
        **TRACKED_PARAMS,
        # A 年度 has ended once its 31 March is before today: every 年度 before the current one.
        "last_finished_year": fiscal_year_of(today) - 1,
        "on_track_rate": ON_TRACK_RATE,
        "s_not_due": KpiStatus.not_due.value,
        "s_not_measured": KpiStatus.not_measured.value,
        "s_achieved": KpiStatus.achieved.value,
        "s_on_track": KpiStatus.on_track.value,
        "s_behind": KpiStatus.behind.value,
    }
    indicator: list[str] = []
    if flt.department_id is not None:
        indicator.append("y.department_id = :department_id")
        params["department_id"] = flt.department_id
    if flt.project_id is not None:
        indicator.append("y.project_id = :project_id")
        params["project_id"] = flt.project_id
    if flt.indicator_id is not None:
        indicator.append("y.indicator_id = :indicator_id")
        params["indicator_id"] = flt.indicator_id
    rows: list[str] = []
    if flt.fiscal_year is not None:
        rows.append("s.fiscal_year = :fiscal_year")
        params["fiscal_year"] = flt.fiscal_year
    if flt.department is not None:
        rows.append("s.department_id IN (SELECT id FROM department WHERE name = :department)")
        params["department"] = flt.department
    if flt.perspective is not None:
        # Perspectives are single digits 1–4 in a JSON list, so a text match is exact.
        rows.append("s.perspectives_text LIKE :perspective")
        params["perspective"] = f"%{int(flt.perspective)}%"
    if flt.status is not None:
        rows.append("s.status = :status")
        params["status"] = flt.status
    if flt.target_years_only:
        rows.append("NOT s.target_on_path")
    cte = _STATUS_CTE.format(
        tracked=tracked_year_sql("y.indicator_id"), indicator_where="".join(f" AND {c}" for c in indicator)
    )
    return cte, ("WHERE " + " AND ".join(rows)) if rows else "", params


def kpi_frame(
    engine: Engine,
    *,
    actor: Actor,
    department_id: int | None = None,
    project_id: int | None = None,
    today: date | None = None,
    where: KpiFilter | None = None,
    limit: int | None = None,
    oldest_first: bool = False,
) -> pd.DataFrame:
    """One row per indicator and tracked 年度: target (own or on the path), actual, rate and status,
    by department, project and indicator (or by 年度 first with `oldest_first`).

    `where` filters in the database; `limit` returns only the first rows (a screen's worth).
    事業担当 see their own department's indicators only."""
    today = today or clock.today_jst()
    flt = where or KpiFilter()
    if department_id is not None or project_id is not None:
        flt = replace(
            flt,
            department_id=department_id if department_id is not None else flt.department_id,
            project_id=project_id if project_id is not None else flt.project_id,
        )
    flt = replace(flt, department_id=scoped_department(actor, flt.department_id))
    cte, row_where, params = _status_sql(flt, today=today)
    if limit is not None:
        params["limit"] = int(limit)
    order = (
        "s.fiscal_year, s.department_id, s.project_id, s.indicator_id"
        if oldest_first
        else "s.department_id, s.project_id, s.indicator_id, s.fiscal_year"
    )
    df = query_df(
        engine,
        f"""{cte}
        SELECT s.indicator_id, s.project_id, p.name AS project, s.department_id, d.name AS department,
               i.kind, i.name AS indicator, s.unit, CAST(i.baseline_value AS DOUBLE PRECISION)
               AS baseline_value, i.baseline_year, s.direction, s.perspectives_text, i.source_note,
               s.fiscal_year, s.target_value, s.target_on_path,
               COALESCE(t.year_is_estimate, FALSE) AS target_year_is_estimate, s.actual_value, a.measured_on,
               a.source, a.is_sample, a.entered_by, s.achievement_rate, s.status, s.year_finished
        FROM (SELECT * FROM kpi_status s {row_where} ORDER BY {order}
              {"LIMIT :limit" if limit is not None else ""}) s
        JOIN kpi_indicator i ON i.id = s.indicator_id
        JOIN project p ON p.id = s.project_id
        JOIN department d ON d.id = s.department_id
        LEFT JOIN kpi_actual a ON a.indicator_id = s.indicator_id AND a.fiscal_year = s.fiscal_year
        LEFT JOIN kpi_target t ON t.indicator_id = s.indicator_id AND t.fiscal_year = s.fiscal_year
        ORDER BY {order}
        """,
        params,
        columnar=True,
    )
    if df.empty:
        return pd.DataFrame(columns=FRAME_COLUMNS)
    perspectives = {t: _perspective_list(t) for t in df["perspectives_text"].unique()}
    labels = {t: "・".join(PERSPECTIVE[p] for p in ps) for t, ps in perspectives.items()}
    has_actual = df["actual_value"].notna()
    df["kind_label"] = df["kind"].map({k.value: KPI_KIND[k] for k in KpiKind})
    df["perspectives"] = df["perspectives_text"].map(perspectives)
    df["perspective_labels"] = df["perspectives_text"].map(labels)
    measured = df["measured_on"]
    if pd.api.types.is_datetime64_any_dtype(measured):
        measured = measured.dt.date
    df["measured_on"] = measured.astype(object).where(measured.notna(), None)
    df["source"] = df["source"].where(has_actual, "").astype(str)
    df["entered_by"] = df["entered_by"].where(has_actual, "").astype(str)
    df["is_sample"] = df["is_sample"].where(has_actual, False).astype(bool)
    df["target_on_path"] = df["target_on_path"].astype(bool)
    df["target_year_is_estimate"] = df["target_year_is_estimate"].astype(bool)
    df["year_finished"] = df["year_finished"].astype(bool)
    floats = ["baseline_value", "baseline_year", "target_value", "actual_value", "achievement_rate"]
    ints = ["indicator_id", "project_id", "department_id", "fiscal_year"]
    df = df.astype(dict.fromkeys(floats, "float64") | dict.fromkeys(ints, "int64"))
    return df[FRAME_COLUMNS]


def filter_options(engine: Engine, *, actor: Actor) -> tuple[list[int], list[str]]:
    """The 年度 with indicator-years and the departments with indicators the actor may see, for the
    page's filters."""
    department_id = department_scope(actor)
    dept = "AND p.department_id = :department_id" if department_id is not None else ""
    params = TRACKED_PARAMS | ({"department_id": department_id} if department_id is not None else {})
    year_where = f"WHERE {tracked_year_sql('indicator_id')}" + (
        " AND department_id = :department_id" if department_id is not None else ""
    )
    years = query_df(
        engine, f"SELECT DISTINCT fiscal_year FROM kpi_year {year_where} ORDER BY fiscal_year", params
    )
    departments = query_df(
        engine,
        f"""
        SELECT d.name FROM department d
        WHERE d.id IN (SELECT p.department_id FROM kpi_indicator i JOIN project p ON p.id = i.project_id
                       WHERE {TRACKED_INDICATOR_SQL} {dept})
        ORDER BY d.id
        """,
        params,
    )
    return [int(y) for y in years["fiscal_year"]], departments["name"].tolist()


def status_counts(
    engine: Engine,
    *,
    fiscal_year: int | None = None,
    today: date | None = None,
    target_years_only: bool = False,
    where: KpiFilter | None = None,
    actor: Actor,
) -> dict[str, int]:
    """Number of indicator-years per status the actor may see, for the headline (all 年度, or one).
    Every status listed.

    `target_years_only` leaves out 年度 judged against the path (no target set for that 年度)."""
    flt = where or KpiFilter()
    flt = replace(flt, department_id=scoped_department(actor, flt.department_id))
    if fiscal_year is not None:
        flt = replace(flt, fiscal_year=fiscal_year)
    if target_years_only:
        flt = replace(flt, target_years_only=True)
    cte, row_where, params = _status_sql(flt, today=today or clock.today_jst())
    df = query_df(
        engine,
        f"{cte} SELECT s.status, COUNT(*) AS n FROM kpi_status s {row_where} GROUP BY s.status",
        params,
    )
    counts = dict(zip(df["status"], df["n"], strict=True))
    return {s.value: int(counts.get(s.value, 0)) for s in KpiStatus}


# --- Overdue (未報告) --------------------------------------------------------------------------------


def overdue_frame(
    engine: Engine,
    *,
    actor: Actor,
    department_id: int | None = None,
    today: date | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Indicators with no actual for an ended 年度 (of those the actor may see), oldest first, for
    follow-up with the department."""
    today = today or clock.today_jst()
    late = kpi_frame(
        engine,
        actor=actor,
        today=today,
        where=KpiFilter(department_id=department_id, status=KpiStatus.not_measured.value),
        limit=limit,
        oldest_first=True,
    )
    late["year_end"] = [fiscal_year_bounds(int(y))[1] for y in late["fiscal_year"]]
    late["days_overdue"] = [(today - d).days for d in late["year_end"]]
    return late.reset_index(drop=True)


TREND_SERIES = ("target", "actual", "baseline")  # the lines of the trend chart, in legend order


def trend_points(one: pd.DataFrame) -> pd.DataFrame:
    """The trend chart of one indicator (its `kpi_frame` rows): `fiscal_year`, `series`
    (target, actual, baseline) and `value`, oldest 年度 first. Targets include those on the path."""
    targets = one.loc[one["target_value"].notna(), ["fiscal_year", "target_value"]]
    actuals = one.loc[one["actual_value"].notna(), ["fiscal_year", "actual_value"]]
    parts = [
        targets.rename(columns={"target_value": "value"}).assign(series="target"),
        actuals.rename(columns={"actual_value": "value"}).assign(series="actual"),
    ]
    head = one.iloc[0]
    if pd.notna(head["baseline_value"]):
        parts.append(
            pd.DataFrame(
                {
                    "fiscal_year": [int(head["baseline_year"])],
                    "value": [float(head["baseline_value"])],
                    "series": ["baseline"],
                }
            )
        )
    points = pd.concat(parts, ignore_index=True)
    points["fiscal_year"] = points["fiscal_year"].astype(int)
    points["value"] = points["value"].astype(float)
    return points.sort_values("fiscal_year", kind="stable").reset_index(drop=True)[
        ["fiscal_year", "series", "value"]
    ]


def default_entry_year(tracked: pd.DataFrame, *, years: list[int], today: date) -> int:
    """The 年度 the entry form opens on: the oldest one still 未計測 for the indicator (its
    `kpi_frame` rows), else the current 年度 (or the latest before it), else the first registered."""
    missing = tracked.loc[tracked["status"] == KpiStatus.not_measured.value, "fiscal_year"].tolist()
    if missing:
        return int(missing[0])
    current = fiscal_year_of(today)
    started = [y for y in years if y <= current]
    return started[-1] if started else years[0]
