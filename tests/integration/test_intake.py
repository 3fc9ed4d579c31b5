"""一括登録: the 様式, and the all-or-nothing upload with errors by row and column."""

import io
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine

from fund import clock, intake
from fund.db import query_df
from fund.errors import PermissionDenied, RuleViolation
from fund.models import FiscalYear, ProposalStatus, Role
from tests.conftest import arranged, make_actor


@pytest.fixture
def year(seeded_engine: Engine) -> int:
    fy = clock.current_fiscal_year() + 1
    with arranged(seeded_engine) as session:
        if session.get(FiscalYear, fy) is None:
            session.add(FiscalYear(year=fy))
    return fy


def row(year: int, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "事業名": "一括登録テスト事業A",
        "所管部局": "健康福祉部",
        "区分": "生活関連分野（健康/医療/介護、教育/子ども、防災、交通）",
        "年度": year,
        "要件①": "○",
        "要件①の該当理由": "住民の手続負担を減らす",
        "事業概要": "概要",
        "目的": "目的",
        "現状・課題": "課題",
        "1年度目 事業費（千円）": 10000,
        "1年度目 基金充当額（千円）": 8000,
        "2年度目 事業費（千円）": 2000,
        "2年度目 基金充当額（千円）": 0,
        "2年度目 備考": "運用経費",
        "想定利用者数（人）": 5000,
        "1人あたり年間利用回数（回/年）": 4,
        "新規性": "県内初",
        "成果指標1 指標名": "利用者数",
        "成果指標1 単位": "人",
        "成果指標1 初年度目標": 1000,
        "成果指標1 2年後目標": 5000,
    }
    return data | overrides


