"""Hostile uploads: every file gets a Japanese message (or imports correctly), within bounded memory.

Each case's time and peak memory (tracemalloc: what Python allocated, openpyxl's cells included)
are measured and written to tests/e2e/artifacts/hostile_uploads.json for the review; the memory
bound is asserted, time never is (speed is for `make bench`)."""

import io
import json
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl.xml
import pytest
import xlsxwriter
from sqlalchemy import Engine

from fund import intake, uploads
from fund.errors import RuleViolation
from fund.models import Role
from fund.ops import cli
from tests.conftest import ROOT, make_actor
from tests.integration.test_intake import csv_bytes, proposal_count, row, xlsx
from tests.integration.test_intake import year as year

ADMIN = make_actor(Role.admin)
MEMORY_BOUND_MB = 200
MEASURED: dict[str, dict[str, object]] = {}


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    out = ROOT / "tests" / "e2e" / "artifacts"
    out.mkdir(parents=True, exist_ok=True)
    (out / "hostile_uploads.json").write_text(
        json.dumps(MEASURED, ensure_ascii=False, indent=1), encoding="utf-8"
    )


def _replace(content: bytes, name: str, data: bytes) -> bytes:
    """The xlsx `content` with the zip entry `name` replaced by `data`."""
    src = zipfile.ZipFile(io.BytesIO(content))
    assert name in src.namelist()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info.filename, data if info.filename == name else src.read(info.filename))
    return buf.getvalue()


def _sheet_xml(rows_xml: str, dimension: str = "A1") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<dimension ref="{dimension}"/><sheetData>{rows_xml}</sheetData></worksheet>'
    ).encode()


