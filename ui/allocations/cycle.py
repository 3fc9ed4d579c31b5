"""補正・繰越: an approved allocation's figures and history, its 補正 and 繰越, and their approval."""

import pandas as pd
import streamlit as st

from fund import allocation, auth, clock
from fund.auth import Action, Actor
from fund.fiscal import executing_year, fiscal_label
from fund.labels import ALLOCATION_CHANGE, ALLOCATION_STATUS, ALLOCATION_STEP, BUDGET_STAGE
from fund.models import AllocationChangeKind, AllocationStatus, AllocationStep, BudgetStage
from fund.money import format_sen_yen, format_yen
from ui import loaders, session, widgets


def render(actor: Actor) -> None:
    open_years = [int(r.year) for r in loaders.fiscal_years().itertuples() if not r.closed]
    if not open_years:
        st.info("決算確定前の年度がありません。")
        return
    year = int(
        st.selectbox(
            "年度",
            open_years,
            index=open_years.index(executing_year(open_years, clock.today_jst())),
            format_func=fiscal_label,
            key="cyc_year",
        )
    )
    _pending(actor, year)
    rows = loaders.allocation_drawn(fiscal_years=(year,))
    rows = rows[rows["status"] == AllocationStatus.approved.value]
    st.subheader("承認済みの配分")
    if rows.empty:
        st.info(f"{fiscal_label(year)}には承認済みの配分がありません。")
        return
    # Only what never changes goes in the label: a choice's label is not redrawn when its figures move.
    labels = {int(r.id): f"{r.id}: {r.project_name}" for r in rows.itertuples()}
    chosen = int(st.selectbox("配分", list(labels), format_func=labels.__getitem__, key="cyc_alloc"))
    row = rows.set_index("id").loc[chosen]
    m1, m2, m3, m4 = st.columns(4)
    for box, label, yen in (
        (m1, "基金充当額（補正後）", row["fund_share_yen"]),
        (m2, "取崩し済み", row["drawn_yen"]),
        (m3, "翌年度へ繰越", row["carried_yen"]),
        (m4, "残り（未執行）", row["left_yen"]),
    ):
        box.metric(f"{label}（千円）", format_sen_yen(int(yen)), help=format_yen(int(yen)))
    _history(chosen)
    if auth.can(actor, Action.allocate):
        with st.expander(
            "補正を登録する（増額・減額、0円で取消。別の幹部・管理者が承認）", icon=":material/edit:"
        ):
            _revise_form(actor, chosen, int(row["fund_share_yen"]), int(row["project_cost_yen"]))
        with st.expander(
            f"{fiscal_label(year + 1)}へ繰り越す（未執行額の一部、理由が必要）", icon=":material/redo:"
        ):
            _carry_form(actor, chosen, int(row["left_yen"]))


def _history(allocation_id: int) -> None:
    steps = loaders.allocation_history(allocation_id=allocation_id)
    at = pd.to_datetime(steps["at"], utc=True).dt.tz_convert("Asia/Tokyo").dt.strftime("%Y-%m-%d")
    st.markdown("**この配分の履歴**")
    st.dataframe(
        pd.DataFrame(
            {
                "日付": at,
                "段階": [ALLOCATION_STEP[AllocationStep(s)] for s in steps["step"]],
                "金額": [format_yen(int(v)) for v in steps["amount_yen"]],
                "状態": [
                    ALLOCATION_STATUS[AllocationStatus(v)] if v else "" for v in steps["status"].fillna("")
                ],
                "登録者": steps["by"],
                "承認者": steps["approved_by"].fillna(""),
                "摘要・理由": [
                    _note(s, n) for s, n in zip(steps["step"], steps["note"].fillna(""), strict=True)
                ],
            }
        ),
        hide_index=True,
        width="stretch",
        column_config={"金額": st.column_config.TextColumn(alignment="right")},
    )


