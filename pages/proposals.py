"""事業提案: the proposals with their citizen-feel evidence."""

import streamlit as st

from fund import proposals, reference
from fund.auth import Action
from fund.fiscal import fiscal_label
from fund.labels import PROPOSAL_STATUS
from fund.models import ProposalStatus, Role
from pages import _ui

actor = _ui.require_actor(Action.view_proposals)
engine = _ui.engine()

st.title("事業提案")
if actor.role == Role.department:
    st.caption("事業担当は自部局の提案のみ表示されます。")

years = reference.fiscal_years(engine)["year"].tolist()
f1, f2, f3 = st.columns([1, 1, 2])
year = f1.selectbox(
    "年度",
    [None, *reversed(years)],
    format_func=lambda y: "すべて" if y is None else fiscal_label(int(y)),
    key="prop_year",
)
status = f2.selectbox(
    "状態",
    [None, *ProposalStatus],
    format_func=lambda s: "すべて" if s is None else PROPOSAL_STATUS[s],
    key="prop_status",
)
search = f3.text_input("事業名・概要で検索", key="prop_search")

df = proposals.proposal_frame(engine, actor=actor, fiscal_year=year, status=status, search=search or None)
if df.empty:
    st.info("条件に合う提案はありません。")
    st.stop()

view = df.assign(
    年度=[fiscal_label(int(y)) for y in df["fiscal_year"]],
    新規=df["is_new"].map({True: "新規", False: ""}),
    事業費_千円=df["project_cost_yen"] / 1000,
    基金充当額_千円=df["fund_share_yen"] / 1000,
    サンプル=df["is_sample"].map({True: "サンプル", False: ""}),
)[
    [
        "id",
        "年度",
        "新規",
        "project",
        "department",
        "status_label",
        "事業費_千円",
        "基金充当額_千円",
        "touchpoints",
        "hours_saved",
        "yen_per_1000_touchpoints",
        "novelty_label",
        "サンプル",
    ]
]
view.columns = [
    "番号",
    "年度",
    "新規",
    "事業名",
    "所管部局",
    "状態",
    "事業費（千円）",
    "基金充当額（千円）",
    "県民接点（回/年）",
    "削減時間（時間/年）",
    "1,000接点あたり充当額（円）",
    "新規性",
    "根拠データ",
]
st.dataframe(
    view,
    hide_index=True,
    width="stretch",
    column_config={
        c: st.column_config.NumberColumn(format="localized")
        for c in [
            "事業費（千円）",
            "基金充当額（千円）",
            "県民接点（回/年）",
            "削減時間（時間/年）",
            "1,000接点あたり充当額（円）",
        ]
    },
)
st.caption(
    f"{len(df)}件。県民接点 = 想定利用者数 × 1人あたり年間利用回数、削減時間 = 年間手続件数 × 1件あたり短縮時間。"
    "「サンプル」は動作確認用の例示値です。"
)

st.subheader("提案の詳細")
choice = st.selectbox(
    "提案を選択",
    df["id"].tolist(),
    format_func=lambda i: f"{i}: {df.set_index('id').loc[i, 'project']}",
    key="prop_detail",
)
row = df.set_index("id").loc[choice]
d1, d2, d3 = st.columns(3)
d1.metric("県民接点（回/年）", f"{row['touchpoints']:,.0f}")
d2.metric("削減時間（時間/年）", f"{row['hours_saved']:,.0f}")
per = row["yen_per_1000_touchpoints"]
d3.metric("1,000接点あたり基金充当額", "—" if per != per else f"{per:,.0f}円")
timeline = proposals.timeline(engine, proposal_id=int(choice))
st.markdown("**経過**")
st.dataframe(timeline, hide_index=True, width="stretch")
