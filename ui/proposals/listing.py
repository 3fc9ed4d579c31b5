"""一覧 and 詳細: proposals with filters and downloads, one proposal's detail and its status actions."""

import streamlit as st

from fund import auth, proposals
from fund.auth import Action, Actor
from fund.errors import FundError
from fund.fiscal import fiscal_label
from fund.labels import PROPOSAL_STATUS
from fund.models import ProposalStatus
from fund.money import format_sen_yen
from ui import loaders, session, widgets
from ui.proposals import corrections, feedback

# On an office laptop (1366 pixels) the name, the state and both amounts fit without scrolling
# sideways; the figures behind them follow. A name wider than its column shows whole on hover.
LIST_COLUMNS = {
    "番号": st.column_config.NumberColumn(width=48, pinned=True),
    "年度": st.column_config.TextColumn(width=150),
    "事業名": st.column_config.TextColumn(width=250, pinned=True),
    "所管部局": st.column_config.TextColumn(width=100),
    "状態": st.column_config.TextColumn(width=64),
    "事業費（千円）": st.column_config.NumberColumn(format="localized", width=100),
    "基金充当額（千円）": st.column_config.NumberColumn(format="localized", width=116),
} | {
    c: st.column_config.NumberColumn(format="localized")
    for c in proposals.PROPOSAL_TABLE_NUMBERS
    if c not in ("事業費（千円）", "基金充当額（千円）")
}
LIST_ORDER = [
    *list(LIST_COLUMNS)[:7],
    "新規",
    "県民接点（回/年）",
    "削減時間（時間/年）",
    "1,000接点あたり充当額（円）",
    "新規性",
    "根拠データ",
    "推計",
]


def render(actor: Actor, *, departments: dict[int, str]) -> None:
    years = loaders.fiscal_years()["year"].tolist()
    f1, f2, f3, f4 = st.columns([1, 1, 1, 2])
    year = widgets.optional_select(
        "年度", list(reversed(years)), format_func=lambda y: fiscal_label(int(y)), key="prop_year", where=f1
    )
    status = widgets.optional_select(
        "状態", list(ProposalStatus), format_func=PROPOSAL_STATUS.__getitem__, key="prop_status", where=f2
    )
    department = None
    if auth.department_scope(actor) is None:
        department = widgets.optional_select(
            "所管部局", list(departments), format_func=departments.__getitem__, key="prop_dept", where=f3
        )
    search = f4.text_input("事業名・概要で検索", key="prop_search", max_chars=proposals.SEARCH_MAX)

    filters: proposals.ProposalFilter = {
        "fiscal_year": year,
        "status": status,
        "department_id": department,
        "search": search or None,
    }
    df = loaders.proposal_frame(actor=actor, **filters, limit=widgets.DISPLAY_LIMIT)
    if df.empty:
        st.info("条件に合う提案はありません。", icon=":material/info:")
        return
    st.dataframe(
        proposals.proposal_table(df),
        hide_index=True,
        width="stretch",
        column_config=LIST_COLUMNS,
        column_order=LIST_ORDER,
    )
    total = len(df)
    if total >= widgets.DISPLAY_LIMIT:
        total = loaders.proposal_count(actor=actor, **filters)
    widgets.limit_notice(total)
    st.caption(
        f"{total:,}件。県民接点 = 想定利用者数 × 1人あたり年間利用回数、削減時間 = 年間手続件数 × 1件あたり短縮時間。"
        "「サンプル」は動作確認用の例示値、「推計」は資料に記載がなく前提を置いた金額です。"
    )
    engine = session.engine()
    widgets.download_pair(
        lambda fmt: proposals.export_proposals(engine, actor=actor, **filters, fmt=fmt),
        file_stem="事業提案一覧",
        key="prop_export",
        disabled=not auth.can(actor, Action.export),
    )
    if total > proposals.LARGE_EXPORT_ROWS:
        st.caption(
            f"{proposals.LARGE_EXPORT_ROWS:,}件を超えるため、Excelでの保存には時間がかかります（数十秒）。CSVの方が速く保存できます。"
        )

    st.subheader("提案の詳細")
    names = dict(zip(df["id"].astype(int), df["project"], strict=True))
    choice = st.selectbox(
        "提案を選択", list(names), format_func=lambda i: f"{i}: {names[i]}", key="prop_detail"
    )
    _detail(actor, int(choice))


