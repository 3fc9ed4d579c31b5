"""The published allocation table (基金活用事業一覧) as a formatted xlsx, and the same data as tidy CSV.

The xlsx follows the source document's layout (`allocation.table_layout`): 区分 headings, numbered
blocks closed by 「N事業計」, (再掲) rows without amounts, section totals and the grand total. Every
figure is written as a number in 千円 (no live formulas); every text cell is a string cell, kept as typed (never a formula).
"""

import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter
from sqlalchemy import Engine

from fund import allocation
from fund.auth import Action, Actor, require
from fund.errors import InputInvalid, RuleViolation
from fund.export import FONT, check_cp932, display_width, record_export, to_csv_bytes
from fund.fiscal import fiscal_label, wareki
from fund.labels import BUDGET_STAGE, ESTIMATE_MARK
from fund.models import BudgetStage
from fund.money import EXCEL_SEN_YEN_FORMAT, to_sen_yen

FORMATS = ("xlsx", "csv")
ENCODINGS = ("utf-8-sig", "cp932")
HEADER = ["区分", "事業名【所管部局】", "事業概要", "予算額（千円）", "うち基金充当額（千円）", "備考"]
# The 内訳 view splits うち基金充当額 into 当初 + 補正 + 前年度繰越 = 計.
BREAKDOWN_HEADER = ["基金充当額 当初（千円）", "基金充当額 補正（千円）", "基金充当額 前年度繰越（千円）"]
BREAKDOWN_SEN = ["initial_sen", "supplementary_sen", "carried_in_sen"]
HEADER_ROW = 3  # 0-based: title, unit/filters, blank, header
RELISTING_TEXT = "(再掲)"
# Column widths in Excel units (a full-width character is about 2).
WIDTHS = [14, 44, 64, 15, 15, 8]


def amount_columns(*, breakdown: bool) -> list[tuple[str, str]]:
    """The amount columns of a table as (header, 千円 column of `layout_frame`), in print order."""
    if not breakdown:
        return [(HEADER[3], "cost_sen"), (HEADER[4], "fund_sen")]
    split = list(zip(BREAKDOWN_HEADER, BREAKDOWN_SEN, strict=True))
    return [(HEADER[3], "cost_sen"), *split, ("基金充当額 計（千円）", "fund_sen")]


@dataclass(frozen=True)
class AllocationExport:
    """One export: the bytes, a file name and what the audit row records."""

    data: bytes
    file_name: str
    mime: str
    rows: int
    filters: dict[str, Any]


BREAKDOWN_NOTE = (
    "※基金充当額の内訳：当初＝当初予算で承認された額、補正＝補正予算（専決処分を含む）による増減、"
    "前年度繰越＝前年度から繰り越した額。当初＋補正＋前年度繰越＝計。"
)
CARRIED_IN = "carried_in"  # a 'stage' of `stages_of`: the table holds 前年度繰越


def table_title(fiscal_year: int, rows: pd.DataFrame) -> str:
    """「令和6年度（2024年度）当初予算における基金活用事業一覧」; other stages are named when present."""
    return title_for_stages(fiscal_year, stages_of(allocation.totals_of(rows)))


def title_for_stages(fiscal_year: int, stages: set[str]) -> str:
    """`table_title` from the budget stages the table holds (`stages_of`)."""
    if stages and stages != {BudgetStage.initial.value}:
        names = [BUDGET_STAGE[s] for s in BudgetStage if s.value in stages]
        names += ["前年度繰越"] if CARRIED_IN in stages else []
        stage = f"予算（{'・'.join(names)}）"
    else:
        stage = "当初予算"
    return f"{fiscal_label(fiscal_year)}{stage}における基金活用事業一覧"


