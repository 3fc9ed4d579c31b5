"""承認待ちの取崩し: a second person approves (posts) or sends back each one; 管理者 sets the threshold."""

import pandas as pd
import streamlit as st

from fund import auth, drawdowns, ledger
from fund.auth import Action, Actor
from fund.errors import FundError
from fund.fiscal import wareki
from fund.money import format_yen_series, parse_yen
from ui import loaders, session, widgets

THRESHOLD_ERRORS = "drawdown_threshold_errors"


def render(actor: Actor) -> None:
    if not auth.can(actor, Action.approve_drawdown):
        return
    st.subheader("承認待ちの取崩し")
    st.caption(
        "配分のない取崩しと承認基準額を超える取崩しは、記帳した人とは別の幹部または管理者が承認すると"
        f"記帳されます。承認基準額: {loaders.drawdown_threshold_text()}。"
    )
    pending = loaders.pending_drawdowns()
    if pending.empty:
        st.info("承認待ちの取崩しはありません。", icon=":material/info:")
    else:
        shown = pending.assign(
            年度=[wareki(int(y)) for y in pending["年度"]],
            **{"金額（円）": format_yen_series(pending["金額（円）"])},
            配分番号=["なし" if pd.isna(v) else str(int(v)) for v in pending["配分番号"]],
        )
        st.dataframe(
            shown.drop(columns=["事業"] if not shown["事業"].any() else []), hide_index=True, width="stretch"
        )
        request_id = st.selectbox(
            "承認依頼",
            [int(v) for v in pending["依頼番号"]],
            format_func=lambda v: f"依頼番号 {v}",
            key="drawdown_request_pick",
        )
        engine = session.engine()
        widgets.approve_or_withdraw(
            actor,
            approve=lambda: drawdowns.approve(engine, actor=actor, request_id=request_id),
            withdraw=lambda reason: drawdowns.reject(
                engine, actor=actor, request_id=request_id, reason=reason
            ),
            approved=lambda row: f"依頼番号 {request_id} を承認し、台帳番号 {row.id} として記帳しました。",
            withdrawn=f"依頼番号 {request_id} を差し戻しました（記帳していません）。",
            keys=("drawdown_approve", "drawdown_reject_reason", "drawdown_reject"),
            approving=Action.approve_drawdown,
        )
    if auth.can(actor, Action.set_drawdown_threshold):
        _threshold(actor)


def _threshold(actor: Actor) -> None:
    errors: dict[str, str] = st.session_state.pop(THRESHOLD_ERRORS, {})
    with (
        st.expander("承認基準額の設定（管理者）", icon=":material/tune:", expanded=bool(errors)),
        st.form("drawdown_threshold"),
    ):
        amount = st.text_input(
            "承認基準額（円、空欄で基準額なし）",
            key="drawdown_threshold_yen",
            placeholder="例: 50,000,000",
        )
        widgets.field_error(errors, "threshold_yen")
        reason = st.text_input("設定の理由", key="drawdown_threshold_reason", max_chars=500)
        widgets.field_error(errors, "reason")
        saved = st.form_submit_button("設定する")
    if not saved:
        return
    try:
        threshold = parse_yen(amount, field="threshold_yen") if amount.strip() else None
        drawdowns.set_threshold(session.engine(), actor=actor, threshold_yen=threshold, reason=reason)
    except FundError as exc:
        st.session_state[THRESHOLD_ERRORS] = ledger.form_errors(exc)
        st.rerun()
    widgets.flash("取崩しの承認基準額を設定しました。")
    st.rerun()
