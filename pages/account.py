"""アカウント: who am I, and changing one's own password (every role)."""

import streamlit as st

from fund import auth
from fund.auth import Action
from fund.errors import FundError, InputInvalid
from fund.settings import get_settings
from ui import session, widgets

actor = session.require_actor(Action.view_home)
engine = session.engine()

st.title("アカウント")
widgets.show_flash()
settings = get_settings()

info = st.container(border=True)
info.text(f"ログイン名: {actor.login}")  # user text: plain text only
info.text(f"表示名: {actor.display_name or actor.login}")
info.text(f"役割: {actor.role_label}")
st.caption(
    f"{settings.idle_timeout_minutes}分間操作がないと、またはサインインから{settings.absolute_timeout_hours}時間で"
    "自動的にサインアウトします。"
)

st.subheader("パスワードの変更")
if not auth.uses_local_password(engine, login=actor.login):
    st.info(
        "このアカウントは組織アカウント（シングルサインオン）でサインインします。パスワードは組織の仕組みで管理されています。",
        icon=":material/info:",
    )
else:
    with st.form("change_password", clear_on_submit=True):
        current = st.text_input("現在のパスワード", type="password", key="current_password")
        new = st.text_input(
            "新しいパスワード",
            type="password",
            key="new_password",
            help=f"{settings.password_min_length}文字以上。英字と数字などを組み合わせてください。",
        )
        again = st.text_input("新しいパスワード（確認）", type="password", key="new_password_again")
        submitted = st.form_submit_button("変更する", type="primary")
    if submitted:
        try:
            if new != again:
                raise InputInvalid({"again": "確認用のパスワードが一致しません。"})
            auth.change_own_password(engine, actor=actor, current_password=current, new_password=new)
        except FundError as exc:
            widgets.show_error(exc)
        else:
            session.renew()  # this session goes on; every other one ends
            widgets.flash("パスワードを変更しました。ほかの端末のサインインは終了しました。")
            st.rerun()