def stages_of(totals: pd.DataFrame) -> set[str]:
    """The budget stages present in a table, from its `allocation.table_totals`: a 補正 of an
    当初 allocation counts as 補正, and an allocation carried in from the 前年度 as `CARRIED_IN`."""
    whole = totals[totals["level"] == "all"].iloc[0]
    stages = {s.value for s in BudgetStage if int(whole[f"stage_{s.value}"])}
    if int(whole["supplementary_rows"]):
        stages.add(BudgetStage.supplementary.value)
    if int(whole["carried_in_rows"]):
        stages.add(CARRIED_IN)
    return stages


@dataclass(frozen=True)
class WholeTable:
    """The figures of the whole (filtered) table, from its `allocation.table_totals`."""

    rows: int
    projects: int
    new_projects: int
    project_cost_yen: int
    fund_share_yen: int


def whole_table(totals: pd.DataFrame) -> WholeTable:
    whole = totals[totals["level"] == "all"].iloc[0]
    return WholeTable(
        rows=int(whole["rows"]),
        projects=int(whole["projects"]),
        new_projects=int(whole["new_projects"]),
        project_cost_yen=int(whole["project_cost_yen"]),
        fund_share_yen=int(whole["fund_share_yen"]),
    )


def filter_note(*, department: str | None = None, category: str | None = None) -> str:
    """The line under the title of a filtered table: 「絞り込み　所管部局: …　区分: …」 ('' if none)."""
    parts = [f"所管部局: {department}"] if department else []
    if category:
        parts.append(f"区分: {category.strip()}")
    return "絞り込み　" + "　".join(parts) if parts else ""


def _mark(flags: np.ndarray, word: str) -> list[str]:
    return [word if flag else "" for flag in flags]


def tidy_frame(rows: pd.DataFrame, *, fiscal_year: int) -> pd.DataFrame:
    """One row per listed project and 区分, one value per cell, amounts as integer yen (再掲: empty)."""
    r = rows.reset_index(drop=True)
    relisting = r["is_relisting"].to_numpy(dtype=bool)
    return pd.DataFrame(
        {
            "年度": np.full(len(r), fiscal_year, dtype="int64"),
            "年度（和暦）": [wareki(fiscal_year)] * len(r),
            "区分": r["section_heading"].astype(str) + " " + r["section_name"].astype(str),
            "区分（細分）": r["block_heading"].astype(str) + r["block_name"].astype(str),
            "事業名": r["project"],
            "所管部局": r["department"],
            # Marks as words, as in the printed table: Excel would show TRUE/FALSE.
            "新規": _mark(r["is_new"].to_numpy(dtype=bool), "新規"),
            "再掲": _mark(relisting, "再掲"),
            "事業概要": r["summary"],
            "予算額（円）": r["project_cost_yen"].astype("Int64"),
            "基金充当額（円）": r["fund_share_yen"].astype("Int64"),
            "推計": _mark(r["fund_share_is_estimate"].to_numpy(dtype=bool) & ~relisting, "推計"),
            "うち当初（円）": r["initial_fund_yen"].astype("Int64"),
            "うち補正（円）": r["supplementary_fund_yen"].astype("Int64"),
            "うち前年度繰越（円）": r["carried_in_fund_yen"].astype("Int64"),
        }
    )


@dataclass(frozen=True)
class SenRow:
    """A layout line with its amounts in 千円 as printed. Totals are sums of the printed item amounts,
    so every subtotal adds up on paper (items are rounded to 千円 one by one)."""

    line: allocation.LayoutRow
    cost_sen: int | None
    fund_sen: int | None


def sen_rows(layout: list[allocation.LayoutRow]) -> list[SenRow]:
    """`table_layout` in 千円: every figure, item or total, is its own yen amount rounded once
    (`to_sen_yen`), so a total matches the ledger's yen; rounded items may differ from it by 端数."""
    return [
        SenRow(
            line,
            None if line.project_cost_yen is None else to_sen_yen(line.project_cost_yen),
            None if line.fund_share_yen is None else to_sen_yen(line.fund_share_yen),
        )
        for line in layout
    ]


