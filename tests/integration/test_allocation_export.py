"""The allocation table export: the seed's figures in the right cells, subtotals that add up, CSV, audit."""

import io
import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from fund import allocation, allocation_export
from fund.allocation import BREAKDOWN, TABLE_COLUMNS
from fund.db import query_df
from fund.errors import RuleViolation
from fund.models import Role
from fund.ops.cli import main
from tests.conftest import make_actor

EXEC = make_actor(Role.executive, login="tanaka_exec")


def _sheet(data: bytes) -> openpyxl.worksheet.worksheet.Worksheet:
    return openpyxl.load_workbook(io.BytesIO(data)).active


def _row_by_label(ws: openpyxl.worksheet.worksheet.Worksheet, label: str) -> tuple[object, ...]:
    rows = [r for r in ws.iter_rows(values_only=True) if r[0] == label]
    assert len(rows) == 1, label
    return rows[0]


def test_exported_xlsx_holds_the_seed_figures_in_the_right_cells(seeded_engine: Engine) -> None:
    export = allocation_export.build(seeded_engine, fiscal_year=2024, fmt="xlsx")
    ws = _sheet(export.data)
    assert ws["A1"].value == "令和6年度（2024年度）当初予算における基金活用事業一覧"
    assert ws["D2"].value == "（単位：千円）"
    assert [c.value for c in ws[4]] == allocation_export.HEADER
    assert _row_by_label(ws, "9事業計")[3] == 619_616
    assert _row_by_label(ws, "11事業計")[3] == 1_097_090
    assert _row_by_label(ws, "基盤整備")[3] == 510_994
    assert _row_by_label(ws, "デジタル人材の育成・確保")[3] == 38_690
    assert _row_by_label(ws, "誰一人取り残されないための取組")[3] == 5_226
    assert _row_by_label(ws, "合計 24事業")[3] == 2_271_616
    # 基金充当額: the total is the ledger's 1,135,808,000円 rounded once, not the sum of rounded rows
    assert _row_by_label(ws, "合計 24事業")[4] == 1_135_808
    relisted = [r for r in ws.iter_rows(values_only=True) if r[3] == "(再掲)"]
    assert len(relisted) == 4 and all(r[4] == "(再掲)" for r in relisted)
    assert "やまぐちDX加速化事業【総合企画部】" in [r[1] for r in relisted]
    # 基盤整備 in the source's order (seeds/004): its own project first, then the two (再掲) rows
    names = [r[1] for r in ws.iter_rows(values_only=True)]
    ysn = names.index("やまぐち情報スーパーネットワーク機能強化事業【総合企画部】")
    assert names[ysn + 1 : ysn + 3] == [
        "やまぐちDX加速化事業【総合企画部】",
        "映像解析等支援システム事業【警察本部】",
    ]


def test_the_breakdown_of_the_seed_is_all_initial_budget(seeded_engine: Engine) -> None:
    ws = _sheet(allocation_export.build(seeded_engine, fiscal_year=2024, fmt="xlsx", breakdown=True).data)
    assert ws["A1"].value == "令和6年度（2024年度）当初予算における基金活用事業一覧"
    assert [c.value for c in ws[4]][3:8] == [
        "予算額（千円）",
        "基金充当額\n当初\n（千円）",
        "基金充当額\n補正\n（千円）",
        "基金充当額\n前年度繰越\n（千円）",
        "基金充当額\n計\n（千円）",
    ]
    assert _row_by_label(ws, "合計 24事業")[3:8] == (2_271_616, 1_135_808, 0, 0, 1_135_808)
    assert _row_by_label(ws, "9事業計")[3] == 619_616
    notes = [r[0] for r in ws.iter_rows(values_only=True) if str(r[0]).startswith("※基金充当額の内訳")]
    assert len(notes) == 1
    export = allocation_export.build(seeded_engine, fiscal_year=2024, fmt="xlsx", breakdown=True)
    assert export.file_name == "基金活用事業一覧_2024_内訳.xlsx"
    assert export.filters["breakdown"] is True


