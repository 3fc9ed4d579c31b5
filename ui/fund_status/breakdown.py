"""取崩しの内訳: drawdowns by 区分 and by 所管部局 per 年度, and one 年度's waterfall."""

import altair as alt
import streamlit as st

from fund import projection
from fund.fiscal import fiscal_label, wareki
from ui import loaders

WATERFALL_COLOURS = alt.Scale(domain=["残高", "増加", "減少"], range=["#1f4e79", "#2e7d32", "#c62828"])


def render(fig: projection.Figures, *, current_year: int) -> None:
    st.subheader("取崩しの内訳")
    t1, t2, t3 = st.tabs(["区分別", "所管部局別", "年度の増減"])
    for tab, by, column in ((t1, "category", "区分"), (t2, "department", "所管部局")):
        with tab:
            _drawdowns(by, column)
    with t3:
        _waterfall(fig, current_year=current_year)


def _drawdowns(by: str, column: str) -> None:
    frame = loaders.drawdowns_by(by=by)
    if frame.empty:
        st.info("取崩しの記帳はまだありません。", icon=":material/info:")
        return
    st.altair_chart(
        alt.Chart(frame, title=f"年度別・{column}別の取崩し（億円）")
        .mark_bar()
        .encode(
            x=alt.X(
                "和暦:N", sort=list(dict.fromkeys(frame["和暦"])), title="年度", axis=alt.Axis(labelAngle=0)
            ),
            y=alt.Y("sum(取崩し（億円）):Q", title="取崩し（億円）"),
            color=alt.Color(
                f"{column}:N", title=column, legend=alt.Legend(orient="bottom", columns=3, labelLimit=320)
            ),
            tooltip=["和暦", column, alt.Tooltip("取崩し（億円）:Q", format=",.2f")],
        ),
        width="stretch",
    )


def _waterfall(fig: projection.Figures, *, current_year: int) -> None:
    years = [int(y) for y in loaders.fiscal_years()["year"]]
    year = int(
        st.selectbox(
            "年度",
            years,
            index=years.index(current_year) if current_year in years else len(years) - 1,
            format_func=fiscal_label,
            key="waterfall_year",
        )
    )
    wf = projection.waterfall(fig, fiscal_year=year)
    st.altair_chart(
        alt.Chart(wf, title=f"{wareki(year)}の増減（億円）")
        .mark_bar()
        .encode(
            x=alt.X("項目:N", sort=list(wf["項目"]), title="", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("開始:Q", title="残高（億円）"),
            y2="終了:Q",
            color=alt.Color("種別:N", title="", scale=WATERFALL_COLOURS),
            tooltip=["項目", alt.Tooltip("金額（千円）:Q", format=",")],
        ),
        width="stretch",
    )
    if not projection.moved_in(fig, fiscal_year=year):
        st.info(
            f"{fiscal_label(year)}の記帳はまだありません。残高は前年度末のままです。", icon=":material/info:"
        )
