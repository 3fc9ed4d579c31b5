"""The vectorised `kpi.frame_from` applies exactly the rules of the scalar functions, row by row."""

import json
from datetime import date

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from fund.kpi import (
    achievement_rate,
    frame_from,
    path_target,
    status_for,
    tracking_years,
    year_finished,
)
from fund.models import Direction

YEARS = st.integers(min_value=2019, max_value=2030)
VALUES = st.floats(min_value=0, max_value=5_000, allow_nan=False).map(lambda v: round(v, 1))


@st.composite
def indicator(draw: st.DrawFn) -> dict[str, object]:
    targets = draw(st.dictionaries(YEARS, VALUES, max_size=4))
    actuals = draw(st.dictionaries(YEARS, VALUES, max_size=4))
    has_baseline = draw(st.booleans())
    return {
        "targets": targets,
        "actuals": actuals,
        "baseline_value": draw(VALUES) if has_baseline else None,
        "baseline_year": draw(YEARS) if has_baseline else None,
        "direction": draw(st.sampled_from([d.value for d in Direction])),
    }


def _tables(specs: list[dict[str, object]]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    indicators, targets, actuals = [], [], []
    for i, spec in enumerate(specs, start=1):
        indicators.append(
            {
                "indicator_id": i, "project_id": i, "project": f"事業{i}", "department_id": 1,
                "department": "総合企画部", "kind": "outcome", "indicator": f"指標{i}", "unit": "人",
                "baseline_value": spec["baseline_value"], "baseline_year": spec["baseline_year"],
                "direction": spec["direction"], "perspectives": json.dumps([1]), "source_note": "",
            }
        )  # fmt: skip
        targets += [
            {"indicator_id": i, "fiscal_year": y, "target_value": v}
            for y, v in spec["targets"].items()  # type: ignore[attr-defined]
        ]
        actuals += [
            {"indicator_id": i, "fiscal_year": y, "actual_value": v, "measured_on": date(y, 6, 1),
             "source": "出典", "is_sample": False, "entered_by": "tester"}
            for y, v in spec["actuals"].items()  # type: ignore[attr-defined]
        ]  # fmt: skip
    return (
        pd.DataFrame(indicators),
        pd.DataFrame(targets, columns=["indicator_id", "fiscal_year", "target_value"]),
        pd.DataFrame(
            actuals,
            columns=[
                "indicator_id",
                "fiscal_year",
                "actual_value",
                "measured_on",
                "source",
                "is_sample",
                "entered_by",
            ],
        ),
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(indicator(), min_size=1, max_size=6), st.dates(date(2019, 1, 1), date(2031, 12, 31)))
def test_every_row_follows_the_scalar_rules(specs: list[dict[str, object]], today: date) -> None:
    frame = frame_from(*_tables(specs), today=today)
    expected = []
    for i, spec in enumerate(specs, start=1):
        targets: dict[int, float] = spec["targets"]  # type: ignore[assignment]
        actuals: dict[int, float] = spec["actuals"]  # type: ignore[assignment]
        baseline_value = spec["baseline_value"]
        baseline_year = spec["baseline_year"]
        direction = Direction(spec["direction"])
        years = tracking_years(
            target_years=list(targets),
            baseline_year=baseline_year,
            actual_years=list(actuals),  # type: ignore[arg-type]
        )
        for year in years:
            target = path_target(
                fiscal_year=year,
                targets=targets,
                baseline_value=baseline_value,
                baseline_year=baseline_year,  # type: ignore[arg-type]
            )
            actual = actuals.get(year)
            rate = (
                None
                if target is None
                else achievement_rate(
                    target=target.value, actual=actual, direction=direction, baseline=target.baseline
                )
            )
            expected.append(
                (i, year, None if target is None else target.value, bool(target and target.on_path), actual,
                 rate, status_for(rate=rate, fiscal_year=year, today=today).value, year_finished(year, today=today))
            )  # fmt: skip
    got = [
        (int(r.indicator_id), int(r.fiscal_year), None if pd.isna(r.target_value) else r.target_value,
         bool(r.target_on_path), None if pd.isna(r.actual_value) else r.actual_value,
         None if pd.isna(r.achievement_rate) else r.achievement_rate, r.status, bool(r.year_finished))
        for r in frame.itertuples()
    ]  # fmt: skip
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g[:2] == e[:2]
        assert g[3:5] == e[3:5] and g[6:] == e[6:]
        for a, b in ((g[2], e[2]), (g[5], e[5])):
            assert (a is None and b is None) or (
                a is not None and b is not None and abs(a - b) <= 1e-9 * max(1, abs(b))
            )
