"""管理: users and the audit log."""

import streamlit as st

from fund import audit, auth, reference
from fund.auth import Action
from fund.errors import FundError
from fund.labels import ROLE
from fund.models import Role
from pages import _ui

actor = _ui.require_actor(Action.view_admin)
engine = _ui.engine()

st.title("管理")
_ui.show_flash()
users_tab, audit_tab = st.tabs(["利用者", "監査ログ"])

with users_tab:
    users = auth.user_frame(engine)
    st.dataframe(users, hide_index=True, width="stretch")
    st.subheader("利用者の追加")
    depts = reference.departments(engine)
    with st.form("add_user"):
        a1, a2 = st.columns(2)
        login = a1.text_input("ログイン名", key="new_login", help="英小文字・数字・記号(._-)、3〜60文字")
        name = a2.text_input("表示名", key="new_name")
        role = a1.selectbox("役割", list(Role), format_func=lambda r: ROLE[r], key="new_role")
        dept = a2.selectbox(
            "所管部局（事業担当は必須）",
            [None, *depts["name"].tolist()],
            format_func=lambda d: "指定なし" if d is None else d,
            key="new_dept",
        )
        password = st.text_input("初期パスワード", type="password", key="new_password")
        if st.form_submit_button("追加する", type="primary"):
            try:
                auth.create_user(
                    engine,
                    actor=actor,
                    login=login.strip(),
                    role=role,
                    password=password,
                    display_name=name.strip(),
                    department_name=dept,
                )
            except FundError as exc:
                _ui.show_error(exc)
            else:
                _ui.flash(f"利用者「{login.strip()}」を追加しました。")
                st.rerun()

with audit_tab:
    log = audit.audit_frame(engine)
    st.dataframe(log, hide_index=True, width="stretch")
    st.caption(f"新しい順に最大500件を表示（{len(log)}件）。")
