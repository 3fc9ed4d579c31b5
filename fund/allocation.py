"""年度配分: the allocation table per 年度 (as published: 区分 blocks, 再掲 rows, subtotals)."""

from dataclasses import dataclass
from typing import Any, TypedDict, cast

import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import Engine
from sqlmodel import Session, select

from fund import audit, clock
from fund.auth import Action, Actor, can, require
from fund.db import query_df, write_session
from fund.errors import InputInvalid, NotFound, RuleViolation
from fund.fiscal import fiscal_label
from fund.labels import ALLOCATION_STATUS, BUDGET_STAGE
from fund.ledger import KIND_PARAMS, MAX_AMOUNT_YEN, balance
from fund.models import (
    Allocation,
    AllocationStatus,
    AuditAction,
    BudgetStage,
    Category,
    FiscalYear,
    Project,
    Proposal,
    Relisting,
)
from fund.money import format_oku_yen, format_yen, sen_yen_series, sen_yen_sql

APPROVED: dict[str, object] = {"approved": AllocationStatus.approved.value}  # bound as :approved


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
    "is_relisting",
    "status",
    "budget_stage",
]


def _rows_sql(
    *, fiscal_year: int, department_id: int | None, category_code: str | None, include_unapproved: bool
) -> tuple[str, dict[str, object]]:
    """The SELECT behind `allocation_rows` (no ORDER BY) and its bound parameters."""
    params: dict[str, object] = {"fy": fiscal_year} | APPROVED
    filters = ""
    if department_id is not None:
        filters += " AND p.department_id = :dept"
        params["dept"] = department_id
    if category_code is not None:
        filters += " AND (blk.code = :cat OR sec.code = :cat)"
        params["cat"] = category_code
    status = "" if include_unapproved else " AND a.status = :approved"
    sql = f"""
    WITH primary_rows AS (
        SELECT a.project_id, a.category_id,
               CAST(SUM(a.project_cost_yen) AS BIGINT) AS project_cost_yen,
               CAST(SUM(a.fund_share_yen) AS BIGINT) AS fund_share_yen,
               BOOL_OR(a.fund_share_is_estimate) AS fund_share_is_estimate,
               MIN(a.status) AS status, MIN(a.budget_stage) AS budget_stage, FALSE AS is_relisting
        FROM allocation a
        WHERE a.fiscal_year = :fy {status}
        GROUP BY a.project_id, a.category_id
    ), relisted AS (
        SELECT r.project_id, r.category_id, CAST(NULL AS BIGINT) AS project_cost_yen,
               CAST(NULL AS BIGINT) AS fund_share_yen, FALSE AS fund_share_is_estimate,
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
           r.project_cost_yen, r.fund_share_yen, r.fund_share_is_estimate, r.is_relisting,
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
    sql += " ORDER BY sec.sort_order, blk.sort_order, p.id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    df = query_df(engine, sql, params)
    for col in ("project_cost_yen", "fund_share_yen"):
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
        SELECT STRING_AGG({parts}, '' ORDER BY t.section_order, t.block_order, t.project_id) AS text FROM t
        """,
        params,
    )
    text = df["text"].iloc[0] if len(df) else None
    return "" if text is None or pd.isna(text) else str(text)


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
               COALESCE(SUM({primary.format(sen_yen_sql("t.project_cost_yen"))}), 0) AS cost_sen,
               COALESCE(SUM({primary.format(sen_yen_sql("t.fund_share_yen"))}), 0) AS fund_sen,
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
            "cost_sen": sen_yen_series(cost).fillna(0),
            "fund_sen": sen_yen_series(fund).fillna(0),
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
            for c in ("project_cost_yen", "fund_share_yen", "cost_sen", "fund_sen", "rows", "relistings")
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


LAYOUT_COLUMNS = [
    "kind",
    "label",
    "name",
    "summary",
    "project_cost_yen",
    "fund_share_yen",
    "fund_share_is_estimate",
    "cost_sen",  # 千円 as printed: items rounded one by one, totals added from the rounded items
    "fund_sen",
]