def printed_frame(layout: pd.DataFrame) -> pd.DataFrame:
    """`allocation.layout_frame` already carries `cost_sen` / `fund_sen`: the amounts in 千円 as
    printed, the same figures as `sen_rows` (items rounded one by one, totals re-added from the
    rounded items, so every subtotal adds up on paper)."""
    return layout.reset_index(drop=True)


# Lines of the table a page sends to the browser at most; downloads always hold the whole table.
SCREEN_LINES = 1_000
SCREEN_HEADER = ["区分", "事業名【所管部局】", "事業概要", "予算額（千円）", "基金充当額（千円）", "備考"]


def table_frame(rows: pd.DataFrame, *, breakdown: bool = False) -> pd.DataFrame:
    """The table as the page shows it: amounts as printed text in 千円 (▲ negatives, (再掲)).

    On screen the 区分 column stays narrow so the amounts fit without sideways scrolling: section and
    block headings go in the 事業名 column; 区分 keeps 新規 and the 「N事業計」/合計 captions.
    """
    return screen_table(rows, limit=None, breakdown=breakdown)[0]


def screen_table(
    rows: pd.DataFrame,
    *,
    totals: pd.DataFrame | None = None,
    limit: int | None = SCREEN_LINES,
    breakdown: bool = False,
) -> tuple[pd.DataFrame, int]:
    """The first `limit` lines of `table_frame` (all with None) and how many lines the whole table has.

    With `totals` (`allocation.table_totals`) `rows` may be only the first `limit` rows of the table
    (`allocation_rows(..., limit=limit)`): headings, subtotals and the line count come from the
    totals, and the lines shown are the same as those of the whole table. The 内訳 view
    (`breakdown`) shows 当初・補正・前年度繰越・計 of the 基金充当額 instead of the 事業概要."""
    printed = printed_frame(allocation.layout_frame(rows, totals))
    total = len(printed) if totals is None else allocation.table_lines(totals)
    if limit is not None:
        printed = printed.head(limit)
    kind = printed["kind"]
    heading = kind.isin(["section", "block"])
    relisting = kind == "relisting"

    def text(values: pd.Series) -> list[str]:
        return [
            RELISTING_TEXT if r else "" if pd.isna(v) else f"▲{abs(int(v)):,}" if v < 0 else f"{int(v):,}"
            for v, r in zip(values.tolist(), relisting.tolist(), strict=True)
        ]

    name = printed["name"].where(~heading, "■ " + printed["label"])
    name = name.where(kind != "section", printed["label"] + "　" + printed["name"])
    amounts = amount_columns(breakdown=breakdown)
    if not breakdown:  # the page's own short caption for the fund column
        amounts[1] = (SCREEN_HEADER[4], "fund_sen")
    frame = pd.DataFrame(
        {
            "区分": printed["label"].where(~heading, ""),
            "事業名【所管部局】": name,
            **({} if breakdown else {"事業概要": printed["summary"]}),
            **{header: text(printed[col]) for header, col in amounts},
            "備考": np.where(printed["fund_share_is_estimate"].to_numpy(dtype=bool), ESTIMATE_MARK, ""),
        }
    )
    return frame.reset_index(drop=True), total


def _line_count(text: str, width: int) -> int:
    return max(1, math.ceil(display_width(text) / max(width - 2, 1)))


