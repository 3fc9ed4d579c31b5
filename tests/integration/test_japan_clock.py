"""The 年度, "today" and the audit period follow Japan time at the instants where zones disagree.

The instants are named in tests/conftest.py.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime

import pandas as pd
import pytest
import time_machine
from sqlalchemy import Engine

from fund import clock, kpi, proposals
from fund.admin import AuditFilters, audit_search, default_period
from fund.auth import Actor
from fund.db import dispose_engines, query_df
from tests.conftest import FY_FIRST_MINUTE, FY_LAST_MINUTE, ROOT, UTC, UTC_AFTERNOON

# (instant, Japan's date then, its 年度)
INSTANTS = [
    pytest.param(FY_LAST_MINUTE, date(2027, 3, 31), 2026, id="31-March-23:59-JST"),
    pytest.param(FY_FIRST_MINUTE, date(2027, 4, 1), 2027, id="1-April-00:00-JST"),
    pytest.param(UTC_AFTERNOON, date(2026, 12, 2), 2026, id="15:30-UTC"),
]


@pytest.fixture
def at_instant(request: pytest.FixtureRequest) -> Iterator[datetime]:
    instant: datetime = request.param
    with time_machine.travel(instant, tick=True):
        yield instant


@pytest.mark.parametrize(("at_instant", "japan_day", "fiscal_year"), INSTANTS, indirect=["at_instant"])
def test_today_and_the_fiscal_year_are_japans(
    at_instant: datetime, japan_day: date, fiscal_year: int
) -> None:
    assert clock.today_jst() == japan_day
    assert clock.current_fiscal_year() == fiscal_year
    assert clock.now_jst().utcoffset() is not None and clock.now_jst().utcoffset().total_seconds() == 9 * 3600
    assert clock.now_utc().date() == at_instant.date()


def test_a_japan_day_starts_at_15_utc_the_day_before() -> None:
    assert clock.day_start_utc(date(2027, 4, 1)) == datetime(2027, 3, 31, 15, 0, tzinfo=UTC)
    assert clock.day_end_utc(date(2027, 3, 31)) == datetime(2027, 3, 31, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at_instant", "years"),
    [
        pytest.param(FY_LAST_MINUTE, [2026, 2027, 2028], id="31-March-23:59-JST"),
        pytest.param(FY_FIRST_MINUTE, [2027, 2028], id="1-April-00:00-JST"),
    ],
    indirect=["at_instant"],
)
def test_proposals_are_open_from_the_current_fiscal_year_in_japan(
    seeded_engine: Engine, at_instant: datetime, years: list[int]
) -> None:
    assert proposals.proposal_years(seeded_engine) == years


@pytest.mark.parametrize("at_instant", [UTC_AFTERNOON], indirect=True)
def test_a_measurement_dated_today_in_japan_is_not_in_the_future(
    seeded_engine: Engine, admin: Actor, at_instant: datetime
) -> None:
    ind = query_df(seeded_engine, "SELECT id, unit FROM kpi_indicator ORDER BY id LIMIT 1").iloc[0]
    saved = kpi.enter_actual(
        seeded_engine,
        actor=admin,
        data={
            "indicator_id": int(ind["id"]),
            "fiscal_year": 2026,
            "actual_value": 3.0,
            "unit": str(ind["unit"]),
            "measured_on": date(2026, 12, 2),
            "source": "健康福祉部 実績報告",
        },
    )
    assert saved.measured_on == date(2026, 12, 2)


@pytest.mark.parametrize(("at_instant", "japan_day", "_fiscal_year"), INSTANTS, indirect=["at_instant"])
def test_the_audit_log_default_period_holds_an_action_made_a_moment_ago(
    seeded_engine: Engine, admin: Actor, at_instant: datetime, japan_day: date, _fiscal_year: int
) -> None:
    since, until = admin_period = default_period(clock.today_jst())
    assert until == japan_day and (until - since).days == 30
    proposals.export_proposals(seeded_engine, actor=admin, fiscal_year=None, fmt="csv")
    log = audit_search(seeded_engine, actor=admin, filters=AuditFilters(*admin_period))
    assert log.iloc[0]["操作コード"] == "export"
    assert log.iloc[0]["日時"].startswith(japan_day.isoformat())


# Run in a process of its own so that the database driver starts in the server's zone.
_RECORD_ONE_ACTION = """
import sys
from fund import proposals
from fund.db import get_engine, query_df
from tests.conftest import make_actor
engine = get_engine()
proposals.export_proposals(engine, actor=make_actor(), fiscal_year=None, fmt="csv")
stamp = query_df(engine, "SELECT occurred_at FROM audit_log ORDER BY id DESC LIMIT 1")["occurred_at"].iloc[0]
sys.stdout.write(str(stamp))
"""


@pytest.mark.usefixtures("seeded_engine")
@pytest.mark.parametrize("zone", ["Asia/Tokyo", "UTC", "America/Los_Angeles"])
def test_stored_timestamps_are_utc_whatever_the_servers_zone(zone: str) -> None:
    dispose_engines()  # a DuckDB file opens in one process at a time
    before = clock.now_utc()
    env = {**os.environ, "TZ": zone}
    done = subprocess.run(
        [sys.executable, "-c", _RECORD_ONE_ACTION],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    after = clock.now_utc()
    assert done.returncode == 0, done.stderr
    stored = clock.as_utc(pd.Timestamp(done.stdout).to_pydatetime())
    assert before <= stored <= after