def layout_frame(rows: pd.DataFrame, totals: pd.DataFrame | None = None) -> pd.DataFrame:
    """`table_layout` as a DataFrame with `LAYOUT_COLUMNS`, one row per printed line, built column-wise.

    Sections keep the order in which they first appear in `rows`, blocks follow `block_order` within
    their section and items keep their order within a block. Amounts in yen (Int64; NA where a line
    prints none) and in 千円 as printed. `totals` (`table_totals`) supplies the figures when `rows`
    is only the head of the table; without it they are computed from `rows`."""
    if totals is None:
        totals = totals_of(rows)
    r = rows.reset_index(drop=True)
    relisting = r["is_relisting"].to_numpy(dtype=bool)
    section = pd.factorize(r["section_code"])[0]
    block = r["block_order"].to_numpy(dtype="float64")
    cost = r["project_cost_yen"].astype("Int64").where(~relisting)
    fund = r["fund_share_yen"].astype("Int64").where(~relisting)
    items = pd.DataFrame(
        {
            "sec_rank": section,
            "blk_rank": block,
            "part_rank": 1,
            "pos_rank": np.arange(len(r)),
            "kind": np.where(relisting, "relisting", "item"),
            "label": np.where(r["is_new"].to_numpy(dtype=bool), "新規", ""),
            "name": r["project"].astype(str) + "【" + r["department"].astype(str) + "】",
            "summary": r["summary"].fillna("").astype(str),
            "project_cost_yen": cost,
            "fund_share_yen": fund,
            "fund_share_is_estimate": r["fund_share_is_estimate"].to_numpy(dtype=bool) & ~relisting,
            "cost_sen": sen_yen_series(cost),
            "fund_sen": sen_yen_series(fund),
        }
    )
    records = cast(list[dict[str, Any]], totals.to_dict("records"))
    by_key: dict[tuple[object, object, int | None], dict[str, Any]] = {
        (t["level"], t["section_code"], None if pd.isna(t["block_order"]) else int(t["block_order"])): t
        for t in records
    }
    zero = dict.fromkeys(TOTALS_COLUMNS, 0)

    def figure(level: str, section_code: object = None, block_order: int | None = None) -> dict[str, Any]:
        return by_key.get((level, None if level == "all" else section_code, block_order), zero)

    lines: list[dict[str, object]] = []
    heads = r.assign(sec_rank=section, blk_rank=block)
    for head in heads.drop_duplicates("sec_rank").itertuples(index=False):
        got = figure("section", head.section_code)
        excluded = "（再掲除く）" if got["relistings"] else ""
        lines.append(
            {
                "sec_rank": head.sec_rank,
                "blk_rank": -np.inf,
                "part_rank": 0,
                "kind": "section",
                "label": f"{head.section_heading} {head.section_name}",
                "name": f"【{int(got['projects'])}事業 {format_oku_yen(int(got['project_cost_yen']))}{excluded}】",
                "project_cost_yen": int(got["project_cost_yen"]),
                "fund_share_yen": int(got["fund_share_yen"]),
                "cost_sen": int(got["cost_sen"]),
                "fund_sen": int(got["fund_sen"]),
            }
        )
    for head in heads.drop_duplicates(["sec_rank", "blk_rank"]).itertuples(index=False):
        got = figure("block", head.section_code, int(head.block_order))
        amounts = {
            "project_cost_yen": int(got["project_cost_yen"]),
            "fund_share_yen": int(got["fund_share_yen"]),
            "cost_sen": int(got["cost_sen"]),
            "fund_sen": int(got["fund_sen"]),
        }
        # Numbered blocks close with 「N事業計」; unnumbered ones carry the amount on the heading (as in the seed).
        numbered = bool(head.block_heading)
        lines.append(
            {
                "sec_rank": head.sec_rank,
                "blk_rank": head.blk_rank,
                "part_rank": 0,
                "kind": "block",
                "label": f"{head.block_heading}{head.block_name}",
                **({} if numbered else amounts),
            }
        )
        if numbered:
            lines.append(
                {
                    "sec_rank": head.sec_rank,
                    "blk_rank": head.blk_rank,
                    "part_rank": 2,
                    "kind": "subtotal",
                    "label": f"{int(got['projects'])}事業計",
                    **amounts,
                }
            )
    headings = pd.DataFrame(lines, columns=["sec_rank", "blk_rank", "part_rank", *LAYOUT_COLUMNS])
    headings["pos_rank"] = 0
    headings["fund_share_is_estimate"] = False
    for col in ("project_cost_yen", "fund_share_yen", "cost_sen", "fund_sen"):
        headings[col] = headings[col].astype("Int64")
    body = pd.concat([headings, items], ignore_index=True) if lines else items
    body = body.sort_values(["sec_rank", "blk_rank", "part_rank", "pos_rank"], kind="stable")
    whole = figure("all")
    grand = pd.DataFrame(
        {
            "kind": ["grand_total"],
            "label": [f"合計 {int(whole['projects'])}事業"],
            "fund_share_is_estimate": [False],
            **{
                col: pd.array([int(whole[col])], dtype="Int64")
                for col in ("project_cost_yen", "fund_share_yen", "cost_sen", "fund_sen")
            },
        }
    )
    out = pd.concat([body, grand], ignore_index=True)[LAYOUT_COLUMNS]
    for col in ("label", "name", "summary"):
        out[col] = out[col].fillna("").astype(str)
    out["fund_share_is_estimate"] = out["fund_share_is_estimate"].astype(bool)
    for col in ("project_cost_yen", "fund_share_yen", "cost_sen", "fund_sen"):
        out[col] = out[col].astype("Int64")
    return out


