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
  target year when there is no baseline) to the last target year, plus any 年度 with an actual."""

from fund.kpi.actuals import (
    SOURCE_MAX,
    UNIT_MAX,
    KpiActualCreate,
    enter_actual,
    entry_choice_count,
    entry_choices,
    validate_actual,
)
from fund.kpi.portfolio import (
    NOVEL,
    REACH_UNIT,
    funded_evidence_by_year,
    perspective_rollup,
    portfolio_by_year,
)
from fund.kpi.queries import (
    FRAME_COLUMNS,
    TREND_SERIES,
    KpiFilter,
    default_entry_year,
    filter_options,
    kpi_frame,
    overdue_frame,
    status_counts,
    trend_points,
)
from fund.kpi.review_sheet import REVIEW_SHEET_COLUMNS, review_sheet, review_sheet_bytes, review_sheet_export
from fund.kpi.rules import (
    JUDGED,
    MAX_ACTUAL,
    ON_TRACK_RATE,
    PATH_RULE,
    STATUS_RULE,
    PathTarget,
    achievement_rate,
    path_target,
    status_for,
    status_label,
    status_of,
    target_kinds,
    tracking_years,
    year_finished,
)
from fund.kpi.years import ensure_years, refresh_years

__all__ = [
    "FRAME_COLUMNS",
    "JUDGED",
    "KpiActualCreate",
    "KpiFilter",
    "MAX_ACTUAL",
    "NOVEL",
    "ON_TRACK_RATE",
    "PATH_RULE",
    "PathTarget",
    "REACH_UNIT",
    "REVIEW_SHEET_COLUMNS",
    "SOURCE_MAX",
    "STATUS_RULE",
    "TREND_SERIES",
    "UNIT_MAX",
    "achievement_rate",
    "default_entry_year",
    "ensure_years",
    "enter_actual",
    "entry_choice_count",
    "entry_choices",
    "filter_options",
    "funded_evidence_by_year",
    "kpi_frame",
    "overdue_frame",
    "path_target",
    "perspective_rollup",
    "portfolio_by_year",
    "refresh_years",
    "review_sheet",
    "review_sheet_bytes",
    "review_sheet_export",
    "status_counts",
    "status_for",
    "status_label",
    "target_kinds",
    "status_of",
    "tracking_years",
    "trend_points",
    "validate_actual",
    "year_finished",
]
