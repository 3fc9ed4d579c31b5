"""年度 (April–March) and 和暦 labels."""

from collections.abc import Sequence
from datetime import date

REIWA_OFFSET = 2018  # 令和N年度 = FY(2018+N)


def fiscal_year_of(day: date) -> int:
    """The 年度 a calendar date falls in (April 1 starts a new 年度)."""
    return day.year if day.month >= 4 else day.year - 1


def budget_year(day: date) -> int:
    """The 年度 whose budget is being prepared on `day`: the next one (proposals, screening rounds and
    allocations of the 当初予算 are made the year before)."""
    return fiscal_year_of(day) + 1


def default_year(years: Sequence[int], day: date) -> int:
    """The 年度 every form opens on: the budget year when it is among `years`, else the latest one
    before it (the current 年度), else the earliest offered. The forms agree on it."""
    return _target_or_before(years, budget_year(day))


def executing_year(years: Sequence[int], day: date) -> int:
    """The 年度 補正・繰越 opens on: the current 年度, whose allocations are being executed, when it is
    among `years`, else the latest one before it, else the earliest offered."""
    return _target_or_before(years, fiscal_year_of(day))


def _target_or_before(years: Sequence[int], target: int) -> int:
    if target in years:
        return target
    earlier = [y for y in years if y < target]
    return max(earlier) if earlier else min(years)


def is_settlement_period(day: date) -> bool:
    """出納整理期間: April–May postings may still belong to the previous 年度."""
    return day.month in (4, 5)


def allowed_fiscal_years(day: date) -> tuple[int, ...]:
    """年度 a posting on `day` may be booked to: its own, or the previous one during 出納整理期間."""
    fy = fiscal_year_of(day)
    return (fy, fy - 1) if is_settlement_period(day) else (fy,)


def fiscal_year_bounds(fiscal_year: int) -> tuple[date, date]:
    """First and last calendar day of the 年度, the 出納整理期間 excluded."""
    return date(fiscal_year, 4, 1), date(fiscal_year + 1, 3, 31)


def wareki(fiscal_year: int) -> str:
    """'令和6年度' for 2024; '令和元年度' for 2019; '平成30年度' for 2018."""
    if fiscal_year >= 2019:
        n = fiscal_year - REIWA_OFFSET
        return f"令和{'元' if n == 1 else n}年度"
    n = fiscal_year - 1988
    return f"平成{'元' if n == 1 else n}年度"


def fiscal_label(fiscal_year: int) -> str:
    """'令和6年度（2024年度）', the label users expect on screens and 帳票."""
    return f"{wareki(fiscal_year)}（{fiscal_year}年度）"
