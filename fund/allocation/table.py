"""The allocation table's rows and totals in SQL (approved allocations, 再掲), and the reads of the registration tab."""

from typing import TypedDict

import pandas as pd
from sqlalchemy import Engine

from fund.db import query_df
from fund.labels import ALLOCATION_STATUS, BUDGET_STAGE
from fund.ledger import CARRIED_IN_SQL
from fund.models import (
    AllocationChangeKind,
    AllocationStatus,
    BudgetStage,
)
from fund.money import sen_yen_series, sen_yen_sql

APPROVED: dict[str, object] = {"approved": AllocationStatus.approved.value}  # bound as :approved
# The 基金充当額 of a row split by where it comes from (当初 + 補正 + 前年度繰越 = 基金充当額).
BREAKDOWN = ("initial_fund_yen", "supplementary_fund_yen", "carried_in_fund_yen")
_BREAKDOWN_PARAMS: dict[str, object] = {
    "stage_initial": BudgetStage.initial.value,
    "change_revision": AllocationChangeKind.revision.value,
}


class TableFilter(TypedDict):
    """What the allocation table is narrowed to (the screen's filters, as service arguments)."""

    fiscal_year: int
    department_id: int | None
    category_code: str | None


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
    *BREAKDOWN,
    "is_relisting",
    "status",
    "budget_stage",
]


def _rows_sql(
    *, fiscal_year: int, department_id: int | None, category_code: str | None, include_unapproved: bool
) -> tuple[str, dict[str, object]]:
    """The SELECT behind `allocation_rows` (no ORDER BY) and its bound parameters."""
    params: dict[str, object] = {"fy": fiscal_year} | APPROVED | _BREAKDOWN_PARAMS
    filters = ""
    if department_id is not None:
        filters += " AND p.department_id = :dept"
        params["dept"] = department_id
    if category_code is not None:
        filters += " AND (blk.code = :cat OR sec.code = :cat)"
        params["cat"] = category_code
    status = "" if include_unapproved else " AND a.status = :approved"
    # 当初 is an initial allocation's amount before its approved 補正; 補正 is those revisions plus
    # the 補正・専決 allocations; 前年度繰越 is an allocation that a 繰越 created.
    sql = f"""
    WITH revised AS (
        SELECT allocation_id, SUM(fund_delta_yen) AS delta_yen FROM allocation_change
        WHERE kind = :change_revision AND status = :approved GROUP BY allocation_id
    ), carried AS (
        {CARRIED_IN_SQL}
    ), split AS (
        SELECT a.project_id, a.category_id, a.project_cost_yen, a.fund_share_yen,
               a.fund_share_is_estimate, a.status,
               CASE WHEN a.id IN (SELECT carried_to_id FROM carried) THEN NULL ELSE a.budget_stage END
                   AS budget_stage,
               CASE WHEN a.id IN (SELECT carried_to_id FROM carried) THEN a.fund_share_yen ELSE 0 END
                   AS carried_in,
               CASE WHEN a.id IN (SELECT carried_to_id FROM carried) OR a.budget_stage <> :stage_initial
                    THEN 0 ELSE a.fund_share_yen - COALESCE(rv.delta_yen, 0) END AS initial
        FROM allocation a LEFT JOIN revised rv ON rv.allocation_id = a.id
        WHERE a.fiscal_year = :fy {status}
    ), primary_rows AS (
        SELECT a.project_id, a.category_id,
               CAST(SUM(a.project_cost_yen) AS BIGINT) AS project_cost_yen,
               CAST(SUM(a.fund_share_yen) AS BIGINT) AS fund_share_yen,
               BOOL_OR(a.fund_share_is_estimate) AS fund_share_is_estimate,
               CAST(SUM(a.initial) AS BIGINT) AS initial_fund_yen,
               CAST(SUM(a.fund_share_yen - a.initial - a.carried_in) AS BIGINT) AS supplementary_fund_yen,
               CAST(SUM(a.carried_in) AS BIGINT) AS carried_in_fund_yen,
               MIN(a.status) AS status, MIN(a.budget_stage) AS budget_stage, FALSE AS is_relisting
        FROM split a
        GROUP BY a.project_id, a.category_id
    ), relisted AS (
        SELECT r.project_id, r.category_id, CAST(NULL AS BIGINT) AS project_cost_yen,
               CAST(NULL AS BIGINT) AS fund_share_yen, FALSE AS fund_share_is_estimate,
               CAST(NULL AS BIGINT) AS initial_fund_yen, CAST(NULL AS BIGINT) AS supplementary_fund_yen,
               CAST(NULL AS BIGINT) AS carried_in_fund_yen,
               CAST(:approved AS VARCHAR(20)) AS status,
               CAST(NULL AS VARCHAR(20)) AS budget_stage, TRUE AS is_relisting
        FROM relisting r
        WHERE r.fiscal_year = :fy AND r.project_id IN (SELECT project_id FROM primary_rows)
    ), all_rows AS (
        SELECT * FROM primary_rows UNION ALL SELECT * FROM relisted
    )
    SELECT sec.code AS section_code, sec.heading AS section_heading, sec.name AS section_name,
           blk.code AS block_code, blk.heading AS block_heading, blk.name AS block_name,
           blk.sort_order AS block_order, p.id AS project_id, p.name AS project, d.name AS department,
           (p.first_fiscal_year = :fy) AS is_new, p.summary,
           r.project_cost_yen, r.fund_share_yen, r.fund_share_is_estimate,
           r.initial_fund_yen, r.supplementary_fund_yen, r.carried_in_fund_yen, r.is_relisting,
           r.status, r.budget_stage, sec.sort_order AS section_order
    FROM all_rows r
    JOIN project p ON p.id = r.project_id
    JOIN department d ON d.id = p.department_id
    JOIN category blk ON blk.id = r.category_id
    JOIN category sec ON sec.id = blk.parent_id
    WHERE TRUE {filters}
    """
    return sql, params


