"""設定: rubric versions and weights, reviewer assignments, and a new screening round."""

import streamlit as st

from fund import screening
from fund.auth import Actor
from fund.labels import PERSPECTIVE
from ui import loaders, session, widgets
from ui.screening.rounds import ChosenRound, new_round_form


def render(actor: Actor, chosen: ChosenRound, *, may_export: bool) -> None:
    # First, where it is found: the start of a screening season, not a detail under the current round.
    with st.expander("新しい審査ラウンドを作る", icon=":material/add_circle:"):
        new_round_form(actor)
    st.subheader("評価基準と重み")
    _rubric(actor, chosen)
    st.subheader("審査担当の割当")
    _assign(actor, chosen)
    assigned = loaders.assignment_frame(round_id=chosen.round_id, limit=widgets.DISPLAY_LIMIT)
    if assigned.empty:
        st.info("このラウンドにはまだ割当がありません。", icon=":material/info:")
    else:
        st.dataframe(screening.assignment_table(assigned), hide_index=True, width="stretch")
        widgets.limit_notice(loaders.assignment_count(round_id=chosen.round_id))
        engine = session.engine()
        widgets.download_pair(
            lambda fmt: screening.export_assignments(engine, actor=actor, round_id=chosen.round_id, fmt=fmt),
            file_stem=chosen.file_stem("審査担当の割当"),
            key="assign_export",
            disabled=not may_export,
        )


def _rubric(actor: Actor, chosen: ChosenRound) -> None:
    round_id, rubric = chosen.round_id, chosen.rubric
    st.dataframe(
        loaders.rubric_versions(round_id=round_id)[
            ["version", "w1", "w2", "w3", "w4", "scores", "created_by"]
        ].rename(
            columns={
                "version": "版",
                **{f"w{p}": f"{PERSPECTIVE[p]}（%）" for p in screening.PERSPECTIVES},
                "scores": "この版での採点数",
                "created_by": "作成者",
            }
        ),
        hide_index=True,
        width="stretch",
    )
    with st.form(f"rubric_form_{round_id}"):
        st.caption(
            "重みや段階の説明を変えると新しい版になります。採点済みの点数は採点時の版のまま残ります。"
            "採点が始まった後は、管理者が理由を添えた場合だけ新しい版を作れます。"
        )
        cols = st.columns(4)
        weights = [
            int(
                cols[p - 1].number_input(
                    f"{PERSPECTIVE[p]}（%）", 0, 100, rubric.weights[p - 1], key=f"rubric_w{p}_{round_id}"
                )
            )
            for p in screening.PERSPECTIVES
        ]
        anchor_text = {
            p: st.text_area(
                f"{PERSPECTIVE[p]}：1点〜5点の説明（1行に1段階）",
                value="\n".join(rubric.anchors[str(p)]),
                height=160,
                key=f"rubric_a{p}_{round_id}",
            )
            for p in screening.PERSPECTIVES
        }
        reason = st.text_input(
            "変更の理由（採点が始まった後は必須・管理者のみ）",
            key=f"rubric_reason_{round_id}",
            max_chars=500,
            help="採点開始後の重み・評価基準は固定されます。改めるときの理由は監査記録に残ります。",
        )
        if st.form_submit_button("新しい版として保存", icon=":material/save:"):
            widgets.run_action(
                lambda: screening.new_rubric_version(
                    session.engine(),
                    actor=actor,
                    round_id=round_id,
                    weights=weights,
                    anchors=screening.anchors_from_text(anchor_text),
                    reason=reason,
                ),
                lambda version: f"評価基準の第{version.version}版を保存しました。",
            )


def _reviewer_label(name: str, department: object) -> str:
    return f"{name}（{department}）" if isinstance(department, str) else str(name)


def _assign(actor: Actor, chosen: ChosenRound) -> None:
    people = loaders.reviewers()
    a1, a2 = st.columns([1, 2])
    dept = widgets.optional_select(
        "提案の所管部局",
        loaders.departments()["name"].tolist(),
        all_label="すべての部局",
        key="assign_dept",
        where=a1,
        keep_on_other_tabs=True,
    )
    search = a2.text_input("提案を事業名で絞り込み", key="assign_search", persist_state="page")
    proposals, total = loaders.assignable_proposals(
        round_id=chosen.round_id, department=dept, search=search, limit=widgets.DISPLAY_LIMIT
    )
    if proposals.empty and (dept or search.strip()) and not people.empty:
        st.info("絞り込み条件に合う提案はありません。", icon=":material/filter_alt_off:")
        return
    if proposals.empty or people.empty:
        st.info("割り当てられる提案（下書き以外）または有効な審査担当がいません。", icon=":material/info:")
        return
    widgets.limit_notice(total, hint="所管部局や事業名で絞り込むと、ほかの提案を選べます。")
    p_labels = dict(
        zip(proposals["id"], proposals["project"] + "（" + proposals["department"] + "）", strict=True)
    )
    r_labels = {
        int(i): _reviewer_label(n, d)
        for i, n, d in zip(people["id"], people["display_name"], people["department"], strict=True)
    }
    with st.form(f"assign_form_{chosen.round_id}"):
        chosen_p = st.multiselect(
            "提案",
            list(p_labels),
            format_func=p_labels.__getitem__,
            placeholder="提案を選択",
            select_all=False,
            key="assign_p",
        )
        chosen_r = st.multiselect(
            "審査担当",
            list(r_labels),
            format_func=r_labels.__getitem__,
            placeholder="審査担当を選択",
            select_all=False,
            key="assign_r",
        )
        st.caption("提案部局と同じ所属の審査担当は自動的に除斥されます。")
        if st.form_submit_button("割り当てる", icon=":material/person_add:"):
            widgets.run_action(
                lambda: screening.assign_reviewers(
                    session.engine(),
                    actor=actor,
                    round_id=chosen.round_id,
                    proposal_ids=[int(i) for i in chosen_p],
                    reviewer_ids=[int(i) for i in chosen_r],
                ),
                lambda res: (
                    f"{res.created}件を割り当てました（うち自動除斥 {res.auto_recused}件、"
                    f"割当済みのため省略 {res.skipped}件）。"
                ),
            )
