"""審査・採点: my queue and scoring, results (raw and calibrated), weight sensitivity, settings."""

from collections.abc import Callable

import altair as alt
import streamlit as st

from fund import auth, reference, screening
from fund.auth import Action
from fund.errors import FundError
from fund.fiscal import fiscal_label
from fund.labels import PERSPECTIVE, PERSPECTIVE_FULL
from pages import _ui

CHART_LIMIT = 50  # proposals drawn in the chart of scores by perspective (the table lists them all)

actor = _ui.require_actor(Action.view_screening)
engine = _ui.engine()
can_score = auth.can(actor, Action.score)
can_export = auth.can(actor, Action.export)

st.title("審査・採点")
with st.container():  # always present, so the elements below keep their place after a message
    _ui.show_flash()


def round_form() -> None:
    """新しい審査ラウンド: 年度, name and the first rubric's weights (default equal)."""
    years_df = reference.fiscal_years(engine)
    years = years_df["year"].tolist()
    open_years = years_df.loc[~years_df["closed"].astype(bool), "year"].tolist()
    default = years.index(open_years[0]) if open_years else len(years) - 1
    with st.form("new_round"):
        c1, c2 = st.columns([1, 2])
        year = c1.selectbox("年度", years, index=default, format_func=fiscal_label, key="new_round_year")
        name = c2.text_input("ラウンド名", key="new_round_name", placeholder="例: 当初予算 基金充当事業 審査")
        cols = st.columns(4)
        weights = [
            int(cols[p - 1].number_input(f"{PERSPECTIVE[p]}（%）", 0, 100, 25, key=f"new_round_w{p}"))
            for p in screening.PERSPECTIVES
        ]
        if st.form_submit_button("ラウンドを作成", icon=":material/add:"):
            try:
                created = screening.create_round(
                    engine, actor=actor, fiscal_year=int(year), name=name, weights=weights
                )
                _ui.flash(f"審査ラウンド「{created.name}」を作成しました。")
                st.rerun()
            except FundError as exc:
                _ui.show_error(exc)


def download_buttons(base_name: str, build: Callable[[str], bytes], key: str) -> None:
    """Excel and CSV buttons; the file is built (and the export audited) only when clicked."""
    d1, d2, _ = st.columns([1, 1, 4])
    d1.download_button(
        "Excelで保存",
        data=lambda: build("xlsx"),
        file_name=f"{base_name}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        on_click="ignore",
        icon=":material/download:",
        disabled=not can_export,
        key=f"{key}_xlsx",
    )
    d2.download_button(
        "CSVで保存",
        data=lambda: build("csv"),
        file_name=f"{base_name}.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
        disabled=not can_export,
        key=f"{key}_csv",
    )


rounds = _ui.read(screening.rounds)
if rounds.empty:
    st.info("審査ラウンドはまだありません。", icon=":material/info:")
    if can_score:
        st.subheader("新しい審査ラウンド")
        round_form()
    st.stop()

by_id = rounds.set_index("id")
round_id = int(
    st.selectbox(
        "審査ラウンド",
        rounds["id"].tolist(),
        format_func=lambda i: screening.round_label(
            int(by_id.loc[i, "fiscal_year"]), str(by_id.loc[i, "name"])
        ),
        key="round",
    )
)
round_row = by_id.loc[round_id]
if bool(round_row["is_sample"]):
    st.warning(
        "サンプル: このラウンドの審査担当と採点は動作確認用のサンプルデータです（実際の審査結果ではありません）。",
        icon=":material/science:",
    )
rubric = _ui.read(screening.current_rubric, round_id=round_id)
st.caption(
    f"評価基準 第{rubric.version}版　重み: "
    + " / ".join(f"{PERSPECTIVE[p]} {rubric.weights[p - 1]}%" for p in screening.PERSPECTIVES)
)


