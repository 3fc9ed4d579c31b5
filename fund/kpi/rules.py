"""The scalar rules of an indicator-year: tracked 年度, the target on the path, achievement and status."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from fund.fiscal import fiscal_year_bounds
from fund.labels import ESTIMATE_MARK, KPI_STATUS
from fund.models import (
    Direction,
    KpiStatus,
    ProposalStatus,
)

ON_TRACK_RATE = 0.8  # 順調: at least 80% of the target
MAX_ACTUAL = 1e12  # anything larger is a typing error


def status_label(code: str) -> str:
    """The Japanese name of a stored status code (達成, 順調 …)."""
    return KPI_STATUS[KpiStatus(code)]


def target_kinds(on_path: Iterable[bool], year_is_estimate: Iterable[bool]) -> list[str]:
    """What each row's target is: the 年度's own (its year 推計 where the sources give none) or a
    point on the path between two targets."""
    return [
        "経路上の目標" if path else f"年度目標（目標年度は{ESTIMATE_MARK}）" if assumed else "年度目標"
        for path, assumed in zip(on_path, year_is_estimate, strict=True)
    ]


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


# The indicators 成果指標 tracks: those stated for a project, and those of a proposal once it is
# adopted (採択) or funded (事業化) — a proposal's KPIs are recorded when it is submitted, but a
# proposal that was never adopted promises nothing. `i` is kpi_indicator.
TRACKED_INDICATOR_SQL = (
    "(i.proposal_id IS NULL OR i.proposal_id IN"
    " (SELECT id FROM proposal WHERE status IN (:tracked_adopted, :tracked_funded)))"
)
TRACKED_PARAMS: dict[str, object] = {
    "tracked_adopted": ProposalStatus.adopted.value,
    "tracked_funded": ProposalStatus.funded.value,
}


def tracked_year_sql(column: str) -> str:
    """`TRACKED_INDICATOR_SQL` over rows that hold an indicator id in `column` (kpi_year)."""
    return f"{column} IN (SELECT i.id FROM kpi_indicator i WHERE {TRACKED_INDICATOR_SQL})"
