"""結果: the ranking raw and calibrated, with filters, downloads and the chart by perspective."""

import json
import re

import altair as alt
import pandas as pd
import streamlit as st
from streamlit.elements.lib.column_types import ColumnConfig

from fund import screening
from fund.auth import Actor
from fund.labels import PERSPECTIVE, PERSPECTIVE_FULL
from ui import loaders, session, widgets
from ui.screening.rounds import ChosenRound

CHART_LIMIT = 50  # proposals drawn in the chart of scores by perspective (the table lists them all)


def _score(label: str, full: str, *, width: int = 56) -> ColumnConfig:
    return st.column_config.NumberColumn(label, help=full, format="%.2f", width=width)


# On screen the ranking fits an office laptop's width: short headers, the full name in each
# header's tooltip (the downloads keep the full headers).
SPREAD = "最大ばらつき（標準偏差）"
# Each perspective's axis label on two lines (after its first が・を), numbered as in the table, so
# that four labels fit above four narrow columns.
AXIS_LINES = (
    json.dumps(
        {
            PERSPECTIVE[p]: re.split(r"(?<=[がを])", "①②③④"[p - 1] + PERSPECTIVE[p], maxsplit=1)
            for p in screening.PERSPECTIVES
        },
        ensure_ascii=False,
    )
    + "[datum.label]"
)
RANKING_COLUMNS = {
    "順位（素点）": st.column_config.NumberColumn("順位", help="順位（素点）", width=44, pinned=True),
    "順位（補正後）": st.column_config.NumberColumn("補正順位", help="順位（補正後）", width=66),
    "事業名": st.column_config.TextColumn(width=168, pinned=True),
    "所管部局": st.column_config.TextColumn("部局", help="所管部局", width=76),
    **{PERSPECTIVE[p]: _score("観点" + "①②③④"[p - 1], PERSPECTIVE_FULL[p]) for p in screening.PERSPECTIVES},
    "加重合計（素点）": _score("合計", "加重合計（素点）", width=54),
    "加重合計（補正後）": _score("補正合計", "加重合計（補正後）", width=68),
    "審査数": st.column_config.NumberColumn(width=50),
    SPREAD: st.column_config.TextColumn(  # printed as text: the grid would show a missing value as "None"
        "ばらつき", help=SPREAD, width=64, alignment="right"
    ),
    "評価が割れている": st.column_config.CheckboxColumn("割れ", help="評価が割れている", width=40),
    "修正前の版への審査数": st.column_config.NumberColumn("旧版", help="修正前の版への審査数", width=40),
}


