"""決裁資料: the appendix a prefectural official files with the 決裁 of a decided round.

Built only from the frozen snapshot, never from the live tables, so the paper says exactly what was
decided: title with 年度 and round, decision date and decider, weights and rubric version, the
ranking with the mean score per perspective, the number of reviews, the disagreement flag, the
sensitivity band, each proposal's decision with its reason — with page numbers and the snapshot's
SHA-256 in every page's footer, so the printed copy can be matched to the audit log.

The PDF is A4 landscape with the IPAex Gothic font (Debian's fonts-ipaexfont-gothic) embedded, so
it prints the same on any machine of the closed network; the xlsx is the same table for Excel."""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from fpdf import FPDF
from fpdf.fonts import FontFace
from sqlalchemy import Engine

from fund.auth import Action, Actor, require
from fund.db import read_session
from fund.errors import NotFound, RuleViolation
from fund.export import record_export, to_xlsx_bytes
from fund.labels import PERSPECTIVE
from fund.models import ScreeningDecision, ScreeningRound
from fund.screening.decision import decision, verify
from fund.screening.rounds import round_label
from fund.screening.rubric import DISAGREEMENT_SD, PERSPECTIVES
from fund.settings import get_settings

FORMATS = ("pdf", "xlsx")
FONT_NAME = "IPAexGothic"
SCORE_HEADERS = [f"観点{p} {PERSPECTIVE[p]}" for p in PERSPECTIVES]
COLUMNS = [
    "順位（素点）",
    "順位（補正後）",
    "事業名",
    "所管部局",
    *SCORE_HEADERS,
    "加重合計（素点）",
    "加重合計（補正後）",
    "審査数",
    "評価の割れ",
    "感度（重みを動かしたときの順位）",
    "決定",
    "決定の理由",
]
# The PDF's headings break where a reader expects; widths in mm (277 between 10 mm margins).
PDF_HEADINGS = [
    "素点\n順位",
    "補正後\n順位",
    "事業名",
    "所管部局",
    *[f"観点{p}\n{PERSPECTIVE[p]}" for p in PERSPECTIVES],
    "加重合計\n（素点）",
    "加重合計\n（補正後）",
    "審査数",
    "評価の\n割れ",
    "感度（重み\n±{step}点）",
    "決定",
    "決定の理由",
]
PDF_WIDTHS = (10, 10, 52, 22, 13, 13, 13, 13, 15, 15, 10, 10, 20, 13, 48)
NUMERIC = {
    "順位（素点）",
    "順位（補正後）",
    *SCORE_HEADERS,
    "加重合計（素点）",
    "加重合計（補正後）",
    "審査数",
}


@dataclass(frozen=True)
class Appendix:
    title: str
    notes: list[str]
    table: pd.DataFrame
    content_hash: str
    sensitivity_step: int

    @property
    def footer(self) -> str:
        return f"審査結果の内容のハッシュ（SHA-256）: {self.content_hash}"


def _rank(value: Any) -> str | int:
    return "—" if value is None else int(value)


def _sensitivity(band: dict[str, Any] | None) -> str:
    if band is None:
        return "—"
    span = (
        f"{band['best_rank']}位"
        if band["best_rank"] == band["worst_rank"]
        else f"{band['best_rank']}〜{band['worst_rank']}位"
    )
    return f"{'安定' if band['robust'] else '境界'} {span}"


def appendix_of(row: ScreeningDecision) -> Appendix:
    """The appendix's title, header notes and table from a decision's snapshot."""
    snap = row.snapshot
    ranking = {int(r["proposal_id"]): r for r in snap["ranking"]}

    def order(d: dict[str, Any]) -> tuple[int, int, int]:
        r = ranking.get(int(d["proposal_id"]))
        if r is None or r["rank"] is None:
            return (1, 0, 0)  # unscored proposals follow the ranking, in the snapshot's order
        return (0, int(r["rank"]), int(r["calibrated_rank"]))

    rows = []
    for d in sorted(snap["decisions"], key=order):
        r = ranking.get(int(d["proposal_id"])) or {}
        rows.append(
            [
                _rank(r.get("rank")),
                _rank(r.get("calibrated_rank")),
                d["project"],
                d["department"],
                *[r.get(f"p{p}") for p in PERSPECTIVES],
                r.get("weighted_total"),
                r.get("calibrated_total"),
                int(r.get("reviews") or 0),
                "あり" if r.get("disagreement") else "",
                _sensitivity(r.get("sensitivity")),
                d["decision"],
                d["reason"],
            ]
        )
    table = pd.DataFrame(rows, columns=COLUMNS)
    for column in [*SCORE_HEADERS, "加重合計（素点）", "加重合計（補正後）"]:
        table[column] = table[column].astype("float64").round(2)
    decided_at = datetime.fromisoformat(snap["decided_at"])
    weights = snap["rubric"]["weights"]
    scored = sum(1 for r in snap["ranking"] if r["rank"] is not None)
    notes = [
        f"確定日時: {decided_at:%Y年%m月%d日 %H:%M}　確定者: {snap['decided_by']}",
        f"重み（採点基準 第{snap['rubric']['version']}版）: "
        + "　".join(f"観点{p} {PERSPECTIVE[p]} {weights[p - 1]}%" for p in PERSPECTIVES),
        f"対象の提案 {len(snap['decisions']):,}件（うち全観点を採点済み {scored:,}件）、"
        f"集計した採点 {len(snap['scores']):,}件、採択に必要な審査数 {snap['policy']['min_reviews']}件以上",
        "点数は1〜5点の平均、加重合計は重みによる加重平均（1〜5点）。補正後は審査担当ごとの甘さ・辛さをならした値。"
        f"評価の割れ: いずれかの観点で標準偏差が{DISAGREEMENT_SD}を超える。"
        f"感度: 重みを±{snap['sensitivity_step']}ポイント動かしたときの順位の幅"
        "（上位・中位・下位の区分が変わらなければ安定、変わることがあれば境界）。",
    ]
    if snap["override_reason"]:
        notes.append(f"未採点の割当を残して確定した理由: {snap['override_reason']}")
    sample = (
        "（サンプルデータ）"
        if snap["round"]["is_sample"] and "サンプル" not in snap["round"]["title"]
        else ""
    )
    return Appendix(
        title=f"{snap['round']['title']} 審査結果{sample}（決裁資料）",
        notes=notes,
        table=table,
        content_hash=row.content_hash,
        sensitivity_step=int(snap["sensitivity_step"]),
    )


