"""配分表: the allocation table laid out as published, with its filters and downloads."""

from functools import partial

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

from fund import allocation, allocation_export
from fund.auth import Actor
from fund.fiscal import fiscal_label
from fund.money import format_oku_yen, format_sen_yen
from ui import loaders, session, widgets

# The table is printed as HTML (not the grid) so that every name and 概要 wraps in full, as on paper.
NAME_COLUMNS = {"区分": "5.5em", "事業名【所管部局】": "18em"}
DOWNLOADS = (
    ("xlsx", "utf-8-sig", "Excel（xlsx）で保存", ":material/table_view:"),
    ("csv", "utf-8-sig", "CSV（UTF-8 BOM付き）で保存", ":material/download:"),
    ("csv", "cp932", "CSV（Shift_JIS）で保存", ":material/download:"),
)


def render(actor: Actor, *, may_export: bool) -> None:
    years = loaders.allocation_years()
    if not years:
        st.info("承認済みの配分はまだありません。「配分の登録・承認」から登録し、承認すると表示されます。")
        return
    f1, f2, f3 = st.columns(3)
    year = f1.selectbox("年度", years, format_func=fiscal_label, key="alloc_year")
    depts = loaders.departments()
    dept_names = dict(zip(depts["id"], depts["name"], strict=True))
    dept = widgets.optional_select(
        "所管部局", list(dept_names), format_func=dept_names.__getitem__, key="alloc_dept", where=f2
    )
    cats = loaders.category_choices()
    cat_labels = dict(zip(cats["code"], cats["label"], strict=True))
    cat = widgets.optional_select(
        "区分", list(cat_labels), format_func=cat_labels.__getitem__, key="alloc_cat", where=f3
    )
    filters: allocation.TableFilter = {"fiscal_year": year, "department_id": dept, "category_code": cat}
    # Totals of the whole table in SQL; only the rows shown are loaded.
    totals = loaders.table_totals(**filters)
    whole = allocation_export.whole_table(totals)
    if whole.rows == 0:
        st.info("条件に合う配分はありません。所管部局・区分の絞り込みを外してください。")
        return
    m1, m2, m3 = st.columns(3)
    m1.metric("事業数", f"{whole.projects}事業", help=f"うち新規 {whole.new_projects}事業（再掲を除く）")
    m2.metric(
        "予算額（事業費）",
        format_oku_yen(whole.project_cost_yen),
        help=f"{format_sen_yen(whole.project_cost_yen)}千円",
    )
    m3.metric(
        "うち基金充当額",
        format_oku_yen(whole.fund_share_yen),
        help=f"{format_sen_yen(whole.fund_share_yen)}千円（推計を含む場合は表の備考に印）",
    )

    st.subheader(allocation_export.title_for_stages(year, allocation_export.stages_of(totals)))
    unit, switch = st.columns([3, 2])
    unit.caption("（単位：千円）")
    breakdown = switch.toggle("基金充当額の内訳（当初・補正・前年度繰越）", key="alloc_breakdown")
    limit = allocation_export.SCREEN_LINES
    head = loaders.allocation_rows(**filters, limit=limit)
    shown, lines = allocation_export.screen_table(head, totals=totals, limit=limit, breakdown=breakdown)
    if lines > len(shown):
        where = (
            "すべての行は、下の Excel・CSV の保存ボタンで保存できます。"
            if may_export
            else "所管部局・区分で絞り込むと、残りの行も表示できます。"
        )
        st.info(
            f"表の先頭 {len(shown):,} 行を表示しています（全 {lines:,} 行）。{where}",
            icon=":material/table_rows:",
        )
    widgets.table(shown, style=_printed, hide_index=True)
    st.caption(
        "※予算額は主たる区分で計上。(再掲) は他の区分に再掲した事業で、小計・合計には含みません。"
        "新規はその年度が事業の初年度であることを示します。金額は千円未満を四捨五入し、小計・合計は円単位の合計を四捨五入しているため、内訳の和と一致しない場合があります。"
    )
    if breakdown:
        st.caption(allocation_export.BREAKDOWN_NOTE)
    widgets.estimate_note()
    if may_export:
        note = allocation_export.filter_note(
            department=dept_names.get(dept) if dept is not None else None,
            category=cat_labels.get(cat) if cat is not None else None,
        )
        _downloads(actor, filters=filters, note=note, rows=whole.rows, breakdown=breakdown)


def _downloads(
    actor: Actor, *, filters: allocation.TableFilter, note: str, rows: int, breakdown: bool
) -> None:
    """The three files of exactly what is shown; each is built when fetched and audited."""
    engine = session.engine()
    for column, (fmt, encoding, label, icon) in zip(st.columns(3), DOWNLOADS, strict=True):
        problem = loaders.encoding_problem(**filters, encoding=encoding) if encoding == "cp932" else None
        if problem:
            column.warning(problem, icon=":material/warning:")
            continue
        split = breakdown and fmt == "xlsx"  # the tidy CSV always holds the 内訳 columns
        wanted = {"fmt": fmt, "encoding": encoding, "breakdown": split}
        column.download_button(
            label,
            data=session.deferred(
                partial(
                    allocation_export.build_bytes,
                    engine,
                    **filters,
                    fmt=fmt,
                    encoding=encoding,
                    breakdown=split,
                    filter_note=note,
                )
            ),
            file_name=allocation_export.file_name(
                fiscal_year=filters["fiscal_year"], fmt=fmt, encoding=encoding, breakdown=split
            ),
            mime=allocation_export.mime_type(fmt),
            icon=icon,
            key=f"dl_{fmt}_{encoding}",
            on_click=session.when_signed_in(allocation_export.record_download),
            kwargs={"engine": engine, "actor": actor, "rows": rows, **filters, **wanted},
        )
    st.caption("保存するのは画面の絞り込みどおりの内容（全行）です。保存は監査ログに記録されます。")


def _printed(shown: pd.DataFrame) -> Styler:
    """Amounts right-aligned on one line, 備考 centred; names at a width that leaves room for the
    概要. `!important` because the table aligns each text cell inline; the paragraph inside each
    cell decides the wrapping."""
    rules = []
    for i, column in enumerate(shown.columns):
        if column.endswith("（千円）") or column == "備考":
            align = "center" if column == "備考" else "right"
            rules += [
                {"selector": f"td.col{i}", "props": f"text-align: {align} !important"},
                {"selector": f"td.col{i} p", "props": "white-space: nowrap"},
            ]
        if column in NAME_COLUMNS:
            rules.append({"selector": f"td.col{i}", "props": f"min-width: {NAME_COLUMNS[column]}"})
    return shown.style.set_table_styles(rules)
