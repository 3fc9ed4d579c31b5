"""管理: users, the audit log (filters, export, chain check) and backups. 管理者 only."""

import pandas as pd
import streamlit as st

from fund import admin, auth, backup, clock, reference
from fund.auth import Action
from fund.errors import FundError
from fund.labels import ROLE
from fund.models import Role
from pages import _ui

actor = _ui.require_actor(Action.view_admin)
engine = _ui.engine()

st.title("管理")
_ui.show_flash()
users_tab, audit_tab, backup_tab = st.tabs(["利用者", "監査ログ", "バックアップ"])

with users_tab:
    users = auth.user_frame(engine)
    st.dataframe(users, hide_index=True, width="stretch")

    st.subheader("利用者の追加")
    depts = reference.departments(engine)
    with st.form("add_user"):
        a1, a2 = st.columns(2)
        login = a1.text_input("ログイン名", key="new_login", help="英小文字・数字・記号(._-)、3〜60文字")
        name = a2.text_input("表示名", key="new_name", max_chars=60)
        role = a1.selectbox("役割", list(Role), format_func=lambda r: ROLE[r], key="new_role")
        dept = a2.selectbox(
            "所管部局（事業担当は必須）",
            [None, *depts["name"].tolist()],
            format_func=lambda d: "指定なし" if d is None else d,
            key="new_dept",
        )
        password = st.text_input(
            "初期パスワード（組織アカウントだけで使う場合は空欄）", type="password", key="new_password"
        )
        if st.form_submit_button("追加する", type="primary"):
            try:
                auth.create_user(
                    engine,
                    actor=actor,
                    login=login.strip(),
                    role=role,
                    password=password or None,
                    display_name=name.strip(),
                    department_name=dept,
                )
            except FundError as exc:
                _ui.show_error(exc)
            else:
                _ui.flash(f"利用者「{login.strip()}」を追加しました。")
                st.rerun()

    st.subheader("利用者の変更")
    logins = users["ログイン名"].tolist()
    target = st.selectbox("対象の利用者", logins, key="edit_login")
    if target:
        row = users[users["ログイン名"] == target].iloc[0]
        active = bool(row["有効"])
        c1, c2, c3 = st.columns(3)
        with c1.container(border=True):
            st.markdown("**有効・無効**")
            st.text("現在: " + ("有効" if active else "無効"))
            why = st.text_input("理由", key="active_reason", max_chars=200)
            label = "無効化する" if active else "再び有効にする"
            if st.button(
                label, key="toggle_active", icon=":material/person_off:" if active else ":material/person:"
            ):
                try:
                    auth.set_user_active(engine, actor=actor, login=target, active=not active, reason=why)
                except FundError as exc:
                    _ui.show_error(exc)
                else:
                    _ui.flash(f"利用者「{target}」を{'無効' if active else '有効'}にしました。")
                    st.rerun()
        with c2.container(border=True):
            st.markdown("**パスワードの再設定**")
            new_pw = st.text_input("新しいパスワード", type="password", key="reset_password")
            if st.button("再設定する", key="reset", icon=":material/key:"):
                try:
                    auth.set_password(engine, actor=actor, login=target, new_password=new_pw)
                except FundError as exc:
                    _ui.show_error(exc)
                else:
                    _ui.flash(
                        f"利用者「{target}」のパスワードを再設定しました。本人に安全な方法で伝えてください。"
                    )
                    st.rerun()
        with c3.container(border=True):
            st.markdown("**組織アカウント（SSO）の紐付け**")
            current = row["組織アカウント（SSO）"]
            subject = st.text_input(
                "識別子（sub）またはメールアドレス",
                value=current if isinstance(current, str) else "",
                key="oidc_subject",
                max_chars=auth.OIDC_SUBJECT_MAX,
                help="メールアドレスで登録すると、初回のサインイン時に sub に置き換わります。空欄で解除。",
            )
            if st.button("紐付けを保存する", key="link", icon=":material/link:"):
                try:
                    auth.link_oidc_subject(engine, actor=actor, login=target, subject=subject)
                except FundError as exc:
                    _ui.show_error(exc)
                else:
                    _ui.flash(f"利用者「{target}」の組織アカウントの紐付けを保存しました。")
                    st.rerun()

