"""サインイン: the organisation account (OIDC via st.login) when configured, otherwise local accounts."""

import streamlit as st

from fund import auth, clock
from fund.errors import FundError
from ui import session

st.title("山口県デジタル実装推進基金 管理ダッシュボード")
reason = st.session_state.pop("sign_out_reason", None)
if reason:
    st.info(reason, icon=":material/info:")

if session.sso_enabled():
    st.subheader("サインイン")
    if st.user.is_logged_in:
        claims = st.user.to_dict()
        try:
            verified = claims.get("email_verified")
            actor = auth.actor_for_oidc(
                session.engine(),
                subject=str(claims.get("sub") or ""),
                email=str(claims.get("email") or "") or None,
                email_verified=None if verified is None else bool(verified),
            )
        except FundError as exc:
            st.error(exc.message, icon=":material/person_off:")
            st.button("別のアカウントでサインインし直す", icon=":material/logout:", on_click=st.logout)
        else:
            issued = clock.from_timestamp(claims.get("iat"))
            ended = session.restored_problem(actor, issued)  # an identity cookie from before a sign-out
            if ended is None:
                session.sign_in(actor, via_sso=True, identity_issued_at=issued)
                st.rerun()
            st.info(ended, icon=":material/info:")
            st.button("組織アカウントでサインインし直す", icon=":material/login:", on_click=st.logout)
    else:
        st.write("組織アカウント（シングルサインオン）でサインインします。")
        provider = session.sso_provider()
        if st.button("組織アカウントでサインイン", type="primary", icon=":material/login:"):
            if provider:
                st.login(provider)
            else:
                st.login()
        st.caption(
            "利用登録がない場合はサインイン後に案内が表示されます。利用登録は管理者に依頼してください。"
        )
else:
    with st.form("sign_in"):
        st.subheader("サインイン")
        login = st.text_input("ログイン名", key="login_name")
        password = st.text_input("パスワード", type="password", key="login_password")
        submitted = st.form_submit_button("サインイン", type="primary")

    if submitted:
        try:
            actor = auth.authenticate(
                session.engine(), login=login.strip(), password=password, client=st.context.ip_address or ""
            )
        except FundError as exc:
            st.error(exc.message, icon=":material/error:")
        else:
            session.sign_in(actor)
            st.rerun()

    st.caption("初回の管理者パスワードは、`fund init`（`make run`）を実行した端末に一度だけ表示されます。")
