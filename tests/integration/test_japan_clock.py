"""The 年度, "today" and the audit period follow Japan time at the instants where zones disagree.

Each instant is given in UTC with a zoneinfo zone, so time-machine also runs the test in a UTC local
zone: code that asked the system for "today" instead of fund.clock would see the UTC day and fail.
"""

from collections.abc import Iterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import time_machine
from sqlalchemy import Engine

from fund import clock, kpi, proposals
from fund.admin import AuditFilters, audit_search, default_period
from fund.auth import Actor
from fund.db import dispose_engines, get_engine, query_df

UTC = ZoneInfo("UTC")
FY_LAST_MINUTE = datetime(2027, 3, 31, 14, 59, tzinfo=UTC)  # 31 March 23:59 JST, 令和8年度
FY_FIRST_MINUTE = datetime(2027, 3, 31, 15, 0, tzinfo=UTC)  # 1 April 00:00 JST, 令和9年度
UTC_AFTERNOON = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)  # already 2 December 00:30 in Japan

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
    assert clock.day_start_utc(date(2027, 4, 1)) == datetime(2027, 3, 31, 15, 0)
    assert clock.day_end_utc(date(2027, 3, 31)) == datetime(2027, 3, 31, 15, 0)


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


@pytest.mark.parametrize(("at_instant", "japan_day", "fiscal_year"), INSTANTS, indirect=["at_instant"])
def test_the_audit_log_default_period_holds_an_action_made_a_moment_ago(
    seeded_engine: Engine, admin: Actor, at_instant: datetime, japan_day: date, fiscal_year: int
) -> None:
    since, until = admin_period = default_period(clock.today_jst())
    assert until == japan_day and (until - since).days == 30
    proposals.export_proposals(seeded_engine, actor=admin, fiscal_year=None, fmt="csv")
    log = audit_search(seeded_engine, actor=admin, filters=AuditFilters(*admin_period))
    assert log.iloc[0]["操作"] == "export"
    assert log.iloc[0]["日時"].startswith(japan_day.isoformat())


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "UTC"])
def test_stored_timestamps_are_utc_whatever_the_servers_zone(
    seeded_engine: Engine, admin: Actor, zone: str
) -> None:
    instant = UTC_AFTERNOON.astimezone(ZoneInfo(zone))  # time-machine runs the test in this local zone
    with time_machine.travel(instant, tick=False):
        dispose_engines()  # new connections, opened in this zone
        engine = get_engine()
        proposals.export_proposals(engine, actor=admin, fiscal_year=None, fmt="csv")
        stored = query_df(engine, "SELECT occurred_at FROM audit_log ORDER BY id DESC LIMIT 1")["occurred_at"]
        shown = audit_search(engine, actor=admin, filters=AuditFilters(*default_period(clock.today_jst())))
    assert clock.as_utc(pd.Timestamp(stored.iloc[0]).to_pydatetime()) == UTC_AFTERNOON
    assert shown.iloc[0]["日時"] == "2026-12-02 00:30:00"
