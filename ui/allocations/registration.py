"""配分の登録・承認: the 年度's ceilings, registration, maker–checker approval, 再掲, the annual cap."""

import pandas as pd
import streamlit as st

from fund import allocation, auth, clock
from fund.auth import Action, Actor
from fund.fiscal import default_year, fiscal_label
from fund.labels import BUDGET_STAGE
from fund.models import AllocationStatus, BudgetStage
from fund.money import (
    format_oku_yen,
    format_sen_yen,
    format_sen_yen_series,
    format_yen,
    sen_yen_to_yen,
    to_sen_yen,
)
from ui import loaders, session, widgets

SEN_COLUMNS = {
    "事業費（千円）": st.column_config.TextColumn(alignment="right"),
    "基金充当額（千円）": st.column_config.TextColumn(alignment="right"),
}


def render(actor: Actor) -> None:
    open_years = [int(r.year) for r in loaders.fiscal_years().itertuples() if not r.closed]
    if not open_years:
        st.info(
            "決算確定前の年度がありません。管理者が data/fund.toml の fiscal_years に年度を加え、fund seed で登録してください。"
        )
        return
    year = int(
        st.selectbox(
            "年度",
            open_years,
            index=open_years.index(default_year(open_years, clock.today_jst())),
            format_func=fiscal_label,
            key="reg_year",
        )
    )
    ceiling = loaders.fund_ceiling(fiscal_year=year)
    _ceiling_metrics(ceiling)
    may_allocate = auth.can(actor, Action.allocate)
    if may_allocate:
        with st.expander("配分を登録する（登録者とは別の幹部・管理者が承認します）", icon=":material/add:"):
            _propose_form(actor, year)
    _pending(actor, year)
    if may_allocate:
        with st.expander("再掲を登録する（金額なしで他の区分にも掲載）", icon=":material/playlist_add:"):
            _relisting(actor, year)
    if auth.can(actor, Action.set_annual_cap):
        with st.expander("年間上限額を設定する（管理者）", icon=":material/lock:"):
            _annual_cap(actor, year, ceiling.annual_cap_yen)


def _ceiling_metrics(ceiling: allocation.Ceiling) -> None:
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(
        "基金の余裕額", format_oku_yen(ceiling.fund_headroom_yen), help=allocation.ceiling_breakdown(ceiling)
    )
    cap = ceiling.annual_cap_yen
    c2.metric(
        "年間上限額（管理者設定）",
        "設定なし" if cap is None else format_oku_yen(cap),
        help=None if cap is None else format_yen(cap),
    )
    c3.metric(
        "登録済みの基金充当額",
        format_oku_yen(ceiling.year_total_yen),
        help=f"承認済み {format_yen(ceiling.approved_total_yen)}、承認待ちを含め {format_yen(ceiling.year_total_yen)}",
    )
    c4.metric("残り", format_oku_yen(ceiling.headroom_yen), help=format_yen(ceiling.headroom_yen))
    st.caption(
        f"{fiscal_label(ceiling.fiscal_year)}の基金の余裕額の内訳：{allocation.ceiling_breakdown(ceiling)}"
    )


@st.fragment
def _propose_form(actor: Actor, year: int) -> None:
    """Reruns alone while it is filled in (the amounts are grouped as they are entered)."""
    leafs = loaders.leaf_categories()
    leaf_labels = dict(zip(leafs["id"], leafs["label"], strict=True))
    project_id = widgets.project_picker("事業", key="reg_project")
    a1, a2 = st.columns(2)
    stage = a1.selectbox(
        "予算の段階", list(BudgetStage), format_func=BUDGET_STAGE.__getitem__, key="reg_stage"
    )
    category_id = a2.selectbox(
        "区分",
        [None, *leaf_labels],
        format_func=lambda c: "事業の主たる区分" if c is None else leaf_labels[c],
        key="reg_category",
    )
    b1, b2 = st.columns(2)
    with b1:
        cost = widgets.sen_yen_input("事業費（千円）", "reg_cost")
    with b2:
        share = widgets.sen_yen_input("基金充当額（千円）", "reg_share")
    if st.button("承認待ちとして登録", icon=":material/send:", type="primary", key="reg_submit"):
        widgets.run_action(
            lambda: allocation.propose_allocation(
                session.engine(),
                actor=actor,
                allocation=allocation.validate_allocation(
                    {
                        "project_id": project_id,
                        "fiscal_year": year,
                        "budget_stage": stage,
                        "category_id": category_id,
                        "project_cost_yen": widgets.typed_yen(cost),
                        "fund_share_yen": widgets.typed_yen(share),
                    }
                ),
            ),
            lambda row: f"配分番号 {row.id} を承認待ちとして登録しました。別の幹部・管理者の承認が必要です。",
        )


