"""自分の審査: my queue, the scoring form with anchored levels, and the conflict declaration."""

import streamlit as st

from fund import clock, screening
from fund.auth import Actor
from fund.labels import PERSPECTIVE, PERSPECTIVE_FULL
from ui import loaders, session, widgets
from ui.screening.rounds import ChosenRound

QUEUE_COLUMNS = {
    "project": "事業名",
    "department": "所管部局",
    "state": "状態",
    "recusal_reason": "除斥の理由",
}


def render(actor: Actor, chosen: ChosenRound) -> None:
    prog = loaders.queue_progress(actor=actor, round_id=chosen.round_id)
    if prog["total"] + prog["recused"] == 0:
        st.info("このラウンドで自分に割り当てられた提案はありません。", icon=":material/inbox:")
        return
    if prog["total"] == 0:  # not 「0 / 0 件」 under a full bar: there is nothing to score
        st.info(
            f"割り当てられた提案 {prog['recused']}件 はすべて除斥されているため、採点する提案はありません。",
            icon=":material/block:",
        )
    else:
        m1, m2 = st.columns(2)
        m1.metric("採点済み", f"{prog['done']} / {prog['total']} 件")
        m2.metric("除斥", f"{prog['recused']} 件")
        st.progress(prog["done"] / prog["total"])
    pending_only = st.toggle("未完了の提案だけを表示", key="pending_only", persist_state="page")
    queue = loaders.my_queue(actor=actor, round_id=chosen.round_id, pending_only=pending_only)
    if queue.empty:
        st.info("未完了の提案はありません。すべて採点済みです。", icon=":material/task_alt:")
        return
    st.dataframe(
        queue[list(QUEUE_COLUMNS)].head(widgets.DISPLAY_LIMIT).rename(columns=QUEUE_COLUMNS),
        hide_index=True,
        width="stretch",
    )
    widgets.limit_notice(len(queue), hint="「採点する提案」ではすべての提案を選べます。")
    # Labels without the state: a keyed selectbox keeps the labels it was first drawn with.
    labels = dict(
        zip(queue["assignment_id"], queue["project"] + "（" + queue["department"] + "）", strict=True)
    )
    assignment_id = int(
        st.selectbox("採点する提案", list(labels), format_func=labels.__getitem__, key="score_assignment")
    )
    row = queue.set_index("assignment_id").loc[assignment_id]
    st.caption(f"状態: {row['state']}")
    decided = loaders.decision(round_id=chosen.round_id)
    if decided is not None:
        st.info(
            f"このラウンドの審査結果は {clock.in_japan(decided.decided_at):%Y年%m月%d日} に確定したため、採点は変更できません。",
            icon=":material/lock:",
        )
        return
    if bool(row["recused"]):
        st.warning(
            f"この提案は除斥されています（理由: {row['recusal_reason']}）。採点できず、集計にも含まれません。",
            icon=":material/block:",
        )
        return
    _score_form(actor, chosen.rubric, assignment_id, label=labels[assignment_id], project=str(row["project"]))
    with st.expander("利益相反を申し出る", icon=":material/gavel:"):
        st.caption("申し出ると、この提案の審査から除斥され、採点は集計に含まれなくなります。")
        reason = st.text_area("利益相反の理由", key=f"conflict_reason_{assignment_id}")
        if st.button("申し出て除斥する", key=f"conflict_{assignment_id}"):
            widgets.run_action(
                lambda: screening.declare_conflict(
                    session.engine(), actor=actor, assignment_id=assignment_id, reason=reason
                ),
                f"「{row['project']}」の審査から除斥しました。",
            )


def _score_form(
    actor: Actor, rubric: screening.Rubric, assignment_id: int, *, label: str, project: str
) -> None:
    engine = session.engine()
    saved = screening.assignment_scores(engine, actor=actor, assignment_id=assignment_id)
    with st.form(f"score_form_{assignment_id}"):
        st.text(f"採点する提案: {label}")  # user text: not markdown
        st.caption(f"評価基準 第{rubric.version}版。各観点について、説明に最も近い段階を選んでください。")
        entries = []
        for p in screening.PERSPECTIVES:
            anchors = rubric.anchors[str(p)]
            score = st.radio(
                f"{p}. {PERSPECTIVE_FULL[p]}",
                [1, 2, 3, 4, 5],
                index=saved[p][0] - 1 if p in saved else None,
                format_func=lambda v, a=anchors: f"{v}点：{a[v - 1]}",
                key=f"score_{assignment_id}_{p}",
            )
            comment = st.text_area(
                f"コメント（{PERSPECTIVE[p]}）",
                value=saved[p][1] if p in saved else "",
                max_chars=screening.MAX_COMMENT,
                height=68,
                key=f"comment_{assignment_id}_{p}",
            )
            entries.append({"perspective": p, "score": score, "comment": comment})
        if st.form_submit_button("採点を保存", icon=":material/save:", type="primary"):
            widgets.run_action(
                lambda: screening.save_scores(
                    engine, actor=actor, assignment_id=assignment_id, entries=entries
                ),
                lambda changed: (
                    f"「{project}」の採点を保存しました（{changed}観点を更新）。"
                    if changed
                    else "変更はありませんでした。"
                ),
            )
