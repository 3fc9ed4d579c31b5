"""The filters above every KPI tab and the status counts they select."""

from dataclasses import dataclass
from datetime import date

import streamlit as st

from fund import auth, kpi
from fund.auth import Actor
from fund.fiscal import fiscal_label
from fund.labels import PERSPECTIVE
from fund.models import KpiStatus
from ui import loaders, widgets


@dataclass(frozen=True)
class KpiView:
    """What the filters chose, for the tabs below them."""

    where: kpi.KpiFilter
    total: int  # indicator-years that match
    labels: dict[str, object]  # the filters in Japanese, for the audit of a download


def render(actor: Actor, *, today: date) -> KpiView | None:
    """The filters and the status counts; None (with a message) when there are no indicators."""
    years, departments = loaders.kpi_filter_options(actor=actor)
    if not years:
        st.info("登録された成果指標はありません。", icon=":material/info:")
        return None
    f1, f2, f3, f4 = st.columns(4)
    year = widgets.optional_select(
        "年度", years, format_func=fiscal_label, all_label="すべての年度", key="kpi_year", where=f1
    )
    department = widgets.optional_select(
        "所管部局", departments, all_label="すべての部局", key="kpi_dept", where=f2
    )
    perspective = widgets.optional_select(
        "県民実感の観点",
        list(PERSPECTIVE),
        format_func=lambda p: f"{p} {PERSPECTIVE[p]}",
        all_label="すべての観点",
        key="kpi_perspective",
        where=f3,
    )
    status = widgets.optional_select(
        "状況",
        [s.value for s in KpiStatus],
        format_func=kpi.status_label,
        all_label="すべての状況",
        key="kpi_status",
        where=f4,
    )
    where = kpi.KpiFilter(
        fiscal_year=year,
        department=department,
        perspective=perspective,
        status=status,
    )
    counts = loaders.kpi_status_counts(actor=actor, today=today, where=where)
    for col, s in zip(st.columns(len(KpiStatus)), KpiStatus, strict=True):
        col.metric(kpi.status_label(s.value), f"{counts[s.value]:,}件")
    with st.expander("判定のルール", icon=":material/rule:"):
        st.text(kpi.STATUS_RULE)
        st.text(kpi.PATH_RULE)
        st.text("件数は「指標×年度」の数です。「サンプル」は動作確認用の例示データの実績です。")
    labels: dict[str, object] = {
        "年度": year,
        "所管部局": department or ("自部局" if auth.department_scope(actor) is not None else None),
        "観点": perspective,
        "状況": kpi.status_label(status) if status else None,
    }
    return KpiView(where=where, total=sum(counts.values()), labels=labels)