with audit_tab:
    choices = admin.audit_choices(engine, actor=actor)
    f1, f2, f3, f4 = st.columns([2, 1, 1, 1])
    period = f1.date_input(
        "期間（日本時間）",
        value=admin.default_period(clock.today_jst()),
        key="audit_period",
        format="YYYY/MM/DD",
    )
    who = f2.text_input("利用者（一部で検索）", key="audit_actor", max_chars=60)
    action = f3.selectbox(
        "操作",
        [None, *choices["action"]],
        format_func=lambda a: "すべて" if a is None else f"{admin.ACTION_LABEL.get(a, a)}（{a}）",
        key="audit_action",
    )
    entity = f4.selectbox(
        "対象",
        [None, *choices["entity"]],
        format_func=lambda e: "すべて" if e is None else e,
        key="audit_entity",
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
        _ui.show_error(exc)
        log = pd.DataFrame()
    if log.empty:
        st.info("条件に合う記録はありません。期間や条件を広げてください。", icon=":material/info:")
    else:
        st.dataframe(log, hide_index=True, width="stretch")
        st.caption(f"新しい順に{len(log):,}件（最大{admin.MAX_ROWS:,}件）。日時は日本時間です。")

    e1, e2, e3 = st.columns([1, 1, 2])
    for col, fmt, label in ((e1, "xlsx", "Excel（xlsx）を準備"), (e2, "csv", "CSV を準備")):
        if col.button(label, key=f"prepare_{fmt}", icon=":material/download:", disabled=log.empty):
            try:
                st.session_state["audit_export"] = (
                    fmt,
                    admin.export_audit_log(engine, actor=actor, filters=filters, fmt=fmt),
                )
            except FundError as exc:
                _ui.show_error(exc)
    prepared = st.session_state.get("audit_export")
    if prepared:
        fmt, data = prepared
        e3.download_button(
            f"監査ログ（{fmt}）をダウンロード",
            data=data,
            file_name=f"audit_log.{fmt}",
            mime="text/csv" if fmt == "csv" else None,
            on_click="ignore",
            icon=":material/file_download:",
        )
        st.caption("出力は監査ログに記録されます（利用者・条件・件数）。")

    st.subheader("改ざんの検知")
    st.caption(
        "各記録は前の記録のハッシュ値を含みます。途中の記録が書き換えられると、そこで連鎖が途切れます。"
    )
    if st.button("連鎖を検証する", icon=":material/verified:", key="verify_chain"):
        status = admin.chain_status(engine, actor=actor)
        if status.ok:
            st.success(f"監査ログの連鎖は正常です（{status.rows:,}件）。", icon=":material/check_circle:")
        else:
            st.error(
                f"監査ログの連鎖が番号 {status.broken_id} で途切れています。"
                "この記録またはその直前の記録が改ざん・破損している可能性があります。",
                icon=":material/error:",
            )
            st.dataframe(status.broken_row, hide_index=True, width="stretch")

with backup_tab:
    st.write("データベース全体の一貫したコピー（Parquet 形式と目録 manifest.json）を作成します。")
    st.text(f"保存先: {backup.backup_root()}")
    if st.button("今すぐバックアップ", type="primary", icon=":material/backup:", key="backup_now"):
        with st.status("バックアップを作成しています…", expanded=True) as box:
            bar = st.progress(0.0)

            def show(step: str, done: int, total: int) -> None:
                bar.progress(min(done / max(total, 1), 1.0), text=step)

            try:
                out_dir, manifest = backup.backup_now(engine, actor=actor, progress=show)
            except FundError as exc:
                box.update(label="バックアップに失敗しました", state="error")
                _ui.show_error(exc)
            else:
                rows = sum(manifest.tables.values())
                box.update(label="バックアップを作成しました", state="complete")
                st.success(
                    f"{out_dir.name} に {len(manifest.tables)}表・{rows:,}行を保存しました。",
                    icon=":material/check_circle:",
                )
    st.caption("復元はサーバーで `fund restore フォルダ` を実行します（README の「セキュリティと運用」）。")
