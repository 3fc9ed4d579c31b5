"""成果指標: targets versus actuals per indicator and 年度, roll-up by perspective, 横展開, 未報告, entry."""

from collections.abc import Callable

import streamlit as st

from fund import auth, clock
from fund.auth import Action
from ui import session, widgets
from ui.kpi import entry, filters, indicators, overdue, rollouts, rollup, trend

actor = session.require_actor(Action.view_kpi)
today = clock.today_jst()

st.title("成果指標")
st.caption(
    "各事業の「目指す県民実感」と業績評価指標について、年度ごとの目標と実績、達成度を示します。"
    + ("（事業担当の方には自部局の事業を表示しています）" if auth.department_scope(actor) is not None else "")
)
widgets.show_flash()

found = filters.render(actor, today=today)
if found is None:
    st.stop()
view: filters.KpiView = found  # st.stop() ends the run when there are no indicators

# Only the open tab runs (switching tabs reruns the page), so each costs only what it shows.
draw: dict[str, Callable[[], None]] = {
    "指標一覧": lambda: indicators.render(actor, view, today=today),
    "推移（目標と実績）": lambda: trend.render(actor, view, today=today),
    "観点別の集計": lambda: rollup.render(view, today=today),
    "横展開": lambda: rollouts.render(actor),
    "未報告": lambda: overdue.render(actor, today=today),
    "実績の入力": lambda: entry.render(actor, today=today),
}
tabs = st.tabs(list(draw), key="kpi_tab", on_change="rerun")
for render, tab in zip(draw.values(), tabs, strict=True):
    if tab.open:
        with tab:
            render()
