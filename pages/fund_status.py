"""基金の状況: balance, roll-forward, ledger and (for 管理者) postings."""

from datetime import date

import altair as alt
import pandas as pd
import streamlit as st

from fund import export, ledger, reference
from fund.auth import Action, can
from fund.errors import FundError, InputInvalid
from fund.fiscal import allowed_fiscal_years, fiscal_label
from fund.labels import LEDGER_KIND
from fund.models import LedgerKind
from fund.money import format_oku_yen, format_sen_yen
from fund.seed import load_fund_config
from pages import _ui

actor = _ui.require_actor(Action.view_fund)
engine = _ui.engine()

st.title("基金の状況")
_ui.show_flash()
size = int(load_fund_config()["size_yen"])
bal = ledger.balance(engine)
rf = ledger.roll_forward(engine)

c1, c2, c3 = st.columns(3)
c1.metric("現在の基金残高", format_oku_yen(bal), help=f"{format_sen_yen(bal)}千円")
c2.metric(
    "取崩し累計（返還等控除後）",
    format_oku_yen(size - bal) if size >= bal else "—",
    help=f"基金規模 {format_sen_yen(size)}千円 − 現在残高",
)
c3.metric("基金の使用割合", f"{(size - bal) / size:.1%}")

st.subheader("年度別増減（単位：千円）")
table = pd.DataFrame({"年度": [fiscal_label(int(y)) for y in rf["年度"]]})
for col in ledger.ROLL_FORWARD_COLUMNS[1:]:
    table[f"{col}（千円）"] = [format_sen_yen(int(v)) for v in rf[col]]
st.dataframe(table, hide_index=True, width="stretch")
st.caption(
    "年度末残高 = 前年度末残高 + 積立 + 運用益 + 返還等 − 取崩し。取消（逆仕訳）は元の区分から差し引いています。"
)

chart = pd.DataFrame(
    {"年度": [fiscal_label(int(y)) for y in rf["年度"]], "年度末残高（億円）": rf["年度末残高"] / 100_000_000}
)
st.altair_chart(
    alt.Chart(chart, title="年度末残高の推移（億円）")
    .mark_line(point=True)
    .encode(
        x=alt.X("年度:N", sort=None, axis=alt.Axis(labelAngle=0)),
        y="年度末残高（億円）:Q",
        tooltip=["年度", alt.Tooltip("年度末残高（億円）:Q", format=".1f")],
    ),
    width="stretch",
)

d1, d2 = st.columns(2)
rf_export = rf.copy()
rf_export.insert(1, "和暦", [fiscal_label(int(y)) for y in rf["年度"]])
d1.download_button(
    "年度別増減をExcelで保存",
    on_click="ignore",
    icon=":material/download:",
    data=export.to_xlsx_bytes(
        rf_export,
        sheet_name="年度別増減",
        title="基金の年度別増減（単位：千円）",
        sen_yen_columns=ledger.ROLL_FORWARD_COLUMNS[1:],
    ),
    file_name="基金_年度別増減.xlsx",
)
d2.download_button(
    "年度別増減をCSVで保存",
    on_click="ignore",
    icon=":material/download:",
    data=export.to_csv_bytes(rf_export),
    file_name="基金_年度別増減.csv",
    mime="text/csv",
)

st.subheader("基金台帳")
years = reference.fiscal_years(engine)
depts = reference.departments(engine)
f1, f2, f3 = st.columns(3)
year_choice = f1.selectbox(
    "年度",
    [None, *years["year"].tolist()],
    format_func=lambda y: "すべて" if y is None else fiscal_label(int(y)),
    key="ledger_year",
)
kind_choice = f2.selectbox(
    "区分",
    [None, *LedgerKind],
    format_func=lambda k: "すべて" if k is None else LEDGER_KIND[k],
    key="ledger_kind",
)
dept_choice = f3.selectbox(
    "所管部局",
    [None, *depts["id"].tolist()],
    format_func=lambda d: "すべて" if d is None else depts.set_index("id").loc[d, "name"],
    key="ledger_dept",
)
entries = ledger.ledger_frame(engine, fiscal_year=year_choice, kind=kind_choice, department_id=dept_choice)
if entries.empty:
    st.info("条件に合う記帳はありません。")
else:
    st.dataframe(
        entries,
        hide_index=True,
        width="stretch",
        column_config={
            "金額（円）": st.column_config.NumberColumn(format="localized"),
            "年度": st.column_config.NumberColumn(format="plain"),
        },
    )
    st.caption(
        f"{len(entries)}件を表示（新しい順、最大1,000件）。金額は取崩し・取消を負の値で表示しています。"
    )

if can(actor, Action.post_ledger):
    st.subheader("記帳（管理者）")
    with st.form("ledger_post", clear_on_submit=False):
        p1, p2, p3 = st.columns(3)
        posted_on = p1.date_input("記帳日", value=date.today(), key="post_date", format="YYYY/MM/DD")
        year_options = allowed_fiscal_years(posted_on) if isinstance(posted_on, date) else ()
        fiscal_year = p2.selectbox(
            "年度",
            list(year_options) or years["year"].tolist(),
            format_func=lambda y: fiscal_label(int(y)),
            key="post_year",
        )
        kind = p3.selectbox(
            "区分",
            [k for k in LedgerKind if k != LedgerKind.reversal],
            format_func=lambda k: LEDGER_KIND[k],
            key="post_kind",
        )
        amount = st.text_input("金額（円）", key="post_amount", placeholder="例: 1000000")
        memo = st.text_input("摘要", key="post_memo")
        projects = reference.projects(engine)
        project_id = st.selectbox(
            "事業（取崩しの場合）",
            [None, *projects["id"].tolist()],
            format_func=lambda p: "指定なし" if p is None else projects.set_index("id").loc[p, "name"],
            key="post_project",
        )
        submitted = st.form_submit_button("記帳する", type="primary")
    if submitted:
        raw = amount.replace(",", "").strip()
        try:
            if not raw.lstrip("-").isdigit():
                raise InputInvalid({"amount_yen": "金額は半角数字（円単位の整数）で入力してください。"})
            entry = ledger.post_entry(
                engine,
                actor=actor,
                data={
                    "posted_on": posted_on,
                    "fiscal_year": fiscal_year,
                    "kind": kind,
                    "amount_yen": int(raw),
                    "memo": memo,
                    "project_id": project_id,
                },
            )
        except FundError as exc:
            _ui.show_error(exc)
        else:
            _ui.flash(f"台帳番号 {entry.id} として記帳しました。")
            st.rerun()
_ui.estimate_note()
