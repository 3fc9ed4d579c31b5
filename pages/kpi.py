"""成果指標: targets versus actuals per indicator, with status."""

import altair as alt
import streamlit as st

from fund import kpi
from fund.auth import Action
from fund.fiscal import fiscal_label
from fund.models import Role
from pages import _ui

actor = _ui.require_actor(Action.view_kpi)
engine = _ui.engine()

st.title("成果指標")
df = kpi.kpi_frame(engine, department_id=actor.department_id if actor.role == Role.department else None)
if df.empty:
    st.info("登録された成果指標はありません。")
    st.stop()

counts = df["status"].value_counts()
c = st.columns(4)
for col, status in zip(c, kpi.KpiStatus, strict=True):
    col.metric(status.value, f"{int(counts.get(status.value, 0))}件")
st.caption("判定ルール: " + kpi.STATUS_RULE)

view = df.assign(
    年度=[fiscal_label(int(y)) for y in df["fiscal_year"]],
    達成度=df["achievement_rate"] * 100,
    実績=df["actual_value"],
    サンプル=df["is_sample"].map({True: "サンプル", False: ""}).fillna(""),
)[
    [
        "project",
        "department",
        "kind_label",
        "indicator",
        "unit",
        "baseline_value",
        "年度",
        "target_value",
        "実績",
        "達成度",
        "status",
        "perspective_labels",
        "サンプル",
    ]
]
view.columns = [
    "事業名",
    "所管部局",
    "種別",
    "指標",
    "単位",
    "基準値",
    "年度",
    "目標値",
    "実績値",
    "達成度（%）",
    "状況",
    "県民実感の観点",
    "実績の出典",
]
st.dataframe(
    view,
    hide_index=True,
    width="stretch",
    column_config={
        "達成度（%）": st.column_config.NumberColumn(format="%.0f"),
        "目標値": st.column_config.NumberColumn(format="localized"),
        "実績値": st.column_config.NumberColumn(format="localized"),
        "基準値": st.column_config.NumberColumn(format="localized"),
    },
)

st.subheader("指標ごとの目標と実績")
names = df.drop_duplicates("indicator_id")
ind = st.selectbox(
    "指標",
    names["indicator_id"].tolist(),
    format_func=lambda i: (
        f"{names.set_index('indicator_id').loc[i, 'project']}：{names.set_index('indicator_id').loc[i, 'indicator']}"
    ),
    key="kpi_indicator",
)
one = df[df["indicator_id"] == ind]
long = one.melt(
    id_vars=["fiscal_year"], value_vars=["target_value", "actual_value"], var_name="種類", value_name="値"
)
long["種類"] = long["種類"].map({"target_value": "目標", "actual_value": "実績"})
long["年度"] = [fiscal_label(int(y)) for y in long["fiscal_year"]]
unit = one["unit"].iloc[0]
st.altair_chart(
    alt.Chart(long.dropna(), title=f"目標と実績（{unit}）")
    .mark_line(point=True)
    .encode(
        x=alt.X("年度:N", sort=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("値:Q", title=unit),
        color=alt.Color("種類:N"),
        strokeDash=alt.StrokeDash("種類:N"),
        tooltip=["年度", "種類", "値"],
    ),
    width="stretch",
)
