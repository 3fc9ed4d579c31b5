"""年度配分: the allocation table of a 年度, laid out as published, with Excel/CSV downloads."""

import pandas as pd
import streamlit as st

from fund import allocation, reference
from fund.auth import Action
from fund.fiscal import fiscal_label
from fund.money import format_sen_yen
from pages import _ui

actor = _ui.require_actor(Action.view_allocations)
engine = _ui.engine()

st.title("年度配分")
years = allocation.allocation_years(engine)
if not years:
    st.info("承認済みの配分はまだありません。")
    st.stop()

f1, f2 = st.columns(2)
year = f1.selectbox("年度", years, format_func=lambda y: fiscal_label(int(y)), key="alloc_year")
depts = reference.departments(engine)
dept = f2.selectbox(
    "所管部局",
    [None, *depts["id"].tolist()],
    format_func=lambda d: "すべて" if d is None else depts.set_index("id").loc[d, "name"],
    key="alloc_dept",
)

rows = allocation.allocation_rows(engine, fiscal_year=year, department_id=dept)
if rows.empty:
    st.info("条件に合う配分はありません。")
    st.stop()

totals = allocation.category_totals(rows)
m1, m2, m3 = st.columns(3)
primary = rows[~rows["is_relisting"]]
m1.metric(
    "事業数",
    f"{primary['project_id'].nunique()}事業",
    help=f"うち新規 {primary.loc[primary['is_new'], 'project_id'].nunique()}事業",
)
m2.metric("予算額（事業費）", f"{format_sen_yen(int(primary['project_cost_yen'].sum()))}千円")
m3.metric(
    "基金充当額",
    f"{format_sen_yen(int(primary['fund_share_yen'].sum()))}千円",
    help="推計を含む場合は表の「推計」欄に印があります",
)

st.subheader(f"{fiscal_label(year)}当初予算における基金活用事業一覧（単位：千円）")
layout = allocation.table_layout(rows)


def _amount(value: int | None, relisting: bool) -> str:
    return "(再掲)" if relisting else ("" if value is None else format_sen_yen(value))


table = pd.DataFrame(
    [
        {
            "区分": r.label,
            "事業名【所管部局】": r.name,
            "事業概要": r.summary,
            "予算額（千円）": _amount(r.project_cost_yen, r.kind == "relisting"),
            "基金充当額（千円）": _amount(r.fund_share_yen, r.kind == "relisting"),
            "推計": "推計" if r.fund_share_is_estimate else "",
        }
        for r in layout
    ]
)
st.dataframe(table, hide_index=True, width="stretch", height=min(38 * (len(table) + 1), 1200))
st.caption(
    "※予算額は主たる区分で計上。(再掲) は他の区分に再掲した事業で、小計・合計には含みません。"
    "新規はその年度が事業の初年度であることを示します。"
)
_ui.estimate_note()
