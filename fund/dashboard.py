"""ホーム: the headline of each area, so an executive sees the state of the fund at a glance."""

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import Engine

from fund import allocation, clock, kpi, projection, proposals, screening
from fund.auth import SYSTEM
from fund.models import ProposalStatus

FUNDED = (ProposalStatus.adopted, ProposalStatus.funded)  # the proposals the home page counts as chosen


@dataclass(frozen=True)
class Headline:
    fund_size_yen: int
    balance_yen: int
    used_ratio: float  # share of the fund size drawn down so far
    current_year: int  # the current 年度 (Japan time), the same as 基金の状況's
    year_totals: dict[str, int]
    base_case: projection.Projection  # the same outlook as 基金の状況 (runway, recent pace)
    year_end_balances: pd.DataFrame  # fiscal_year, closing_balance_yen: one row per 年度 with postings
    proposal_status: dict[ProposalStatus, int]
    screening_progress: dict[str, int]
    kpi_status: dict[str, int]

    @property
    def funded_proposals(self) -> int:
        return sum(self.proposal_status[s] for s in FUNDED)


def headline(engine: Engine, *, today: date | None = None) -> Headline:
    today = today or clock.today_jst()
    fig = projection.figures(engine)
    status = projection.fund_status(fig, today=today)
    ref_year = status.current_year
    rf = fig.roll_forward
    return Headline(
        fund_size_yen=status.fund_size_yen,
        balance_yen=status.balance_yen,
        used_ratio=status.used_ratio,
        current_year=ref_year,
        year_totals=allocation.year_totals(engine, fiscal_year=ref_year),
        base_case=status.projection,
        year_end_balances=pd.DataFrame(
            {
                "fiscal_year": rf["fiscal_year"].astype(int),
                "closing_balance_yen": rf["closing_yen"].astype("int64"),
            }
        ),
        proposal_status=proposals.status_counts(engine, fiscal_year=ref_year),
        screening_progress=screening.progress(engine, fiscal_year=ref_year),
        # The home page shows the whole fund to everyone (SYSTEM: no department scope) and labels
        # these 「目標年度が当年度のもの」: years on the path are left out.
        kpi_status=kpi.status_counts(engine, actor=SYSTEM, fiscal_year=ref_year, target_years_only=True),
    )
