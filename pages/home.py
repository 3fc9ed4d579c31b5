"""ホーム: the state of the fund in ten seconds."""

import streamlit as st

from fund import clock
from fund.auth import Action
from fund.money import format_oku_yen
from ui import loaders, session, widgets
from ui.home import overview

session.require_actor(Action.view_home)
headline = loaders.headline(today=clock.today_jst())

st.title("ホーム")
st.caption(f"山口県デジタル実装推進基金（基金規模 {format_oku_yen(headline.fund_size_yen)}）の現況")
overview.render(headline)
widgets.estimate_note()
