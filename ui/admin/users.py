"""利用者: the user list, adding a user, and changing one (active, password, SSO link, role and 所管部局)."""

import pandas as pd
import streamlit as st

from fund import auth
from fund.auth import Actor
from fund.labels import ROLE
from fund.models import Role
from ui import loaders, session, widgets


def render(actor: Actor) -> None:
    engine = session.engine()
    users = auth.user_frame(engine)  # never cached: the administrator must see every change at once
    st.dataframe(auth.user_table(users), hide_index=True, width="stretch")
    st.subheader("利用者の追加")
    _add(actor)
    st.subheader("利用者の変更")
    login = st.selectbox("対象の利用者", users["login"].tolist(), key="edit_login")
    if login:
        row = users[users["login"] == login].iloc[0]
        _change(actor, row)
        _role(actor, row)


def _add(actor: Actor) -> None:
    departments = loaders.departments()["name"].tolist()
    with st.form("add_user"):
        a1, a2 = st.columns(2)
        login = a1.text_input("ログイン名", key="new_login", help="英小文字・数字・記号(._-)、3〜60文字")
        name = a2.text_input("表示名", key="new_name", max_chars=auth.DISPLAY_NAME_MAX)
        role = a1.selectbox("役割", list(Role), format_func=ROLE.__getitem__, key="new_role")
        dept = a2.selectbox(
            "所管部局（事業担当は必須）",
            [None, *departments],
            format_func=lambda d: "指定なし" if d is None else d,
            key="new_dept",
        )
        password = st.text_input(
            "初期パスワード（組織アカウントだけで使う場合は空欄）", type="password", key="new_password"
        )
        if st.form_submit_button("追加する", type="primary"):
            widgets.run_action(
                lambda: auth.create_user(
                    session.engine(),
                    actor=actor,
                    login=login.strip(),
                    role=Role(role),
                    password=password or None,
                    display_name=name.strip(),
                    department_name=dept,
                ),
                f"利用者「{login.strip()}」を追加しました。",
            )


def _change(actor: Actor, row: pd.Series) -> None:
    engine = session.engine()
    login = str(row["login"])
    active = bool(row["active"])
    c1, c2, c3 = st.columns(3)
    with c1.container(border=True):
        st.markdown("**有効・無効**")
        st.text("現在: " + ("有効" if active else "無効"))
        why = st.text_input("理由", key="active_reason", max_chars=200)
        label = "無効化する" if active else "再び有効にする"
        if st.button(
            label, key="toggle_active", icon=":material/person_off:" if active else ":material/person:"
        ):
            widgets.run_action(
                lambda: auth.set_user_active(engine, actor=actor, login=login, active=not active, reason=why),
                f"利用者「{login}」を{'無効' if active else '有効'}にしました。",
            )
    with c2.container(border=True):
        st.markdown("**パスワードの再設定**")
        new_pw = st.text_input("新しいパスワード", type="password", key="reset_password")
        if st.button("再設定する", key="reset", icon=":material/key:"):
            widgets.run_action(
                lambda: auth.set_password(engine, actor=actor, login=login, new_password=new_pw),
                f"利用者「{login}」のパスワードを再設定しました。本人に安全な方法で伝えてください。",
            )
    with c3.container(border=True):
        st.markdown("**組織アカウントの紐付け**")
        subject = st.text_input(
            "組織アカウントの識別子またはメールアドレス",
            value=str(row["oidc_subject"]),
            key="oidc_subject",
            max_chars=auth.OIDC_SUBJECT_MAX,
            help="メールアドレスで登録すると、初回のサインイン時に組織アカウントの識別子に置き換わります。空欄で解除。",
        )
        if st.button("紐付けを保存する", key="link", icon=":material/link:"):
            widgets.run_action(
                lambda: auth.link_oidc_subject(engine, actor=actor, login=login, subject=subject),
                f"利用者「{login}」の組織アカウントの紐付けを保存しました。",
            )


def _role(actor: Actor, row: pd.Series) -> None:
    """A transfer or a new duty: the role and 所管部局 change, the user's open sessions end."""
    login = str(row["login"])
    departments = loaders.departments()["name"].tolist()
    with st.container(border=True):
        st.markdown(
            "**役割・所管部局の変更**（人事異動など。変更すると本人の開いている画面はサインアウトします）"
        )
        r1, r2, r3 = st.columns([1, 1, 2])
        roles = list(Role)
        role = r1.selectbox(
            "新しい役割",
            roles,
            index=roles.index(Role(row["role"])),
            format_func=ROLE.__getitem__,
            key=f"role_{login}",
        )
        choices = [None, *departments]
        dept = r2.selectbox(
            "新しい所管部局（事業担当は必須）",
            choices,
            index=choices.index(row["department"]) if row["department"] in choices else 0,
            format_func=lambda d: "指定なし" if d is None else d,
            key=f"role_dept_{login}",
        )
        why = r3.text_input("理由（監査ログに記録）", key=f"role_reason_{login}", max_chars=500)
        if st.button("役割・所管部局を変更する", key="change_role", icon=":material/badge:"):
            widgets.run_action(
                lambda: auth.set_user_role(
                    session.engine(),
                    actor=actor,
                    login=login,
                    role=Role(role),
                    department_name=dept,
                    reason=why,
                ),
                f"利用者「{login}」の役割・所管部局を変更しました（{ROLE[Role(role)]}、{dept or '所管部局なし'}）。",
            )
