"""審査・採点: results of a screening round by the four citizen-feel perspectives."""

import altair as alt
import streamlit as st

from fund import screening
from fund.auth import Action
from fund.fiscal import fiscal_label
from fund.labels import PERSPECTIVE
from pages import _ui

actor = _ui.require_actor(Action.view_screening)
engine = _ui.engine()

st.title("審査・採点")
rounds = screening.rounds(engine)
if rounds.empty:
    st.info("審査ラウンドはまだありません。")
    st.stop()

round_id = st.selectbox(
    "審査ラウンド",
    rounds["id"].tolist(),
    format_func=lambda i: (
        f"{fiscal_label(int(rounds.set_index('id').loc[i, 'fiscal_year']))} "
        f"{rounds.set_index('id').loc[i, 'name']}"
    ),
    key="round",
)
weights = screening.latest_weights(engine, round_id=round_id)
st.caption("重み: " + " / ".join(f"{PERSPECTIVE[i + 1]} {w}%" for i, w in enumerate(weights)))
if bool(rounds.set_index("id").loc[round_id, "is_sample"]):
    st.warning("このラウンドの採点は動作確認用のサンプルデータです。", icon=":material/science:")

res = screening.results(engine, round_id=round_id)
if res.empty:
    st.info("このラウンドにはまだ採点がありません。")
    st.stop()

view = res.rename(
    columns={
        "rank": "順位",
        "project": "事業名",
        "department": "所管部局",
        "p1": PERSPECTIVE[1],
        "p2": PERSPECTIVE[2],
        "p3": PERSPECTIVE[3],
        "p4": PERSPECTIVE[4],
        "weighted_total": "加重平均点",
        "reviews": "審査数",
        "max_sd": "最大ばらつき(標準偏差)",
        "disagreement": "評価が割れている",
    }
).drop(columns=["proposal_id"])
st.dataframe(
    view,
    hide_index=True,
    width="stretch",
    column_config={
        c: st.column_config.NumberColumn(format="%.2f")
        for c in [PERSPECTIVE[i] for i in range(1, 5)] + ["加重平均点", "最大ばらつき(標準偏差)"]
    },
)
st.caption(
    "各観点は審査担当の平均点（1〜5点）。加重平均点は各観点の平均点に重みを掛けた合計（満点5点）。"
    f"いずれかの観点で標準偏差が{screening.DISAGREEMENT_SD}を超えると「評価が割れている」としています。"
)

long = res.melt(
    id_vars=["project"], value_vars=["p1", "p2", "p3", "p4"], var_name="観点", value_name="平均点"
)
long["観点"] = long["観点"].map({f"p{i}": PERSPECTIVE[i] for i in range(1, 5)})
st.altair_chart(
    alt.Chart(long, title="観点別の平均点（1〜5点）")
    .mark_bar()
    .encode(
        y=alt.Y("project:N", sort=res["project"].tolist(), title="事業名"),
        x=alt.X("平均点:Q", stack="zero", title="観点別平均点の積み上げ"),
        color=alt.Color("観点:N", legend=alt.Legend(orient="bottom")),
        tooltip=["project", "観点", alt.Tooltip("平均点:Q", format=".2f")],
    )
    .properties(height=max(300, 22 * len(res))),
    width="stretch",
)
