"""成果指標: targets versus actuals, achievement rates and status per indicator and 年度.

The rules, in one place (the page shows `STATUS_RULE` and `PATH_RULE` word for word):

- Achievement rate: higher is better → actual ÷ target. Lower is better ("800件以下") → the
  improvement achieved over the improvement planned, (baseline − actual) ÷ (baseline − target),
  when a baseline above the target is known; otherwise target ÷ actual.
- A 年度 without a target of its own (between a baseline and a later target, or between two
  targets) is compared with the straight-line path between the anchor before it (the baseline or an
  earlier target) and the next target. After the last target year the last target applies; before
  the first target with no baseline, the first target applies.
- Status: 達成 ≥ 100%, 順調 ≥ 80%, 遅れ < 80%. Without an actual: 未計測 once the 年度 has ended
  (31 March has passed), 未到来 while the 年度 is still running or has not begun. Only 未計測 counts
  as overdue (未報告).
- The 年度 an indicator is tracked in: every 年度 from the year after the baseline (or the first
  target year when there is no baseline) to the last target year, plus any 年度 with an actual.
"""

import json
import math
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Annotated

import pandas as pd
from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import Connection, Engine, text
from sqlmodel import Session, select

from fund import audit, clock, export
from fund.auth import SYSTEM, Action, Actor, department_scope, require, require_department, scoped_department
from fund.db import checkpoint, contains, like_pattern, query_df, write_session
from fund.errors import InputInvalid, NotFound, field_messages
from fund.fiscal import fiscal_label, fiscal_year_bounds, fiscal_year_of
from fund.labels import KPI_KIND, KPI_STATUS, PERSPECTIVE
from fund.models import (
    AllocationStatus,
    AuditAction,
    Direction,
    FiscalYear,
    KpiActual,
    KpiIndicator,
    KpiKind,
    KpiStatus,
    Novelty,
    Project,
    ProposalStatus,
)

ON_TRACK_RATE = 0.8  # 順調: at least 80% of the target
MAX_ACTUAL = 1e12  # anything larger is a typing error


def status_label(code: str) -> str:
    """The Japanese name of a stored status code (達成, 順調 …)."""
    return KPI_STATUS[KpiStatus(code)]


JUDGED = (KpiStatus.achieved.value, KpiStatus.on_track.value, KpiStatus.behind.value)

STATUS_RULE = (
    "達成: 達成度100%以上 / 順調: 80%以上100%未満 / 遅れ: 80%未満 / "
    "未計測: 年度が終了したのに実績がない（未報告） / 未到来: 年度が終了しておらず実績もまだない。"
    "達成度は 実績÷目標。「以下」を目指す指標（低いほど良い）は、基準値から目標値までの改善幅に対する"
    "実際の改善幅で計算します（基準値がない場合は 目標÷実績）。"
)
PATH_RULE = (
    "目標が定められていない年度（例: 令和6年度の基準値と令和8年度の目標の間の令和7年度）は、"
    "前の基準値または目標から次の目標までを直線で結んだ「経路上の目標」と比べます。"
    "最後の目標年度より後は最後の目標と、基準値がなく最初の目標年度より前は最初の目標と比べます。"
)


def achievement_rate(
    *, target: float, actual: float | None, direction: Direction, baseline: float | None = None
) -> float | None:
    """Achievement as a fraction (1.0 = 100%), or None when it cannot be measured.

    Higher is better: actual ÷ target. Lower is better ("800件以下"): the improvement achieved
    over the improvement planned, (baseline − actual) ÷ (baseline − target), when a baseline above
    the target is known; otherwise target ÷ actual (an actual of 0 meets any target).
    """
    if actual is None:
        return None
    if direction == Direction.higher_is_better:
        if target == 0:
            return 1.0 if actual >= 0 else 0.0
        return actual / target
    if baseline is not None and baseline > target:
        return (baseline - actual) / (baseline - target)
    if actual <= 0:
        return 1.0
    return target / actual


def status_of(rate: float | None) -> KpiStatus:
    """Status from a rate alone (None → 未計測). See `status_for` for the 年度-aware status."""
    if rate is None:
        return KpiStatus.not_measured
    if rate >= 1.0:
        return KpiStatus.achieved
    if rate >= ON_TRACK_RATE:
        return KpiStatus.on_track
    return KpiStatus.behind


def year_finished(fiscal_year: int, *, today: date) -> bool:
    """True once the 年度 has ended (its 31 March is before today)."""
    return fiscal_year_bounds(fiscal_year)[1] < today


