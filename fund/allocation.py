"""年度配分: the allocation table per 年度 (as published: 区分 blocks, 再掲 rows, subtotals)."""

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine

from fund.db import query_df
from fund.money import format_oku_yen

TABLE_COLUMNS = [
    "section_code",
    "section_heading",
    "section_name",
    "block_code",
    "block_heading",
    "block_name",
    "block_order",
    "project_id",
    "project",
    "department",
    "is_new",
    "summary",
    "project_cost_yen",
    "fund_share_yen",
    "fund_share_is_estimate",
    "is_relisting",
    "status",
    "budget_stage",
]


def allocation_rows(
    engine: Engine,
    *,
    fiscal_year: int,
    department_id: int | None = None,
    category_code: str | None = None,
    include_unapproved: bool = False,
) -> pd.DataFrame:
    """One row per project and block for the 年度: primary rows with amounts, 再掲 rows without.

    `block_*` is the leaf category (1(1), 1(2), 基盤整備 …) and `section_*` its parent (1, 2).
    Amounts of a project's budget stages (当初・補正・専決) are summed; 新規 is derived from the
    project's first 年度.
    """
    params: dict[str, object] = {"fy": fiscal_year}
    filters = ""
    if department_id is not None:
        filters += " AND p.department_id = :dept"
        params["dept"] = department_id
    if category_code is not None:
        filters += " AND (blk.code = :cat OR sec.code = :cat)"
        params["cat"] = category_code
    status = "" if include_unapproved else " AND a.status = 'approved'"
    sql = f"""
    WITH primary_rows AS (
        SELECT a.project_id, a.category_id,
               SUM(a.project_cost_yen) AS project_cost_yen, SUM(a.fund_share_yen) AS fund_share_yen,
               BOOL_OR(a.fund_share_is_estimate) AS fund_share_is_estimate,
               MIN(a.status) AS status, MIN(a.budget_stage) AS budget_stage, FALSE AS is_relisting
        FROM allocation a
        WHERE a.fiscal_year = :fy {status}
        GROUP BY a.project_id, a.category_id
    ), relisted AS (
        SELECT r.project_id, r.category_id, NULL AS project_cost_yen, NULL AS fund_share_yen,
               FALSE AS fund_share_is_estimate, 'approved' AS status, NULL AS budget_stage, TRUE AS is_relisting
        FROM relisting r
        WHERE r.fiscal_year = :fy AND r.project_id IN (SELECT project_id FROM primary_rows)
    ), all_rows AS (
        SELECT * FROM primary_rows UNION ALL SELECT * FROM relisted
    )
    SELECT sec.code AS section_code, sec.heading AS section_heading, sec.name AS section_name,
           blk.code AS block_code, blk.heading AS block_heading, blk.name AS block_name,
           blk.sort_order AS block_order, p.id AS project_id, p.name AS project, d.name AS department,
           (p.first_fiscal_year = :fy) AS is_new, p.summary,
           r.project_cost_yen, r.fund_share_yen, r.fund_share_is_estimate, r.is_relisting,
           r.status, r.budget_stage
    FROM all_rows r
    JOIN project p ON p.id = r.project_id
    JOIN department d ON d.id = p.department_id
    JOIN category blk ON blk.id = r.category_id
    JOIN category sec ON sec.id = blk.parent_id
    WHERE TRUE {filters}
    ORDER BY sec.sort_order, blk.sort_order, p.id
    """
    df = query_df(engine, sql, params)
    for col in ("project_cost_yen", "fund_share_yen"):
        df[col] = df[col].astype("Int64")
    return df[TABLE_COLUMNS]


def category_totals(rows: pd.DataFrame) -> pd.DataFrame:
    """Per block: number of projects and 事業費 / 基金充当額 totals, 再掲 excluded."""
    primary = rows[~rows["is_relisting"]]
    return (
        primary.groupby(["section_code", "block_code", "block_name", "block_order"], as_index=False)
        .agg(
            projects=("project_id", "nunique"),
            project_cost_yen=("project_cost_yen", "sum"),
            fund_share_yen=("fund_share_yen", "sum"),
        )
        .sort_values("block_order")
        .reset_index(drop=True)
    )


