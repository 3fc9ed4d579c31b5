"""What the fund owes: each approved allocation's undrawn rest and the later-year commitments.

The one rule, used by the ceiling, the projection, ホーム and 基金の状況 alike:

    余裕額（年度 Y） = 基金残高 − 承認済み配分の未取崩し（全年度） − 後年度負担 − 年度 Y の承認待ち

* 未取崩し of an approved allocation = 基金充当額 − drawn − 繰越 (its 翌年度 part is an allocation of
  its own). A closed 年度 owes nothing: what was not drawn became 不用額 at 決算.
* 後年度負担 (commitment): the later-year 基金充当額 of an adopted or funded proposal's cost profile,
  for the current 年度 (Japan time) and later ones, until an approved allocation of that project and
  年度 takes its place (a 繰越 does not) or a newer adopted proposal of the project re-plans that
  年度. A plan for a 年度 already past that never became an allocation reserves nothing.
* 承認待ち: allocations awaiting approval (beyond their project's own commitment in the 年度, which
  they will replace) and 補正 increases awaiting approval. Decreases free money only once approved.
"""

from datetime import date

import pandas as pd
from sqlalchemy import Engine

from fund import clock
from fund.db import in_list, query_df
from fund.fiscal import fiscal_year_of
from fund.ledger import ALLOCATION_LEFT_SQL, CARRIED_IN_SQL, LEFT_PARAMS
from fund.models import ProposalStatus

PLANNING_STATUSES = (ProposalStatus.adopted, ProposalStatus.funded)  # proposals whose later years are planned
_PLANNING, _PLANNING_PARAMS = in_list("planning", PLANNING_STATUSES)
PARAMS: dict[str, object] = LEFT_PARAMS | _PLANNING_PARAMS

# One row per project and open 年度 from :from_fy on with a commitment (see the module docstring).
COMMITMENTS_SQL = f"""
    SELECT p.project_id, l.fiscal_year, CAST(SUM(l.fund_share_yen) AS BIGINT) AS reserved_yen,
           CAST(SUM(CASE WHEN p.is_sample THEN l.fund_share_yen ELSE 0 END) AS BIGINT) AS sample_yen
    FROM proposal_cost_line l
    JOIN proposal p ON p.id = l.proposal_id
    JOIN fiscal_year fy ON fy.year = l.fiscal_year
    WHERE p.status IN {_PLANNING}
      AND l.fiscal_year > p.fiscal_year AND l.fiscal_year >= :from_fy AND l.fund_share_yen > 0
      AND NOT fy.closed
      AND NOT EXISTS (
          SELECT 1 FROM allocation a
          WHERE a.project_id = p.project_id AND a.fiscal_year = l.fiscal_year AND a.status = :approved
            AND a.id NOT IN ({CARRIED_IN_SQL}))
      AND NOT EXISTS (
          SELECT 1 FROM proposal q
          WHERE q.project_id = p.project_id AND q.status IN {_PLANNING}
            AND q.fiscal_year > p.fiscal_year AND q.fiscal_year <= l.fiscal_year)
    GROUP BY p.project_id, l.fiscal_year
"""

# sample_reserved_yen: the part of reserved_yen planned by sample proposals (shown with its mark)
OWED_COLUMNS = ["fiscal_year", "undrawn_yen", "reserved_yen", "sample_reserved_yen"]


def params(today: date | None = None) -> dict[str, object]:
    """The parameters of these queries, commitments counted from the current 年度 of `today`."""
    return PARAMS | {"from_fy": fiscal_year_of(today or clock.today_jst())}


def owed_by_year(engine: Engine) -> pd.DataFrame:
    """What the fund owes per open 年度 (yen, `OWED_COLUMNS`): the undrawn rest of approved allocations
    and the commitments, past 年度 included (`owed_from` applies the current 年度). Only 年度 owing
    something are listed."""
    return query_df(
        engine,
        f"""
        WITH owed AS (
            SELECT fiscal_year, left_yen AS undrawn_yen, CAST(0 AS BIGINT) AS reserved_yen,
                   CAST(0 AS BIGINT) AS sample_yen
            FROM ({ALLOCATION_LEFT_SQL}) x WHERE left_yen > 0
            UNION ALL
            SELECT fiscal_year, CAST(0 AS BIGINT), reserved_yen, sample_yen FROM ({COMMITMENTS_SQL}) c
        )
        SELECT fiscal_year, CAST(SUM(undrawn_yen) AS BIGINT) AS undrawn_yen,
               CAST(SUM(reserved_yen) AS BIGINT) AS reserved_yen,
               CAST(SUM(sample_yen) AS BIGINT) AS sample_reserved_yen
        FROM owed GROUP BY fiscal_year ORDER BY fiscal_year
        """,
        PARAMS | {"from_fy": 0},
    ).astype("int64")


def owed_from(owed: pd.DataFrame, *, current_year: int) -> pd.DataFrame:
    """`owed_by_year` as the rule counts it from the current 年度 on (`OWED_COLUMNS` plus `total_yen`):
    what open past 年度 have not drawn counts in the current 年度; their commitments reserve nothing."""
    past = owed["fiscal_year"] < current_year
    moved = pd.DataFrame(
        {
            "fiscal_year": owed["fiscal_year"].where(~past, current_year),
            "undrawn_yen": owed["undrawn_yen"],
            "reserved_yen": owed["reserved_yen"].where(~past, 0),
            "sample_reserved_yen": owed["sample_reserved_yen"].where(~past, 0),
        }
    )
    out = moved.groupby("fiscal_year", as_index=False).sum().astype("int64")
    out["total_yen"] = out["undrawn_yen"] + out["reserved_yen"]
    return out[out["total_yen"] > 0].reset_index(drop=True)
