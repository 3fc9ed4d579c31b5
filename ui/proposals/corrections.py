"""差戻し and 取下げ on a proposal's detail, and the versions it was submitted in."""

import streamlit as st

from fund import auth, proposals
from fund.auth import Action, Actor
from fund.proposals import corrections, revisions
from ui import session, widgets


def render(actor: Actor, d: proposals.ProposalDetail) -> None:
    if d.returned is not None:
        kind, reason = d.returned
        st.warning(f"{kind}：{reason}", icon=":material/undo:")
        if kind == "差戻し":
            st.caption("「新規提案」タブで下書きを選んで修正し、提出すると次の版として審査に戻ります。")
    _versions(actor, d)
    may_return = (
        auth.can(actor, Action.change_status) and d.returned is None and d.status in corrections.RETURNABLE
    )
    may_withdraw = auth.can(actor, Action.submit_proposal) and (
        d.status in corrections.RETURNABLE or (d.returned is not None and d.returned[0] == "差戻し")
    )
    if not (may_return or may_withdraw):
        return
    st.markdown("**差戻し・取下げ**")
    choices = (["差戻し（部局に修正を依頼）"] if may_return else []) + (["取下げ"] if may_withdraw else [])
    c1, c2 = st.columns([1, 2])
    choice = c1.radio("操作", choices, key=f"ret_kind_{d.id}")
    reason = c2.text_area("理由（必須）", key=f"ret_reason_{d.id}", height=80, max_chars=proposals.REASON_MAX)
    if st.button("実行する", key=f"ret_go_{d.id}", icon=":material/undo:"):
        service = (
            corrections.return_proposal if choice.startswith("差戻し") else corrections.withdraw_proposal
        )
        word = "差し戻しました" if choice.startswith("差戻し") else "取り下げました"
        widgets.run_action(
            lambda: service(
                session.engine(), actor=actor, proposal_id=d.id, reason=reason, version=d.version
            ),
            f"提案番号 {d.id} を{word}。",
        )


def _versions(actor: Actor, d: proposals.ProposalDetail) -> None:
    kept = revisions.revisions(session.engine(), actor=actor, proposal_id=d.id)
    if len(kept) < 2:
        return
    with st.expander(f"提出された版（{len(kept)}版、現在は第{d.revision}版）"):
        numbers = [r.revision for r in kept]
        shown = st.selectbox(
            "版",
            numbers[1:],
            index=len(numbers) - 2,
            format_func=lambda n: f"第{n}版と前の版の違い",
            key=f"rev_{d.id}",
        )
        after = next(r for r in kept if r.revision == shown)
        before = next(r for r in kept if r.revision == shown - 1)
        diff = revisions.changes(before.content, after.content)
        if diff.empty:
            st.info("内容に違いはありません。", icon=":material/info:")
        else:
            st.dataframe(diff, hide_index=True, width="stretch")
        st.caption("この版より前の版に付いた採点は、その版に付いたまま残ります。")