def _template(fiscal_year: int) -> bytes:
    """A valid upload as Excel writes it: strings in the shared-string table."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet(intake.SHEET)
    ws.write_row(0, 0, intake.HEADERS)
    ws.write_row(1, 0, [str(row(fiscal_year).get(h, "")) for h in intake.HEADERS])
    wb.close()
    return buf.getvalue()


def _dimension_bomb(year: int) -> bytes:
    """A few KB that declare 1,048,576 × 16,384 cells (openpyxl pads every row to the declared width)."""
    header = "".join(
        f'<c r="{_col(i + 1)}1" t="inlineStr"><is><t>{h}</t></is></c>' for i, h in enumerate(intake.HEADERS)
    )
    return _replace(
        _template(year), "xl/worksheets/sheet1.xml", _sheet_xml(f'<row r="1">{header}</row>', "A1:XFD1048576")
    )


def _col(n: int) -> str:
    name = ""
    while n:
        n, rest = divmod(n - 1, 26)
        name = chr(65 + rest) + name
    return name


def _deflate_bomb(year: int) -> bytes:
    """Well under a megabyte on disk, 60 MB of XML once inflated."""
    return _replace(_template(year), "xl/worksheets/sheet1.xml", _sheet_xml(" " * (60 * 1024 * 1024)))


def _entities(year: int) -> bytes:
    """A 'billion laughs' entity expansion in the shared strings."""
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
        )
        + ']><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
        "<si><t>&lol9;</t></si></sst>"
    )
    return _replace(_template(year), "xl/sharedStrings.xml", laughs.encode())


def _external_entity(year: int) -> bytes:
    doc = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&e;</t></si></sst>'
    )
    return _replace(_template(year), "xl/sharedStrings.xml", doc.encode())


def _broken_shared_strings(year: int) -> bytes:
    return _replace(_template(year), "xl/sharedStrings.xml", b"<sst><si><t>unterminated")


def _many_entries(year: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for i in range(uploads.MAX_ZIP_ENTRIES + 1):
            out.writestr(f"x/{i}.xml", b"<a/>")
    return buf.getvalue()


def _far_row(year: int) -> bytes:
    """The header, then one cell a million rows further down (openpyxl yields the gap row by row)."""
    header = "".join(
        f'<c r="{_col(i + 1)}1" t="inlineStr"><is><t>{h}</t></is></c>' for i, h in enumerate(intake.HEADERS)
    )
    far = '<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>遠くの行の事業</t></is></c></row>'
    return _replace(
        _template(year),
        "xl/worksheets/sheet1.xml",
        _sheet_xml(f'<row r="1">{header}</row>{far}', "A1:A1048576"),
    )


def _too_many_rows(year: int) -> bytes:
    return xlsx([row(year, 事業名=f"事業{i}") for i in range(intake.MAX_ROWS + 5)])


HOSTILE: dict[str, tuple[str, Callable[[int], bytes], str]] = {
    "declared dimension XFD1048576": ("a.xlsx", _dimension_bomb, "登録する提案がありません"),
    "deflate bomb (60 MB of XML)": ("a.xlsx", _deflate_bomb, "展開後のファイルが大きすぎます"),
    "billion laughs in sharedStrings": ("a.xlsx", _entities, uploads.UNREADABLE_XLSX),
    "external entity in sharedStrings": ("a.xlsx", _external_entity, uploads.UNREADABLE_XLSX),
    "broken shared-string table": ("a.xlsx", _broken_shared_strings, uploads.UNREADABLE_XLSX),
    "201 zip entries": ("a.xlsx", _many_entries, "ファイルの構成が様式と異なります"),
    "a row a million rows down": ("a.xlsx", _far_row, "20,000行目より下にも行があります"),
    "1,005 proposals": ("a.xlsx", _too_many_rows, "1,000件を超えています"),
    "5 MB + 1 byte": ("a.xlsx", lambda y: b"PK" + b"\0" * uploads.MAX_UPLOAD_BYTES, "ファイルが大きすぎます"),
    "a zip named .xlsx that is not one": (
        "a.xlsx",
        lambda y: b"PK\x03\x04" + b"\x00" * 64,
        uploads.UNREADABLE_XLSX,
    ),
    "a PDF named .xlsx": ("a.xlsx", lambda y: b"%PDF-1.7\n%\xe2\xe3", uploads.UNREADABLE_XLSX),
    "CSV of 1,005 proposals": (
        "a.csv",
        lambda y: csv_bytes([row(y, 事業名=f"事業{i}") for i in range(intake.MAX_ROWS + 5)]),
        "1,000件を超えています",
    ),
    "CSV with an unclosed quote": (
        "a.csv",
        lambda y: b"\xef\xbb\xbf" + ",".join(intake.HEADERS).encode() + b'\r\n"abc',
        "所管部局を入力してください",  # read to the end of the file as one field, then checked
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_file_gets_a_japanese_message_within_bounded_memory(
    seeded_engine: Engine, year: int, case: str
) -> None:
    filename, build, expected = HOSTILE[case]
    content = build(year)
    before = proposal_count(seeded_engine)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        intake.import_upload(seeded_engine, actor=ADMIN, filename=filename, content=content, dry_run=True)
    except (RuleViolation, intake.UploadInvalid) as exc:
        message = (
            exc.message
            if isinstance(exc, RuleViolation)
            else " ".join(e.message + e.column for e in exc.row_errors) + str(exc.frame().to_dict())
        )
    else:
        message = "accepted"
    finally:
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    MEASURED[case] = {
        "bytes": len(content),
        "seconds": round(seconds, 3),
        "peak_mb": round(peak / 2**20, 1),
        "message": message,
    }
    assert any(part in message for part in expected.split("|")), message
    assert peak / 2**20 < MEMORY_BOUND_MB
    assert proposal_count(seeded_engine) == before


def test_the_server_refuses_what_the_app_would_refuse_before_holding_it() -> None:
    config = (ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8")
    assert f"maxUploadSize = {uploads.MAX_UPLOAD_MB}\n" in config
    assert openpyxl.xml.DEFUSEDXML  # openpyxl parses uploaded XML through defusedxml


def test_the_cli_checks_every_row_and_imports_all_or_nothing(
    seeded_engine: Engine, year: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fund import auth
    from fund.auth import SYSTEM

    auth.create_user(seeded_engine, actor=SYSTEM, login="ikkatsu", role=Role.screener, password=None)
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(xlsx([row(year, 事業名="良い行"), row(year, 事業名="悪い行", 所管部局="存在しない部")]))
    before = proposal_count(seeded_engine)
    assert cli.main(["proposals", "import", str(bad), "--as", "ikkatsu"]) == 2
    said = capsys.readouterr().err
    assert "4行目 所管部局" in said and "誤りが1件あるため、登録していません。" in said
    assert proposal_count(seeded_engine) == before
    good = tmp_path / "good.xlsx"
    good.write_bytes(xlsx([row(year, 事業名="良い行A"), row(year, 事業名="良い行B")]))
    assert cli.main(["proposals", "import", str(good), "--dry-run", "--as", "ikkatsu"]) == 0
    assert "誤りはありません" in capsys.readouterr().out
    assert proposal_count(seeded_engine) == before
    assert cli.main(["proposals", "import", str(good), "--as", "ikkatsu"]) == 0
    assert "2件を下書きとして登録しました" in capsys.readouterr().out
    assert proposal_count(seeded_engine) == before + 2
    assert cli.main(["proposals", "import", str(tmp_path / "none.xlsx"), "--as", "ikkatsu"]) == 2
    assert "が見つかりません" in capsys.readouterr().err
