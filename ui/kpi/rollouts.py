"""横展開: where the projects were rolled out (市町 and departments), registration and withdrawal."""

import altair as alt
import pandas as pd
import streamlit as st

from fund import auth, rollout
from fund.auth import Action, Actor
from fund.fiscal import fiscal_label, wareki
from ui import loaders, session, widgets

PER_PROJECT = {
    "project": "事業名",
    "department": "所管部局",
    "rollouts": "件数",
    "municipalities": "市町数",
    "departments": "部局数",
}


def render(actor: Actor) -> None:
    ro = loaders.rollout_frame(actor=actor)
    r1, r2, r3 = st.columns(3)
    r1.metric("横展開の件数", f"{len(ro):,}件")
    cities = ro.loc[ro["target_kind"] == rollout.MUNICIPALITY, "target"].nunique()
    r2.metric("展開先の市町", f"{cities} / {len(rollout.MUNICIPALITIES)}市町")
    r3.metric("展開した事業", f"{ro['project_id'].nunique():,}事業")
    if ro.empty:
        st.info("横展開はまだ登録されていません。", icon=":material/info:")
    else:
        _overview(actor, ro)
    if auth.can(actor, Action.enter_kpi_actual):
        _record_form(actor)
        if not ro.empty:
            with st.expander("登録した横展開を取り消す", icon=":material/delete:"):
                _withdraw(actor, ro)


def _overview(actor: Actor, ro: pd.DataFrame) -> None:
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**事業別**")
        per_project = loaders.rollout_by_project(actor=actor)
        st.dataframe(per_project.rename(columns=PER_PROJECT), hide_index=True, width="stretch")
    with right:
        st.markdown("**市町別（展開された事業数）**")
        # Japanese field names: a screen reader reads each bar by them
        per_city = loaders.rollout_by_municipality(actor=actor).rename(
            columns={"municipality": "市町", "projects": "事業数"}
        )
        st.altair_chart(
            alt.Chart(per_city)
            .mark_bar(color="#2f6db5")
            .encode(
                y=alt.Y(
                    "市町:N",
                    sort=list(rollout.MUNICIPALITIES),
                    title=None,
                    axis=alt.Axis(labelLimit=0, labelOverlap=False),
                ),
                x=alt.X("事業数:Q", title="事業数", axis=alt.Axis(tickMinStep=1)),
                tooltip=[
                    alt.Tooltip("市町:N", title="市町"),
                    alt.Tooltip("事業数:Q", title="事業数"),
                ],
            )
            .properties(height=24 * len(rollout.MUNICIPALITIES)),
            width="stretch",
        )
    st.dataframe(
        pd.DataFrame(
            {
                "事業名": ro["project"],
                "所管部局": ro["department"],
                "展開先": ro["target"],
                "種類": ro["target_kind"],
                "年度": [fiscal_label(int(y)) for y in ro["fiscal_year"]],
                "内容": ro["note"],
                "サンプル": ["サンプル" if s else "" for s in ro["is_sample"]],
            }
        ),
        hide_index=True,
        width="stretch",
    )


def _record_form(actor: Actor) -> None:
    with st.form("rollout_form", clear_on_submit=True):
        st.markdown("**横展開を登録する**")
        project_id = widgets.project_picker(
            "事業", key="rollout_project", department_id=auth.department_scope(actor)
        )
        target = st.selectbox("展開先（市町または部局）", loaders.rollout_targets(), key="rollout_target")
        year = st.selectbox(
            "年度",
            loaders.fiscal_years()["year"].tolist(),
            index=None,
            placeholder="年度を選択",
            format_func=lambda y: fiscal_label(int(y)),
            key="rollout_year",
        )
        note = st.text_area("内容（何を展開したか）", key="rollout_note", max_chars=rollout.NOTE_MAX)
        if st.form_submit_button("横展開を登録", icon=":material/add:"):
            widgets.run_action(
                lambda: rollout.record_rollout(
                    session.engine(),
                    actor=actor,
                    entry=rollout.validate_rollout(
                        {"project_id": project_id, "target": target, "fiscal_year": year, "note": note}
                    ),
                ),
                f"{target}への横展開を登録しました。",
            )


def _withdraw(actor: Actor, ro: pd.DataFrame) -> None:
    by_id = ro.set_index("id")
    rid = st.selectbox(
        "取り消す横展開",
        by_id.index.tolist(),
        format_func=lambda i: (
            f"{by_id.loc[i, 'project']} → {by_id.loc[i, 'target']}（{wareki(int(by_id.loc[i, 'fiscal_year']))}）"
        ),
        key="rollout_delete_id",
    )
    reason = st.text_input("取消の理由", key="rollout_delete_reason", max_chars=rollout.REASON_MAX)
    if st.button("取り消す", key="rollout_delete", icon=":material/delete:"):
        widgets.run_action(
            lambda: rollout.delete_rollout(session.engine(), actor=actor, rollout_id=int(rid), reason=reason),
            "横展開の登録を取り消しました（監査ログに記録しました）。",
        )