def status_for(*, rate: float | None, fiscal_year: int, today: date) -> KpiStatus:
    """達成/順調/遅れ from the rate; without an actual, 未計測 for an ended 年度, else 未到来."""
    if rate is None and not year_finished(fiscal_year, today=today):
        return KpiStatus.not_due
    return status_of(rate)


@dataclass(frozen=True)
class PathTarget:
    value: float
    on_path: bool  # True: interpolated (or carried) rather than a target set for this 年度
    baseline: float | None  # the start of the segment, for lower-is-better rates


def path_target(
    *, fiscal_year: int, targets: dict[int, float], baseline_value: float | None, baseline_year: int | None
) -> PathTarget | None:
    """The target that applies to `fiscal_year` (see PATH_RULE), or None when there is no target at all.

    `baseline` in the result is the indicator's baseline for a year with its own target, and the
    value at the start of the straight-line segment for a year on the path.
    """
    if not targets:
        return None
    if fiscal_year in targets:
        return PathTarget(value=targets[fiscal_year], on_path=False, baseline=baseline_value)
    anchors = sorted(targets.items())
    if baseline_value is not None and baseline_year is not None and baseline_year not in targets:
        anchors = sorted([*anchors, (baseline_year, baseline_value)])
    # A 年度 without its own target can only equal the baseline year among the anchors.
    before = [a for a in anchors if a[0] <= fiscal_year]
    after = [a for a in anchors if a[0] > fiscal_year and a[0] in targets]
    if before and after:
        (y0, v0), (y1, v1) = before[-1], after[0]
        value = v0 + (v1 - v0) * (fiscal_year - y0) / (y1 - y0)
        return PathTarget(value=value, on_path=True, baseline=v0)
    if after:  # before the first target, no baseline
        return PathTarget(value=after[0][1], on_path=True, baseline=baseline_value)
    last_year = max(targets)  # after the last target: the last target holds
    return PathTarget(value=targets[last_year], on_path=True, baseline=baseline_value)


def tracking_years(
    *, target_years: list[int], baseline_year: int | None, actual_years: list[int]
) -> list[int]:
    """The 年度 an indicator is reported in (see the module docstring)."""
    years = set(actual_years)
    if target_years:
        first = min(target_years)
        if baseline_year is not None:
            first = min(first, baseline_year + 1)
        years |= set(range(first, max(target_years) + 1))
    return sorted(years)


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


