"""審査・採点: my queue and scoring, results (raw and calibrated), weight sensitivity, settings."""

import streamlit as st

from fund import auth
from fund.auth import Action
from ui import session, widgets
from ui.screening import decision, my_reviews, results, rounds, sensitivity, settings

actor = session.require_actor(Action.view_screening)
can_score = auth.can(actor, Action.score)
may_export = auth.can(actor, Action.export)

st.title("審査・採点")
with st.container():  # always present, so the elements below keep their place after a message
    widgets.show_flash()

picked = rounds.pick()
if picked is None:
    st.info("審査ラウンドはまだありません。", icon=":material/info:")
    if can_score:
        st.subheader("新しい審査ラウンド")
        rounds.new_round_form(actor)
    st.stop()
chosen: rounds.ChosenRound = picked  # st.stop() ends the run when there is no round

draw = {
    "自分の審査": lambda: my_reviews.render(actor, chosen),
    "結果": lambda: results.render(actor, chosen, may_export=may_export),
    "感度分析": lambda: sensitivity.render(actor, chosen, may_export=may_export),
    "設定": lambda: settings.render(actor, chosen, may_export=may_export),
    "確定": lambda: decision.render(actor, chosen),
}
tab_names = list(draw) if can_score else ["結果", "感度分析", "確定"]
# Only the open tab runs (switching tabs reruns the page); the filters inside a tab keep their
# values while another tab is open (persist_state="page").
tabs = st.tabs(tab_names, key="screening_tab", on_change="rerun")
for name, tab in zip(tab_names, tabs, strict=True):
    if tab.open:
        with tab:
            draw[name]()