def table_lines(totals: pd.DataFrame) -> int:
    """How many lines the whole laid-out table has: its rows, a heading per section and per block,
    a 「N事業計」 per numbered block and the grand total."""
    whole = totals[totals["level"] == "all"].iloc[0]
    sections = int((totals["level"] == "section").sum())
    return int(whole["rows"]) + sections + int(whole["blocks"]) + int(whole["numbered"]) + 1


def table_layout(rows: pd.DataFrame) -> list[LayoutRow]:
    """Lay out `allocation_rows` like the seed: blocks with 「N事業計」, 再掲 rows without amounts,
    section totals 「【N事業 X億円（再掲除く）】」 and the grand total. Amounts stay in yen.

    The lines of `layout_frame` as objects; pages and exports use the frame itself."""
    frame = layout_frame(rows)
    return [
        LayoutRow(
            kind=kind,
            label=label,
            name=name,
            summary=summary,
            project_cost_yen=None if pd.isna(c) else int(c),
            fund_share_yen=None if pd.isna(f) else int(f),
            fund_share_is_estimate=bool(e),
        )
        for kind, label, name, summary, c, f, e in zip(
            *(frame[col].tolist() for col in LAYOUT_COLUMNS[:7]), strict=True
        )
    ]


# --- Ceilings -------------------------------------------------------------------------------------

# Net amount drawn from the fund against each allocation: drawdowns linked to it, minus their reversals.
_DRAWN_SQL = """
    SELECT e.allocation_id,
           SUM(CASE WHEN e.kind = :kind_reversal THEN -e.amount_yen ELSE e.amount_yen END) AS drawn_yen
    FROM ledger_entry e LEFT JOIN ledger_entry o ON o.id = e.reverses_entry_id
    WHERE e.allocation_id IS NOT NULL AND COALESCE(o.kind, e.kind) = :kind_drawdown
    GROUP BY e.allocation_id
"""  # with KIND_PARAMS


