"""基金の状況: balance, projection and stress test, health signals, roll-forward, ledger, postings."""

import streamlit as st

from fund import clock, projection
from fund.auth import Action
from ui import loaders, session, widgets
from ui.fund_status import approvals, breakdown, headline, health, ledger_tables, outlook, postings

actor = session.require_actor(Action.view_fund)
today = clock.today_jst()

st.title("基金の状況")
widgets.show_flash()

fig = loaders.figures()  # the ledger figures every section starts from, read once
status = projection.fund_status(fig, today=today)
headline.render(status)
outlook.render(fig, status.projection, today=today)
health.render(fig, today=today)
breakdown.render(fig, current_year=status.current_year)
ledger_tables.render_roll_forward(actor, fig)
ledger_tables.render_ledger(actor)
approvals.render(actor)
postings.render(actor, today=today)
widgets.estimate_note()