def _note(step: str, note: str) -> str:
    """The budget step's note is its stage (当初予算・補正予算); a 前年度 繰越 names its allocation and
    a 要求 its proposal."""
    if step == AllocationStep.budget.value and note:
        return f"{BUDGET_STAGE[BudgetStage(note)]}予算"
    if step == AllocationStep.carried_in.value and note:
        return f"配分番号 {note} から"
    if step == AllocationStep.request.value and note:
        return f"提案番号 {note}"
    return note


def _revise_form(actor: Actor, allocation_id: int, share: int, cost: int) -> None:
    with st.form("cyc_revise_form"):
        r1, r2 = st.columns(2)
        new_share = r1.number_input(
            "補正後の基金充当額（円）", min_value=0, step=1_000, value=share, key="cyc_share"
        )
        new_cost = r2.number_input(
            "補正後の事業費（円）", min_value=0, step=1_000, value=cost, key="cyc_cost"
        )
        reason = st.text_input("補正の理由（例：9月補正・入札差金）", key="cyc_revise_reason")
        if st.form_submit_button("補正を登録", icon=":material/send:", type="primary"):
            widgets.run_action(
                lambda: allocation.revise_allocation(
                    session.engine(),
                    actor=actor,
                    allocation_id=allocation_id,
                    fund_share_yen=int(new_share),
                    project_cost_yen=int(new_cost),
                    reason=reason,
                ),
                lambda c: (
                    f"配分番号 {allocation_id} の補正（{format_yen(c.fund_delta_yen)}）を承認待ちとして登録しました。"
                ),
            )


def _carry_form(actor: Actor, allocation_id: int, left: int) -> None:
    with st.form("cyc_carry_form"):
        amount = st.number_input(
            "繰越額（円）",
            min_value=0,
            step=1_000,
            value=0,
            help=f"未執行額は {format_yen(left)}",
            key="cyc_carry",
        )
        reason = st.text_input("繰越の理由（例：資材納期の遅れ）", key="cyc_carry_reason")
        if st.form_submit_button("繰越を登録", icon=":material/send:", type="primary"):
            widgets.run_action(
                lambda: allocation.carry_over(
                    session.engine(),
                    actor=actor,
                    allocation_id=allocation_id,
                    amount_yen=int(amount),
                    reason=reason,
                ),
                f"配分番号 {allocation_id} の繰越 {int(amount):,}円 を承認待ちとして登録しました。",
            )


def _pending(actor: Actor, year: int) -> None:
    pending = loaders.pending_changes(fiscal_year=year)
    st.subheader(f"{fiscal_label(year)}の承認待ちの補正・繰越")
    if pending.empty:
        st.info("承認待ちの補正・繰越はありません。")
        return
    st.dataframe(
        pd.DataFrame(
            {
                "変更番号": pending["change_id"],
                "配分番号": pending["allocation_id"],
                "事業名": pending["project"],
                "種類": [ALLOCATION_CHANGE[AllocationChangeKind(k)] for k in pending["kind"]],
                "金額": [format_yen(int(v)) for v in pending["fund_delta_yen"]],
                "登録者": pending["requested_by"],
                "理由": pending["reason"],
            }
        ),
        hide_index=True,
        width="stretch",
        column_config={"金額": st.column_config.TextColumn(alignment="right")},
    )
    labels = {
        int(r.change_id): f"{r.change_id}: {r.project}（{ALLOCATION_CHANGE[AllocationChangeKind(r.kind)]}、"
        f"登録 {r.requested_by}）"
        for r in pending.itertuples()
    }
    chosen = int(
        st.selectbox("対象の補正・繰越", list(labels), format_func=labels.__getitem__, key="cyc_pick")
    )
    engine = session.engine()
    widgets.approve_or_withdraw(
        actor,
        approve=lambda: allocation.approve_change(engine, actor=actor, change_id=chosen),
        withdraw=lambda reason: allocation.withdraw_change(
            engine, actor=actor, change_id=chosen, reason=reason
        ),
        approved=f"変更番号 {chosen} を承認しました。余裕額と見通しに反映されます。",
        withdrawn=f"変更番号 {chosen} を差し戻しました。",
        keys=("cyc_approve", "cyc_withdraw_reason", "cyc_withdraw"),
    )
