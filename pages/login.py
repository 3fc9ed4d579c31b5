"""サインイン: local accounts (the embedded default)."""

import streamlit as st

from fund import auth
from fund.errors import FundError
from pages import _ui

st.title("山口県デジタル実装推進基金 管理ダッシュボード")
reason = st.session_state.pop("sign_out_reason", None)
if reason:
    st.info(reason)

with st.form("sign_in"):
    st.subheader("サインイン")
    login = st.text_input("ログイン名", key="login_name")
    password = st.text_input("パスワード", type="password", key="login_password")
    submitted = st.form_submit_button("サインイン", type="primary")

if submitted:
    try:
        actor = auth.authenticate(_ui.engine(), login=login.strip(), password=password)
    except FundError as exc:
        st.error(exc.message)
    else:
        _ui.sign_in(actor)
        st.rerun()

st.caption("初回起動時の管理者パスワードは、アプリを起動した端末に一度だけ表示されます。")