def allocation_rows(
    engine: Engine,
    *,
    fiscal_year: int,
    department_id: int | None = None,
    category_code: str | None = None,
    include_unapproved: bool = False,
    limit: int | None = None,
) -> pd.DataFrame:
    """One row per project and block for the 年度: primary rows with amounts, 再掲 rows without.

    `block_*` is the leaf category (1(1), 1(2), 基盤整備 …) and `section_*` its parent (1, 2).
    Amounts of a project's budget stages (当初・補正・専決) are summed; 新規 is derived from the
    project's first 年度. `limit` keeps only the first rows in print order (the head of a long
    table; `table_totals` gives the figures of all of them).
    """
    sql, params = _rows_sql(
        fiscal_year=fiscal_year,
        department_id=department_id,
        category_code=category_code,
        include_unapproved=include_unapproved,
    )
    # Within a block the source prints its own projects first, then the (再掲) rows.
    sql += " ORDER BY sec.sort_order, blk.sort_order, r.is_relisting, p.id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    df = query_df(engine, sql, params)
    for col in ("project_cost_yen", "fund_share_yen", *BREAKDOWN):
        df[col] = df[col].astype("Int64")
    return df[TABLE_COLUMNS]


def table_text(
    engine: Engine, *, fiscal_year: int, department_id: int | None = None, category_code: str | None = None
) -> str:
    """Every text of `allocation_rows` as one string in print order (区分, 細分, 事業名, 所管部局, 概要
    of each row), for checking a character set without loading the rows."""
    sql, params = _rows_sql(
        fiscal_year=fiscal_year,
        department_id=department_id,
        category_code=category_code,
        include_unapproved=False,
    )
    parts = " || ".join(
        f"COALESCE(t.{c}, '')"
        for c in (
            "section_heading",
            "section_name",
            "block_heading",
            "block_name",
            "project",
            "department",
            "summary",
        )
    )
    df = query_df(
        engine,
        f"""
        WITH t AS ({sql})
        SELECT STRING_AGG({parts}, '' ORDER BY t.section_order, t.block_order, t.is_relisting, t.project_id) AS text FROM t
        """,
        params,
    )
    text = df["text"].iloc[0] if len(df) else None
    return "" if text is None or pd.isna(text) else str(text)