# --- 自分の審査 ----------------------------------------------------------------------------------
def my_reviews_tab() -> None:
    prog = _ui.read(screening.queue_progress, actor=actor, round_id=round_id)
    if prog["total"] + prog["recused"] == 0:
        st.info("このラウンドで自分に割り当てられた提案はありません。", icon=":material/inbox:")
        return
    m1, m2 = st.columns(2)
    m1.metric("採点済み", f"{prog['done']} / {prog['total']} 件")
    m2.metric("除斥", f"{prog['recused']} 件")
    st.progress(prog["done"] / prog["total"] if prog["total"] else 1.0)
    pending_only = st.toggle("未完了の提案だけを表示", key="pending_only", persist_state="page")
    queue = _ui.read(screening.my_queue, actor=actor, round_id=round_id, pending_only=pending_only)
    if queue.empty:
        st.info("未完了の提案はありません。すべて採点済みです。", icon=":material/task_alt:")
        return
    st.dataframe(
        queue[["project", "department", "state", "recusal_reason"]]
        .head(_ui.DISPLAY_LIMIT)
        .rename(
            columns={
                "project": "事業名",
                "department": "所管部局",
                "state": "状態",
                "recusal_reason": "除斥の理由",
            }
        ),
        hide_index=True,
        width="stretch",
    )
    _ui.limit_notice(len(queue), hint="「採点する提案」ではすべての提案を選べます。")
    # Labels without the state: a keyed selectbox keeps the labels it was first drawn with.
    labels = dict(
        zip(
            queue["assignment_id"],
            queue["project"] + "（" + queue["department"] + "）",
            strict=True,
        )
    )
    assignment_id = int(
        st.selectbox("採点する提案", list(labels), format_func=lambda a: labels[a], key="score_assignment")
    )
    row = queue.set_index("assignment_id").loc[assignment_id]
    st.caption(f"状態: {row['state']}")
    if bool(row["recused"]):
        st.warning(
            f"この提案は除斥されています（理由: {row['recusal_reason']}）。採点できず、集計にも含まれません。",
            icon=":material/block:",
        )
        return
    saved = screening.assignment_scores(engine, actor=actor, assignment_id=assignment_id)
    with st.form(f"score_form_{assignment_id}"):
        st.text(f"採点する提案: {labels[assignment_id]}")  # user text: not markdown
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
            try:
                changed = screening.save_scores(
                    engine, actor=actor, assignment_id=assignment_id, entries=entries
                )
                _ui.flash(
                    f"「{row['project']}」の採点を保存しました（{changed}観点を更新）。"
                    if changed
                    else "変更はありませんでした。"
                )
                st.rerun()
            except FundError as exc:
                _ui.show_error(exc)
    with st.expander("利益相反を申し出る", icon=":material/gavel:"):
        st.caption("申し出ると、この提案の審査から除斥され、採点は集計に含まれなくなります。")
        reason = st.text_area("利益相反の理由", key=f"conflict_reason_{assignment_id}")
        if st.button("申し出て除斥する", key=f"conflict_{assignment_id}"):
            try:
                screening.declare_conflict(engine, actor=actor, assignment_id=assignment_id, reason=reason)
                _ui.flash(f"「{row['project']}」の審査から除斥しました。")
                st.rerun()
            except FundError as exc:
                _ui.show_error(exc)


# --- 結果 ----------------------------------------------------------------------------------------
def results_tab() -> None:
    f1, f2, f3 = st.columns([2, 2, 1.4], vertical_alignment="bottom")
    departments = f1.multiselect(
        "所管部局",
        _ui.read(reference.departments)["name"].tolist(),
        placeholder="すべての部局",
        key="res_depts",
        persist_state="page",
    )
    search = f2.text_input("事業名で絞り込み", key="res_search", persist_state="page")
    disagreement_only = f3.checkbox("評価が割れている提案のみ", key="res_disagree", persist_state="page")
    filters = screening.ResultFilters(
        departments=tuple(departments), disagreement_only=disagreement_only, search=search
    )
    filtered = screening.filter_results(_ui.read(screening.results, round_id=round_id), filters)
    table = screening.results_table(filtered)
    if table.empty:
        st.info(
            "表示できる採点結果はありません（採点がまだないか、絞り込み条件に合う提案がありません）。",
            icon=":material/info:",
        )
        return
    m1, m2, m3 = st.columns(3)
    m1.metric("表示中の提案", f"{len(table):,} 件")
    m2.metric("評価が割れている提案", f"{int(table['評価が割れている'].sum()):,} 件")
    m3.metric(
        "順位が入れ替わる提案（素点と補正後）",
        f"{int((table['順位（素点）'] != table['順位（補正後）']).sum()):,} 件",
    )
    st.text(screening.ranking_headline(table))  # project names are user text
    two = {"format": "%.2f"}
    st.dataframe(
        table.head(_ui.DISPLAY_LIMIT),
        hide_index=True,
        width="stretch",
        column_config={
            **{
                c: st.column_config.NumberColumn(**two)
                for c in [PERSPECTIVE[p] for p in screening.PERSPECTIVES]
                + ["加重合計（素点）", "加重合計（補正後）", "最大ばらつき（標準偏差）"]
            },
            "評価が割れている": st.column_config.CheckboxColumn(),
        },
    )
    _ui.limit_notice(len(table))
    st.caption(
        "各観点は審査担当の平均点（1〜5点）、加重合計は各観点の平均点 × 重みの合計（満点5点）。"
        f"いずれかの観点で標準偏差が{screening.DISAGREEMENT_SD}を超えると「評価が割れている」としています。"
        "除斥された審査は集計に含みません。"
    )
    st.caption(
        "補正後は審査担当ごとの甘さ・辛さの差をならした値です。各審査担当の点数を、その担当がこのラウンドで"
        "付けた全点数の平均と標準偏差で標準化し（z =（点数 − 担当の平均）÷ 担当の標準偏差）、"
        "ラウンド全体の平均と標準偏差で1〜5点の尺度に戻しています（補正点 = 全体の平均 + 全体の標準偏差 × z）。"
    )
    download_buttons(
        f"審査結果_{int(round_row['fiscal_year'])}年度_{round_id}",
        lambda fmt: screening.export_results(
            engine, actor=actor, round_id=round_id, filters=filters, fmt=fmt
        ),
        key="export",
    )
    st.caption(
        "保存されるファイルは、絞り込み後の全件です（画面の表と同じ内容・並び）。出力は監査ログに記録されます。"
    )

    shown = filtered.head(CHART_LIMIT)
    long = screening.perspective_scores_long(shown)
    order = shown["project"].tolist()
    title = "観点別の平均点（1〜5点、素点順）"
    if len(filtered) > CHART_LIMIT:
        title = f"観点別の平均点（1〜5点、素点順の上位{CHART_LIMIT}件）"
        st.caption(f"グラフは素点順の上位 {CHART_LIMIT} 件を表示しています（全 {len(filtered):,} 件）。")
    base = alt.Chart(long, title=title).encode(
        y=alt.Y("事業名:N", sort=order, title=None, axis=alt.Axis(labelLimit=320)),
        x=alt.X(
            "観点:N",
            sort=[PERSPECTIVE[p] for p in screening.PERSPECTIVES],
            title=None,
            axis=alt.Axis(labelAngle=0, orient="top", labelLimit=160, labelOverlap=False, labelFontSize=11),
        ),
    )
    heat = base.mark_rect().encode(
        color=alt.Color("平均点:Q", scale=alt.Scale(domain=[1, 5], scheme="blues"), title="平均点"),
        tooltip=["事業名", "観点", alt.Tooltip("平均点:Q", format=".2f")],
    )
    labels_layer = base.mark_text(fontSize=12).encode(
        text=alt.Text("平均点:Q", format=".1f"),
        color=alt.condition("datum.平均点 >= 3.5", alt.value("white"), alt.value("black")),
    )
    st.altair_chart((heat + labels_layer).properties(height=max(240, 26 * len(order))), width="stretch")