@dataclass(frozen=True)
class Ceiling:
    """What a 年度 may spend from the fund, in yen.

    `fund_ceiling_yen` = balance + already drawn against this 年度's allocations − committed
    drawdowns of other 年度 (approved allocations not yet drawn). `ceiling_yen` is the tighter of
    that and the optional annual cap set by 管理者.
    """

    fiscal_year: int
    balance_yen: int
    drawn_this_year_yen: int
    committed_other_years_yen: int
    fund_ceiling_yen: int
    annual_cap_yen: int | None
    year_total_yen: int  # 基金充当額 of this 年度: approved + awaiting approval
    approved_total_yen: int

    @property
    def ceiling_yen(self) -> int:
        if self.annual_cap_yen is None:
            return self.fund_ceiling_yen
        return min(self.fund_ceiling_yen, self.annual_cap_yen)

    @property
    def headroom_yen(self) -> int:
        return self.ceiling_yen - self.year_total_yen


def committed_drawdowns(engine: Engine) -> pd.DataFrame:
    """Approved allocations not yet (fully) drawn, per 年度: `fiscal_year`, `committed_yen`.

    This is the planned drawdown the fund projection reads: only approved allocations count;
    allocations awaiting approval never do.
    """
    return query_df(
        engine,
        f"""
        WITH drawn AS ({_DRAWN_SQL})
        SELECT a.fiscal_year,
               SUM(GREATEST(a.fund_share_yen - COALESCE(d.drawn_yen, 0), 0)) AS committed_yen
        FROM allocation a LEFT JOIN drawn d ON d.allocation_id = a.id
        WHERE a.status = :approved
        GROUP BY a.fiscal_year
        ORDER BY a.fiscal_year
        """,
        KIND_PARAMS | APPROVED,
    ).astype("int64")


def fund_ceiling(engine: Engine, *, fiscal_year: int, exclude_allocation_id: int | None = None) -> Ceiling:
    """The 年度's ceilings and current totals (see `Ceiling`). The one place the ceiling rule lives."""
    df = query_df(
        engine,
        f"""
        WITH drawn AS ({_DRAWN_SQL})
        SELECT
            COALESCE(SUM(CASE WHEN a.fiscal_year = :fy THEN COALESCE(d.drawn_yen, 0) ELSE 0 END), 0)
                AS drawn_this_year,
            COALESCE(SUM(CASE WHEN a.fiscal_year <> :fy AND a.status = :approved
                         THEN GREATEST(a.fund_share_yen - COALESCE(d.drawn_yen, 0), 0) ELSE 0 END), 0)
                AS committed_other,
            COALESCE(SUM(CASE WHEN a.fiscal_year = :fy AND a.id <> :excl THEN a.fund_share_yen ELSE 0 END), 0)
                AS year_total,
            COALESCE(SUM(CASE WHEN a.fiscal_year = :fy AND a.status = :approved AND a.id <> :excl
                         THEN a.fund_share_yen ELSE 0 END), 0) AS approved_total,
            (SELECT annual_cap_yen FROM fiscal_year WHERE year = :fy) AS annual_cap
        FROM allocation a LEFT JOIN drawn d ON d.allocation_id = a.id
        """,
        {"fy": fiscal_year, "excl": exclude_allocation_id if exclude_allocation_id is not None else -1}
        | KIND_PARAMS
        | APPROVED,
    )
    r = df.iloc[0]
    bal = balance(engine)
    drawn = int(r["drawn_this_year"])
    committed = int(r["committed_other"])
    cap = r["annual_cap"]
    return Ceiling(
        fiscal_year=fiscal_year,
        balance_yen=bal,
        drawn_this_year_yen=drawn,
        committed_other_years_yen=committed,
        fund_ceiling_yen=bal + drawn - committed,
        annual_cap_yen=None if cap is None or pd.isna(cap) else int(cap),
        year_total_yen=int(r["year_total"]),
        approved_total_yen=int(r["approved_total"]),
    )