def test_xlsx_is_formatted_for_printing_and_has_no_formulas(seeded_engine: Engine) -> None:
    ws = _sheet(allocation_export.build(seeded_engine, fiscal_year=2024, fmt="xlsx").data)
    total_row = next(r for r in ws.iter_rows() if r[0].value == "合計 24事業")
    assert total_row[3].number_format == '#,##0;"▲"#,##0'
    assert ws.freeze_panes == "A5"
    assert ws.page_setup.orientation == "landscape"
    assert int(ws.page_setup.paperSize) == 9  # A4
    assert ws.print_title_rows == "$4:$4"
    assert ws.column_dimensions["C"].width > ws.column_dimensions["D"].width
    assert not any(
        isinstance(c.value, str) and c.value.startswith("=") for row in ws.iter_rows() for c in row
    )


def test_formula_like_text_is_a_string_cell_in_xlsx_and_neutralised_in_csv(seeded_engine: Engine) -> None:
    with seeded_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE project SET summary = '=HYPERLINK(\"http://x\")' WHERE name = '県内企業魅力発信事業'"
            )
        )
    export = allocation_export.build(seeded_engine, fiscal_year=2024, fmt="xlsx")
    cells = [c for row in _sheet(export.data).iter_rows() for c in row if c.value is not None]
    typed = [c for c in cells if c.value == '=HYPERLINK("http://x")']  # the text exactly, as typed
    assert len(typed) == 1 and typed[0].data_type == "s"
    assert not [c for c in cells if c.data_type == "f"]
    csv = allocation_export.build(seeded_engine, fiscal_year=2024, fmt="csv").data
    summaries = pd.read_csv(io.BytesIO(csv), encoding="utf-8-sig")["事業概要"]
    assert '\'=HYPERLINK("http://x")' in set(summaries)


def test_tidy_csv_has_numbers_as_numbers_and_the_western_year_beside_wareki(seeded_engine: Engine) -> None:
    export = allocation_export.build(seeded_engine, fiscal_year=2024, fmt="csv")
    assert export.data.startswith(b"\xef\xbb\xbf")
    df = pd.read_csv(io.BytesIO(export.data), encoding="utf-8-sig")
    assert list(df.columns[:2]) == ["年度", "年度（和暦）"]
    assert set(df["年度"]) == {2024} and set(df["年度（和暦）"]) == {"令和6年度"}
    relisted = df["再掲"] == "再掲"
    primary = df[~relisted]
    assert len(primary) == 24 and relisted.sum() == 4
    assert int(primary["予算額（円）"].sum()) == 2_271_616_000
    assert df.loc[relisted, "予算額（円）"].isna().all()
    # Marks are words, as printed (Excel would show TRUE/FALSE); every seeded 基金充当額 is 推計.
    assert set(df["新規"].fillna("")) == {"新規", ""} and set(df["再掲"].fillna("")) == {"再掲", ""}
    assert set(primary["推計"]) == {"推計"}


def test_cp932_export_names_the_character_it_cannot_hold(seeded_engine: Engine) -> None:
    plain = allocation_export.build(seeded_engine, fiscal_year=2024, fmt="csv", encoding="cp932")
    assert "やまぐちDX加速化事業".encode("cp932") in plain.data
    with seeded_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE project SET summary = summary || '（𠮷野町と連携）' WHERE name = '県内企業魅力発信事業'"
            )
        )
    with pytest.raises(RuleViolation) as exc:
        allocation_export.build(seeded_engine, fiscal_year=2024, fmt="csv", encoding="cp932")
    assert "「𠮷」" in exc.value.message and "U+20BB7" in exc.value.message


def test_filters_select_the_exported_rows_and_the_export_is_audited(seeded_engine: Engine) -> None:
    dept = int(query_df(seeded_engine, "SELECT id FROM department WHERE name = '警察本部'")["id"].iloc[0])
    export = allocation_export.export_allocations(
        seeded_engine, actor=EXEC, fiscal_year=2024, fmt="xlsx", department_id=dept
    )
    ws = _sheet(export.data)
    assert _row_by_label(ws, "合計 3事業")[3] == 1_466 + 191_153 + 4_169
    log = query_df(
        seeded_engine, "SELECT actor, action, entity, after_values FROM audit_log ORDER BY id DESC LIMIT 1"
    )
    assert (log["actor"].iloc[0], log["action"].iloc[0], log["entity"].iloc[0]) == (
        "tanaka_exec",
        "export",
        "allocation_table",
    )
    after = log["after_values"].iloc[0]
    after = after if isinstance(after, dict) else json.loads(after)
    assert after == {"filters": {"fiscal_year": 2024, "format": "xlsx", "department_id": dept}, "rows": 4}