def _pending(actor: Actor, year: int) -> None:
    pending = loaders.allocation_frame(fiscal_year=year, status=AllocationStatus.proposed)
    st.subheader("承認待ちの配分")
    if pending.empty:
        st.info("承認待ちの配分はありません。")
        return
    st.dataframe(
        pd.DataFrame(
            {  # the amounts beside the name: on a laptop screen they were pushed off the right edge
                "配分番号": pending["id"],
                "事業名": pending["project"],
                "事業費（千円）": format_sen_yen_series(pending["project_cost_yen"]),
                "基金充当額（千円）": format_sen_yen_series(pending["fund_share_yen"]),
                "段階": pending["stage_label"],
                "所管部局": pending["department"],
                "区分": pending["category"],
                "登録者": pending["proposed_by"],
            }
        ),
        hide_index=True,
        width="stretch",
        column_config=SEN_COLUMNS,
    )
    labels = {
        int(r.id): f"{r.id}: {r.project}（{format_sen_yen(int(r.fund_share_yen))}千円、登録 {r.proposed_by}）"
        for r in pending.itertuples()
    }
    chosen = st.selectbox("対象の配分", list(labels), format_func=labels.__getitem__, key="pending_pick")
    engine = session.engine()
    widgets.approve_or_withdraw(
        actor,
        approve=lambda: allocation.approve_allocation(engine, actor=actor, allocation_id=chosen),
        withdraw=lambda reason: allocation.withdraw_allocation(
            engine, actor=actor, allocation_id=chosen, reason=reason
        ),
        approved=f"配分番号 {chosen} を承認しました。基金の予定取崩しに反映されます。",
        withdrawn=f"配分番号 {chosen} を差し戻しました。",
        keys=("approve_btn", "withdraw_reason", "withdraw_btn"),
    )


def _relisting(actor: Actor, year: int) -> None:
    year_allocs = loaders.allocation_frame(fiscal_year=year)
    if year_allocs.empty:
        st.info("この年度の配分がまだないため、再掲できません。")
        return
    leafs = loaders.leaf_categories()
    leaf_labels = dict(zip(leafs["id"], leafs["label"], strict=True))
    allocated = year_allocs.drop_duplicates("project_id")
    names = dict(zip(allocated["project_id"].astype(int), allocated["project"], strict=True))
    r1, r2 = st.columns(2)
    project_id = r1.selectbox("事業", list(names), format_func=names.__getitem__, key="rel_project")
    category_id = r2.selectbox(
        "再掲する区分", list(leaf_labels), format_func=leaf_labels.__getitem__, key="rel_cat"
    )
    if st.button("再掲を登録", key="rel_btn"):
        widgets.run_action(
            lambda: allocation.add_relisting(
                session.engine(),
                actor=actor,
                project_id=int(project_id),
                fiscal_year=year,
                category_id=int(category_id),
            ),
            "再掲を登録しました。",
        )


def _annual_cap(actor: Actor, year: int, current: int | None) -> None:
    cap_sen = st.number_input(
        "年間上限額（千円）",
        min_value=0,
        step=1_000,
        value=0 if current is None else to_sen_yen(current),
        key="cap_sen",
    )
    reason = st.text_input("理由（監査ログに記録）", key="cap_reason")
    cap_yen = sen_yen_to_yen(int(cap_sen))
    engine = session.engine()
    k1, k2 = st.columns(2)
    if k1.button("上限額を設定", key="cap_set"):
        widgets.run_action(
            lambda: allocation.set_annual_cap(
                engine, actor=actor, fiscal_year=year, cap_yen=cap_yen or None, reason=reason
            ),
            f"{fiscal_label(year)}の年間上限額を {format_sen_yen(cap_yen)}千円 に設定しました。",
        )
    if k2.button("上限額を解除", key="cap_clear", disabled=current is None):
        widgets.run_action(
            lambda: allocation.set_annual_cap(
                engine, actor=actor, fiscal_year=year, cap_yen=None, reason=reason
            ),
            f"{fiscal_label(year)}の年間上限額を解除しました。",
        )
