"""The few rules of look that Streamlit has no setting for, as inline CSS (nothing loads from outside)."""

import streamlit as st

# A metric's figure and label are cut with 「…」 when wider than their column (「16億7,800…」 in four
# columns on a 1366-pixel laptop): the figure is drawn a little smaller on narrow windows, and both
# wrap rather than cut.
_CSS = """<style>
[data-testid="stMetricValue"] { font-size: clamp(1.5rem, 1.9vw, 2.25rem); }
[data-testid="stMetricValue"] > div,
[data-testid="stMetricLabel"] [data-testid="stMarkdownContainer"],
[data-testid="stMetricLabel"] p { white-space: normal; overflow-wrap: anywhere; text-overflow: clip; }
</style>"""


def install() -> None:
    st.html(_CSS)