# --- 感度分析 --------------------------------------------------------------------------------------
def sensitivity_tab() -> None:
    st.caption(
        "各観点の重みを1つずつ ±Nポイント動かし（合計が100%になるよう按分し直し）、"
        "どの提案が同じ順位区分にとどまるか（安定）、区分が変わりうるか（境界）を示します。"
    )
    s1, s2, s3 = st.columns(3)
    step = s1.slider("重みの変動幅（±ポイント）", 1, 30, 10, key="sens_step", persist_state="page")
    mode = s2.radio(
        "順位区分", ["上位・中位・下位（3等分）", "採択ライン"], key="sens_mode", persist_state="page"
    )
    line = s3.number_input(
        "採択ライン（上位○件）",
        1,
        200,
        10,
        key="sens_line",
        disabled=mode != "採択ライン",
        persist_state="page",
    )
    calibrated = st.toggle("補正後の点数で判定する", key="sens_calibrated", persist_state="page")
    funding_line = int(line) if mode == "採択ライン" else None
    try:
        sens = screening.sensitivity_of(
            _ui.read(screening.results, round_id=round_id),
            weights=rubric.weights,
            step=int(step),
            funding_line=funding_line,
            calibrated=calibrated,
        )
    except FundError as exc:
        _ui.show_error(exc)
        return
    if sens.table.empty:
        st.info("全観点の採点がそろった提案がないため、感度分析はまだできません。", icon=":material/info:")
        return
    view = screening.sensitivity_table(sens)
    k1, k2 = st.columns(2)
    k1.metric("安定（区分が変わらない）", f"{int((view['判定'] == '安定').sum()):,} 件")
    k2.metric("境界（区分が変わりうる）", f"{int((view['判定'] == '境界').sum()):,} 件")
    st.dataframe(
        view.head(_ui.DISPLAY_LIMIT),
        hide_index=True,
        width="stretch",
        column_config={"加重合計": st.column_config.NumberColumn(format="%.2f")},
    )
    _ui.limit_notice(len(view))
    download_buttons(
        f"感度分析_{int(round_row['fiscal_year'])}年度_{round_id}",
        lambda fmt: screening.export_sensitivity(
            engine,
            actor=actor,
            round_id=round_id,
            step=int(step),
            funding_line=funding_line,
            calibrated=calibrated,
            fmt=fmt,
        ),
        key="sens_export",
    )
    with st.expander("シナリオごとの重み"):
        st.dataframe(sens.scenarios, hide_index=True, width="stretch")


