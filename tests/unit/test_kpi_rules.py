import pytest

from fund.kpi import KpiStatus, achievement_rate, status_of
from fund.models import Direction


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