# The rules of `tracking_years`, `path_target` and `achievement_rate` in portable SQL (DuckDB and
# PostgreSQL), writing the kpi_year rows of the indicators chosen by {indicator_where}. Values are
# widened to double precision before any arithmetic, in the same order as the Python rules.
_YEARS_SQL = """
INSERT INTO kpi_year (indicator_id, fiscal_year, project_id, department_id, unit, direction,
                      perspectives_text, target_value, target_on_path, actual_value, achievement_rate)
WITH RECURSIVE
ind AS (
    SELECT i.id AS indicator_id, i.project_id, p.department_id, i.direction, i.unit,
           CAST(i.baseline_value AS DOUBLE PRECISION) AS baseline_value, i.baseline_year,
           CAST(i.perspectives AS VARCHAR) AS perspectives_text
    FROM kpi_indicator i JOIN project p ON p.id = i.project_id
    {indicator_where}
),
tgt AS (
    SELECT t.indicator_id, t.fiscal_year, CAST(t.target_value AS DOUBLE PRECISION) AS target_value
    FROM kpi_target t JOIN ind ON ind.indicator_id = t.indicator_id
),
act AS (
    SELECT a.indicator_id, a.fiscal_year, CAST(a.actual_value AS DOUBLE PRECISION) AS actual_value
    FROM kpi_actual a JOIN ind ON ind.indicator_id = a.indicator_id
),
span AS (
    SELECT indicator_id, MIN(fiscal_year) AS first_year, MAX(fiscal_year) AS last_year
    FROM tgt GROUP BY indicator_id
),
tracked AS (
    SELECT span.indicator_id, span.last_year,
           CASE WHEN ind.baseline_year IS NOT NULL AND ind.baseline_year + 1 < span.first_year
                THEN ind.baseline_year + 1 ELSE span.first_year END AS start_year
    FROM span JOIN ind ON ind.indicator_id = span.indicator_id
),
years (y) AS (
    SELECT MIN(start_year) FROM tracked
    UNION ALL
    SELECT y + 1 FROM years WHERE y < (SELECT MAX(last_year) FROM tracked)
),
grid AS (
    SELECT tracked.indicator_id, years.y AS fiscal_year
    FROM tracked JOIN years ON years.y BETWEEN tracked.start_year AND tracked.last_year
    UNION
    SELECT indicator_id, fiscal_year FROM act
),
anchor AS (
    SELECT indicator_id, fiscal_year AS anchor_year, target_value AS anchor_value FROM tgt
    UNION ALL
    SELECT ind.indicator_id, ind.baseline_year, ind.baseline_value FROM ind
    WHERE ind.baseline_value IS NOT NULL AND ind.baseline_year IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM tgt WHERE tgt.indicator_id = ind.indicator_id
                      AND tgt.fiscal_year = ind.baseline_year)
),
prev AS (
    SELECT grid.indicator_id, grid.fiscal_year, MAX(anchor.anchor_year) AS anchor_year
    FROM grid JOIN anchor ON anchor.indicator_id = grid.indicator_id AND anchor.anchor_year <= grid.fiscal_year
    GROUP BY grid.indicator_id, grid.fiscal_year
),
nxt AS (
    SELECT grid.indicator_id, grid.fiscal_year, MIN(tgt.fiscal_year) AS next_year
    FROM grid JOIN tgt ON tgt.indicator_id = grid.indicator_id AND tgt.fiscal_year > grid.fiscal_year
    GROUP BY grid.indicator_id, grid.fiscal_year
),
targeted AS (
    SELECT grid.indicator_id, grid.fiscal_year, ind.project_id, ind.department_id, ind.direction,
           ind.unit, ind.perspectives_text, act.actual_value,
           own.target_value IS NULL AND span.indicator_id IS NOT NULL AS target_on_path,
           CASE
               WHEN own.target_value IS NOT NULL THEN own.target_value
               WHEN pa.anchor_year IS NOT NULL AND nt.fiscal_year IS NOT NULL
                   THEN pa.anchor_value + (nt.target_value - pa.anchor_value)
                        * (grid.fiscal_year - pa.anchor_year) / (nt.fiscal_year - pa.anchor_year)
               WHEN nt.fiscal_year IS NOT NULL THEN nt.target_value
               ELSE lt.target_value
           END AS target_value,
           CASE WHEN own.target_value IS NULL AND pa.anchor_year IS NOT NULL AND nt.fiscal_year IS NOT NULL
                THEN pa.anchor_value ELSE ind.baseline_value END AS segment_baseline
    FROM grid
    JOIN ind ON ind.indicator_id = grid.indicator_id
    LEFT JOIN tgt own ON own.indicator_id = grid.indicator_id AND own.fiscal_year = grid.fiscal_year
    LEFT JOIN prev ON prev.indicator_id = grid.indicator_id AND prev.fiscal_year = grid.fiscal_year
    LEFT JOIN anchor pa ON pa.indicator_id = prev.indicator_id AND pa.anchor_year = prev.anchor_year
    LEFT JOIN nxt ON nxt.indicator_id = grid.indicator_id AND nxt.fiscal_year = grid.fiscal_year
    LEFT JOIN tgt nt ON nt.indicator_id = nxt.indicator_id AND nt.fiscal_year = nxt.next_year
    LEFT JOIN span ON span.indicator_id = grid.indicator_id
    LEFT JOIN tgt lt ON lt.indicator_id = span.indicator_id AND lt.fiscal_year = span.last_year
    LEFT JOIN act ON act.indicator_id = grid.indicator_id AND act.fiscal_year = grid.fiscal_year
),
rated AS (
    SELECT targeted.*,
           CASE
               WHEN actual_value IS NULL OR target_value IS NULL THEN NULL
               WHEN direction = :higher THEN
                   CASE WHEN target_value = 0
                        THEN CASE WHEN actual_value >= 0 THEN CAST(1 AS DOUBLE PRECISION)
                                  ELSE CAST(0 AS DOUBLE PRECISION) END
                        ELSE actual_value / target_value END
               WHEN segment_baseline IS NOT NULL AND segment_baseline > target_value
                   THEN (segment_baseline - actual_value) / (segment_baseline - target_value)
               WHEN actual_value <= 0 THEN CAST(1 AS DOUBLE PRECISION)
               ELSE target_value / actual_value
           END AS achievement_rate
    FROM targeted
)
SELECT indicator_id, fiscal_year, project_id, department_id, unit, direction, perspectives_text,
       target_value, target_on_path, actual_value, achievement_rate
FROM rated
"""


