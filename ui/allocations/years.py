"""The 年度 picker shared by the scenario and optimiser tabs."""

import streamlit as st

from fund import optimiser
from fund.fiscal import fiscal_label
from ui import loaders


def year_picker(key: str) -> int:
    """The 年度 to plan: by default the newest with proposals the optimiser could choose."""
    fiscal_years = loaders.fiscal_years()
    years = [int(y) for y in fiscal_years["year"]]
    open_years = [int(r.year) for r in fiscal_years.itertuples() if not r.closed]
    default = optimiser.default_fiscal_year(loaders.optimiser_years(), open_years=open_years)
    index = years.index(default) if default in years else 0
    return int(st.selectbox("年度", years, index=index, format_func=fiscal_label, key=key))