def year_totals(engine: Engine, *, fiscal_year: int) -> dict[str, int]:
    """Approved allocations of the 年度: projects, 新規 projects, 事業費, 基金充当額 (yen), 推計 count."""
    df = query_df(
        engine,
        """
        SELECT COUNT(DISTINCT a.project_id) AS projects,
               COUNT(DISTINCT CASE WHEN p.first_fiscal_year = :fy THEN a.project_id END) AS new_projects,
               COALESCE(SUM(a.project_cost_yen), 0) AS project_cost_yen,
               COALESCE(SUM(a.fund_share_yen), 0) AS fund_share_yen,
               COUNT(DISTINCT CASE WHEN a.fund_share_is_estimate THEN a.project_id END) AS estimated_projects
        FROM allocation a JOIN project p ON p.id = a.project_id
        WHERE a.fiscal_year = :fy AND a.status = 'approved'
        """,
        {"fy": fiscal_year},
    )
    return {k: int(v) for k, v in df.iloc[0].items()}


def allocation_years(engine: Engine) -> list[int]:
    """年度 that have approved allocations, newest first."""
    df = query_df(
        engine, "SELECT DISTINCT fiscal_year FROM allocation WHERE status = 'approved' ORDER BY 1 DESC"
    )
    return [int(y) for y in df["fiscal_year"]]


@dataclass(frozen=True)
class LayoutRow:
    """One line of the published allocation table (令和N年度当初予算における基金活用事業一覧)."""

    kind: str  # section | block | item | relisting | subtotal | section_total | grand_total
    label: str = ""  # 区分 column: 新規, a heading, or a subtotal caption
    name: str = ""  # 事業名【所管部局】
    summary: str = ""
    project_cost_yen: int | None = None
    fund_share_yen: int | None = None
    fund_share_is_estimate: bool = False


def table_layout(rows: pd.DataFrame) -> list[LayoutRow]:
    """Lay out `allocation_rows` like the seed: blocks with 「N事業計」, 再掲 rows without amounts,
    section totals 「【N事業 X億円（再掲除く）】」 and the grand total. Amounts stay in yen."""
    out: list[LayoutRow] = []
    primary = rows[~rows["is_relisting"]]
    for section_code, section in rows.groupby("section_code", sort=False):
        sec_primary = primary[primary["section_code"] == section_code]
        first = section.iloc[0]
        out.append(
            LayoutRow(
                kind="section",
                label=f"{first['section_heading']} {first['section_name']}",
                name=f"【{sec_primary['project_id'].nunique()}事業 {format_oku_yen(int(sec_primary['project_cost_yen'].sum()))}"
                f"{'（再掲除く）' if section['is_relisting'].any() else ''}】",
                project_cost_yen=int(sec_primary["project_cost_yen"].sum()),
                fund_share_yen=int(sec_primary["fund_share_yen"].sum()),
            )
        )
        for _, block in section.groupby("block_order", sort=True):
            blk_primary = block[~block["is_relisting"]]
            cost = int(blk_primary["project_cost_yen"].sum())
            fund = int(blk_primary["fund_share_yen"].sum())
            numbered = bool(block.iloc[0]["block_heading"])
            heading = f"{block.iloc[0]['block_heading']}{block.iloc[0]['block_name']}"
            # Numbered blocks close with 「N事業計」; unnumbered ones carry the amount on the heading (as in the seed).
            out.append(
                LayoutRow(
                    kind="block",
                    label=heading,
                    project_cost_yen=None if numbered else cost,
                    fund_share_yen=None if numbered else fund,
                )
            )
            for r in block.itertuples(index=False):
                out.append(
                    LayoutRow(
                        kind="relisting" if r.is_relisting else "item",
                        label="新規" if r.is_new else "",
                        name=f"{r.project}【{r.department}】",
                        summary=str(r.summary),
                        project_cost_yen=None if r.is_relisting else int(r.project_cost_yen),
                        fund_share_yen=None if r.is_relisting else int(r.fund_share_yen),
                        fund_share_is_estimate=bool(r.fund_share_is_estimate) and not r.is_relisting,
                    )
                )
            if numbered:
                out.append(
                    LayoutRow(
                        kind="subtotal",
                        label=f"{blk_primary['project_id'].nunique()}事業計",
                        project_cost_yen=cost,
                        fund_share_yen=fund,
                    )
                )
    out.append(
        LayoutRow(
            kind="grand_total",
            label=f"合計 {primary['project_id'].nunique()}事業",
            project_cost_yen=int(primary["project_cost_yen"].sum()),
            fund_share_yen=int(primary["fund_share_yen"].sum()),
        )
    )
    return out
