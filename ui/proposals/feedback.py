"""審査の結果: a proposal's outcome and the reviewers' feedback, once its round is decided."""

import streamlit as st

from fund.auth import Actor
from fund.models import ProposalStatus
from ui import loaders, widgets

AWAITING = (ProposalStatus.submitted, ProposalStatus.in_review)


def render(actor: Actor, *, proposal_id: int, status: ProposalStatus) -> None:
    outcomes = loaders.proposal_feedback(actor=actor, proposal_id=proposal_id)
    if not outcomes:
        if status in AWAITING:
            st.caption("審査結果は、審査ラウンドの確定後にここに表示されます。")
        return
    for fb in outcomes:
        st.markdown(f"**審査の結果（{fb.round_title}、{fb.decided_at:%Y年%m月%d日}確定）**")
        c1, c2, c3 = st.columns(3)
        c1.metric("決定", fb.decision)
        c2.metric("順位（素点）", "—" if fb.rank is None else f"{fb.rank}位 / {fb.ranked}件")
        c3.metric("加重合計（1〜5点）", "—" if fb.weighted_total is None else f"{fb.weighted_total:.2f}点")
        if fb.reason:
            st.text(f"決定の理由: {fb.reason}")
        st.dataframe(
            fb.perspective_means,
            hide_index=True,
            column_config={"平均点": st.column_config.NumberColumn(format="%.2f")},
        )
        if fb.comments.empty:
            st.caption("このラウンドで集計された採点はありません。")
        else:
            widgets.table(fb.comments, hide_index=True)  # comments are read in full, not cut in a grid cell
            st.caption("点数は1〜5点。審査担当の氏名は、ラウンドの設定で公開するとした場合にだけ表示します。")
