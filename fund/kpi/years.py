"""The kpi_year rows: the scalar rules in portable SQL, rewritten wherever an indicator, target or actual is written."""

from sqlalchemy import Connection, Engine, text
from sqlmodel import Session

from fund.db import checkpoint, write_session
from fund.models import (
    Direction,
)

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