def test_cli_exports_the_table_and_records_who(seeded_engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "table.xlsx"
    assert main(["export", "allocations", "--year", "2024", "--format", "xlsx", "--out", str(out)]) == 0
    assert _row_by_label(_sheet(out.read_bytes()), "合計 24事業")[3] == 2_271_616
    csv = tmp_path / "table.csv"
    args = [
        "export",
        "allocations",
        "--year",
        "2024",
        "--format",
        "csv",
        "--encoding",
        "cp932",
        "--out",
        str(csv),
    ]
    assert main(args) == 0
    assert pd.read_csv(csv, encoding="cp932")["年度"].iloc[0] == 2024
    actors = query_df(seeded_engine, "SELECT actor FROM audit_log WHERE action = 'export' ORDER BY id")[
        "actor"
    ]
    assert list(actors) == ["system", "system"]
    assert main([*args, "--as", "nobody"]) == 2


def test_downloads_hold_every_line_whatever_the_screen_shows(
    seeded_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(allocation_export, "SCREEN_LINES", 5)
    rows = allocation.allocation_rows(seeded_engine, fiscal_year=2024)
    lines = len(allocation_export.table_frame(rows))
    assert lines > allocation_export.SCREEN_LINES
    ws = _sheet(allocation_export.build_bytes(seeded_engine, fiscal_year=2024, fmt="xlsx"))
    first = allocation_export.HEADER_ROW + 2
    body = list(ws.iter_rows(min_row=first, max_row=first + lines - 1, values_only=True))
    assert body[-1][0] == "合計 24事業"
    csv = allocation_export.build_bytes(seeded_engine, fiscal_year=2024, fmt="csv", encoding="cp932")
    assert len(pd.read_csv(io.BytesIO(csv), encoding="cp932")) == len(rows)


def test_the_quick_encoding_check_refuses_what_the_csv_export_refuses(seeded_engine: Engine) -> None:
    assert allocation_export.encoding_problem(seeded_engine, fiscal_year=2024, encoding="cp932") is None
    with seeded_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE project SET summary = summary || '（𠮷野町と連携）' WHERE name = '県内企業魅力発信事業'"
            )
        )
    assert allocation_export.encoding_problem(seeded_engine, fiscal_year=2024, encoding="utf-8-sig") is None
    problem = allocation_export.encoding_problem(seeded_engine, fiscal_year=2024, encoding="cp932")
    with pytest.raises(RuleViolation) as full:
        allocation_export.build(seeded_engine, fiscal_year=2024, fmt="csv", encoding="cp932")
    assert problem == full.value.message
    police = int(query_df(seeded_engine, "SELECT id FROM department WHERE name = '警察本部'")["id"].iloc[0])
    assert (
        allocation_export.encoding_problem(
            seeded_engine, fiscal_year=2024, encoding="cp932", department_id=police
        )
        is None
    )


def test_a_download_built_on_fetch_is_audited_like_any_export(seeded_engine: Engine) -> None:
    dept = int(query_df(seeded_engine, "SELECT id FROM department WHERE name = '警察本部'")["id"].iloc[0])
    allocation_export.record_download(
        seeded_engine, actor=EXEC, fiscal_year=2024, fmt="csv", encoding="cp932", department_id=dept, rows=3
    )
    log = query_df(
        seeded_engine, "SELECT actor, entity, after_values FROM audit_log ORDER BY id DESC LIMIT 1"
    )
    after = log["after_values"].iloc[0]
    after = after if isinstance(after, dict) else json.loads(after)
    assert (log["actor"].iloc[0], log["entity"].iloc[0]) == ("tanaka_exec", "allocation_table")
    built = allocation_export.build(
        seeded_engine, fiscal_year=2024, fmt="csv", encoding="cp932", department_id=dept
    )
    assert after == {"filters": built.filters, "rows": 3}