def check_ceiling(ceiling: Ceiling, *, adding_yen: int) -> None:
    """Refuse (RuleViolation) when the 年度's total plus `adding_yen` exceeds either ceiling."""
    new_total = ceiling.year_total_yen + adding_yen
    label = fiscal_label(ceiling.fiscal_year)
    if new_total > ceiling.fund_ceiling_yen:
        raise RuleViolation(
            f"{label}の基金充当額の上限を超えるため登録できません。"
            f"上限（基金残高 {format_yen(ceiling.balance_yen)} ＋ 当年度の取崩し済み "
            f"{format_yen(ceiling.drawn_this_year_yen)} − 他年度の承認済み未取崩し "
            f"{format_yen(ceiling.committed_other_years_yen)}）は {format_yen(ceiling.fund_ceiling_yen)}、"
            f"現在の合計は {format_yen(ceiling.year_total_yen)}、今回 {format_yen(adding_yen)} を加えると "
            f"{format_yen(new_total)} となり、{format_yen(new_total - ceiling.fund_ceiling_yen)} 超過します。"
        )
    if ceiling.annual_cap_yen is not None and new_total > ceiling.annual_cap_yen:
        raise RuleViolation(
            f"{label}の年間上限額（管理者が設定）を超えるため登録できません。"
            f"上限は {format_yen(ceiling.annual_cap_yen)}、現在の合計は {format_yen(ceiling.year_total_yen)}、"
            f"今回 {format_yen(adding_yen)} を加えると {format_yen(new_total)} となり、"
            f"{format_yen(new_total - ceiling.annual_cap_yen)} 超過します。"
        )


def set_annual_cap(
    engine: Engine, *, actor: Actor, fiscal_year: int, cap_yen: int | None, reason: str = ""
) -> None:
    """Set (or clear with None) the 年度's optional cap on 基金充当額. 管理者 only; audited.

    A cap below the 年度's current total is refused: it would leave the year over its own limit.
    """
    require(actor, Action.set_annual_cap)
    if cap_yen is not None and not 0 < cap_yen <= MAX_AMOUNT_YEN:
        raise InputInvalid({"annual_cap_yen": "年間上限額は1円以上1兆円以下の整数で入力してください。"})
    with write_session(engine) as session:
        year = session.get(FiscalYear, fiscal_year)
        if year is None:
            raise NotFound(f"{fiscal_label(fiscal_year)}は登録されていません。")
        if cap_yen is not None:
            current = fund_ceiling(engine, fiscal_year=fiscal_year).year_total_yen
            if cap_yen < current:
                raise RuleViolation(
                    f"年間上限額 {format_yen(cap_yen)} は{fiscal_label(fiscal_year)}の現在の基金充当額の合計 "
                    f"{format_yen(current)} を {format_yen(current - cap_yen)} 下回るため設定できません。"
                )
        before = audit.snapshot(year)
        year.annual_cap_yen = cap_yen
        session.add(year)
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.fiscal_year_annual_cap,
            entity="fiscal_year",
            entity_id=fiscal_year,
            before=before,
            after=audit.snapshot(year),
            reason=reason.strip(),
        )


# --- Proposing, re-listing and approving (maker–checker) ------------------------------------------------


class AllocationCreate(BaseModel):
    """A new allocation as typed on the form: amounts in integer yen."""

    project_id: int
    fiscal_year: int = PydanticField(ge=2000, le=2100)
    budget_stage: BudgetStage = BudgetStage.initial
    category_id: int | None = None  # None: the project's main 区分
    project_cost_yen: int = PydanticField(ge=0, le=MAX_AMOUNT_YEN)
    fund_share_yen: int = PydanticField(gt=0, le=MAX_AMOUNT_YEN)
    proposal_id: int | None = None
    fund_share_is_estimate: bool = False

    @model_validator(mode="after")
    def share_within_cost(self) -> "AllocationCreate":
        if self.fund_share_yen > self.project_cost_yen:
            raise ValueError("share_exceeds_cost")
        return self


