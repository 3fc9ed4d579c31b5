"""The home page's figures: balance, share used, this year's fund share, runway, screening and KPIs."""

import altair as alt
import pandas as pd
import streamlit as st

from fund import dashboard, kpi, projection
from fund.fiscal import fiscal_label, wareki
from fund.labels import PROPOSAL_STATUS
from fund.models import KpiStatus
from fund.money import format_oku_yen, format_sen_yen, oku_yen_series

KPI_SHOWN = (KpiStatus.achieved, KpiStatus.on_track, KpiStatus.behind, KpiStatus.not_measured)


def render(h: dashboard.Headline) -> None:
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
        f"{wareki(h.current_year)} 基金充当額",
        format_oku_yen(h.year_totals["fund_share_yen"]),
        help=f"承認済み配分 {h.year_totals['projects']}事業（うち新規 {h.year_totals['new_projects']}事業）、"
        f"事業費 {format_sen_yen(h.year_totals['project_cost_yen'])}千円",
    )
    base = h.base_case
    c4.metric(
        "残り年数の目安",
        projection.runway_text(base),
        help=f"「基金の状況」の基本ケースと同じ見通し（計画済みの取崩しと、未予算の年度は直近ペース"
        f" {format_sen_yen(base.recent_pace_yen)}千円/年）。{projection.run_out_text(base)}。",
    )
    left, right = st.columns(2)
    with left:
        st.subheader("基金残高の推移（年度末、億円）")
        _balance_chart(h.year_end_balances)
    with right:
        st.subheader(f"{fiscal_label(h.current_year)} の状況")
        prog = h.screening_progress
        s1, s2 = st.columns(2)
        s1.metric(
            "審査の進捗",
            f"{prog['done']:,} / {prog['assignments'] - prog['recused']:,} 件",
            help="採点済みの審査割当て（利益相反による回避を除く）",
        )
        s2.metric(
            "採択・事業化された提案",
            f"{h.funded_proposals:,} 件",
            help="、".join(f"{PROPOSAL_STATUS[s]} {n:,}件" for s, n in h.proposal_status.items()),
        )
        st.markdown("**成果指標（目標年度が当年度のもの）**")
        for column, status in zip(st.columns(len(KPI_SHOWN)), KPI_SHOWN, strict=True):
            column.metric(kpi.status_label(status.value), f"{h.kpi_status[status.value]:,}")
    if h.year_totals["estimated_projects"]:
        st.caption(
            f"{fiscal_label(h.current_year)}の基金充当額のうち {h.year_totals['estimated_projects']}事業分は推計です"
            "（資料には事業費のみ記載され、基金で賄う額の記載がないため）。"
        )


def _balance_chart(balances: pd.DataFrame) -> None:
    data = pd.DataFrame(
        {
            "年度": [wareki(int(y)) for y in balances["fiscal_year"]],
            "年度末残高（億円）": oku_yen_series(balances["closing_balance_yen"]),
        }
    )
    st.altair_chart(
        alt.Chart(data)
        .mark_bar(color="#2f6db5")
        .encode(
            x=alt.X("年度:N", sort=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("年度末残高（億円）:Q"),
            tooltip=["年度", alt.Tooltip("年度末残高（億円）:Q", format=".1f")],
        ),
        width="stretch",
    )
