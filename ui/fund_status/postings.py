"""記帳・取消・決算確定 (管理者): each refusal is shown under the field it concerns."""

from datetime import date

import streamlit as st

from fund import allocation, auth, drawdowns, ledger
from fund.auth import Action, Actor
from fund.errors import FundError, InputInvalid
from fund.fiscal import allowed_fiscal_years, fiscal_label, fiscal_year_of
from fund.labels import LEDGER_KIND
from fund.models import DrawdownRequest, LedgerKind
from fund.money import format_yen, parse_yen
from ui import loaders, session, widgets

POST_ERRORS = "ledger_post_errors"
REVERSE_ERRORS = "ledger_reverse_errors"
CLOSE_ERRORS = "ledger_close_errors"
POST_CLEARED = "ledger_post_cleared"
# What one entry says of itself: blank after it is posted, so that the same entry cannot go twice.
POST_ENTRY_KEYS = ("post_amount", "post_memo", "post_unallocated", "post_reason")
POST_FIELDS = (
    "posted_on",
    "fiscal_year",
    "kind",
    "amount_yen",
    "memo",
    "allocation_id",
    "unallocated_reason",
    "project_id",
    "reason",
)


def _refused(key: str, exc: FundError) -> None:
    """Keep the refusal for the rerun, which draws each message under its field."""
    st.session_state[key] = ledger.form_errors(exc)
    st.rerun()


def render(actor: Actor, *, today: date) -> None:
    if auth.can(actor, Action.post_ledger):
        _post(actor, today=today)
        _reverse(actor, today=today)
    if auth.can(actor, Action.close_year):
        _close(actor)
    if not auth.can(actor, Action.post_ledger):
        st.caption("記帳・取消・決算確定は管理者のみが行えます。")


def _post(actor: Actor, *, today: date) -> None:
    st.subheader("記帳（管理者）")
    errors: dict[str, str] = st.session_state.pop(POST_ERRORS, {})
    if st.session_state.pop(POST_CLEARED, False):  # before the widgets: their values can change only then
        for key in POST_ENTRY_KEYS:  # set, not forgotten: only a set value reaches the browser's field
            st.session_state[key] = ""
    with st.columns(2)[0]:  # outside the form: the 年度 and 配分 choices follow the date at once
        posted_on = st.date_input("記帳日", value=today, key="post_date", format="YYYY/MM/DD")
        widgets.field_error(errors, "posted_on")
    years = [int(y) for y in loaders.fiscal_years()["year"]]
    year_options = allowed_fiscal_years(posted_on) if isinstance(posted_on, date) else ()
    back_dated = isinstance(posted_on, date) and fiscal_year_of(posted_on) < fiscal_year_of(today)
    with st.form("ledger_post", clear_on_submit=False):
        p1, p2 = st.columns(2)
        with p1:
            fiscal_year = st.selectbox(
                "年度",
                list(year_options) or years,
                format_func=lambda y: fiscal_label(int(y)),
                key="post_year",
            )
            widgets.field_error(errors, "fiscal_year")
        with p2:
            kind = st.selectbox(
                "区分",
                [k for k in LedgerKind if k != LedgerKind.reversal],
                format_func=LEDGER_KIND.__getitem__,
                key="post_kind",
            )
            widgets.field_error(errors, "kind")
        amount = st.text_input("金額（円）", key="post_amount", placeholder="例: 1000000")
        widgets.field_error(errors, "amount_yen")
        memo = st.text_input("摘要", key="post_memo")
        widgets.field_error(errors, "memo")
        allocation_id = _allocation_picker(tuple(year_options))
        widgets.field_error(errors, "allocation_id")
        unallocated = st.text_input(
            "配分のない取崩しの理由（例外の場合のみ）", key="post_unallocated", max_chars=200
        )
        widgets.field_error(errors, "unallocated_reason")
        project_id = widgets.project_picker(
            "事業（返還など、取崩し以外の場合）", key="post_project", optional=True
        )
        widgets.field_error(errors, "project_id")
        reason = ""
        if back_dated:
            reason = st.text_input("過去の年度の日付で記帳する理由", key="post_reason", max_chars=500)
        widgets.field_error(errors, "reason")
        submitted = st.form_submit_button("記帳する", type="primary")
        for field in set(errors) - set(POST_FIELDS):  # a rule not tied to one field
            widgets.field_error(errors, field)
    if not submitted:
        return
    try:
        entry = drawdowns.post_or_request(
            session.engine(),
            actor=actor,
            entry=ledger.validate_entry(
                {
                    "posted_on": posted_on,
                    "fiscal_year": fiscal_year,
                    "kind": kind,
                    "amount_yen": parse_yen(amount, field="amount_yen"),
                    "memo": memo,
                    "project_id": project_id if kind != LedgerKind.drawdown else None,
                    "allocation_id": allocation_id if kind == LedgerKind.drawdown else None,
                    "unallocated_reason": unallocated,
                    "reason": reason,
                },
                today=today,
            ),
            today=today,
        )
    except FundError as exc:
        _refused(POST_ERRORS, exc)
    else:
        if isinstance(entry, DrawdownRequest):
            widgets.flash(
                f"{entry.needs_approval_because}のため、承認待ち（依頼番号 {entry.id}）として登録しました。"
                "別の幹部または管理者が承認すると記帳されます。"
            )
        else:
            widgets.flash(f"台帳番号 {entry.id} として記帳しました。")
        st.session_state[POST_CLEARED] = True
        st.rerun()


