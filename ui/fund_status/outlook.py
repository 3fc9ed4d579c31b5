"""見通しとストレステスト: the projected balance per 年度 under the chosen stress, with its chart."""

from datetime import date

import altair as alt
import pandas as pd
import streamlit as st

from fund import projection
from fund.fiscal import wareki
from fund.money import format_oku_yen

SERIES = ["実績", "見通し"]


def render(fig: projection.Figures, base: projection.Projection, *, today: date) -> None:
    st.subheader("今後の年度に必要な額（計画済みの取崩し）")
    owed = projection.owed_display(fig, today=today)
    if owed.empty:
        st.info("今年度以降に計画された取崩しはありません。")
    else:
        st.dataframe(owed, hide_index=True, width="stretch", key="owed_table")
        st.caption(
            "年度配分の余裕額と見通しの「計画取崩し」は、この表と同じ額を使います。"
            "過ぎた年度の未取崩しは今年度に含めます。"
        )
    st.subheader("見通しとストレステスト")
    s1, s2, s3 = st.columns(3)
    overrun = s1.slider("事業費の上振れ（%）", 0, 100, 0, step=5, key="stress_overrun")
    rate = s2.slider("運用利回り（年%）", 0.0, 3.0, 0.0, step=0.1, format="%.1f", key="stress_rate")
    slip = s3.toggle("計画事業が1年遅れる", key="stress_slip")
    pace = s3.toggle(
        "新規事業を直近ペースで見込む（推計）",
        value=True,
        key="stress_pace",
        help=f"まだ予算のない年度も、直近2年度の平均 {format_oku_yen(base.recent_pace_yen)} 以上を"
        "新規事業に充てると仮定します。",
    )
    stress = projection.StressTest(
        cost_overrun_pct=float(overrun),
        slip_one_year=slip,
        interest_rate_pct=float(rate),
        assume_recent_pace=pace,
    )
    stressed = projection.project(fig, today=today, stress=stress)
    r1, r2, r3 = st.columns(3)
    r1.metric(
        "この条件で不足する年度",
        wareki(stressed.run_out_year) if stressed.run_out_year else "期間内はなし",
        help=projection.run_out_text(stressed),
    )
    r2.metric("この条件での残り年数", projection.runway_text(stressed))
    r3.metric(
        "基本ケースの場合", projection.run_out_text(base), help="スライダーをすべて初期値にした場合の見通し"
    )
    _chart(projection.balance_path(fig, stressed))
    st.caption(
        "実線は記帳済みの実績、破線は見通しです。見通しは承認済み配分と採択事業の後年度計画"
        "（サンプル・推計を含む）から計算しています。"
    )
    st.dataframe(projection.projection_display(stressed), hide_index=True, width="stretch")


def _chart(path: pd.DataFrame) -> None:
    order = list(dict.fromkeys(path["和暦"]))
    line = (
        alt.Chart(path, title="基金残高の推移（年度末、億円）")
        .mark_line(point=True)
        .encode(
            x=alt.X("和暦:N", sort=order, title="年度", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("残高（億円）:Q", title="残高（億円）"),
            color=alt.Color("区分:N", title="", scale=alt.Scale(domain=SERIES, range=["#1f4e79", "#c55a11"])),
            strokeDash=alt.StrokeDash(
                "区分:N", scale=alt.Scale(domain=SERIES, range=[[1, 0], [6, 4]]), legend=None
            ),
            tooltip=["和暦", "区分", alt.Tooltip("残高（億円）:Q", format=",.1f")],
        )
    )
    zero = alt.Chart(pd.DataFrame({"y": [0]})).mark_rule(color="#b00020").encode(y="y:Q")
    st.altair_chart(line + zero, width="stretch")