# --- 設定 ----------------------------------------------------------------------------------------
def settings_tab() -> None:
    st.subheader("評価基準と重み")
    st.dataframe(
        _ui.read(screening.rubric_versions, round_id=round_id)[
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
        st.caption("重みや段階の説明を変えると新しい版になります。採点済みの点数は採点時の版のまま残ります。")
        cols = st.columns(4)
        new_weights = [
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
        if st.form_submit_button("新しい版として保存", icon=":material/save:"):
            try:
                version = screening.new_rubric_version(
                    engine,
                    actor=actor,
                    round_id=round_id,
                    weights=new_weights,
                    anchors={
                        str(p): [line for line in text.splitlines() if line.strip()]
                        for p, text in anchor_text.items()
                    },
                )
                _ui.flash(f"評価基準の第{version.version}版を保存しました。")
                st.rerun()
            except FundError as exc:
                _ui.show_error(exc)

    st.subheader("審査担当の割当")
    people = _ui.read(screening.reviewers)
    a1, a2 = st.columns([1, 2])
    dept = a1.selectbox(
        "提案の所管部局",
        [None, *_ui.read(reference.departments)["name"].tolist()],
        format_func=lambda d: "すべての部局" if d is None else d,
        key="assign_dept",
        persist_state="page",
    )
    search = a2.text_input("提案を事業名で絞り込み", key="assign_search", persist_state="page")
    proposals, total = _ui.read(
        screening.assignable_proposals,
        round_id=round_id,
        department=dept,
        search=search,
        limit=_ui.DISPLAY_LIMIT,
    )
    if proposals.empty and (dept or search.strip()) and not people.empty:
        st.info("絞り込み条件に合う提案はありません。", icon=":material/filter_alt_off:")
    elif proposals.empty or people.empty:
        st.info("割り当てられる提案（下書き以外）または有効な審査担当がいません。", icon=":material/info:")
    else:
        _ui.limit_notice(total, hint="所管部局や事業名で絞り込むと、ほかの提案を選べます。")
        p_labels = dict(
            zip(proposals["id"], proposals["project"] + "（" + proposals["department"] + "）", strict=True)
        )
        r_labels = dict(
            zip(
                people["id"],
                [
                    f"{n}（{d}）" if isinstance(d, str) else str(n)
                    for n, d in zip(people["display_name"], people["department"], strict=True)
                ],
                strict=True,
            )
        )
        with st.form(f"assign_form_{round_id}"):
            chosen_p = st.multiselect(
                "提案",
                list(p_labels),
                format_func=lambda i: p_labels[i],
                placeholder="提案を選択",
                key="assign_p",
            )
            chosen_r = st.multiselect(
                "審査担当",
                list(r_labels),
                format_func=lambda i: r_labels[i],
                placeholder="審査担当を選択",
                key="assign_r",
            )
            st.caption("提案部局と同じ所属の審査担当は自動的に除斥されます。")
            if st.form_submit_button("割り当てる", icon=":material/person_add:"):
                try:
                    res = screening.assign_reviewers(
                        engine,
                        actor=actor,
                        round_id=round_id,
                        proposal_ids=[int(i) for i in chosen_p],
                        reviewer_ids=[int(i) for i in chosen_r],
                    )
                    _ui.flash(
                        f"{res.created}件を割り当てました（うち自動除斥 {res.auto_recused}件、"
                        f"割当済みのため省略 {res.skipped}件）。"
                    )
                    st.rerun()
                except FundError as exc:
                    _ui.show_error(exc)
    assigned = _ui.read(screening.assignment_frame, round_id=round_id, limit=_ui.DISPLAY_LIMIT)
    if assigned.empty:
        st.info("このラウンドにはまだ割当がありません。", icon=":material/info:")
    else:
        st.dataframe(screening.assignment_table(assigned), hide_index=True, width="stretch")
        _ui.limit_notice(_ui.read(screening.assignment_count, round_id=round_id))
        download_buttons(
            f"審査担当の割当_{int(round_row['fiscal_year'])}年度_{round_id}",
            lambda fmt: screening.export_assignments(engine, actor=actor, round_id=round_id, fmt=fmt),
            key="assign_export",
        )

    st.subheader("新しい審査ラウンド")
    round_form()


tab_names = ["自分の審査", "結果", "感度分析", "設定"] if can_score else ["結果", "感度分析"]
# Only the open tab runs (switching tabs reruns the page); the filters inside a tab keep their
# values while another tab is open (persist_state="page").
tabs = st.tabs(tab_names, key="screening_tab", on_change="rerun")
draw = {"自分の審査": my_reviews_tab, "結果": results_tab, "感度分析": sensitivity_tab, "設定": settings_tab}
for name, tab in zip(tab_names, tabs, strict=True):
    if tab.open:
        with tab:
            draw[name]()
