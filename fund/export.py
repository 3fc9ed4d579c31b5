"""Exports for Excel users: CSV (UTF-8 with BOM, or cp932) and formatted xlsx. No live formulas, ever."""

import io
import unicodedata
from collections.abc import Sequence
from typing import Any

import pandas as pd
import xlsxwriter
from sqlalchemy import Engine

from fund import audit
from fund.auth import Action, Actor, require
from fund.db import write_session
from fund.errors import RuleViolation
from fund.models import AuditAction
from fund.money import EXCEL_SEN_YEN_FORMAT, to_sen_yen

FORMULA_LEADERS = ("=", "+", "-", "@", "\t", "\r")
FONT = "Meiryo UI"
HEADER_WIDTH = 12


def neutralise(value: Any) -> Any:
    """Text that a spreadsheet would read as a formula gets a leading apostrophe; other values pass."""
    if isinstance(value, str) and value.startswith(FORMULA_LEADERS):
        return "'" + value
    return value


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def to_csv_bytes(df: pd.DataFrame, *, encoding: str = "utf-8-sig") -> bytes:
    """Tidy CSV. UTF-8 with BOM by default; cp932 on request, refusing characters cp932 cannot hold."""
    text: str = neutralise_frame(df).to_csv(index=False, lineterminator="\r\n")
    if encoding == "cp932":
        try:
            return text.encode("cp932")
        except UnicodeEncodeError as exc:
            raise _cp932_refusal(exc) from None
    if encoding != "utf-8-sig":
        raise RuleViolation("文字コードは UTF-8（BOM付き）または cp932 を指定してください。")
    return text.encode("utf-8-sig")


class _CharWidths(dict[str, int]):
    """Display width per character, looked up once (long tables measure many texts)."""

    def __missing__(self, ch: str) -> int:
        width = 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        self[ch] = width
        return width


_CHAR_WIDTHS = _CharWidths()


def _cp932_refusal(exc: UnicodeEncodeError) -> RuleViolation:
    bad = exc.object[exc.start : exc.end]
    return RuleViolation(
        f"文字「{bad}」（U+{ord(bad[0]):04X}）は Shift_JIS（cp932）で保存できません。"
        "UTF-8（BOM付き）で出力してください。"
    )


def check_cp932(text: str) -> None:
    """Raise the RuleViolation `to_csv_bytes(..., encoding="cp932")` raises for the first character of
    `text` that cp932 cannot hold (a quick check before offering a Shift_JIS download)."""
    try:
        text.encode("cp932")
    except UnicodeEncodeError as exc:
        raise _cp932_refusal(exc) from None


def display_width(text: str) -> int:
    """Excel column width: a full-width character counts as two."""
    return sum(map(_CHAR_WIDTHS.__getitem__, text))


def to_xlsx_bytes(
    df: pd.DataFrame,
    *,
    sheet_name: str,
    title: str | None = None,
    notes: Sequence[str] = (),
    footer: str = "",
    sen_yen_columns: Sequence[str] = (),
) -> bytes:
    """A formatted sheet: optional title row and note lines under it, bold header, 千円 columns with
    ▲ negatives, fitted widths, frozen header, A4 landscape with page numbers and `footer` on every
    printed page. Yen columns listed in `sen_yen_columns` must hold yen and are written in 千円."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    ws = wb.add_worksheet(sheet_name[:31])
    base = {"font_name": FONT, "font_size": 10}
    title_fmt = wb.add_format({**base, "bold": True, "font_size": 12})
    head_fmt = wb.add_format(
        {**base, "bold": True, "bg_color": "#DCE6F1", "border": 1, "text_wrap": True, "valign": "vcenter"}
    )
    text_fmt = wb.add_format({**base, "border": 1})
    note_fmt = wb.add_format(base)
    num_fmt = wb.add_format({**base, "border": 1, "num_format": EXCEL_SEN_YEN_FORMAT})
    plain_num = wb.add_format({**base, "border": 1, "num_format": "#,##0.##"})
    row0 = 0
    if title:
        ws.write_string(0, 0, title, title_fmt)
        for i, note in enumerate(notes, start=1):
            ws.write_string(i, 0, note, note_fmt)
        row0 = len(notes) + 2
    # A cell written as a string is never a formula (strings_to_formulas off): the user's text is kept
    # exactly, with no apostrophe in front (that neutralisation is for CSV, which has no cell types).
    safe = df
    # Headers wrap, so a long one does not widen its column past HEADER_WIDTH; the values decide.
    widths = [min(display_width(str(c)), HEADER_WIDTH) for c in safe.columns]
    for c, name in enumerate(safe.columns):
        ws.write_string(row0, c, str(name), head_fmt)
    in_sen_yen = [column in sen_yen_columns for column in df.columns]  # looked up once, not per cell
    for r, row in enumerate(safe.itertuples(index=False), start=row0 + 1):
        for c, value in enumerate(row):
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                ws.write_blank(r, c, None, text_fmt)
            elif in_sen_yen[c]:
                sen = to_sen_yen(int(value))
                ws.write_number(r, c, sen, num_fmt)
                widths[c] = max(widths[c], len(f"{sen:,}") + 2)
            elif isinstance(value, bool):
                ws.write_string(r, c, "○" if value else "", text_fmt)
            elif isinstance(value, int | float):
                ws.write_number(r, c, value, plain_num)
                widths[c] = max(widths[c], len(f"{value:,}") + 1)
            else:
                text = str(value)
                ws.write_string(r, c, text, text_fmt)
                widths[c] = max(widths[c], min(display_width(text), 80))
    for c, w in enumerate(widths):
        ws.set_column(c, c, w + 2)
    # Excel does not grow a row for wrapped text it did not type itself: give the header its lines.
    lines = max(
        (-(-display_width(str(name)) // (w + 1)) for name, w in zip(safe.columns, widths, strict=True)),
        default=1,
    )
    ws.set_row(row0, 14 * max(lines, 1))
    ws.freeze_panes(row0 + 1, 0)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(row0)
    # Excel's header/footer codes: &L/&R align, &P/&N page of pages; a literal & is written &&.
    ws.set_footer(f"&L&8{footer.replace('&', '&&')}&R&8&P / &N ページ")
    wb.close()
    return buf.getvalue()


def record_export(
    engine: Engine, *, actor: Actor, what: str, filters: dict[str, Any] | None = None, rows: int | None = None
) -> None:
    """Audit an export: who, what and with which filters (exports are disclosures of public money data)."""
    require(actor, Action.export)
    with write_session(engine) as session:
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.export,
            entity=what,
            after={"filters": filters or {}, "rows": rows},
        )
