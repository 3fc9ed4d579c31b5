"""The 行政事業レビューシート layout of the indicators, as xlsx or CSV."""

from datetime import date

import pandas as pd
from sqlalchemy import Engine

from fund import export
from fund.auth import Actor
from fund.fiscal import fiscal_label
from fund.kpi.queries import KpiFilter, kpi_frame
from fund.kpi.rules import status_label, target_kinds

REVIEW_SHEET_COLUMNS = [
    "事業名",
    "所管部局",
    "指標",
    "単位",
    "基準値",
    "基準年度",
    "年度",
    "目標値",
    "実績値",
    "達成度（%）",
    "状況",
    "目標の種類",
    "指標の種別",
    "県民実感の観点",
    "測定日",
    "実績の出典",
    "サンプル",
]


def review_sheet(df: pd.DataFrame) -> pd.DataFrame:
    """A `kpi_frame` result in the column order of the 行政事業レビューシート (成果目標及び成果実績)."""
    out = pd.DataFrame(
        {
            "事業名": df["project"],
            "所管部局": df["department"],
            "指標": df["indicator"],
            "単位": df["unit"],
            "基準値": df["baseline_value"],
            "基準年度": [
                fiscal_label(int(y)) if y is not None and not pd.isna(y) else "" for y in df["baseline_year"]
            ],
            "年度": [fiscal_label(int(y)) for y in df["fiscal_year"]],
            "目標値": [None if v is None or pd.isna(v) else round(float(v), 2) for v in df["target_value"]],
            "実績値": df["actual_value"],
            "達成度（%）": [
                None if r is None or pd.isna(r) else round(float(r) * 100, 1) for r in df["achievement_rate"]
            ],
            "状況": df["status"].map(status_label),
            "目標の種類": target_kinds(df["target_on_path"], df["target_year_is_estimate"]),
            "指標の種別": df["kind_label"],
            "県民実感の観点": df["perspective_labels"],
            "測定日": [d.isoformat() if isinstance(d, date) else "" for d in df["measured_on"]],
            "実績の出典": df["source"],
            "サンプル": ["サンプル" if s else "" for s in df["is_sample"]],
        },
        columns=REVIEW_SHEET_COLUMNS,
    )
    return out


def review_sheet_export(engine: Engine, *, actor: Actor, where: KpiFilter, today: date, fmt: str) -> bytes:
    """Every indicator-year matching `where` that the actor may see, as the review sheet (the download)."""
    return review_sheet_bytes(kpi_frame(engine, actor=actor, today=today, where=where), fmt=fmt)


def review_sheet_bytes(df: pd.DataFrame, *, fmt: str) -> bytes:
    """The review-sheet table as xlsx ('xlsx') or CSV with BOM ('csv'). Audit with `record_export`."""
    sheet = review_sheet(df)
    if fmt == "xlsx":
        return export.to_xlsx_bytes(sheet, sheet_name="成果指標", title="成果指標（成果目標及び成果実績）")
    return export.to_csv_bytes(sheet)
