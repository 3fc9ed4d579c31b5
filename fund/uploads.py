"""Untrusted spreadsheet files, read within bounds before anything is parsed.

An xlsx is a zip of XML: its entries and their uncompressed sizes are checked from the zip's
directory first (a reader cannot inflate an entry past its declared size), XML is parsed through
defusedxml (openpyxl uses it when installed), the sheet's declared dimension is ignored (a 6 KB
file may declare 1,048,576 × 16,384 cells) and rows are streamed only as wide as the 様式 and only
until the row limit is passed. Any error of a damaged file becomes one Japanese message."""

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any

from fund.errors import RuleViolation

MAX_UPLOAD_MB = 5  # also Streamlit's server.maxUploadSize (.streamlit/config.toml)
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
MAX_ZIP_ENTRIES = 200
MAX_UNCOMPRESSED_BYTES = 40 * 1024 * 1024  # a full 1,000-row 様式 unpacks to about 3 MB
MAX_SHEET_ROWS = 20_000  # physical rows read; the 様式 ends at row 1,002
UNREADABLE_XLSX = "ファイルを読み取れません。Excel形式（.xlsx）の様式を使って保存し直してください。"


def check_size(content: bytes) -> None:
    if len(content) > MAX_UPLOAD_BYTES:
        raise RuleViolation(
            f"ファイルが大きすぎます（{len(content) / 1024 / 1024:.1f}MB）。{MAX_UPLOAD_MB}MB以下にしてください。"
        )
    if not content:
        raise RuleViolation("ファイルが空です。様式に記入したファイルを選んでください。")


def _check_zip(content: bytes) -> None:
    if not content.startswith(b"PK"):
        raise RuleViolation(UNREADABLE_XLSX)
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise RuleViolation(UNREADABLE_XLSX) from exc
    if len(entries) > MAX_ZIP_ENTRIES:
        raise RuleViolation(
            f"ファイルの構成が様式と異なります（部品が{len(entries):,}個）。{UNREADABLE_XLSX}"
        )
    unpacked = sum(e.file_size for e in entries)
    if unpacked > MAX_UNCOMPRESSED_BYTES:
        raise RuleViolation(
            f"展開後のファイルが大きすぎます（{unpacked / 1024 / 1024:,.0f}MB、上限"
            f"{MAX_UNCOMPRESSED_BYTES // (1024 * 1024)}MB）。様式に記入した内容だけを保存し直してください。"
        )


def _filled(values: Iterable[Any]) -> bool:
    return any(v is not None and str(v).strip() for v in values)


def _bounded(rows: Iterable[Iterable[Any]], *, max_rows: int, too_many: str) -> list[tuple[int, list[Any]]]:
    """(row number from 1, values) of the rows that hold anything; refused with `too_many` past
    `max_rows` of them, and past MAX_SHEET_ROWS physical rows (a far row makes the reader walk
    every row before it)."""
    kept: list[tuple[int, list[Any]]] = []
    for number, row in enumerate(rows, start=1):
        if number > MAX_SHEET_ROWS:
            raise RuleViolation(
                f"シートの{MAX_SHEET_ROWS:,}行目より下にも行があります。不要な行を削除して保存し直してください。"
            )
        values = list(row)
        if not _filled(values):
            continue
        if len(kept) >= max_rows:
            raise RuleViolation(too_many)
        kept.append((number, values))
    return kept


def xlsx_rows(
    content: bytes, *, sheet: str, max_cols: int, max_rows: int, too_many: str
) -> list[tuple[int, list[Any]]]:
    """(Excel row number, values) of the rows of sheet `sheet` (else the first) that hold anything,
    `max_cols` wide. Raises RuleViolation."""
    check_size(content)
    _check_zip(content)
    from openpyxl import load_workbook  # imported on upload only: it takes a third of a second

    try:
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        try:
            ws = wb[sheet] if sheet in wb.sheetnames else wb.worksheets[0]
            ws.reset_dimensions()  # read what is there, not what the file declares
            rows: Iterator[tuple[Any, ...]] = ws.iter_rows(max_col=max_cols, values_only=True)
            return _bounded(rows, max_rows=max_rows, too_many=too_many)
        finally:
            wb.close()
    except RuleViolation:
        raise
    except Exception as exc:
        raise RuleViolation(UNREADABLE_XLSX) from exc


def csv_rows(content: bytes, *, max_rows: int, too_many: str) -> list[tuple[int, list[Any]]]:
    """(record number, values) of the records of a CSV in UTF-8 (with or without BOM) or
    Shift_JIS that hold anything. Raises RuleViolation."""
    check_size(content)
    try:
        decoded = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            decoded = content.decode("cp932")
        except UnicodeDecodeError:
            raise RuleViolation(
                "CSVの文字コードを判別できません。UTF-8 または Shift_JIS で保存してください。"
            ) from None
    try:
        return _bounded(csv.reader(io.StringIO(decoded)), max_rows=max_rows, too_many=too_many)
    except csv.Error as exc:
        raise RuleViolation("CSVの形式が正しくありません（引用符の対応などを確認してください）。") from exc
