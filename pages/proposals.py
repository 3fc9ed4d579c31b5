"""事業提案: the list with filters and the detail, the intake form, and the bulk upload (様式)."""

import streamlit as st

from fund import auth
from fund.auth import Action
from ui import loaders, session, widgets
from ui.proposals import bulk, form, listing

actor = session.require_actor(Action.view_proposals)

st.title("事業提案")
widgets.show_flash()
if auth.department_scope(actor) is not None:
    st.caption("事業担当は自部局の提案のみ表示・作成できます。")

depts = loaders.departments()
departments = dict(zip(depts["id"].astype(int), depts["name"], strict=True))
if auth.can(actor, Action.create_proposal):
    listing_tab, form_tab, bulk_tab = st.tabs(["一覧", "新規提案", "一括登録"])
    with listing_tab:
        listing.render(actor, departments=departments)
    with form_tab:
        form.render(actor, departments=departments)
    with bulk_tab:
        bulk.render(actor)
else:
    (listing_tab,) = st.tabs(["一覧"])
    with listing_tab:
        listing.render(actor, departments=departments)