_HIGHER = {"higher": Direction.higher_is_better.value}  # bound as :higher in _YEARS_SQL


def refresh_years(session: Session | Connection, *, indicator_ids: list[int] | None = None) -> None:
    """Rewrite the kpi_year rows of these indicators (all when None), in the caller's transaction:
    call it wherever an indicator, its targets or its actuals are written."""
    if indicator_ids is None:
        session.execute(text("DELETE FROM kpi_year"))
        session.execute(text(_YEARS_SQL.format(indicator_where="")), _HIGHER)
        return
    for indicator_id in indicator_ids:
        session.execute(text("DELETE FROM kpi_year WHERE indicator_id = :i"), {"i": indicator_id})
        session.execute(
            text(_YEARS_SQL.format(indicator_where="WHERE i.id = :i")), _HIGHER | {"i": indicator_id}
        )


def ensure_years(engine: Engine) -> None:
    """Build kpi_year when it is missing its rows (a database written before the table existed)."""
    with engine.connect() as conn:
        targets = conn.execute(text("SELECT COUNT(DISTINCT indicator_id) FROM kpi_target")).scalar_one()
        derived = conn.execute(text("SELECT COUNT(DISTINCT indicator_id) FROM kpi_year")).scalar_one()
    if targets and not derived:
        with write_session(engine) as session:
            refresh_years(session)
        checkpoint(engine)


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
    {indicator_where}
)
"""


def _status_sql(flt: KpiFilter, *, today: date) -> tuple[str, str, dict[str, object]]:
    """(the WITH clause defining `kpi_status`, a WHERE clause over it aliased `s`, parameters)."""
    params: dict[str, object] = {
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
    cte = _STATUS_CTE.format(indicator_where=("WHERE " + " AND ".join(indicator)) if indicator else "")
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
               s.fiscal_year, s.target_value, s.target_on_path, s.actual_value, a.measured_on,
               a.source, a.is_sample, a.entered_by, s.achievement_rate, s.status, s.year_finished
        FROM (SELECT * FROM kpi_status s {row_where} ORDER BY {order}
              {"LIMIT :limit" if limit is not None else ""}) s
        JOIN kpi_indicator i ON i.id = s.indicator_id
        JOIN project p ON p.id = s.project_id
        JOIN department d ON d.id = s.department_id
        LEFT JOIN kpi_actual a ON a.indicator_id = s.indicator_id AND a.fiscal_year = s.fiscal_year
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
    df["year_finished"] = df["year_finished"].astype(bool)
    floats = ["baseline_value", "baseline_year", "target_value", "actual_value", "achievement_rate"]
    ints = ["indicator_id", "project_id", "department_id", "fiscal_year"]
    df = df.astype(dict.fromkeys(floats, "float64") | dict.fromkeys(ints, "int64"))
    return df[FRAME_COLUMNS]


def filter_options(engine: Engine, *, actor: Actor) -> tuple[list[int], list[str]]:
    """The 年度 with indicator-years and the departments with indicators the actor may see, for the
    page's filters."""
    department_id = department_scope(actor)
    dept = "WHERE p.department_id = :department_id" if department_id is not None else ""
    params = {"department_id": department_id} if department_id is not None else None
    year_where = "WHERE department_id = :department_id" if department_id is not None else ""
    years = query_df(
        engine, f"SELECT DISTINCT fiscal_year FROM kpi_year {year_where} ORDER BY fiscal_year", params
    )
    departments = query_df(
        engine,
        f"""
        SELECT d.name FROM department d
        WHERE d.id IN (SELECT p.department_id FROM kpi_indicator i JOIN project p ON p.id = i.project_id {dept})
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


# --- Entry of actuals -------------------------------------------------------------------------------


UNIT_MAX = 20  # characters of an indicator's 単位
SOURCE_MAX = 200  # characters of 出典


class KpiActualIn(BaseModel):
    """An actual as typed on the form."""

    indicator_id: int
    fiscal_year: int
    actual_value: Annotated[float, Field(ge=0, le=MAX_ACTUAL, allow_inf_nan=False)]
    unit: Annotated[str, Field(min_length=1, max_length=UNIT_MAX)]
    measured_on: date
    source: Annotated[str, Field(min_length=1, max_length=SOURCE_MAX)]

    @field_validator("source", "unit")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("blank")
        return value.strip()


_FIELD_MESSAGES = {
    "indicator_id": "指標を選択してください。",
    "fiscal_year": "年度を選択してください。",
    "actual_value": "実績値は0以上の数値で入力してください。",
    "unit": "単位を入力してください。",
    "measured_on": "測定日を正しい日付で入力してください。",
    "source": f"出典（実績の根拠資料）を入力してください（{SOURCE_MAX}文字以内）。",
}


def validate_actual(data: dict[str, object]) -> KpiActualIn:
    """Field checks that need no database; raises InputInvalid with a Japanese message per field."""
    try:
        return KpiActualIn.model_validate(data)
    except ValidationError as exc:
        raise InputInvalid(field_messages(exc, _FIELD_MESSAGES)) from None


def enter_actual(
    engine: Engine, *, actor: Actor, data: dict[str, object], today: date | None = None
) -> KpiActual:
    """Record (or correct) the actual of one indicator for one 年度, with an audit row holding the
    values before and after. 事業担当 may enter only for their own department's projects.

    Raises PermissionDenied, NotFound, InputInvalid (unit differs from the indicator's, 年度 not
    registered, measurement date in the future or before the 年度 began).
    """
    require(actor, Action.enter_kpi_actual)
    today = today or clock.today_jst()
    # Collect every field's message at once: the form checks, then those that need the indicator.
    entry: KpiActualIn | None = None
    errors: dict[str, str] = {}
    try:
        entry = validate_actual(data)
    except InputInvalid as exc:
        errors = dict(exc.field_errors)
    indicator_id = data.get("indicator_id")
    if not isinstance(indicator_id, int):
        raise InputInvalid(errors | {"indicator_id": _FIELD_MESSAGES["indicator_id"]})
    with write_session(engine) as session:
        indicator = session.get(KpiIndicator, indicator_id)
        if indicator is None:
            raise NotFound(f"指標（番号 {indicator_id}）は登録されていません。")
        project = session.get(Project, indicator.project_id)
        assert project is not None
        require_department(actor, project.department_id)
        unit = data.get("unit")
        if "unit" not in errors and isinstance(unit, str) and unit.strip() != indicator.unit:
            errors["unit"] = (
                f"単位が指標と異なります。この指標の単位は「{indicator.unit}」です。"
                "換算してから入力してください。"
            )
        year = data.get("fiscal_year")
        if isinstance(year, int) and session.get(FiscalYear, year) is None:
            errors["fiscal_year"] = f"{fiscal_label(year)}は登録されていません。"
        measured_on = data.get("measured_on")
        if isinstance(measured_on, date) and not isinstance(measured_on, datetime) and isinstance(year, int):
            start = fiscal_year_bounds(year)[0]
            if measured_on > today:
                errors["measured_on"] = (
                    f"測定日 {measured_on:%Y年%m月%d日} は未来の日付です。"
                    f"本日（{today:%Y年%m月%d日}）以前の日付を入力してください。"
                )
            elif measured_on < start:
                errors["measured_on"] = (
                    f"測定日 {measured_on:%Y年%m月%d日} は{fiscal_label(year)}の開始日"
                    f"（{start:%Y年%m月%d日}）より前です。"
                )
        if errors or entry is None:
            raise InputInvalid(errors)
        row = session.exec(
            select(KpiActual).where(
                KpiActual.indicator_id == entry.indicator_id, KpiActual.fiscal_year == entry.fiscal_year
            )
        ).first()
        before = None
        if row is None:
            row = KpiActual(
                indicator_id=entry.indicator_id,
                fiscal_year=entry.fiscal_year,
                actual_value=0.0,
                measured_on=entry.measured_on,
            )
        else:
            before = audit.snapshot(row)
        row.actual_value = entry.actual_value
        row.measured_on = entry.measured_on
        row.source = entry.source
        row.is_sample = False
        row.entered_by = actor.login
        row.entered_at = clock.now_utc()
        session.add(row)
        session.flush()
        refresh_years(session, indicator_ids=[entry.indicator_id])
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.kpi_actual_update if before else AuditAction.kpi_actual_create,
            entity="kpi_actual",
            entity_id=row.id,
            before=before,
            after=audit.snapshot(row),
            reason=f"{project.name}／{indicator.name}／{fiscal_label(entry.fiscal_year)}",
        )
        session.refresh(row)
        session.expunge(row)
    checkpoint(engine)
    return row


def _choice_where(actor: Actor, search: str | None) -> tuple[str, dict[str, object]]:
    clauses: list[str] = []
    params: dict[str, object] = {}
    own = department_scope(actor)
    if own is not None:
        clauses.append("p.department_id = :dept")
        params["dept"] = own
    if search:
        clauses.append(f"({contains('p.name', 'q')} OR {contains('i.name', 'q')})")
        params["q"] = like_pattern(search)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def entry_choices(
    engine: Engine, *, actor: Actor, search: str | None = None, limit: int | None = None
) -> pd.DataFrame:
    """Indicators the actor may enter actuals for (all for 管理者, own department for 事業担当),
    optionally only those whose project or indicator name contains `search`, the first `limit`."""
    where, params = _choice_where(actor, search)
    if limit is not None:
        params["limit"] = limit
    return query_df(
        engine,
        f"""
        SELECT i.id AS indicator_id, p.name AS project, i.name AS indicator, i.unit
        FROM kpi_indicator i JOIN project p ON p.id = i.project_id
        {where}
        ORDER BY p.department_id, p.id, i.id
        {"LIMIT :limit" if limit is not None else ""}
        """,
        params,
    )


def entry_choice_count(engine: Engine, *, actor: Actor, search: str | None = None) -> int:
    """How many indicators `entry_choices` would list without a limit."""
    where, params = _choice_where(actor, search)
    df = query_df(
        engine,
        f"SELECT COUNT(*) AS n FROM kpi_indicator i JOIN project p ON p.id = i.project_id {where}",
        params,
    )
    return int(df["n"].iloc[0])


# --- Portfolio roll-up by perspective -----------------------------------------------------------------

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


# --- Export (行政事業レビューシート) ----------------------------------------------------------------

REVIEW_SHEET_COLUMNS = [
    "事業名",
    "所管部局",
    "指標",
    "単位",
    "基準値",
    "基準年度",
    "年度",
    "目標値",
    "実績値",
    "達成度（%）",
    "状況",
    "目標の種類",
    "指標の種別",
    "県民実感の観点",
    "測定日",
    "実績の出典",
    "サンプル",
]


def review_sheet(df: pd.DataFrame) -> pd.DataFrame:
    """A `kpi_frame` result in the column order of the 行政事業レビューシート (成果目標及び成果実績)."""
    out = pd.DataFrame(
        {
            "事業名": df["project"],
            "所管部局": df["department"],
            "指標": df["indicator"],
            "単位": df["unit"],
            "基準値": df["baseline_value"],
            "基準年度": [
                fiscal_label(int(y)) if y is not None and not pd.isna(y) else "" for y in df["baseline_year"]
            ],
            "年度": [fiscal_label(int(y)) for y in df["fiscal_year"]],
            "目標値": [None if v is None or pd.isna(v) else round(float(v), 2) for v in df["target_value"]],
            "実績値": df["actual_value"],
            "達成度（%）": [
                None if r is None or pd.isna(r) else round(float(r) * 100, 1) for r in df["achievement_rate"]
            ],
            "状況": df["status"].map(status_label),
            "目標の種類": ["経路上の目標" if p else "年度目標" for p in df["target_on_path"]],
            "指標の種別": df["kind_label"],
            "県民実感の観点": df["perspective_labels"],
            "測定日": [d.isoformat() if isinstance(d, date) else "" for d in df["measured_on"]],
            "実績の出典": df["source"],
            "サンプル": ["サンプル" if s else "" for s in df["is_sample"]],
        },
        columns=REVIEW_SHEET_COLUMNS,
    )
    return out


def review_sheet_export(engine: Engine, *, actor: Actor, where: KpiFilter, today: date, fmt: str) -> bytes:
    """Every indicator-year matching `where` that the actor may see, as the review sheet (the download)."""
    return review_sheet_bytes(kpi_frame(engine, actor=actor, today=today, where=where), fmt=fmt)


def review_sheet_bytes(df: pd.DataFrame, *, fmt: str) -> bytes:
    """The review-sheet table as xlsx ('xlsx') or CSV with BOM ('csv'). Audit with `record_export`."""
    sheet = review_sheet(df)
    if fmt == "xlsx":
        return export.to_xlsx_bytes(sheet, sheet_name="成果指標", title="成果指標（成果目標及び成果実績）")
    return export.to_csv_bytes(sheet)


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
