"""審査ルール: the counted reviews a proposal needs before 採択, and whether departments see the
reviewers' names beside their comments. Shown to everyone; changed by the 管理者 with a reason."""

import streamlit as st

from fund import auth, screening
from fund.auth import Action, Actor
from ui import loaders, session, widgets
from ui.screening.rounds import ChosenRound


def render(actor: Actor, chosen: ChosenRound) -> None:
    """The open round's rules; the form for the 管理者."""
    rules = loaders.round_policy(round_id=chosen.round_id)
    st.caption(
        f"審査ルール: 採択に必要な審査数 {rules.min_reviews}件以上・"
        f"部局へのフィードバックに審査担当の氏名を{'表示する' if rules.feedback_names else '表示しない'}"
    )
    if not auth.can(actor, Action.screening_exception):
        return
    with st.expander("審査ルールを変更する（管理者）", icon=":material/rule:"):
        with st.form(f"policy_{chosen.round_id}"):
            min_reviews = st.number_input(
                "採択に必要な審査数（件）",
                min_value=1,
                max_value=screening.MAX_MIN_REVIEWS,
                value=rules.min_reviews,
                step=1,
            )
            names = st.checkbox(
                "部局へのフィードバックに審査担当の氏名を表示する", value=rules.feedback_names
            )
            reason = st.text_input("変更の理由（必須）", max_chars=500)
            submitted = st.form_submit_button("審査ルールを保存する", icon=":material/save:")
        if submitted:
            widgets.run_action(
                lambda: screening.set_policy(
                    session.engine(),
                    actor=actor,
                    round_id=chosen.round_id,
                    min_reviews=int(min_reviews),
                    feedback_names=names,
                    reason=reason,
                ),
                "審査ルールを保存しました。",
            )