BREAKDOWN_SEN = ("initial_sen", "supplementary_sen", "carried_in_sen")

# Totals of a table: one row per block, per section and for everything (`level`), with the number
# of projects (再掲 excluded), amounts in yen and in 千円 as printed (each item rounded, then added).
TOTALS_COLUMNS = [
    "level",  # block | section | all
    "section_code",
    "block_order",
    "projects",
    "new_projects",
    "project_cost_yen",
    "fund_share_yen",
    "cost_sen",
    "fund_sen",
    *BREAKDOWN,
    *BREAKDOWN_SEN,
    "supplementary_rows",  # rows with a 補正 / with a 前年度繰越 (the title names them)
    "carried_in_rows",
    "rows",
    "relistings",
    "numbered",  # blocks with a number (closed by 「N事業計」)
    "blocks",
    *(f"stage_{s.value}" for s in BudgetStage),
]


def table_totals(
    engine: Engine, *, fiscal_year: int, department_id: int | None = None, category_code: str | None = None
) -> pd.DataFrame:
    """`totals_of(allocation_rows(...))` computed in SQL: the figures of a whole table without
    loading its rows (`TOTALS_COLUMNS`)."""
    sql, params = _rows_sql(
        fiscal_year=fiscal_year,
        department_id=department_id,
        category_code=category_code,
        include_unapproved=False,
    )
    primary = "CASE WHEN NOT t.is_relisting THEN {} END"
    stages = ", ".join(
        f"COALESCE(MAX(CASE WHEN t.budget_stage = '{s.value}' THEN 1 ELSE 0 END), 0) AS stage_{s.value}"
        for s in BudgetStage
    )
    breakdown = ", ".join(
        f"COALESCE(SUM(t.{y}), 0) AS {y}, {sen_yen_sql(f'COALESCE(SUM(t.{y}), 0)')} AS {sen}"
        for y, sen in zip(BREAKDOWN, BREAKDOWN_SEN, strict=True)
    )
    df = query_df(
        engine,
        f"""
        WITH t AS ({sql})
        SELECT GROUPING(t.section_code) AS g_section, GROUPING(t.block_order) AS g_block,
               t.section_code, t.block_order,
               COUNT(DISTINCT {primary.format("t.project_id")}) AS projects,
               COUNT(DISTINCT CASE WHEN NOT t.is_relisting AND t.is_new THEN t.project_id END) AS new_projects,
               COALESCE(SUM({primary.format("t.project_cost_yen")}), 0) AS project_cost_yen,
               COALESCE(SUM({primary.format("t.fund_share_yen")}), 0) AS fund_share_yen,
               {sen_yen_sql(f"COALESCE(SUM({primary.format('t.project_cost_yen')}), 0)")} AS cost_sen,
               {sen_yen_sql(f"COALESCE(SUM({primary.format('t.fund_share_yen')}), 0)")} AS fund_sen,
               {breakdown},
               COALESCE(SUM(CASE WHEN t.supplementary_fund_yen <> 0 THEN 1 ELSE 0 END), 0) AS supplementary_rows,
               COALESCE(SUM(CASE WHEN t.carried_in_fund_yen <> 0 THEN 1 ELSE 0 END), 0) AS carried_in_rows,
               COUNT(*) AS n_rows,
               COALESCE(SUM(CASE WHEN t.is_relisting THEN 1 ELSE 0 END), 0) AS relistings,
               COALESCE(MAX(CASE WHEN t.block_heading <> '' THEN 1 ELSE 0 END), 0) AS numbered,
               {stages}
        FROM t
        GROUP BY GROUPING SETS ((t.section_code, t.block_order), (t.section_code), ())
        """,
        params,
    )
    level = [
        "all" if int(gs) else "section" if int(gb) else "block"
        for gs, gb in zip(df["g_section"], df["g_block"], strict=True)
    ]
    out = df.assign(level=level, blocks=1).rename(columns={"n_rows": "rows"})
    blocks = out[out["level"] == "block"]
    per_section = blocks.groupby("section_code")[["numbered", "blocks"]].sum()
    sections = out["level"] == "section"
    for col in ("numbered", "blocks"):
        out.loc[sections, col] = out.loc[sections, "section_code"].map(per_section[col]).to_numpy()
        out.loc[out["level"] == "all", col] = int(blocks[col].sum())
    return _typed_totals(out)


