"""基金の健全性: the four fund-health signals of the national 基金シート."""

from datetime import date

import streamlit as st

from fund import projection

ICON = {
    projection.Level.ok: ":material/check_circle:",
    projection.Level.caution: ":material/warning:",
    projection.Level.alert: ":material/error:",
}


def render(fig: projection.Figures, *, today: date) -> None:
    st.subheader("基金の健全性")
    for col, sig in zip(st.columns(2) * 2, projection.signals(fig, today=today), strict=True):
        with col:
            text = f"{sig.name}：{sig.value}（{projection.LEVEL_LABEL[sig.level]}）  \n{sig.explanation}"
            if sig.level == projection.Level.ok:
                st.success(text, icon=ICON[sig.level])
            else:
                st.warning(text, icon=ICON[sig.level])
