"""配分の履歴: one allocation's life from 要求 to 決算, step by step, from the rows that hold it."""

import pandas as pd
from sqlalchemy import Engine

from fund.db import query_df
from fund.errors import NotFound
from fund.ledger import KIND_PARAMS
from fund.models import AllocationChangeKind, AllocationStatus, AllocationStep, ProposalStatus

HISTORY_COLUMNS = ["at", "step", "amount_yen", "status", "by", "approved_by", "note"]


def history(engine: Engine, *, allocation_id: int) -> pd.DataFrame:
    """The allocation's steps in time order (`HISTORY_COLUMNS`; `amount_yen` is the step's effect on
    the 基金充当額 for 査定 and 補正, the amount moved otherwise). Raises NotFound."""
    params = KIND_PARAMS | {
        "a": allocation_id,
        "approved": AllocationStatus.approved.value,
        "submitted": ProposalStatus.submitted.value,
        "revision": AllocationChangeKind.revision.value,
        **{f"step_{s.name}": s.value for s in AllocationStep},
    }
    head = query_df(engine, "SELECT id FROM allocation WHERE id = :a", {"a": allocation_id})
    if head.empty:
        raise NotFound(f"配分番号 {allocation_id} は見つかりません。")
    df = query_df(
        engine,
        """
        WITH revised AS (
            SELECT COALESCE(SUM(fund_delta_yen), 0) AS yen FROM allocation_change
            WHERE allocation_id = :a AND kind = :revision AND status = :approved
        )
        SELECT e.occurred_at AS at, :step_request AS step, p.fund_share_yen AS amount_yen,
               CAST(NULL AS VARCHAR) AS status, e.actor AS by, CAST(NULL AS VARCHAR) AS approved_by,
               CAST(p.id AS VARCHAR) AS note, 0 AS ord
        FROM allocation a JOIN proposal p ON p.id = a.proposal_id
        JOIN proposal_event e ON e.proposal_id = p.id AND e.to_status = :submitted
        WHERE a.id = :a AND a.id NOT IN (SELECT carried_to_id FROM allocation_change WHERE carried_to_id IS NOT NULL)
        UNION ALL
        SELECT a.created_at, :step_assessment, a.fund_share_yen - (SELECT yen FROM revised), NULL,
               a.proposed_by, NULL, NULL, 1
        FROM allocation a WHERE a.id = :a AND a.id NOT IN
            (SELECT carried_to_id FROM allocation_change WHERE carried_to_id IS NOT NULL)
        UNION ALL
        SELECT a.approved_at, :step_budget, a.fund_share_yen - (SELECT yen FROM revised), NULL,
               a.proposed_by, a.approved_by, a.budget_stage, 2
        FROM allocation a WHERE a.id = :a AND a.status = :approved AND a.id NOT IN
            (SELECT carried_to_id FROM allocation_change WHERE carried_to_id IS NOT NULL)
        UNION ALL
        SELECT COALESCE(c.approved_at, c.requested_at), :step_carried_in, c.fund_delta_yen, c.status,
               c.requested_by, c.approved_by, CAST(c.allocation_id AS VARCHAR), 3
        FROM allocation_change c WHERE c.carried_to_id = :a
        UNION ALL
        SELECT COALESCE(c.approved_at, c.requested_at), c.kind, c.fund_delta_yen, c.status,
               c.requested_by, c.approved_by, c.reason, 4
        FROM allocation_change c WHERE c.allocation_id = :a
        UNION ALL
        SELECT e.created_at,
               CASE WHEN e.kind = :kind_reversal THEN :step_reversal ELSE :step_drawdown END,
               e.amount_yen, NULL, e.created_by, NULL, e.memo, 4
        FROM ledger_entry e WHERE e.allocation_id = :a
        ORDER BY 1, 8
        """,
        params,
    )
    return df[HISTORY_COLUMNS]


PENDING_COLUMNS = [
    "change_id",
    "allocation_id",
    "project",
    "kind",
    "fund_delta_yen",
    "requested_by",
    "reason",
]


def pending_changes(engine: Engine, *, fiscal_year: int) -> pd.DataFrame:
    """補正 and 繰越 awaiting approval on the 年度's allocations (`PENDING_COLUMNS`), oldest first."""
    return query_df(
        engine,
        """
        SELECT c.id AS change_id, c.allocation_id, p.name AS project, c.kind, c.fund_delta_yen,
               c.requested_by, c.reason
        FROM allocation_change c
        JOIN allocation a ON a.id = c.allocation_id
        JOIN project p ON p.id = a.project_id
        WHERE a.fiscal_year = :fy AND c.status = :proposed
        ORDER BY c.id
        """,
        {"fy": fiscal_year, "proposed": AllocationStatus.proposed.value},
    )