def xlsx(rows: list[dict[str, Any]], headers: list[str] | None = None) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = intake.SHEET
    headers = headers or intake.HEADERS
    ws.append(headers)
    ws.append([f"{intake.EXAMPLE_MARK}例" if h == "事業名" else None for h in headers])
    for r in rows:
        ws.append([r.get(h) for h in headers])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_bytes(rows: list[dict[str, Any]], encoding: str = "utf-8-sig") -> bytes:
    lines = [",".join(intake.HEADERS)]
    lines += [",".join(str(r.get(h, "")) for h in intake.HEADERS) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def dept_id(engine: Engine, name: str) -> int:
    return int(query_df(engine, "SELECT id FROM department WHERE name = :n", {"n": name})["id"].iloc[0])


def proposal_count(engine: Engine) -> int:
    return int(query_df(engine, "SELECT COUNT(*) AS n FROM proposal")["n"].iloc[0])


def test_the_template_has_japanese_headers_an_example_row_and_instructions(
    seeded_engine: Engine, year: int
) -> None:
    content = intake.template_xlsx(seeded_engine, years=[year])
    wb = load_workbook(io.BytesIO(content))
    assert wb.sheetnames == [intake.SHEET, "選択肢", "記入方法"]
    ws = wb[intake.SHEET]
    assert [c.value for c in ws[1]] == intake.HEADERS
    assert str(ws["A2"].value).startswith(intake.EXAMPLE_MARK)
    guide = [c.value for c in wb["記入方法"]["A"] if c.value]
    assert any("1行1提案" in str(v) for v in guide)
    assert "健康福祉部" in [c.value for c in wb["選択肢"]["A"]]


def test_the_unchanged_template_has_nothing_to_import(seeded_engine: Engine, year: int) -> None:
    content = intake.template_xlsx(seeded_engine, years=[year])
    with pytest.raises(RuleViolation, match="登録する提案がありません"):
        intake.import_upload(
            seeded_engine, actor=make_actor(Role.admin), filename="様式.xlsx", content=content
        )


def test_a_filled_template_imports_every_row_as_submitted(seeded_engine: Engine, year: int) -> None:
    wb = load_workbook(io.BytesIO(intake.template_xlsx(seeded_engine, years=[year])))
    ws = wb[intake.SHEET]
    for values in (row(year), row(year, 事業名="一括登録テスト事業B")):
        ws.append([values.get(h) for h in intake.HEADERS])
    buf = io.BytesIO()
    wb.save(buf)
    actor = make_actor(Role.department, department_id=dept_id(seeded_engine, "健康福祉部"))
    result = intake.import_upload(
        seeded_engine, actor=actor, filename="提案.xlsx", content=buf.getvalue(), submit=True
    )
    assert result.count == 2 and result.status == ProposalStatus.submitted
    stored = query_df(
        seeded_engine,
        "SELECT p.name, pr.status, pr.fund_share_yen FROM proposal pr JOIN project p ON p.id = pr.project_id "
        "WHERE pr.id IN (" + ",".join(str(i) for i in result.proposal_ids) + ") ORDER BY p.name",
    )
    assert stored["name"].tolist() == ["一括登録テスト事業A", "一括登録テスト事業B"]
    assert set(stored["status"]) == {"submitted"}
    assert stored["fund_share_yen"].tolist() == [8_000_000, 8_000_000]
    lines = query_df(
        seeded_engine,
        "SELECT COUNT(*) AS n FROM proposal_cost_line WHERE proposal_id = :p",
        {"p": result.proposal_ids[0]},
    )
    assert int(lines["n"].iloc[0]) == 2


def test_one_bad_row_stops_the_whole_upload_and_every_error_is_listed(
    seeded_engine: Engine, year: int
) -> None:
    rows = [
        row(year),
        row(year, 事業名="", **{"1年度目 基金充当額（千円）": 12000}),
        row(
            year, **{"事業名": "一括登録テスト事業C", "要件①": "", "所管部局": "存在しない部", "年度": "来年"}
        ),
        row(year, **{"想定利用者数（人）": "たくさん", "新規性": "世界初"}),
    ]
    before = proposal_count(seeded_engine)
    with pytest.raises(intake.UploadInvalid) as exc:
        intake.import_upload(
            seeded_engine, actor=make_actor(Role.admin), filename="提案.xlsx", content=xlsx(rows), submit=True
        )
    found = {(e.row, e.column) for e in exc.value.row_errors}
    assert (4, "事業名") in found
    assert (4, "1年度目（事業費・基金充当額・備考）") in found
    assert (5, "所管部局") in found and (5, "年度") in found and (5, "要件①〜③") in found
    assert (6, "想定利用者数（人）") in found and (6, "新規性") in found
    assert (6, "事業名") in found  # same project and year as row 3
    assert all(e.row != 3 for e in exc.value.row_errors)
    frame = exc.value.frame()
    assert list(frame.columns) == ["行", "列", "内容"]
    assert "基金充当額（12,000千円）が事業費（10,000千円）を超えています" in " ".join(frame["内容"])
    assert proposal_count(seeded_engine) == before


def test_a_department_user_cannot_upload_for_another_department(seeded_engine: Engine, year: int) -> None:
    actor = make_actor(Role.department, department_id=dept_id(seeded_engine, "健康福祉部"))
    with pytest.raises(intake.UploadInvalid) as exc:
        intake.import_upload(
            seeded_engine, actor=actor, filename="a.xlsx", content=xlsx([row(year, 所管部局="警察本部")])
        )
    assert [(e.row, e.column) for e in exc.value.row_errors] == [(3, "所管部局")]
    assert "自部局" in exc.value.row_errors[0].message


def test_csv_in_utf8_or_shift_jis_is_accepted_as_drafts(seeded_engine: Engine, year: int) -> None:
    for i, encoding in enumerate(("utf-8-sig", "cp932")):
        content = csv_bytes([row(year, 事業名=f"CSV登録事業{i}")], encoding)
        result = intake.import_upload(
            seeded_engine, actor=make_actor(Role.screener), filename="a.csv", content=content
        )
        assert result.count == 1 and result.status == ProposalStatus.draft


def test_a_dry_run_checks_without_importing(seeded_engine: Engine, year: int) -> None:
    before = proposal_count(seeded_engine)
    result = intake.import_upload(
        seeded_engine,
        actor=make_actor(Role.admin),
        filename="a.xlsx",
        content=xlsx([row(year)]),
        dry_run=True,
    )
    assert result.dry_run and result.count == 0
    assert proposal_count(seeded_engine) == before


@pytest.mark.parametrize(
    ("filename", "content", "fragment"),
    [
        ("a.pdf", b"%PDF-1.4", "xlsx）または CSV"),
        ("a.xlsx", b"this is not a zip", "ファイルを読み取れません"),
        ("a.xlsx", b"PK\x03\x04broken", "ファイルを読み取れません"),
        ("a.csv", b"", "ファイルが空です"),
        ("a.csv", "名前,年\r\nx,1\r\n".encode(), "様式の見出しが見つかりません"),
        ("a.csv", b"\xff\xfe\x00\x81\x00", "文字コード"),
    ],
)
def test_unusable_files_are_refused_with_a_clear_message(
    seeded_engine: Engine, filename: str, content: bytes, fragment: str
) -> None:
    with pytest.raises(RuleViolation) as exc:
        intake.import_upload(seeded_engine, actor=make_actor(Role.admin), filename=filename, content=content)
    assert fragment in exc.value.message


def test_an_oversized_file_is_refused_before_reading(seeded_engine: Engine) -> None:
    content = b"x" * (intake.MAX_UPLOAD_BYTES + 1)
    with pytest.raises(RuleViolation, match="ファイルが大きすぎます"):
        intake.import_upload(seeded_engine, actor=make_actor(Role.admin), filename="a.csv", content=content)


def test_more_rows_than_the_limit_are_refused(seeded_engine: Engine, year: int) -> None:
    rows = [row(year, 事業名=f"事業{i}") for i in range(intake.MAX_ROWS + 1)]
    with pytest.raises(RuleViolation, match="1,000件まで"):
        intake.import_upload(
            seeded_engine, actor=make_actor(Role.admin), filename="a.csv", content=csv_bytes(rows)
        )


def test_executives_cannot_upload(seeded_engine: Engine, year: int) -> None:
    with pytest.raises(PermissionDenied):
        intake.import_upload(
            seeded_engine, actor=make_actor(Role.executive), filename="a.xlsx", content=xlsx([row(year)])
        )