def render(actor: Actor, chosen: ChosenRound, *, may_export: bool) -> None:
    f1, f2, f3 = st.columns([2, 2, 1.4], vertical_alignment="bottom")
    departments = f1.multiselect(
        "所管部局",
        loaders.departments()["name"].tolist(),
        placeholder="すべての部局",
        select_all=False,
        key="res_depts",
        persist_state="page",
    )
    search = f2.text_input("事業名で絞り込み", key="res_search", persist_state="page")
    disagreement_only = f3.checkbox("評価が割れている提案のみ", key="res_disagree", persist_state="page")
    filters = screening.ResultFilters(
        departments=tuple(departments), disagreement_only=disagreement_only, search=search
    )
    filtered = screening.filter_results(loaders.results(round_id=chosen.round_id), filters)
    if filtered.empty:
        st.info(
            "表示できる採点結果はありません（採点がまだないか、絞り込み条件に合う提案がありません）。",
            icon=":material/info:",
        )
        return
    summary = screening.ranking_summary(filtered)
    m1, m2, m3 = st.columns(3)
    m1.metric("表示中の提案", f"{summary.proposals:,} 件")
    m2.metric("評価が割れている提案", f"{summary.disagreements:,} 件")
    m3.metric("順位が入れ替わる提案（素点と補正後）", f"{summary.rank_changes:,} 件")
    st.text(screening.ranking_headline(filtered))  # project names are user text
    ranking = screening.results_table(filtered).head(widgets.DISPLAY_LIMIT)
    ranking[SPREAD] = ranking[SPREAD].map(lambda sd: "—" if pd.isna(sd) else f"{sd:.2f}")  # one review
    st.dataframe(
        ranking,
        hide_index=True,
        width="stretch",
        column_config=RANKING_COLUMNS,
    )
    widgets.limit_notice(summary.proposals)
    st.caption(
        "観点" + " ".join(f"{'①②③④'[p - 1]}{PERSPECTIVE[p]}" for p in screening.PERSPECTIVES) + "。"
        "各観点は審査担当の平均点（1〜5点）、加重合計は各観点の平均点 × 重みの合計（満点5点）。"
        f"いずれかの観点で標準偏差が{screening.DISAGREEMENT_SD}を超えると「評価が割れている」としています。"
        "審査が1件の提案のばらつきは「—」です。除斥された審査は集計に含みません。"
    )
    st.caption(
        "補正後は審査担当ごとの甘さ・辛さの差をならした値です。各審査担当の点数を、その担当がこのラウンドで"
        "付けた全点数の平均と標準偏差で標準化し（z =（点数 − 担当の平均）÷ 担当の標準偏差）、"
        "ラウンド全体の平均と標準偏差で1〜5点の尺度に戻しています（補正点 = 全体の平均 + 全体の標準偏差 × z）。"
        "「修正前の版への審査数」は、採点の後で提案が差戻し・修正された審査担当の数です（採点は当時の版のまま）。"
    )
    _comments(actor, chosen, filtered)
    engine = session.engine()
    widgets.download_pair(
        lambda fmt: screening.export_results(
            engine, actor=actor, round_id=chosen.round_id, filters=filters, fmt=fmt
        ),
        file_stem=chosen.file_stem("審査結果"),
        key="export",
        disabled=not may_export,
    )
    st.caption(
        "保存されるファイルは、絞り込み後の全件です（画面の表と同じ内容・並び）。出力は監査ログに記録されます。"
    )
    _chart(filtered)


def _comments(actor: Actor, chosen: ChosenRound, filtered: pd.DataFrame) -> None:
    """Every counted reviewer's scores and comments on one proposal, beside the ranking."""
    with st.expander("審査担当のコメント", icon=":material/forum:"):
        names = dict(zip(filtered["proposal_id"].astype(int), filtered["project"], strict=True))
        chosen_id = st.selectbox(
            "提案",
            list(names),
            format_func=lambda i: f"{i}: {names[i]}",
            key=f"res_comments_{chosen.round_id}",
        )
        if chosen_id is not None:
            comments = loaders.reviewer_comments(
                actor=actor, round_id=chosen.round_id, proposal_id=int(chosen_id)
            )
            widgets.table(comments, hide_index=True)  # comments are read in full, not cut in a grid cell


def _chart(filtered: pd.DataFrame) -> None:
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
            axis=alt.Axis(
                labelAngle=0, orient="top", labelExpr=AXIS_LINES, labelOverlap=False, labelFontSize=11
            ),
        ),
    )
    heat = base.mark_rect().encode(
        color=alt.Color(
            "平均点:Q",
            scale=alt.Scale(domain=[1, 5], scheme="blues"),
            legend=alt.Legend(title="平均点", gradientLength=120, values=[1, 2, 3, 4, 5]),
        ),
        tooltip=["事業名", "観点", alt.Tooltip("平均点:Q", format=".2f")],
    )
    labels_layer = base.mark_text(fontSize=12).encode(
        text=alt.Text("平均点:Q", format=".1f"),
        color=alt.condition("datum.平均点 >= 3.5", alt.value("white"), alt.value("black")),
    )
    st.altair_chart((heat + labels_layer).properties(height=max(240, 26 * len(order))), width="stretch")
