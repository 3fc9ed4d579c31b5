from datetime import date

import pytest

from fund.kpi import (
    achievement_rate,
    path_target,
    status_for,
    status_of,
    tracking_years,
    year_finished,
)
from fund.models import Direction, KpiStatus


def test_higher_is_better_rate_is_actual_over_target() -> None:
    assert achievement_rate(target=1200, actual=1050, direction=Direction.higher_is_better) == pytest.approx(
        0.875
    )


def test_lower_is_better_with_baseline_measures_the_improvement_achieved() -> None:
    # 苦情・目撃 1,600件/年 → 800件以下/年: 1,200 is half-way.
    rate = achievement_rate(target=800, actual=1200, direction=Direction.lower_is_better, baseline=1600)
    assert rate == pytest.approx(0.5)
    assert status_of(rate) == KpiStatus.behind


def test_lower_is_better_meeting_the_ceiling_is_achieved() -> None:
    rate = achievement_rate(target=800, actual=780, direction=Direction.lower_is_better, baseline=1600)
    assert rate is not None and rate > 1
    assert status_of(rate) == KpiStatus.achieved


def test_lower_is_better_without_baseline_uses_target_over_actual() -> None:
    assert achievement_rate(target=800, actual=1000, direction=Direction.lower_is_better) == pytest.approx(
        0.8
    )


def test_missing_actual_is_not_measured() -> None:
    assert achievement_rate(target=10, actual=None, direction=Direction.higher_is_better) is None
    assert status_of(None) == KpiStatus.not_measured


@pytest.mark.parametrize(
    ("rate", "status"), [(1.0, KpiStatus.achieved), (0.8, KpiStatus.on_track), (0.79, KpiStatus.behind)]
)
def test_status_thresholds(rate: float, status: KpiStatus) -> None:
    assert status_of(rate) == status


# --- the 年度-aware status ------------------------------------------------------------------------


def test_a_year_still_running_without_an_actual_is_not_due_rather_than_not_measured() -> None:
    # 令和8年度 ends on 2027-03-31.
    assert status_for(rate=None, fiscal_year=2026, today=date(2026, 11, 22)) == KpiStatus.not_due
    assert status_for(rate=None, fiscal_year=2027, today=date(2026, 11, 22)) == KpiStatus.not_due


def test_a_finished_year_without_an_actual_is_not_measured() -> None:
    assert status_for(rate=None, fiscal_year=2025, today=date(2026, 4, 1)) == KpiStatus.not_measured


def test_the_year_ends_only_after_its_31_march() -> None:
    assert not year_finished(2025, today=date(2026, 3, 31))
    assert year_finished(2025, today=date(2026, 4, 1))


def test_an_actual_in_a_running_year_is_judged_like_any_other() -> None:
    assert status_for(rate=0.5, fiscal_year=2026, today=date(2026, 11, 22)) == KpiStatus.behind


# --- the straight-line path between the baseline and the next target -----------------------------------


def test_a_year_between_two_targets_lies_on_the_straight_line() -> None:
    # 地域医薬品: 2地域 (R6) → 16地域 (R8); R7 is half-way.
    got = path_target(fiscal_year=2025, targets={2024: 2, 2026: 16}, baseline_value=None, baseline_year=None)
    assert got is not None and got.on_path
    assert got.value == pytest.approx(9)


def test_a_year_between_baseline_and_target_lies_on_the_straight_line() -> None:
    # 捕獲 55頭 (R5) → 100頭 (R8): R6 is one third of the way.
    got = path_target(fiscal_year=2024, targets={2026: 100}, baseline_value=55, baseline_year=2023)
    assert got is not None and got.on_path
    assert got.value == pytest.approx(70)


def test_a_year_with_its_own_target_uses_it() -> None:
    got = path_target(fiscal_year=2026, targets={2024: 2, 2026: 16}, baseline_value=None, baseline_year=None)
    assert got is not None and not got.on_path and got.value == 16


def test_lower_is_better_on_the_path_measures_improvement_from_the_start_of_the_segment() -> None:
    # 苦情・目撃 1,600件 (R6 見込) → 800件以下 (R8): R7 path is 1,200件.
    got = path_target(fiscal_year=2025, targets={2026: 800}, baseline_value=1600, baseline_year=2024)
    assert got is not None and got.value == pytest.approx(1200) and got.baseline == 1600
    rate = achievement_rate(
        target=got.value, actual=1400, direction=Direction.lower_is_better, baseline=got.baseline
    )
    assert rate == pytest.approx(0.5)
    assert status_of(rate) == KpiStatus.behind


def test_the_baseline_year_itself_is_judged_against_the_baseline() -> None:
    # R6 actual 1,480件 against the R6 見込 1,600件: no worse than the start, so achieved.
    got = path_target(fiscal_year=2024, targets={2026: 800}, baseline_value=1600, baseline_year=2024)
    assert got is not None and got.value == 1600
    rate = achievement_rate(
        target=got.value, actual=1480, direction=Direction.lower_is_better, baseline=got.baseline
    )
    assert status_of(rate) == KpiStatus.achieved


def test_after_the_last_target_the_last_target_holds() -> None:
    got = path_target(fiscal_year=2028, targets={2024: 2, 2026: 16}, baseline_value=None, baseline_year=None)
    assert got is not None and got.on_path and got.value == 16


def test_before_the_first_target_without_baseline_the_first_target_applies() -> None:
    got = path_target(fiscal_year=2023, targets={2024: 7}, baseline_value=None, baseline_year=None)
    assert got is not None and got.value == 7


def test_an_indicator_without_targets_has_no_path() -> None:
    assert path_target(fiscal_year=2024, targets={}, baseline_value=5, baseline_year=2023) is None


def test_tracked_years_run_from_after_the_baseline_to_the_last_target() -> None:
    assert tracking_years(target_years=[2026], baseline_year=2023, actual_years=[]) == [2024, 2025, 2026]
    assert tracking_years(target_years=[2024, 2026], baseline_year=None, actual_years=[]) == [
        2024,
        2025,
        2026,
    ]
    assert tracking_years(target_years=[2026], baseline_year=2024, actual_years=[2024]) == [2024, 2025, 2026]


# --- missing and odd data -----------------------------------------------------------------------------


def test_higher_is_better_zero_target_is_met_by_any_actual() -> None:
    assert achievement_rate(target=0, actual=0, direction=Direction.higher_is_better) == 1.0


def test_lower_is_better_zero_actual_meets_the_ceiling() -> None:
    assert achievement_rate(target=800, actual=0, direction=Direction.lower_is_better) == 1.0


def test_lower_is_better_getting_worse_than_the_baseline_is_a_negative_rate() -> None:
    rate = achievement_rate(target=800, actual=1700, direction=Direction.lower_is_better, baseline=1600)
    assert rate is not None and rate < 0
    assert status_of(rate) == KpiStatus.behind