_FIELD_MESSAGES = {
    "project_id": "事業を選択してください。",
    "fiscal_year": "年度を選択してください。",
    "budget_stage": "予算の段階（当初・補正・専決）を選択してください。",
    "project_cost_yen": "事業費は0円以上1兆円以下の整数（円）で入力してください。",
    "fund_share_yen": "基金充当額は1円以上1兆円以下の整数（円）で入力してください。",
}


def validate_allocation(data: dict[str, object]) -> AllocationCreate:
    """Validate form input; raises InputInvalid with a Japanese message per field."""
    try:
        return AllocationCreate.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "fund_share_yen"
            if "share_exceeds_cost" in str(err.get("msg", "")):
                errors["fund_share_yen"] = "基金充当額は事業費以下にしてください。"
            else:
                errors[name] = _FIELD_MESSAGES.get(name, "入力内容を確認してください。")
        raise InputInvalid(errors) from None


def _open_year(session: Session, fiscal_year: int) -> FiscalYear:
    year = session.get(FiscalYear, fiscal_year)
    if year is None:
        raise InputInvalid({"fiscal_year": f"{fiscal_label(fiscal_year)}は登録されていません。"})
    if year.closed:
        raise RuleViolation(f"{fiscal_label(fiscal_year)}は決算確定済みのため、配分を登録・承認できません。")
    return year


def insert_allocation(
    session: Session,
    engine: Engine,
    *,
    actor: Actor,
    alloc_in: AllocationCreate,
    with_ceiling_check: bool = True,
) -> Allocation:
    """Checks and insert shared by `propose_allocation` and scenario promotion (the caller holds the
    write session; a caller inserting several rows checks the ceiling once for their sum)."""
    _open_year(session, alloc_in.fiscal_year)
    project = session.get(Project, alloc_in.project_id)
    if project is None:
        raise InputInvalid({"project_id": "指定された事業が見つかりません。"})
    category_id = alloc_in.category_id or project.category_id
    if session.get(Category, category_id) is None:
        raise InputInvalid({"category_id": "指定された区分が見つかりません。"})
    if alloc_in.proposal_id is not None:
        proposal = session.get(Proposal, alloc_in.proposal_id)
        if proposal is None or proposal.project_id != project.id:
            raise InputInvalid({"proposal_id": "指定された提案はこの事業のものではありません。"})
    existing = session.exec(
        select(Allocation).where(
            Allocation.project_id == project.id,
            Allocation.fiscal_year == alloc_in.fiscal_year,
            Allocation.budget_stage == alloc_in.budget_stage,
        )
    ).first()
    if existing is not None:
        raise RuleViolation(
            f"「{project.name}」の{fiscal_label(alloc_in.fiscal_year)}{BUDGET_STAGE[alloc_in.budget_stage]}"
            f"の配分は既に登録されています（配分番号 {existing.id}）。"
        )
    if with_ceiling_check:
        check_ceiling(
            fund_ceiling(engine, fiscal_year=alloc_in.fiscal_year), adding_yen=alloc_in.fund_share_yen
        )
    row = Allocation.model_validate(
        alloc_in.model_dump()
        | {"category_id": category_id, "status": AllocationStatus.proposed, "proposed_by": actor.login}
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor.login,
        action=AuditAction.allocation_propose,
        entity="allocation",
        entity_id=row.id,
        after=audit.snapshot(row),
    )
    return row


def propose_allocation(engine: Engine, *, actor: Actor, data: dict[str, object]) -> Allocation:
    """Register an allocation awaiting approval (審査担当・管理者). 新規 follows from the project's first 年度.

    Raises InputInvalid (bad input), RuleViolation (closed year, duplicate, ceiling exceeded).
    """
    require(actor, Action.allocate)
    alloc_in = validate_allocation(data)
    with write_session(engine) as session:
        row = insert_allocation(session, engine, actor=actor, alloc_in=alloc_in)
        session.refresh(row)
        session.expunge(row)
    return row


