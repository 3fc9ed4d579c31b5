"""推移（目標と実績）: one indicator's targets, actuals and baseline over the 年度, and its 横展開."""

from datetime import date

import altair as alt
import pandas as pd
import streamlit as st

from fund import kpi
from fund.auth import Actor
from fund.fiscal import fiscal_label, wareki
from ui import loaders, widgets
from ui.kpi.filters import KpiView
from ui.kpi.numbers import num, pct

SERIES = {"target": "目標（経路を含む）", "actual": "実績", "baseline": "基準値"}
COLOURS = {"target": "#9aa5b1", "actual": "#2f6db5", "baseline": "#e07b39"}


def render(actor: Actor, view: KpiView, *, today: date) -> None:
    pool = loaders.kpi_frame(actor=actor, today=today, where=view.where, limit=widgets.DISPLAY_LIMIT)
    if pool.empty:  # nothing matches the filters: offer every indicator the actor may see
        pool = loaders.kpi_frame(actor=actor, today=today, limit=widgets.DISPLAY_LIMIT)
    names = dict(zip(pool["indicator_id"], pool["project"] + "：" + pool["indicator"], strict=True))
    if view.total > widgets.DISPLAY_LIMIT:
        st.caption("「指標一覧」に表示している指標から選べます。フィルタで絞り込んでください。")
    indicator = st.selectbox("指標", list(names), format_func=names.__getitem__, key="kpi_indicator")
    one = loaders.kpi_frame(actor=actor, today=today, where=kpi.KpiFilter(indicator_id=int(indicator)))
    head = one.iloc[0]
    unit = str(head["unit"])
    own = one[~one["target_on_path"]]
    st.text(
        "目標："
        + "、".join(
            f"{wareki(int(r.fiscal_year))}{'（推計）' if r.target_year_is_estimate else ''} {r.target_value:,.0f}{unit}"
            for r in own.itertuples()
        )
        + (
            f"（基準値 {wareki(int(head['baseline_year']))} {head['baseline_value']:,.0f}{unit}）"
            if pd.notna(head["baseline_value"])
            else ""
        )
        + ("／低いほど良い指標" if head["direction"] == "lower" else "")
    )
    _chart(kpi.trend_points(one), title=f"{head['indicator']}（{unit}）", unit=unit)
    st.dataframe(
        pd.DataFrame(
            {
                "年度": [fiscal_label(int(y)) for y in one["fiscal_year"]],
                "目標値": num(one["target_value"]),
                "目標の種類": kpi.target_kinds(one["target_on_path"], one["target_year_is_estimate"]),
                "実績値": num(one["actual_value"]),
                "達成度": pct(one["achievement_rate"]),
                "状況": one["status"].map(kpi.status_label),
            }
        ),
        hide_index=True,
        width="stretch",
    )
    _project_rollouts(actor, int(head["project_id"]))


def _chart(points: pd.DataFrame, *, title: str, unit: str) -> None:
    data = pd.DataFrame(
        {
            "年度": [wareki(int(y)) for y in points["fiscal_year"]],
            "種類": points["series"].map(SERIES),
            "値": points["value"],
        }
    )
    order = list(dict.fromkeys(data["年度"]))
    target = SERIES["target"]
    chart = (
        alt.Chart(data, title=title)
        .mark_line(point=alt.OverlayMarkDef(size=80))
        .encode(
            x=alt.X("年度:N", sort=order, axis=alt.Axis(labelAngle=0, labelLimit=0, title="年度")),
            y=alt.Y("値:Q", title=unit),
            color=alt.Color(
                "種類:N",
                scale=alt.Scale(domain=list(SERIES.values()), range=list(COLOURS.values())),
                legend=alt.Legend(orient="bottom", title=None, labelLimit=0),
            ),
            strokeDash=alt.condition(alt.datum["種類"] == target, alt.value([6, 4]), alt.value([1, 0])),
            tooltip=["年度", "種類", alt.Tooltip("値:Q", format=",.1f")],
        )
        .properties(height=320)
    )
    st.altair_chart(chart, width="stretch")


def _project_rollouts(actor: Actor, project_id: int) -> None:
    rollouts = loaders.rollout_frame(actor=actor, project_id=project_id)
    st.markdown("**この事業の横展開**")
    if rollouts.empty:
        st.info("この事業の横展開はまだ登録されていません。", icon=":material/info:")
        return
    st.dataframe(
        pd.DataFrame(
            {
                "展開先": rollouts["target"],
                "種類": rollouts["target_kind"],
                "年度": [fiscal_label(int(y)) for y in rollouts["fiscal_year"]],
                "内容": rollouts["note"],
                "サンプル": ["サンプル" if s else "" for s in rollouts["is_sample"]],
            }
        ),
        hide_index=True,
        width="stretch",
    )
