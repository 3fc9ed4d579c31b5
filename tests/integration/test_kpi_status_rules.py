"""The database computes 成果指標 (path targets, rates, statuses) exactly by the scalar rules of
fund/kpi.py: random indicators are written, and every row of `kpi_frame` is checked against
`tracking_years`, `path_target`, `achievement_rate` and `status_for`."""

import json
from datetime import date
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from fund import kpi
from fund.auth import SYSTEM
from fund.kpi import achievement_rate, path_target, status_for, tracking_years, year_finished
from fund.models import Direction, KpiStatus

YEARS = st.integers(min_value=2019, max_value=2030)
# Targets, actuals and baselines are single-precision columns (REAL): values that survive the round
# trip exactly, so the database and the Python rules start from the same numbers.
VALUES = st.floats(min_value=0, max_value=5_000, allow_nan=False).map(
    lambda v: float(np.float32(round(v, 1)))
)


@st.composite
def indicator(draw: st.DrawFn) -> dict[str, Any]:
    has_baseline = draw(st.booleans())
    return {
        "targets": draw(st.dictionaries(YEARS, VALUES, max_size=4)),
        "actuals": draw(st.dictionaries(YEARS, VALUES, max_size=4)),
        "baseline_value": draw(VALUES) if has_baseline else None,
        "baseline_year": draw(YEARS) if has_baseline else None,
        "direction": draw(st.sampled_from([d.value for d in Direction])),
    }


def _write(engine: Engine, specs: list[dict[str, Any]]) -> None:
    for table in (
        "kpi_actual",
        "kpi_target",
        "kpi_indicator",
    ):  # one transaction each (DuckDB's foreign keys)
        with engine.begin() as conn:
            conn.execute(text(f"DELETE FROM {table}"))
    with engine.begin() as conn:
        project_id = conn.execute(text("SELECT MIN(id) FROM project")).scalar_one()
        for i, spec in enumerate(specs, start=1):
            conn.execute(
                text(
                    "INSERT INTO kpi_indicator (id, project_id, kind, name, unit, baseline_value, baseline_year,"
                    " direction, perspectives, source_note)"
                    " VALUES (:id, :p, 'outcome', :name, '人', :bv, :by, :dir, :persp, '')"
                ),
                {"id": i, "p": project_id, "name": f"指標{i}", "bv": spec["baseline_value"],
                 "by": spec["baseline_year"], "dir": spec["direction"], "persp": json.dumps([1])},
            )  # fmt: skip
            for year, value in spec["targets"].items():
                conn.execute(
                    text(
                        "INSERT INTO kpi_target (indicator_id, fiscal_year, target_value) VALUES (:i, :y, :v)"
                    ),
                    {"i": i, "y": year, "v": value},
                )
            for year, value in spec["actuals"].items():
                conn.execute(
                    text(
                        "INSERT INTO kpi_actual (indicator_id, fiscal_year, actual_value, measured_on, source,"
                        " is_sample, entered_by, entered_at)"
                        " VALUES (:i, :y, :v, :d, '出典', FALSE, 'tester', CURRENT_TIMESTAMP)"
                    ),
                    {"i": i, "y": year, "v": value, "d": date(year, 6, 1)},
                )

    with engine.begin() as conn:  # what every service that writes KPIs does in its transaction
        kpi.refresh_years(conn)


def _expected(specs: list[dict[str, Any]], today: date) -> list[tuple[Any, ...]]:
    rows = []
    for i, spec in enumerate(specs, start=1):
        targets, actuals = spec["targets"], spec["actuals"]
        direction = Direction(spec["direction"])
        years = tracking_years(
            target_years=list(targets), baseline_year=spec["baseline_year"], actual_years=list(actuals)
        )
        for year in years:
            target = path_target(
                fiscal_year=year, targets=targets, baseline_value=spec["baseline_value"],
                baseline_year=spec["baseline_year"],
            )  # fmt: skip
            actual = actuals.get(year)
            rate = (
                None
                if target is None
                else achievement_rate(
                    target=target.value, actual=actual, direction=direction, baseline=target.baseline
                )
            )
            rows.append(
                (i, year, None if target is None else target.value, bool(target and target.on_path), actual,
                 rate, status_for(rate=rate, fiscal_year=year, today=today).value, year_finished(year, today=today))
            )  # fmt: skip
    return rows


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


@pytest.fixture
def kpi_engine(seeded_engine: Engine) -> Engine:
    return seeded_engine


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(indicator(), min_size=1, max_size=5), st.dates(date(2019, 1, 1), date(2031, 12, 31)))
def test_every_indicator_year_follows_the_scalar_rules(
    kpi_engine: Engine, specs: list[dict[str, Any]], today: date
) -> None:
    _write(kpi_engine, specs)
    frame = kpi.kpi_frame(kpi_engine, actor=SYSTEM, today=today)
    got = [
        (int(r.indicator_id), int(r.fiscal_year), None if r.target_value != r.target_value else r.target_value,
         bool(r.target_on_path), None if r.actual_value != r.actual_value else r.actual_value,
         None if r.achievement_rate != r.achievement_rate else r.achievement_rate, r.status, bool(r.year_finished))
        for r in frame.itertuples()
    ]  # fmt: skip
    expected = _expected(specs, today)
    assert [g[:2] for g in got] == [e[:2] for e in expected]
    for g, e in zip(got, expected, strict=True):
        assert (g[3], g[6], g[7]) == (e[3], e[6], e[7]), (g, e)
        assert _close(g[2], e[2]) and _close(g[4], e[4]) and _close(g[5], e[5]), (g, e)
    counts = kpi.status_counts(kpi_engine, actor=SYSTEM, today=today)
    assert counts == {s.value: sum(1 for e in expected if e[6] == s.value) for s in KpiStatus}