def _font_path() -> Path:
    path = get_settings().pdf_font
    if not path.is_file():
        raise RuleViolation(
            "PDF に埋め込む日本語フォント（IPAex ゴシック）が見つからないため作成できません。"
            "システム管理者に fonts-ipaexfont-gothic の導入を依頼してください。"
        )
    return path


class _Document(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.footer_text = footer_text
        self.add_font(FONT_NAME, fname=str(_font_path()))
        self.set_margins(10, 10, 10)
        self.set_auto_page_break(auto=True, margin=14)

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font(FONT_NAME, size=7)
        self.cell(0, 5, self.footer_text, align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"{self.page_no()} / {{nb}} ページ", align="R")


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def to_pdf_bytes(appendix: Appendix) -> bytes:
    pdf = _Document(appendix.footer)
    pdf.set_title(appendix.title)
    pdf.set_creator("山口県デジタル実装推進基金 管理ダッシュボード")
    pdf.add_page()
    pdf.set_font(FONT_NAME, size=13)
    pdf.multi_cell(0, 7, appendix.title, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT_NAME, size=8)
    for note in appendix.notes:
        pdf.multi_cell(0, 4.2, note, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(FONT_NAME, size=7)
    align = tuple("RIGHT" if c in NUMERIC else "LEFT" for c in COLUMNS)
    with pdf.table(
        col_widths=PDF_WIDTHS,
        text_align=align,
        headings_style=FontFace(fill_color=(220, 230, 241)),
        repeat_headings=1,
        line_height=3.6,
        padding=0.8,
    ) as table:
        table.row([h.format(step=appendix.sensitivity_step) for h in PDF_HEADINGS])
        for values in appendix.table.itertuples(index=False):
            table.row([_cell(v) for v in values])
    return bytes(pdf.output())


def export_appendix(engine: Engine, *, actor: Actor, round_id: int, fmt: str) -> bytes:
    """The 決裁資料 of a decided round as PDF or xlsx; audited with the snapshot's hash.

    Raises PermissionDenied, NotFound (unknown round), RuleViolation (undecided round, unknown
    format, a snapshot that no longer matches its hash, no Japanese font for the PDF).
    """
    require(actor, Action.view_screening)
    require(actor, Action.export)
    if fmt not in FORMATS:
        raise RuleViolation("決裁資料の出力形式は pdf または xlsx を指定してください。")
    with read_session(engine) as session:
        screening_round = session.get(ScreeningRound, round_id)
        if screening_round is None:
            raise NotFound(f"審査ラウンド {round_id} は見つかりません。")
        title = round_label(screening_round.fiscal_year, screening_round.name)
    row = decision(engine, round_id=round_id)
    if row is None:
        raise RuleViolation(f"{title}の審査結果はまだ確定していないため、決裁資料は作成できません。")
    if not verify(row):
        raise RuleViolation(
            f"{title}の保存されている審査結果が確定時のハッシュと一致しないため、決裁資料は作成できません。"
            "管理者に連絡してください。"
        )
    appendix = appendix_of(row)
    if fmt == "pdf":
        data = to_pdf_bytes(appendix)
    else:
        data = to_xlsx_bytes(
            appendix.table,
            sheet_name="審査結果（決裁資料）",
            title=appendix.title,
            notes=appendix.notes,
            footer=appendix.footer,
        )
    record_export(
        engine,
        actor=actor,
        what=f"screening_appendix.{fmt}",
        filters={"round_id": round_id, "content_hash": row.content_hash},
        rows=len(appendix.table),
    )
    return data
