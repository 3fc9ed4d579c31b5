"""年度別増減 and 基金台帳: the roll-forward in 千円 and the ledger with filters, each downloadable."""

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from fund import export, ledger, projection
from fund.auth import Actor
from fund.fiscal import fiscal_label, wareki
from fund.labels import LEDGER_KIND
from fund.models import LedgerKind
from fund.money import format_sen_yen_series, format_yen_series
from ui import loaders, session, widgets


def _readable(entries: pd.DataFrame) -> pd.DataFrame:
    """The ledger as the roll-forward shows it: 年度 in 和暦, ▲ for what leaves the fund."""
    return entries.assign(
        年度=[wareki(int(y)) for y in entries["年度"]],
        **{"金額（円）": format_yen_series(entries["金額（円）"])},
    )


def _downloads(
    actor: Actor, build: Callable[[str], bytes], *, what: str, rows: int, filters: dict[str, Any], key: str
) -> None:
    """Excel and CSV buttons; the download is audited with the filters when it is fetched."""
    engine = session.engine()

    def record(fmt: str) -> None:
        export.record_export(engine, actor=actor, what=what, filters=filters | {"形式": fmt}, rows=rows)

    widgets.download_pair(
        build, file_stem=what, key=key, on_download=record, disabled=rows == 0, widths=(1, 1, 2)
    )


def render_roll_forward(actor: Actor, fig: projection.Figures) -> None:
    st.subheader("年度別増減（単位：千円）")
    rf = ledger.roll_forward_export(fig.roll_forward)
    if rf.empty:
        st.info("記帳はまだありません。", icon=":material/info:")
        return
    table = pd.DataFrame({"年度": rf["和暦"]})
    for name in ledger.ROLL_FORWARD_AMOUNTS:
        table[f"{name}（千円）"] = format_sen_yen_series(rf[name])
    table["推計"] = rf["推計"]
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption(
        "年度末残高 = 前年度末残高 + 積立 + 運用益 + 返還等 − 取崩し。取消（逆仕訳）は元の区分から差し引いています。"
        "「推計を含む」の年度は、資料に記載がなく金額または日付に前提を置いた記帳を含みます。"
    )
    _downloads(
        actor,
        lambda fmt: ledger.export_bytes(
            rf, fmt=fmt, sheet_name="基金_年度別増減", title="基金の年度別増減（単位：千円）", sen_yen=True
        ),
        what="基金_年度別増減",
        rows=len(rf),
        filters={},
        key="dl_rollforward",
    )


def render_ledger(actor: Actor) -> None:
    st.subheader("基金台帳")
    years = [int(y) for y in loaders.fiscal_years()["year"]]
    depts = loaders.departments()
    dept_names = dict(zip(depts["id"], depts["name"], strict=True))
    f1, f2, f3, f4 = st.columns(4)
    year = widgets.optional_select("年度", years, format_func=fiscal_label, key="ledger_year", where=f1)
    kind = widgets.optional_select(
        "区分", list(LedgerKind), format_func=LEDGER_KIND.__getitem__, key="ledger_kind", where=f2
    )
    dept = widgets.optional_select(
        "所管部局", list(dept_names), format_func=dept_names.__getitem__, key="ledger_dept", where=f3
    )
    project_total = loaders.project_count(department_id=dept, viewer=actor)
    project_names: dict[int, str] = {}
    project = None
    project_search = None
    if project_total <= widgets.PICK_LIMIT:
        projects = loaders.projects(department_id=dept, viewer=actor)
        project_names = dict(zip(projects["id"], projects["name"], strict=True))
        project = widgets.optional_select(
            "事業", list(project_names), format_func=project_names.__getitem__, key="ledger_project", where=f4
        )
    else:  # too many to list: match part of the name instead
        project_search = (
            f4.text_input(
                "事業名（一部）",
                key="ledger_project_search",
                max_chars=100,
                help=f"事業が {project_total:,}件あるため、名称の一部で絞り込みます。",
            ).strip()
            or None
        )
    filters: ledger.LedgerFilter = {
        "fiscal_year": year,
        "kind": kind,
        "department_id": dept,
        "project_id": project,
        "project_name": project_search,
    }
    total = loaders.ledger_count(**filters)
    entries = loaders.ledger_page(**filters, limit=widgets.DISPLAY_LIMIT)
    if entries.empty:
        st.info("条件に合う記帳はありません。", icon=":material/info:")
    else:
        st.dataframe(
            _readable(entries),
            hide_index=True,
            width="stretch",
            column_config={
                "金額（円）": st.column_config.TextColumn(alignment="right"),
                "取消対象": st.column_config.NumberColumn(format="plain"),
            },
        )
        st.caption(f"{total:,}件（新しい順）。金額は取崩し・取消を ▲ で表示しています。")
        widgets.limit_notice(total)
    engine = session.engine()
    _downloads(
        actor,
        lambda fmt: ledger.ledger_export_bytes(engine, fmt=fmt, filters=filters),
        what="基金台帳",
        rows=total,
        filters={
            "年度": year,
            "区分": kind.value if kind else None,
            "所管部局": dept_names.get(dept) if dept else None,
            "事業": project_names.get(project) if project else project_search,
        },
        key="dl_ledger",
    )
