"""未報告: indicator-years whose 年度 has ended without an actual, for follow-up."""

from datetime import date

import pandas as pd
import streamlit as st

from fund.auth import Actor
from fund.fiscal import fiscal_label
from fund.models import KpiStatus
from ui import loaders, widgets
from ui.kpi.numbers import num


def render(actor: Actor, *, today: date) -> None:
    counts = loaders.kpi_status_counts(actor=actor, today=today)
    overdue = counts[KpiStatus.not_measured.value]
    late = loaders.overdue_frame(actor=actor, today=today, limit=widgets.DISPLAY_LIMIT)
    st.caption("年度が終わったのに実績が入力されていない指標です。所管部局に報告を依頼してください。")
    if late.empty:
        st.success("未報告の指標はありません。", icon=":material/check_circle:")
        return
    st.metric("未報告", f"{overdue:,}件")
    widgets.limit_notice(overdue, hint="古い年度から順に表示しています。")
    st.dataframe(
        pd.DataFrame(
            {
                "所管部局": late["department"],
                "事業名": late["project"],
                "指標": late["indicator"],
                "単位": late["unit"],
                "年度": [fiscal_label(int(y)) for y in late["fiscal_year"]],
                "目標値": num(late["target_value"]),
                "年度終了日": [d.isoformat() for d in late["year_end"]],
                "経過日数": late["days_overdue"],
            }
        ),
        hide_index=True,
        width="stretch",
    )
