"""管理: users, the audit log (filters, export, chain check) and backups. 管理者 only."""

import streamlit as st

from fund.auth import Action
from ui import session, widgets
from ui.admin import audit_log, backups, users

actor = session.require_actor(Action.view_admin)

st.title("管理")
widgets.show_flash()
users_tab, audit_tab, backup_tab = st.tabs(["利用者", "監査ログ", "バックアップ"])
with users_tab:
    users.render(actor)
with audit_tab:
    audit_log.render(actor)
with backup_tab:
    backups.render(actor)
