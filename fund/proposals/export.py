"""The proposal list as shown and as downloaded (xlsx/CSV, audited)."""

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from fund.auth import Action, Actor, require, scoped_department
from fund.errors import RuleViolation
from fund.export import record_export, to_csv_bytes, to_xlsx_bytes
from fund.fiscal import fiscal_label
from fund.models import (
    ProposalStatus,
)
from fund.money import sen_yen_series
from fund.proposals.queries import proposal_frame

LARGE_EXPORT_ROWS = 10_000  # above this many rows the Excel download takes tens of seconds: say so

PROPOSAL_TABLE_NUMBERS = [
    "事業費（千円）",
    "基金充当額（千円）",
    "県民接点（回/年）",
    "削減時間（時間/年）",
    "1,000接点あたり充当額（円）",
]


def _whole(values: pd.Series) -> pd.Series:
    """Rounded half away from zero to a whole number (as the 帳票 round); missing stays missing."""
    v = values.astype("float64")
    return (np.sign(v) * np.floor(v.abs() + 0.5)).astype("Int64")


def proposal_table(df: pd.DataFrame) -> pd.DataFrame:
    """`proposal_frame` with Japanese headers and money in 千円: the list on screen and its export."""

    years = {int(y): fiscal_label(int(y)) for y in pd.unique(df["fiscal_year"])}
    return pd.DataFrame(
        {
            "番号": df["id"],
            "年度": df["fiscal_year"].map(years).astype(object),
            "新規": df["is_new"].map({True: "新規", False: ""}).astype(object),
            "事業名": df["project"],
            "所管部局": df["department"],
            "状態": df["status_label"],
            "事業費（千円）": sen_yen_series(df["project_cost_yen"]).astype("int64"),
            "基金充当額（千円）": sen_yen_series(df["fund_share_yen"]).astype("int64"),
            # Figures as a table prints them, not 333333.3333333333: whole 回 and 円, 時間 to 0.1.
            "県民接点（回/年）": _whole(df["touchpoints"]),
            "削減時間（時間/年）": df["hours_saved"].astype("float64").round(1),
            "1,000接点あたり充当額（円）": _whole(df["yen_per_1000_touchpoints"]),
            "新規性": df["novelty_label"],
            "根拠データ": df["is_sample"].map({True: "サンプル", False: ""}).astype(object),
            "推計": df["fund_share_is_estimate"].map({True: "基金充当額", False: ""}).astype(object),
        }
    ).reset_index(drop=True)


def export_proposals(
    engine: Engine,
    *,
    actor: Actor,
    fiscal_year: int | None = None,
    status: ProposalStatus | None = None,
    department_id: int | None = None,
    search: str | None = None,
    fmt: str,
) -> bytes:
    """Every proposal the list's filters match (no display limit), as xlsx or CSV; audited.

    Raises PermissionDenied, RuleViolation (unknown format).
    """
    require(actor, Action.view_proposals)
    require(actor, Action.export)
    if fmt not in ("xlsx", "csv"):
        raise RuleViolation("出力形式は xlsx または csv を指定してください。")
    table = proposal_table(
        proposal_frame(
            engine,
            actor=actor,
            fiscal_year=fiscal_year,
            status=status,
            department_id=department_id,
            search=search,
            limit=None,
        )
    )
    if fmt == "xlsx":
        title = "事業提案一覧" + (f"（{fiscal_label(fiscal_year)}）" if fiscal_year is not None else "")
        data = to_xlsx_bytes(table, sheet_name="事業提案", title=title)
    else:
        data = to_csv_bytes(table)
    record_export(
        engine,
        actor=actor,
        what=f"proposals.{fmt}",
        filters={
            "fiscal_year": fiscal_year,
            "status": status.value if status is not None else None,
            "department_id": scoped_department(actor, department_id),
            "search": search or "",
        },
        rows=len(table),
    )
    return data