def approve_allocation(engine: Engine, *, actor: Actor, allocation_id: int) -> Allocation:
    """Approve an allocation (幹部・管理者), never one's own; the ceilings are checked again.

    Once approved, the allocation's undrawn 基金充当額 counts as a committed drawdown.
    """
    require(actor, Action.approve_allocation)
    with write_session(engine) as session:
        row = session.get(Allocation, allocation_id)
        if row is None:
            raise NotFound(f"配分番号 {allocation_id} は見つかりません。")
        if row.status == AllocationStatus.approved:
            raise RuleViolation(
                f"配分番号 {allocation_id} は既に承認されています（承認者 {row.approved_by}）。"
            )
        if row.proposed_by == actor.login:
            raise RuleViolation(
                "自分が登録した配分は承認できません。別の幹部または管理者が承認してください。"
            )
        _open_year(session, row.fiscal_year)
        check_ceiling(
            fund_ceiling(engine, fiscal_year=row.fiscal_year, exclude_allocation_id=row.id),
            adding_yen=row.fund_share_yen,
        )
        before = audit.snapshot(row)
        row.status = AllocationStatus.approved
        row.approved_by = actor.login
        row.approved_at = clock.now_utc()
        session.add(row)
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.allocation_approve,
            entity="allocation",
            entity_id=row.id,
            before=before,
            after=audit.snapshot(row),
        )
        session.refresh(row)
        session.expunge(row)
    return row


def withdraw_allocation(engine: Engine, *, actor: Actor, allocation_id: int, reason: str) -> None:
    """Remove an allocation still awaiting approval (差戻し・取下げ), with a reason. Approved ones stay."""
    if not (can(actor, Action.allocate) or can(actor, Action.approve_allocation)):
        require(actor, Action.allocate)
    if not reason.strip():
        raise InputInvalid({"reason": "差戻し・取下げの理由を入力してください。"})
    with write_session(engine) as session:
        row = session.get(Allocation, allocation_id)
        if row is None:
            raise NotFound(f"配分番号 {allocation_id} は見つかりません。")
        if row.status != AllocationStatus.proposed:
            raise RuleViolation(
                "承認済みの配分は取り下げられません。減額は補正の配分として登録してください。"
            )
        before = audit.snapshot(row)
        session.delete(row)
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.allocation_withdraw,
            entity="allocation",
            entity_id=allocation_id,
            before=before,
            reason=reason.strip(),
        )


def add_relisting(
    engine: Engine, *, actor: Actor, project_id: int, fiscal_year: int, category_id: int
) -> Relisting:
    """再掲: list the project again under a further 区分, without an amount (it counts once)."""
    require(actor, Action.allocate)
    with write_session(engine) as session:
        project = session.get(Project, project_id)
        if project is None:
            raise InputInvalid({"project_id": "指定された事業が見つかりません。"})
        if session.get(Category, category_id) is None:
            raise InputInvalid({"category_id": "指定された区分が見つかりません。"})
        allocs = session.exec(
            select(Allocation).where(
                Allocation.project_id == project_id, Allocation.fiscal_year == fiscal_year
            )
        ).all()
        if not allocs:
            raise RuleViolation(
                f"「{project.name}」には{fiscal_label(fiscal_year)}の配分がないため再掲できません。"
            )
        if category_id in {a.category_id for a in allocs}:
            raise RuleViolation("主たる区分と同じ区分には再掲できません。")
        dup = session.exec(
            select(Relisting).where(
                Relisting.project_id == project_id,
                Relisting.fiscal_year == fiscal_year,
                Relisting.category_id == category_id,
            )
        ).first()
        if dup is not None:
            raise RuleViolation(f"「{project.name}」はこの区分に既に再掲されています。")
        row = Relisting(project_id=project_id, fiscal_year=fiscal_year, category_id=category_id)
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.relisting_add,
            entity="relisting",
            entity_id=row.id,
            after=audit.snapshot(row),
        )
        session.refresh(row)
        session.expunge(row)
    return row


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
