"""観点別の集計: per 年度, residents reached, touchpoints, hours saved and indicators by perspective."""

from datetime import date

import pandas as pd
import streamlit as st

from fund.fiscal import fiscal_label
from fund.labels import KPI_STATUS
from fund.models import KpiStatus
from ui import loaders
from ui.kpi.filters import KpiView
from ui.kpi.numbers import large, num, pct


def render(view: KpiView, *, today: date) -> None:
    by_year = loaders.portfolio_by_year(today=today)
    years = by_year["fiscal_year"].tolist()
    funded = by_year.loc[by_year["funded_projects"] > 0, "fiscal_year"].tolist()
    wanted = (
        view.where.fiscal_year if view.where.fiscal_year is not None else (funded[-1] if funded else None)
    )
    year = st.selectbox(
        "集計する年度",
        years,
        index=years.index(wanted) if wanted in years else 0,
        format_func=lambda y: fiscal_label(int(y)),
        key="kpi_rollup_year",
    )
    row = by_year[by_year["fiscal_year"] == year].iloc[0]
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(
        "県民への到達（実績）",
        "—" if pd.isna(row["reach_actual"]) else large(row["reach_actual"], "人"),
        help=f"「多くの人が利用する」観点の指標（単位 人）の実績の合計。目標は {row['reach_target']:,.0f}人。"
        f"事業化された提案の想定利用者数は {row['expected_users']:,}人（提案の根拠数値）。",
    )
    m2.metric(
        "年間の利用回数（想定）",
        large(row["touchpoints"], "回/年"),
        help=f"事業化された提案の 想定利用者数×1人あたり年間利用回数 の合計（{row['touchpoints']:,.0f}回/年）",
    )
    m3.metric(
        "削減される県民の時間（想定）",
        large(row["hours_saved"], "時間/年"),
        help=f"事業化された提案の 年間手続件数×1件あたり短縮時間 の合計（{row['hours_saved']:,.0f}時間/年）",
    )
    share = row["on_track_share"]
    m4.metric(
        "順調な事業の割合",
        "—" if pd.isna(share) else f"{share:.0%}",
        help=f"実績のある事業 {row['projects_judged']}事業のうち、遅れの指標がない事業 {row['projects_on_track']}事業",
    )
    if row["evidence_is_sample"]:
        st.caption("利用回数・削減時間・想定利用者数は提案の根拠数値（サンプル）から計算しています。")
    per = loaders.perspective_rollup(fiscal_year=int(year), today=today, by_year=by_year)
    st.dataframe(
        pd.DataFrame(
            {
                "観点": [
                    f"{p} {label}"
                    for p, label in zip(per["perspective"], per["perspective_label"], strict=True)
                ],
                "指標数": per["indicators"],
                **{KPI_STATUS[s]: per[s.value] for s in KpiStatus},
                "順調以上の割合": pct(per["on_track_share"]),
                "事業全体の量（想定）": per["measure_label"],
                "値": num(per["measure_value"].round(0)),
            }
        ),
        hide_index=True,
        width="stretch",
    )
    st.markdown("**年度別の推移**")
    st.dataframe(
        pd.DataFrame(
            {
                "年度": [fiscal_label(int(y)) for y in by_year["fiscal_year"]],
                "事業化した事業": by_year["funded_projects"],
                "到達 目標（人）": num(by_year["reach_target"].round(0)),
                "到達 実績（人）": num(by_year["reach_actual"].round(0)),
                "想定利用者数（人）": num(by_year["expected_users"]),
                "利用回数（回/年）": num(by_year["touchpoints"].round(0)),
                "削減時間（時間/年）": num(by_year["hours_saved"].round(0)),
                "順調な事業の割合": pct(by_year["on_track_share"]),
            }
        ),
        hide_index=True,
        width="stretch",
    )
