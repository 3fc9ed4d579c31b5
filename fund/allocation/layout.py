"""The table laid out as published: 区分 blocks, 再掲, 「N事業計」 and totals, line by line."""

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from fund.allocation.table import BREAKDOWN, BREAKDOWN_SEN, TOTALS_COLUMNS, totals_of
from fund.money import format_oku_yen_rounded, sen_yen_series


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
    "cost_sen",  # 千円 as printed: every figure its own yen rounded once
    "fund_sen",
    *BREAKDOWN,  # 基金充当額 = 当初 + 補正 + 前年度繰越 (yen), then the same in 千円
    *BREAKDOWN_SEN,
]
AMOUNTS = ["project_cost_yen", "fund_share_yen", "cost_sen", "fund_sen", *BREAKDOWN, *BREAKDOWN_SEN]


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
            **{y: r[y].astype("Int64").where(~relisting) for y in BREAKDOWN},
            **{
                sen: sen_yen_series(r[y].astype("Int64").where(~relisting))
                for y, sen in zip(BREAKDOWN, BREAKDOWN_SEN, strict=True)
            },
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

    def amounts_of(got: dict[str, Any]) -> dict[str, int]:
        return {col: int(got[col]) for col in AMOUNTS}

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
                "name": f"【{int(got['projects'])}事業 {format_oku_yen_rounded(int(got['project_cost_yen']))}{excluded}】",
                **amounts_of(got),
            }
        )
    for head in heads.drop_duplicates(["sec_rank", "blk_rank"]).itertuples(index=False):
        got = figure("block", head.section_code, int(head.block_order))
        amounts = amounts_of(got)
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
    for col in AMOUNTS:
        headings[col] = headings[col].astype("Int64")
    body = pd.concat([headings, items], ignore_index=True) if lines else items
    body = body.sort_values(["sec_rank", "blk_rank", "part_rank", "pos_rank"], kind="stable")
    whole = figure("all")
    grand = pd.DataFrame(
        {
            "kind": ["grand_total"],
            "label": [f"合計 {int(whole['projects'])}事業"],
            "fund_share_is_estimate": [False],
            **{col: pd.array([int(whole[col])], dtype="Int64") for col in AMOUNTS},
        }
    )
    out = pd.concat([body, grand], ignore_index=True)[LAYOUT_COLUMNS]
    for col in ("label", "name", "summary"):
        out[col] = out[col].fillna("").astype(str)
    out["fund_share_is_estimate"] = out["fund_share_is_estimate"].astype(bool)
    for col in AMOUNTS:
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
