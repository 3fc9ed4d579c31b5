"""The frame: page config, the menu built per role, the signed-in user in the sidebar."""

from pathlib import Path

import streamlit as st

from fund.auth import Action, can
from ui import japanese, look, session

# The tab's icon is a file served by the app: a Material icon here would be fetched from Google's font
# server on every page, which a closed network (LGWAN) cannot reach.
st.set_page_config(
    page_title="デジタル実装推進基金 管理ダッシュボード",
    page_icon=str(Path(__file__).parent / "assets" / "favicon.png"),
    layout="wide",
)

PAGES = [
    # (file, title, icon, permission)
    ("pages/home.py", "ホーム", ":material/home:", Action.view_home),
    ("pages/fund_status.py", "基金の状況", ":material/account_balance:", Action.view_fund),
    ("pages/proposals.py", "事業提案", ":material/description:", Action.view_proposals),
    ("pages/screening.py", "審査・採点", ":material/fact_check:", Action.view_screening),
    ("pages/allocations.py", "年度配分", ":material/table_view:", Action.view_allocations),
    ("pages/kpi.py", "成果指標", ":material/monitoring:", Action.view_kpi),
    ("pages/admin.py", "管理", ":material/admin_panel_settings:", Action.view_admin),
    ("pages/account.py", "アカウント", ":material/person:", Action.view_home),
]

japanese.install()
look.install()
session.engine()  # opens (and on first start seeds) the database, or stops with a message
actor = session.current_actor()

if actor is None:
    # Every page's address opens the sign-in, so that a reload, a typed address or a bookmark shows
    # it (not Streamlit's English "Page not found") and, once signed in, the page asked for.
    doors = [
        st.Page(
            "pages/login.py", title="サインイン", url_path=path.removeprefix("pages/").removesuffix(".py")
        )
        for path, *_ in PAGES
        if path != "pages/home.py"
    ]
    pg = st.navigation(
        [st.Page("pages/login.py", title="サインイン", icon=":material/login:", default=True), *doors],
        position="hidden",
    )
else:
    allowed = [
        st.Page(path, title=title, icon=icon, default=(path == "pages/home.py"))
        for path, title, icon, action in PAGES
        if can(actor, action)
    ]
    pg = st.navigation(allowed)
    with st.sidebar:
        st.text(f"{actor.display_name or actor.login}（{actor.role_label}）")  # user text: never markdown
        if st.button("サインアウト", icon=":material/logout:"):
            if session.sign_out():
                st.stop()  # the browser goes to the provider's sign-out page
            st.rerun()

pg.run()