def table_xlsx(
    rows: pd.DataFrame, *, fiscal_year: int, filter_note: str = "", breakdown: bool = False
) -> bytes:
    """The allocation table laid out as published, in 千円, ready to print on A4 landscape; with
    `breakdown` the 基金充当額 in 当初・補正・前年度繰越・計 columns."""
    printed = printed_frame(allocation.layout_frame(rows))
    amounts = amount_columns(breakdown=breakdown)
    header = [*HEADER[:3], *(h for h, _ in amounts), HEADER[5]]
    widths = [*WIDTHS[:3], *([WIDTHS[3]] * len(amounts)), WIDTHS[5]]
    note_col = len(header) - 1
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    ws = wb.add_worksheet("基金活用事業一覧")
    base: dict[str, Any] = {"font_name": FONT, "font_size": 10, "valign": "vcenter"}
    boxed = {**base, "border": 1}
    fmt = {
        "title": wb.add_format({**base, "bold": True, "font_size": 14}),
        "unit": wb.add_format({**base, "align": "right"}),
        "note": wb.add_format({**base, "font_color": "#444444"}),
        "head": wb.add_format(
            {
                **boxed,
                "bold": True,
                "bg_color": "#1F4E79",
                "font_color": "#FFFFFF",
                "align": "center",
                "text_wrap": True,
            }
        ),
        "section": wb.add_format({**boxed, "bold": True, "bg_color": "#D9E1F2"}),
        "section_num": wb.add_format(
            {**boxed, "bold": True, "bg_color": "#D9E1F2", "num_format": EXCEL_SEN_YEN_FORMAT}
        ),
        "block": wb.add_format({**boxed, "bold": True, "bg_color": "#F2F2F2"}),
        "block_num": wb.add_format(
            {**boxed, "bold": True, "bg_color": "#F2F2F2", "num_format": EXCEL_SEN_YEN_FORMAT}
        ),
        "text": wb.add_format({**boxed, "text_wrap": True}),
        "center": wb.add_format({**boxed, "align": "center"}),
        "num": wb.add_format({**boxed, "num_format": EXCEL_SEN_YEN_FORMAT}),
        "relisting": wb.add_format({**boxed, "align": "right"}),
        "subtotal": wb.add_format({**boxed, "bold": True, "align": "right", "top": 2}),
        "subtotal_num": wb.add_format({**boxed, "bold": True, "num_format": EXCEL_SEN_YEN_FORMAT, "top": 2}),
        "total": wb.add_format(
            {**boxed, "bold": True, "align": "right", "bg_color": "#FCE4D6", "top": 2, "bottom": 6}
        ),
        "total_num": wb.add_format(
            {
                **boxed,
                "bold": True,
                "bg_color": "#FCE4D6",
                "num_format": EXCEL_SEN_YEN_FORMAT,
                "top": 2,
                "bottom": 6,
            }
        ),
    }
    last_col = note_col
    ws.merge_range(0, 0, 0, last_col, table_title(fiscal_year, rows), fmt["title"])
    ws.set_row(0, 24)
    if filter_note:
        ws.merge_range(1, 0, 1, 2, filter_note, fmt["note"])
    ws.merge_range(1, 3, 1, last_col, "（単位：千円）", fmt["unit"])
    for c, name in enumerate(header):
        # 「基金充当額」, the part and the unit on lines of their own: Excel breaks Japanese anywhere
        name = name.replace(" ", "\n").replace("（千円）", "\n（千円）") if breakdown and c > 3 else name
        ws.write_string(HEADER_ROW, c, name, fmt["head"])
    ws.set_row(HEADER_ROW, 45 if breakdown else 30)

    def write_amounts(r: int, figures: list[object], style: str) -> None:
        for c, sen in enumerate(figures, start=3):
            if pd.isna(sen):
                ws.write_blank(r, c, None, fmt[style])
            else:
                ws.write_number(r, c, int(sen), fmt[style])  # type: ignore[call-overload]

    r = HEADER_ROW
    texts = zip(*(printed[col].tolist() for col in ("kind", "label", "name", "summary")), strict=True)
    figures = printed[[col for _, col in amounts]].astype(object).to_numpy().tolist()
    estimates = printed["fund_share_is_estimate"].tolist()
    for (kind, label, name, summary), figure, estimate in zip(texts, figures, estimates, strict=True):
        r += 1
        if kind in ("section", "block"):
            caption = f"{label}　{name}" if name else label
            ws.merge_range(r, 0, r, 2, caption, fmt[kind])
            write_amounts(r, figure, f"{kind}_num")
            ws.write_blank(r, note_col, None, fmt[kind])
        elif kind in ("item", "relisting"):
            ws.write_string(r, 0, label, fmt["center"])
            ws.write_string(r, 1, name, fmt["text"])
            ws.write_string(r, 2, summary, fmt["text"])
            if kind == "relisting":
                for c in range(3, note_col):
                    ws.write_string(r, c, RELISTING_TEXT, fmt["relisting"])
            else:
                write_amounts(r, figure, "num")
            ws.write_string(r, note_col, ESTIMATE_MARK if estimate else "", fmt["center"])
            lines_needed = max(_line_count(name, WIDTHS[1]), _line_count(summary, WIDTHS[2]))
            ws.set_row(r, 15 * lines_needed)
        else:  # subtotal, grand_total
            style = "subtotal" if kind == "subtotal" else "total"
            ws.merge_range(r, 0, r, 2, label, fmt[style])
            write_amounts(r, figure, f"{style}_num")
            ws.write_blank(r, note_col, None, fmt[style])
    r += 2
    ws.write_string(
        r,
        0,
        "※予算額は主たる区分で計上。(再掲) は他の区分に再掲した事業で、小計・合計には含みません。",
        fmt["note"],
    )
    ws.write_string(
        r + 1,
        0,
        f"※金額は千円未満を四捨五入。小計・合計は円単位の合計を四捨五入しているため、内訳の和と一致しない場合があります。備考「{ESTIMATE_MARK}」は資料に記載がなく前提を置いた値です。",
        fmt["note"],
    )
    if breakdown:
        ws.write_string(r + 2, 0, BREAKDOWN_NOTE, fmt["note"])
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)
    ws.freeze_panes(HEADER_ROW + 1, 0)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(HEADER_ROW)
    ws.set_footer("&C&P / &N")
    wb.close()
    return buf.getvalue()