def _allocation_picker(years: tuple[int, ...]) -> int | None:
    """The drawdown's 配分: approved, of the 年度 the date allows, with something left to draw."""
    choices = loaders.allocation_drawn(fiscal_years=years, drawable_only=True)
    if len(choices) > widgets.PICK_LIMIT:
        number = st.number_input(
            "配分番号（取崩しの場合）",
            min_value=1,
            step=1,
            value=None,
            key="post_allocation_id",
            help=f"取崩しできる配分が {len(choices):,}件あるため番号で指定します（年度配分の一覧に表示）。",
        )
        return None if number is None else int(number)
    labels = {
        int(r.id): f"配分番号 {int(r.id)}　{fiscal_label(int(r.fiscal_year))}　{r.project_name}"
        f"（残り {format_yen(int(r.left_yen))}）"
        for r in choices.itertuples()
    }
    picked: int | None = st.selectbox(
        "配分（取崩しの場合）",
        [None, *labels],
        format_func=lambda a: "配分なし" if a is None else labels[a],
        key="post_allocation",
    )
    return picked


def _reverse(actor: Actor, *, today: date) -> None:
    st.subheader("取消（逆仕訳）")
    errors: dict[str, str] = st.session_state.pop(REVERSE_ERRORS, {})
    with st.form("ledger_reverse"):
        q1, q2 = st.columns(2)
        with q1:
            target = st.number_input("取り消す台帳番号", min_value=1, step=1, value=None, key="reverse_id")
            for field in set(errors) - {
                "posted_on",
                "fiscal_year",
                "reason",
            }:  # the entry, or the rule it broke
                widgets.field_error(errors, field)
        with q2:
            reverse_on = st.date_input("取消の記帳日", value=today, key="reverse_date", format="YYYY/MM/DD")
            widgets.field_error(errors, "posted_on")
            widgets.field_error(errors, "fiscal_year")
        reason = st.text_input("取消の理由", key="reverse_reason")
        widgets.field_error(errors, "reason")
        reversed_ = st.form_submit_button("取り消す")
    if not reversed_:
        return
    try:
        if target is None:
            raise InputInvalid({"entry_id": "取り消す台帳番号を入力してください。"})
        rev = ledger.reverse_entry(
            session.engine(),
            actor=actor,
            entry_id=int(target),
            posted_on=reverse_on,
            reason=reason,
            today=today,
        )
    except FundError as exc:
        _refused(REVERSE_ERRORS, exc)
    else:
        widgets.flash(f"台帳番号 {int(target)} を取り消しました（取消の台帳番号 {rev.id}）。")
        st.rerun()


def _close(actor: Actor) -> None:
    st.subheader("決算確定（管理者）")
    open_years = [int(r.year) for r in loaders.fiscal_years().itertuples() if not r.closed]
    if not open_years:
        st.info("決算確定できる年度はありません。", icon=":material/info:")
        return
    errors: dict[str, str] = st.session_state.pop(CLOSE_ERRORS, {})
    with st.form("close_year"):
        target = st.selectbox("決算確定する年度", open_years, format_func=fiscal_label, key="close_year_pick")
        confirm = st.checkbox(
            "確定すると、この年度には記帳できなくなります（取り消せません）。", key="close_confirm"
        )
        clicked = st.form_submit_button("決算確定する")
        for field in errors:
            widgets.field_error(errors, field)
    if not clicked:
        return
    if not confirm:
        _refused(CLOSE_ERRORS, InputInvalid({"confirm": "確認のチェックを入れてください。"}))
    widgets.run_action(
        lambda: allocation.close_year(session.engine(), actor=actor, fiscal_year=int(target)),
        lambda lapses: (
            f"{fiscal_label(int(target))}を決算確定しました。不用額 {len(lapses)}件 "
            f"{format_yen(sum(x.fund_delta_yen for x in lapses))}（余裕額に戻ります）。"
        ),
    )
