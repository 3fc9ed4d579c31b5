"""The one clock. "Now", "today" and the current 年度 are Japan time, whatever the server's zone.

Nothing else in the application asks the system for the time: the 年度 rollover on 1 April, the
default 測定日 and 記帳日, the audit log's period and backup names must agree on which day it is.
Stored timestamps are UTC instants (TIMESTAMP WITH TIME ZONE) taken from this same clock; screens
show them in Japan time.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from fund.fiscal import fiscal_year_of

JST = ZoneInfo("Asia/Tokyo")
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


def now_jst() -> datetime:
    """The current instant, in Japan time (timezone-aware)."""
    return datetime.now(JST)


def now_utc() -> datetime:
    """The current instant in UTC, for stored timestamps (the same instant as `now_jst`)."""
    return now_jst().astimezone(UTC)


def as_utc(value: datetime) -> datetime:
    """A timestamp as an aware UTC instant; a naive one is taken as UTC (see fund.db)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def from_timestamp(value: object) -> datetime | None:
    """A token's seconds since the epoch (`iat`) as a UTC instant; None when absent or malformed."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, UTC)


def in_japan(value: datetime) -> datetime:
    """A stored timestamp (UTC, or naive UTC) as Japan time, for messages and reports."""
    return as_utc(value).astimezone(JST)


def today_jst() -> date:
    """Today's date in Japan."""
    return now_jst().date()


def current_fiscal_year() -> int:
    """The 年度 today falls in, in Japan (1 April 00:00 JST starts a new one)."""
    return fiscal_year_of(today_jst())


def day_start_utc(day: date) -> datetime:
    """00:00 Japan time of `day`, as an aware UTC instant to compare with stored timestamps."""
    return datetime.combine(day, time(), tzinfo=JST).astimezone(UTC)


def day_end_utc(day: date) -> datetime:
    """00:00 Japan time of the day after `day` (an exclusive upper bound), as an aware UTC instant."""
    return day_start_utc(day + timedelta(days=1))


def stamp_jst() -> str:
    """'20261201-153000': the current Japan time for file names (backups, the file a restore replaces)."""
    return now_jst().strftime("%Y%m%d-%H%M%S")


def jst_text(values: pd.Series, *, fmt: str = TIMESTAMP_FORMAT) -> pd.Series:
    """Stored UTC timestamps as Japan-time text ('2026-12-01 15:30:00') for screens and exports."""
    return pd.to_datetime(values, utc=True).dt.tz_convert(JST).dt.strftime(fmt)