def export_filters(
    *,
    fiscal_year: int,
    fmt: str,
    encoding: str = "utf-8-sig",
    department_id: int | None = None,
    category_code: str | None = None,
    breakdown: bool = False,
) -> dict[str, Any]:
    """What the audit row of an export records about its filters."""
    filters: dict[str, Any] = {"fiscal_year": fiscal_year, "format": fmt}
    if breakdown and fmt == "xlsx":
        filters["breakdown"] = True
    if department_id is not None:
        filters["department_id"] = department_id
    if category_code is not None:
        filters["category_code"] = category_code
    if fmt == "csv":
        filters["encoding"] = encoding
    return filters


def file_name(*, fiscal_year: int, fmt: str, encoding: str = "utf-8-sig", breakdown: bool = False) -> str:
    """「基金活用事業一覧_2024.xlsx」, 「…_2024_内訳.xlsx」, 「…_2024.csv」, 「…_2024_sjis.csv」."""
    stem = f"基金活用事業一覧_{fiscal_year}"
    if fmt == "xlsx":
        return f"{stem}{'_内訳' if breakdown else ''}.xlsx"
    return f"{stem}{'_sjis' if encoding == 'cp932' else ''}.csv"


def mime_type(fmt: str) -> str:
    if fmt == "xlsx":
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return "text/csv"


def encoding_problem(
    engine: Engine,
    *,
    fiscal_year: int,
    encoding: str,
    department_id: int | None = None,
    category_code: str | None = None,
) -> str | None:
    """Why the CSV of this table cannot be written in `encoding` (the message `build` would raise,
    naming the character), or None. Reads only the table's text, so a page can say so up front."""
    if encoding != "cp932":
        return None
    text = allocation.table_text(
        engine, fiscal_year=fiscal_year, department_id=department_id, category_code=category_code
    )
    try:
        check_cp932(text)
    except RuleViolation as exc:
        return exc.message
    return None