# --- Property: in every export, totals add up in yen and each figure is rounded once ------------------------------------------

amounts = st.integers(min_value=-2_000_000_000, max_value=50_000_000_000)


@st.composite
def allocation_tables(draw: st.DrawFn) -> pd.DataFrame:
    rows = []
    pid = 0
    order = 0
    blocks: list[dict[str, object]] = []
    for s in range(draw(st.integers(1, 3))):
        for b in range(draw(st.integers(1, 3))):
            order += 1
            numbered = draw(st.booleans())
            blocks.append(
                {
                    "section_code": f"s{s}",
                    "section_heading": str(s + 1),
                    "section_name": f"区分{s + 1}",
                    "block_code": f"s{s}b{b}",
                    "block_heading": f"({b + 1})" if numbered else "",
                    "block_name": f"分野{s + 1}-{b + 1}",
                    "block_order": order,
                }
            )
    projects: list[tuple[int, dict[str, object]]] = []
    for block in blocks:
        for _ in range(draw(st.integers(1, 5))):
            pid += 1
            cost = draw(amounts)
            fund = draw(st.integers(min_value=0, max_value=abs(cost)))
            # 当初 + 補正 + 前年度繰越 = 基金充当額; a 補正 may be a decrease
            carried = draw(st.integers(min_value=0, max_value=fund))
            initial = draw(st.integers(min_value=0, max_value=2 * fund))
            projects.append((pid, block))
            rows.append(
                {
                    **block,
                    "project_id": pid,
                    "project": f"事業{pid}",
                    "department": "総合企画部",
                    "is_new": draw(st.booleans()),
                    "summary": "概要",
                    "project_cost_yen": cost,
                    "fund_share_yen": fund,
                    "fund_share_is_estimate": draw(st.booleans()),
                    "initial_fund_yen": initial,
                    "supplementary_fund_yen": fund - carried - initial,
                    "carried_in_fund_yen": carried,
                    "is_relisting": False,
                    "status": "approved",
                    "budget_stage": "initial",
                }
            )
    for project_id, home in projects:
        others = [b for b in blocks if b is not home]
        if others and draw(st.integers(0, 4)) == 0:
            block = draw(st.sampled_from(others))
            rows.append(
                {
                    **block,
                    "project_id": project_id,
                    "project": f"事業{project_id}",
                    "department": "総合企画部",
                    "is_new": False,
                    "summary": "概要",
                    "project_cost_yen": None,
                    "fund_share_yen": None,
                    "fund_share_is_estimate": False,
                    "initial_fund_yen": None,
                    "supplementary_fund_yen": None,
                    "carried_in_fund_yen": None,
                    "is_relisting": True,
                    "status": "approved",
                    "budget_stage": None,
                }
            )
    df = pd.DataFrame(rows)[TABLE_COLUMNS].sort_values(["block_order", "project_id"]).reset_index(drop=True)
    for col in ("project_cost_yen", "fund_share_yen", *BREAKDOWN):
        df[col] = df[col].astype("Int64")
    return df


def _assert_adds_up(printed: list[allocation_export.SenRow], column: str) -> None:
    """In yen, the lines add up exactly; each printed 千円 figure is its own yen rounded once, so a
    total differs from the sum of its rounded items by at most half a 千円 per item (端数)."""
    yen_column = {"cost_sen": "project_cost_yen", "fund_sen": "fund_share_yen"}[column]
    for p in printed:
        yen = getattr(p.line, yen_column)
        assert getattr(p, column) == (None if yen is None else round_half_away(yen / 1_000))
    _assert_lines_add_up([getattr(p.line, yen_column) for p in printed], [p.line.kind for p in printed])
    items_sen = [getattr(p, column) for p in printed if p.line.kind == "item"]
    grand = next(getattr(p, column) for p in printed if p.line.kind == "grand_total")
    assert abs(sum(items_sen) - grand) <= len(items_sen) / 2 + 0.5


def round_half_away(value: float) -> int:
    return int(value + 0.5) if value >= 0 else -int(-value + 0.5)


