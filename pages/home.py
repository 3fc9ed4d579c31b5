"""ホーム: the state of the fund in ten seconds."""

import altair as alt
import pandas as pd
import streamlit as st

from fund import clock, dashboard, ledger
from fund.auth import Action
from fund.fiscal import fiscal_label, wareki
from fund.money import format_oku_yen, format_sen_yen
from pages import _ui

actor = _ui.require_actor(Action.view_home)
engine = _ui.engine()
h = dashboard.headline(engine, today=clock.today_jst())

st.title("ホーム")
st.caption(f"山口県デジタル実装推進基金（基金規模 {format_oku_yen(h.fund_size_yen, 0)}）の現況")

c1, c2, c3, c4 = st.columns(4)
c1.metric(
    "基金残高",
    format_oku_yen(h.balance_yen),
    help=f"{format_sen_yen(h.balance_yen)}千円（台帳の全記帳の合計）",
)
c2.metric(
    "基金の使用割合",
    f"{h.used_ratio:.1%}",
    help=f"基金規模 {format_sen_yen(h.fund_size_yen)}千円 に対する取崩し累計（返還等を差し引き）",
)
c3.metric(
    f"{wareki(h.reference_year)} 基金充当額",
    format_oku_yen(h.year_totals["fund_share_yen"]),
    help=f"承認済み配分 {h.year_totals['projects']}事業（うち新規 {h.year_totals['new_projects']}事業）、"
    f"事業費 {format_sen_yen(h.year_totals['project_cost_yen'])}千円",
)
c4.metric(
    "残高で賄える年数（目安）",
    f"{h.runway_years:.1f}年" if h.runway_years else "—",
    help=f"直近2年度の平均取崩し額 {format_sen_yen(h.average_drawdown_yen)}千円/年 で割った値",
)

left, right = st.columns(2)
with left:
    st.subheader("基金残高の推移（年度末、億円）")
    rf = ledger.roll_forward(engine)
    chart_df = pd.DataFrame(
        {"年度": [wareki(y) for y in rf["年度"]], "年度末残高（億円）": rf["年度末残高"] / 100_000_000}
    )
    st.altair_chart(
        alt.Chart(chart_df)
        .mark_bar(color="#2f6db5")
        .encode(
            x=alt.X("年度:N", sort=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("年度末残高（億円）:Q"),
            tooltip=["年度", alt.Tooltip("年度末残高（億円）:Q", format=".1f")],
        ),
        width="stretch",
    )
with right:
    st.subheader(f"{fiscal_label(h.reference_year)} の状況")
    prog = h.screening_progress
    s1, s2 = st.columns(2)
    s1.metric(
        "審査の進捗",
        f"{prog['done']:,} / {prog['assignments'] - prog['recused']:,} 件",
        help="採点済みの審査割当て（利益相反による回避を除く）",
    )
    s2.metric(
        "採択・事業化された提案",
        f"{h.proposal_status['採択'] + h.proposal_status['事業化']:,} 件",
        help="、".join(f"{k} {v:,}件" for k, v in h.proposal_status.items()),
    )
    k = h.kpi_status
    st.markdown("**成果指標（目標年度が当年度のもの）**")
    k1, k2, k3, k4 = st.columns(4)
    k1.metric("達成", f"{k['達成']:,}")
    k2.metric("順調", f"{k['順調']:,}")
    k3.metric("遅れ", f"{k['遅れ']:,}")
    k4.metric("未計測", f"{k['未計測']:,}")

if h.year_totals["estimated_projects"]:
    st.caption(
        f"{fiscal_label(h.reference_year)}の基金充当額のうち {h.year_totals['estimated_projects']}事業分は推計です"
        "（資料には事業費のみ記載され、基金で賄う額の記載がないため）。"
    )
_ui.estimate_note()
