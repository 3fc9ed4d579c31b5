"""監査ログ: search with filters, export (audited) and the hash-chain check."""

import pandas as pd
import streamlit as st

from fund import admin, clock
from fund.auth import Actor
from fund.errors import FundError
from fund.labels import ENTITY
from ui import session, widgets


def render(actor: Actor) -> None:
    engine = session.engine()
    choices = admin.audit_choices(engine, actor=actor)
    f1, f2, f3, f4 = st.columns([2, 1, 1, 1])
    period = f1.date_input(
        "期間（日本時間）",
        value=admin.default_period(clock.today_jst()),
        key="audit_period",
        format="YYYY/MM/DD",
    )
    who = f2.text_input("利用者（一部で検索）", key="audit_actor", max_chars=60)
    action = widgets.optional_select(
        "操作",
        choices["action"],
        format_func=lambda a: admin.action_label(a) or a,
        key="audit_action",
        where=f3,
    )
    entity = widgets.optional_select(
        "対象", choices["entity"], format_func=lambda e: ENTITY.get(e, e), key="audit_entity", where=f4
    )
    dates = list(period) if isinstance(period, tuple | list) else [period]
    filters = admin.AuditFilters(
        since=dates[0] if dates else None,
        until=dates[1] if len(dates) > 1 else (dates[0] if dates else None),
        actor=who,
        action=action,
        entity=entity,
    )
    try:
        log = admin.audit_search(engine, actor=actor, filters=filters)
    except FundError as exc:
        widgets.show_error(exc)
        log = pd.DataFrame()
    if log.empty:
        st.info("条件に合う記録はありません。期間や条件を広げてください。", icon=":material/info:")
    else:
        st.dataframe(log, hide_index=True, width="stretch", column_order=admin.SCREEN_COLUMNS)
        st.caption(f"新しい順に{len(log):,}件（最大{admin.MAX_ROWS:,}件）。日時は日本時間です。")
    _export(actor, filters, disabled=log.empty)
    _chain(actor)


def _export(actor: Actor, filters: admin.AuditFilters, *, disabled: bool) -> None:
    """Prepared on request: the export is audited, so it is built only when asked for."""
    e1, e2, e3 = st.columns([1, 1, 2])
    for col, fmt, label in ((e1, "xlsx", "Excel（xlsx）を準備"), (e2, "csv", "CSV を準備")):
        if col.button(label, key=f"prepare_{fmt}", icon=":material/download:", disabled=disabled):
            try:
                data = admin.export_audit_log(session.engine(), actor=actor, filters=filters, fmt=fmt)
            except FundError as exc:
                widgets.show_error(exc)
            else:
                st.session_state["audit_export"] = (fmt, data)
    prepared = st.session_state.get("audit_export")
    if prepared:
        fmt, data = prepared
        e3.download_button(
            f"監査ログ（{fmt}）をダウンロード",
            data=data,
            file_name=f"audit_log.{fmt}",
            mime=widgets.MIME[fmt],
            on_click="ignore",
            icon=":material/file_download:",
        )
        st.caption("出力は監査ログに記録されます（利用者・条件・件数）。")


def _chain(actor: Actor) -> None:
    st.subheader("改ざんの検知")
    st.caption(
        "各記録は前の記録と、変更した行（台帳・配分・提案の状態・利用者・年度の決算確定）の内容を、"
        "データベースの外にある鍵で連ねています。記録の書き換えや削除、記録のないデータの変更を検出します。"
    )
    if not st.button("監査ログとデータを検証する", icon=":material/verified:", key="verify_chain"):
        return
    with st.spinner("監査ログとデータを照合しています…"):
        status = admin.chain_status(session.engine(), actor=actor)
    if status.ok:
        st.success(
            f"監査ログ（{status.rows:,}件）と現在のデータは一致しています。", icon=":material/check_circle:"
        )
        return
    shown = status.findings[:50]
    more = (
        f"\n\n（ほか {len(status.findings) - len(shown):,}件）" if len(status.findings) > len(shown) else ""
    )
    st.error(
        f"監査ログと一致しない点が {len(status.findings):,}件 あります（改ざんまたは破損の可能性）。\n\n"
        + "\n".join(f"- {m}" for m in shown)
        + more,
        icon=widgets.ERROR_ICON,
    )
    if status.broken_id is not None:
        st.dataframe(status.broken_row, hide_index=True, width="stretch")