def _assert_lines_add_up(values: list[int | None], kinds: list[str]) -> None:
    sections: list[tuple[int, list[int]]] = []  # (section total, its block totals)
    items: list[int] = []
    open_block: int | None = None  # an unnumbered block prints its total on the heading

    def close_block() -> None:
        nonlocal items, open_block
        if open_block is not None:
            assert sum(items) == open_block
            sections[-1][1].append(open_block)
        items, open_block = [], None

    grand = None
    for kind, value in zip(kinds, values, strict=True):
        if kind == "section":
            close_block()
            sections.append((value, []))
        elif kind == "block":
            close_block()
            open_block = value
        elif kind == "item":
            items.append(value)
        elif kind == "subtotal":
            assert sum(items) == value
            sections[-1][1].append(value)
            items = []
        elif kind == "grand_total":
            close_block()
            grand = value
    for total, blocks in sections:
        assert sum(blocks) == total
    assert grand == sum(total for total, _ in sections)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=allocation_tables())
def test_every_exports_totals_add_up_in_yen_and_are_rounded_once(rows: pd.DataFrame) -> None:
    printed = allocation_export.sen_rows(allocation.table_layout(rows))
    _assert_adds_up(printed, "cost_sen")
    _assert_adds_up(printed, "fund_sen")
    # The xlsx carries exactly these figures, row by row, in columns D and E.
    first = allocation_export.HEADER_ROW + 2
    ws = _sheet(allocation_export.table_xlsx(rows, fiscal_year=2025))
    cells = list(ws.iter_rows(min_row=first, max_row=first + len(printed) - 1, values_only=True))
    for p, cell in zip(printed, cells, strict=True):
        relisting = p.line.kind == "relisting"
        assert cell[3] == ("(再掲)" if relisting else p.cost_sen)
        assert cell[4] == ("(再掲)" if relisting else p.fund_sen)
    # The 内訳: on every line 当初 + 補正 + 前年度繰越 = 計 in yen, and each is its own yen rounded once.
    layout = allocation.layout_frame(rows)
    amounts = layout[layout["kind"] != "relisting"]
    parts = amounts[["initial_fund_yen", "supplementary_fund_yen", "carried_in_fund_yen"]]
    assert (parts.sum(axis=1) == amounts["fund_share_yen"]).all()
    split = _sheet(allocation_export.table_xlsx(rows, fiscal_year=2025, breakdown=True))
    cells = list(split.iter_rows(min_row=first, max_row=first + len(layout) - 1, values_only=True))
    for line, cell in zip(layout.itertuples(index=False), cells, strict=True):
        if line.kind == "relisting":
            assert cell[3:8] == ("(再掲)",) * 5
        elif line.kind != "block" or not pd.isna(line.fund_share_yen):
            expected = [line.project_cost_yen, line.initial_fund_yen, line.supplementary_fund_yen]
            expected += [line.carried_in_fund_yen, line.fund_share_yen]
            assert list(cell[3:8]) == [round_half_away(y / 1_000) for y in expected]
    # The tidy CSV of the same rows sums to the table's exact yen total.
    csv = allocation_export.to_csv_bytes(allocation_export.tidy_frame(rows, fiscal_year=2025))
    df = pd.read_csv(io.BytesIO(csv), encoding="utf-8-sig")
    grand = next(p for p in printed if p.line.kind == "grand_total")
    assert int(df.loc[df["再掲"] != "再掲", "予算額（円）"].sum()) == grand.line.project_cost_yen


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=allocation_tables())
def test_the_on_screen_table_prints_the_same_amounts_as_the_export(rows: pd.DataFrame) -> None:
    printed = allocation_export.sen_rows(allocation.table_layout(rows))
    table = allocation_export.table_frame(rows)
    assert len(table) == len(printed)

    def text(value: int | None, relisting: bool) -> str:
        if relisting:
            return "(再掲)"
        if value is None:
            return ""
        return f"▲{abs(value):,}" if value < 0 else f"{value:,}"

    for p, (cost, fund) in zip(
        printed, table[["予算額（千円）", "基金充当額（千円）"]].itertuples(index=False), strict=True
    ):
        relisting = p.line.kind == "relisting"
        assert (cost, fund) == (text(p.cost_sen, relisting), text(p.fund_sen, relisting))
