"""ホーム: the headline of each area, so an executive sees the state of the fund at a glance."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine

from fund import allocation, clock, kpi, ledger, proposals, screening
from fund.fiscal import fiscal_year_of
from fund.seed import load_fund_config


@dataclass(frozen=True)
class Headline:
    fund_size_yen: int
    balance_yen: int
    used_ratio: float  # share of the fund size drawn down so far
    reference_year: int  # latest 年度 with approved allocations (or the current 年度)
    year_totals: dict[str, int]
    average_drawdown_yen: int  # mean of the last two 年度 with drawdowns
    runway_years: float | None  # balance ÷ average drawdown
    proposal_status: dict[str, int]
    screening_progress: dict[str, int]
    kpi_status: dict[str, int]


def headline(engine: Engine, *, today: date | None = None) -> Headline:
    today = today or clock.today_jst()
    size = int(load_fund_config()["size_yen"])
    bal = ledger.balance(engine)
    years = allocation.allocation_years(engine)
    ref_year = years[0] if years else fiscal_year_of(today)
    rf = ledger.roll_forward(engine)
    drawdowns = [int(d) for d in rf.loc[rf["取崩し"] > 0, "取崩し"].tail(2)]
    average = sum(drawdowns) // len(drawdowns) if drawdowns else 0
    return Headline(
        fund_size_yen=size,
        balance_yen=bal,
        used_ratio=(size - bal) / size if size else 0.0,
        reference_year=ref_year,
        year_totals=allocation.year_totals(engine, fiscal_year=ref_year),
        average_drawdown_yen=average,
        runway_years=bal / average if average else None,
        proposal_status=proposals.status_counts(engine, fiscal_year=ref_year),
        screening_progress=screening.progress(engine, fiscal_year=ref_year),
        # The home page labels these 「目標年度が当年度のもの」: years on the path are left out.
        kpi_status=kpi.status_counts(engine, fiscal_year=ref_year, target_years_only=True),
    )