def build(
    engine: Engine,
    *,
    fiscal_year: int,
    fmt: str,
    encoding: str = "utf-8-sig",
    department_id: int | None = None,
    category_code: str | None = None,
    filter_note: str = "",
    breakdown: bool = False,
) -> AllocationExport:
    """The export of exactly the rows `allocation_rows` returns for these filters (not yet audited).

    Raises InputInvalid for an unknown format or encoding, RuleViolation when cp932 cannot hold a
    character (the message names it).
    """
    if fmt not in FORMATS:
        raise InputInvalid({"format": "形式は xlsx または csv を指定してください。"})
    if encoding not in ENCODINGS:
        raise InputInvalid(
            {"encoding": "文字コードは utf-8-sig（BOM付き UTF-8）または cp932 を指定してください。"}
        )
    rows = allocation.allocation_rows(
        engine, fiscal_year=fiscal_year, department_id=department_id, category_code=category_code
    )
    filters = export_filters(
        fiscal_year=fiscal_year,
        fmt=fmt,
        encoding=encoding,
        department_id=department_id,
        category_code=category_code,
        breakdown=breakdown,
    )
    if fmt == "xlsx":
        data = table_xlsx(rows, fiscal_year=fiscal_year, filter_note=filter_note, breakdown=breakdown)
    else:
        data = to_csv_bytes(tidy_frame(rows, fiscal_year=fiscal_year), encoding=encoding)
    name = file_name(fiscal_year=fiscal_year, fmt=fmt, encoding=encoding, breakdown=breakdown)
    mime = mime_type(fmt)
    return AllocationExport(data=data, file_name=name, mime=mime, rows=len(rows), filters=filters)


def build_bytes(
    engine: Engine,
    *,
    fiscal_year: int,
    fmt: str,
    encoding: str = "utf-8-sig",
    department_id: int | None = None,
    category_code: str | None = None,
    filter_note: str = "",
    breakdown: bool = False,
) -> bytes:
    """Only the file of `build` (for a download built when it is fetched)."""
    return build(
        engine,
        fiscal_year=fiscal_year,
        fmt=fmt,
        encoding=encoding,
        department_id=department_id,
        category_code=category_code,
        filter_note=filter_note,
        breakdown=breakdown,
    ).data


def record(engine: Engine, *, actor: Actor, export: AllocationExport) -> None:
    """Audit a delivered export (who, what, filters, rows)."""
    record_export(engine, actor=actor, what="allocation_table", filters=export.filters, rows=export.rows)


def record_download(
    engine: Engine,
    *,
    actor: Actor,
    fiscal_year: int,
    fmt: str,
    encoding: str = "utf-8-sig",
    department_id: int | None = None,
    category_code: str | None = None,
    breakdown: bool = False,
    rows: int,
) -> None:
    """Audit a download whose file is built when it is fetched (the same record as `record`)."""
    filters = export_filters(
        fiscal_year=fiscal_year,
        fmt=fmt,
        encoding=encoding,
        department_id=department_id,
        category_code=category_code,
        breakdown=breakdown,
    )
    record_export(engine, actor=actor, what="allocation_table", filters=filters, rows=rows)


def export_allocations(
    engine: Engine,
    *,
    actor: Actor,
    fiscal_year: int,
    fmt: str,
    encoding: str = "utf-8-sig",
    department_id: int | None = None,
    category_code: str | None = None,
    breakdown: bool = False,
) -> AllocationExport:
    """Build and audit in one call (the CLI). Raises PermissionDenied without the export right."""
    require(actor, Action.export)
    export = build(
        engine,
        fiscal_year=fiscal_year,
        fmt=fmt,
        encoding=encoding,
        department_id=department_id,
        category_code=category_code,
        breakdown=breakdown,
    )
    record(engine, actor=actor, export=export)
    return export
