"""年度配分: the published table with downloads, registration and approval, scenarios and the optimiser."""

import streamlit as st

from fund.auth import Action, can
from ui import session, widgets
from ui.allocations import cycle, optimiser, registration, scenarios, table

actor = session.require_actor(Action.view_allocations)

st.title("年度配分")
widgets.show_flash()

may_allocate = can(actor, Action.allocate)
tab_names = ["配分表"]
if may_allocate or can(actor, Action.approve_allocation):
    tab_names += ["配分の登録・承認", "補正・繰越", "シナリオ"]
if may_allocate:
    tab_names.append("最適化")
# Only the open tab runs (switching tabs reruns the page), so a large 年度 costs only what is shown.
tabs = dict(zip(tab_names, st.tabs(tab_names, key="alloc_tab", on_change="rerun"), strict=True))
draw = {
    "配分表": lambda: table.render(actor, may_export=can(actor, Action.export)),
    "配分の登録・承認": lambda: registration.render(actor),
    "補正・繰越": lambda: cycle.render(actor),
    "シナリオ": lambda: scenarios.render(actor),
    "最適化": lambda: optimiser.render(actor),
}
for name, tab in tabs.items():
    if tab.open:
        with tab:
            draw[name]()