def _typed_totals(out: pd.DataFrame) -> pd.DataFrame:
    out = out[TOTALS_COLUMNS].copy()
    out["section_code"] = out["section_code"].astype(object).where(out["level"] != "all", None)
    out["block_order"] = out["block_order"].where(out["level"] == "block").astype("Int64")
    for col in TOTALS_COLUMNS[3:]:
        out[col] = out[col].astype("int64")
    order = out["level"].map({"block": 0, "section": 1, "all": 2})
    return (
        out.assign(_order=order)
        .sort_values(["_order", "section_code", "block_order"])
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def totals_of(rows: pd.DataFrame) -> pd.DataFrame:
    """The figures of a table from its rows (`TOTALS_COLUMNS`); `table_totals` computes the same in SQL."""
    primary = ~rows["is_relisting"].astype(bool)
    cost = rows["project_cost_yen"].astype("Int64").where(primary)
    fund = rows["fund_share_yen"].astype("Int64").where(primary)
    frame = pd.DataFrame(
        {
            "section_code": rows["section_code"].astype(object),
            "block_order": rows["block_order"].astype("int64"),
            "pid": rows["project_id"].where(primary),
            "new_pid": rows["project_id"].where(primary & rows["is_new"].astype(bool)),
            "project_cost_yen": cost.fillna(0),
            "fund_share_yen": fund.fillna(0),
            **{y: rows[y].astype("Int64").where(primary).fillna(0) for y in BREAKDOWN},
            **{
                f"{part}_rows": rows[f"{part}_fund_yen"].astype("Int64").fillna(0).ne(0).astype("int64")
                for part in ("supplementary", "carried_in")
            },
            "rows": 1,
            "relistings": (~primary).astype("int64"),
            "numbered": rows["block_heading"].fillna("").astype(str).ne("").astype("int64"),
            **{
                f"stage_{s.value}": rows["budget_stage"].eq(s.value).fillna(False).astype("int64")
                for s in BudgetStage
            },
        }
    )
    aggs: dict[str, tuple[str, str]] = {
        "projects": ("pid", "nunique"),
        "new_projects": ("new_pid", "nunique"),
        **{
            c: (c, "sum")
            for c in (
                "project_cost_yen",
                "fund_share_yen",
                *BREAKDOWN,
                "supplementary_rows",
                "carried_in_rows",
                "rows",
                "relistings",
            )
        },
        "numbered": ("numbered", "max"),
        **{f"stage_{s.value}": (f"stage_{s.value}", "max") for s in BudgetStage},
    }
    blocks = frame.groupby(["section_code", "block_order"], sort=False).agg(**aggs).reset_index()
    blocks["blocks"] = 1
    sections = frame.groupby("section_code", sort=False).agg(**aggs).reset_index()
    per_section = blocks.groupby("section_code", sort=False)[["numbered", "blocks"]].sum()
    sections["numbered"] = sections["section_code"].map(per_section["numbered"])
    sections["blocks"] = sections["section_code"].map(per_section["blocks"])
    whole = frame.assign(_all=0).groupby("_all").agg(**aggs).reset_index(drop=True)
    if whole.empty:
        whole = pd.DataFrame([dict.fromkeys(aggs, 0)])
    whole["numbered"] = int(blocks["numbered"].sum())
    whole["blocks"] = len(blocks)
    out = pd.concat(
        [
            blocks.assign(level="block"),
            sections.assign(level="section", block_order=pd.NA),
            whole.assign(level="all", section_code=None, block_order=pd.NA),
        ],
        ignore_index=True,
    )
    out["cost_sen"] = sen_yen_series(out["project_cost_yen"])  # rounded once, from the yen total
    out["fund_sen"] = sen_yen_series(out["fund_share_yen"])
    for y, sen in zip(BREAKDOWN, BREAKDOWN_SEN, strict=True):
        out[sen] = sen_yen_series(out[y])
    return _typed_totals(out)


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
        WHERE a.fiscal_year = :fy AND a.status = :approved
        """,
        {"fy": fiscal_year} | APPROVED,
    )
    return {k: int(v) for k, v in df.iloc[0].items()}


def allocation_years(engine: Engine) -> list[int]:
    """年度 that have approved allocations, newest first."""
    df = query_df(
        engine,
        "SELECT DISTINCT fiscal_year FROM allocation WHERE status = :approved ORDER BY 1 DESC",
        APPROVED,
    )
    return [int(y) for y in df["fiscal_year"]]


def allocation_frame(
    engine: Engine, *, fiscal_year: int | None = None, status: AllocationStatus | None = None
) -> pd.DataFrame:
    """Allocations as rows for the registration / approval tab (amounts in yen, Japanese labels beside codes)."""
    clauses = ["TRUE"]
    params: dict[str, object] = {}
    if fiscal_year is not None:
        clauses.append("a.fiscal_year = :fy")
        params["fy"] = fiscal_year
    if status is not None:
        clauses.append("a.status = :st")
        params["st"] = status.value
    df = query_df(
        engine,
        f"""
        SELECT a.id, a.project_id, a.fiscal_year, a.budget_stage, p.name AS project, d.name AS department,
               c.name AS category, (p.first_fiscal_year = a.fiscal_year) AS is_new,
               a.project_cost_yen, a.fund_share_yen, a.fund_share_is_estimate, a.status,
               a.proposed_by, a.approved_by, a.approved_at
        FROM allocation a
        JOIN project p ON p.id = a.project_id
        JOIN department d ON d.id = p.department_id
        JOIN category c ON c.id = a.category_id
        WHERE {" AND ".join(clauses)}
        ORDER BY a.fiscal_year DESC, a.status DESC, a.id
        """,
        params,
    )
    df["stage_label"] = df["budget_stage"].map({s.value: label for s, label in BUDGET_STAGE.items()})
    df["status_label"] = df["status"].map({s.value: label for s, label in ALLOCATION_STATUS.items()})
    return df


def project_categories(engine: Engine, *, proposal_year: int | None = None) -> pd.DataFrame:
    """Every project's id, name and main 区分 (`project_id`, `name`, `category_id`); with
    `proposal_year` only the projects that have a proposal in that 年度."""
    if proposal_year is None:
        return query_df(engine, "SELECT id AS project_id, name, category_id FROM project ORDER BY id")
    return query_df(
        engine,
        """
        SELECT id AS project_id, name, category_id FROM project
        WHERE id IN (SELECT project_id FROM proposal WHERE fiscal_year = :fy)
        ORDER BY id
        """,
        {"fy": proposal_year},
    )


def category_choices(engine: Engine) -> pd.DataFrame:
    """区分 for the filter: each section followed by its leaves (`code`, `label`), in print order."""
    df = query_df(
        engine,
        """
        SELECT c.code, c.heading, c.name, c.parent_id, COALESCE(p.sort_order, c.sort_order) AS section_order,
               c.sort_order, p.heading AS parent_heading
        FROM category c LEFT JOIN category p ON p.id = c.parent_id
        ORDER BY section_order, c.parent_id IS NOT NULL, c.sort_order
        """,
    )
    df["label"] = [
        f"{h} {n}" if pd.isna(pid) else f"　{ph}{h} {n}".replace("  ", " ")
        for h, n, pid, ph in zip(
            df["heading"], df["name"], df["parent_id"], df["parent_heading"], strict=True
        )
    ]
    return df[["code", "label"]]
