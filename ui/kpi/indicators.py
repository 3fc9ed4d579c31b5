"""指標一覧: every indicator-year that matches the filters, with the review-sheet downloads."""

from datetime import date

import pandas as pd
import streamlit as st

from fund import auth, kpi
from fund.auth import Action, Actor
from fund.export import record_export
from fund.fiscal import fiscal_label
from ui import loaders, session, widgets
from ui.kpi.filters import KpiView
from ui.kpi.numbers import num, pct


def render(actor: Actor, view: KpiView, *, today: date) -> None:
    df = loaders.kpi_frame(actor=actor, today=today, where=view.where, limit=widgets.DISPLAY_LIMIT)
    if df.empty:
        st.info("条件に合う指標はありません。フィルタを変えてください。", icon=":material/info:")
        return
    table = pd.DataFrame(
        {
            "事業名": df["project"],
            "指標": df["indicator"],
            "年度": [fiscal_label(int(y)) for y in df["fiscal_year"]],
            "目標値": num(df["target_value"]),
            "実績値": num(df["actual_value"]),
            "単位": df["unit"],
            "達成度": pct(df["achievement_rate"]),
            "状況": df["status"].map(kpi.status_label),
            "目標の種類": kpi.target_kinds(df["target_on_path"], df["target_year_is_estimate"]),
            "基準値": num(df["baseline_value"]),
            "所管部局": df["department"],
            "種別": df["kind_label"],
            "県民実感の観点": df["perspective_labels"],
            "実績の出典": [
                f"{s}（サンプル）" if smp and "サンプル" not in s else s
                for s, smp in zip(df["source"], df["is_sample"], strict=True)
            ],
        }
    )
    widgets.limit_notice(view.total, hint="フィルタで絞り込むか、すべての行はダウンロードしてください。")
    st.dataframe(table, hide_index=True, width="stretch", key="kpi_table")
    if not auth.can(actor, Action.export):
        return
    engine = session.engine()

    def record(fmt: str) -> None:
        what = f"成果指標（{'xlsx' if fmt == 'xlsx' else 'CSV'}）"
        record_export(engine, actor=actor, what=what, filters=view.labels, rows=view.total)

    widgets.download_pair(
        lambda fmt: kpi.review_sheet_export(engine, actor=actor, where=view.where, today=today, fmt=fmt),
        file_stem="成果指標",
        key="kpi_export",
        on_download=record,
        labels=("成果指標をExcelで保存（レビューシート形式）", "成果指標をCSVで保存（BOM付きUTF-8）"),
        widths=(1, 1),
    )