def _detail(actor: Actor, proposal_id: int) -> None:
    try:
        d = loaders.proposal_detail(actor=actor, proposal_id=proposal_id)
    except FundError as exc:
        widgets.show_error(exc)
        return
    st.text(f"{d.project}（{d.department}）")
    st.caption(
        f"{fiscal_label(d.fiscal_year)}・{d.category}・状態: {d.status_label}"
        + ("・新規" if d.is_new else "")
        + ("・根拠データはサンプル" if d.is_sample else "")
    )
    st.markdown("**県民実感の根拠（試算）**")
    e1, e2, e3 = st.columns(3)
    touch, hours, per = (
        d.evidence["touchpoints"],
        d.evidence["hours_saved"],
        d.evidence["yen_per_1000_touchpoints"],
    )
    e1.metric("県民接点（回/年）", f"{touch or 0:,.0f}", help="想定利用者数 × 1人あたり年間利用回数")
    e2.metric("削減時間（時間/年）", f"{hours or 0:,.0f}", help="年間手続件数 × 1件あたり短縮時間")
    e3.metric(
        "1,000接点あたり基金充当額",
        "—" if per is None else f"{per:,.0f}円",
        help="基金充当額 ÷ 県民接点 × 1,000",
    )
    for col, (label, yen) in zip(st.columns(4), d.money.items(), strict=True):
        mark = d.money_marks.get(label)
        col.metric(f"{label}（千円）", format_sen_yen(yen) + (f"（{mark}）" if mark else ""))
    if d.money_marks:
        st.caption("「推計」は資料に記載がなく前提を置いた金額です（前提と出典を参照）。")
    with st.expander("提案内容", expanded=False):
        for label, text in d.texts.items():
            st.markdown(f"**{label}**")
            st.text(text or "（未記入）")
        st.markdown("**充当要件**")
        if d.requirements:
            for req, why in d.requirements:
                st.text(f"{req}\n  該当理由: {why or '（未記入）'}")
        else:
            st.text("（未選択）")
        st.markdown("**根拠の入力値**")
        st.text("　".join(f"{k}: {v}" for k, v in d.evidence_inputs.items()))
        st.text(f"新規性: {d.novelty or '（未選択）'}　{d.novelty_note}")
    st.markdown("**費用計画（運用経費を含む）**")
    if d.cost_lines.empty:
        st.info("費用計画は未入力です。", icon=":material/info:")
    else:
        st.dataframe(
            d.cost_lines,
            hide_index=True,
            width="stretch",
            column_config={
                c: st.column_config.NumberColumn(format="localized")
                for c in ["事業費（千円）", "基金充当額（千円）"]
            },
        )
    st.markdown("**成果指標（KPI）**")
    if d.kpis.empty:
        st.info("成果指標は未入力です。", icon=":material/info:")
    else:
        st.dataframe(d.kpis, hide_index=True, width="stretch")
    st.markdown("**経過**")
    st.dataframe(loaders.proposal_timeline(proposal_id=proposal_id), hide_index=True, width="stretch")
    if d.status == ProposalStatus.draft and auth.can(actor, Action.create_proposal):
        st.caption("下書きの編集は「新規提案」タブで、編集する下書きを選んで行えます。")
    feedback.render(actor, proposal_id=proposal_id, status=d.status)
    corrections.render(actor, d)
    _actions(actor, d)


def _actions(actor: Actor, d: proposals.ProposalDetail) -> None:
    bureau = auth.can(actor, Action.change_status)
    if d.recused and bureau:
        st.caption(f"あなたはこの提案の{d.recused}のため、審査と状態の変更はできません（職務分離）。")
    elif d.decided and bureau and d.status != ProposalStatus.funded:
        st.caption("この提案の審査結果は確定済みのため、状態は変更できません（採択した提案の事業化を除く）。")
    if not d.transitions or d.returned is not None:
        return
    st.markdown("**状態の変更**")
    options = {o.to_status: o for o in d.transitions}
    a1, a2 = st.columns([1, 2])
    to = a1.selectbox(
        "変更後の状態", list(options), format_func=lambda s: options[s].label, key=f"act_to_{d.id}"
    )
    chosen = options[to]
    reason = a2.text_area(
        "理由" + ("（必須）" if chosen.reason_required else "（任意）"),
        key=f"act_reason_{d.id}",
        height=80,
        help="不採択と、通常の流れ以外の変更（例外）には理由が必要です。経過と監査記録に残ります。",
    )
    if chosen.is_override:
        st.warning("通常の流れ以外の変更です。理由とともに監査記録に残ります。", icon=":material/warning:")
    if st.button("状態を変更する", key=f"act_go_{d.id}", icon=":material/swap_horiz:"):
        widgets.run_action(
            lambda: proposals.change_status(
                session.engine(),
                actor=actor,
                proposal_id=d.id,
                to_status=to,
                reason=reason,
                version=d.version,
            ),
            f"提案番号 {d.id} を「{PROPOSAL_STATUS[to]}」にしました。",
        )
