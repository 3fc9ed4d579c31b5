"""決裁資料: the PDF and xlsx of a decided round, built from its snapshot, with the hash on every page."""

import copy
import csv
import io
import json
import subprocess
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader
from sqlalchemy import Engine
from sqlmodel import Session, select

from fund import screening
from fund.db import query_df
from fund.errors import NotFound, PermissionDenied, RuleViolation
from fund.models import Role, ScreeningDecision
from fund.ops import cli
from tests.conftest import ids, make_actor

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "e2e" / "artifacts"
EXEC = make_actor(Role.executive, login="kanbu_exec")
A4_LANDSCAPE_PT = (841.89, 595.28)


def _fy2024_projects() -> set[str]:
    with (ROOT / "data" / "allocations.csv").open(encoding="utf-8") as fh:
        return {r["project"] for r in csv.DictReader(fh) if r["fiscal_year"] == "2024"}


def _seeded_round(engine: Engine) -> int:
    return int(
        query_df(engine, "SELECT MIN(id) AS id FROM screening_round WHERE fiscal_year = 2024")["id"].iloc[0]
    )


def _audited_hash(engine: Engine, round_id: int) -> str:
    row = query_df(
        engine,
        "SELECT after_values FROM audit_log WHERE action = 'screening.decide' AND entity_id = :r",
        {"r": str(round_id)},
    )
    assert len(row) == 1
    after = row["after_values"].iloc[0]
    return str((json.loads(after) if isinstance(after, str) else after)["content_hash"])


def test_the_pdf_lists_every_fy2024_project_with_the_audited_hash_on_every_page(
    seeded_engine: Engine,
) -> None:
    rid = _seeded_round(seeded_engine)
    screening.decide_round(seeded_engine, actor=EXEC, round_id=rid)
    digest = _audited_hash(seeded_engine, rid)
    data = screening.export_appendix(seeded_engine, actor=EXEC, round_id=rid, fmt="pdf")

    reader = PdfReader(io.BytesIO(data))
    pages = [page.extract_text() for page in reader.pages]
    whole = "".join("".join(pages).split())  # a name wrapped in its cell is extracted with a space
    assert len(pages) >= 2
    for number, page_text in enumerate(pages, start=1):
        assert digest in page_text
        assert f"{number} / {len(pages)} ページ" in page_text
    for page in reader.pages:
        assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx(
            A4_LANDSCAPE_PT, abs=0.5
        )
    projects = _fy2024_projects()
    assert len(projects) == 24
    missing = [name for name in projects if "".join(name.split()) not in whole]
    assert missing == []
    assert "令和6年度（2024年度）" in pages[0] and "決裁資料" in pages[0]
    assert "観点1多くの人が利用する25%" in whole  # the seeded round's weights
    fonts = {
        str(font["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()  # type: ignore[index, union-attr]
    }
    assert any("IPAex" in name for name in fonts)  # embedded, not a viewer's substitute

    # Render the first page as a reader sees it, and keep it to look at.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf_path = ARTIFACTS / "40_decision_appendix.pdf"
    pdf_path.write_bytes(data)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "60",
            "-png",
            "-f",
            "1",
            "-l",
            "1",
            str(pdf_path),
            str(ARTIFACTS / "40_decision_appendix"),
        ],
        check=True,
    )
    png = ARTIFACTS / "40_decision_appendix-1.png"
    from PIL import Image

    with Image.open(png) as image:
        assert image.width > image.height  # landscape


def test_the_xlsx_holds_the_same_table_with_hash_and_page_numbers_in_the_footer(
    seeded_engine: Engine,
) -> None:
    rid = _seeded_round(seeded_engine)
    decided = screening.decide_round(seeded_engine, actor=EXEC, round_id=rid)
    data = screening.export_appendix(seeded_engine, actor=EXEC, round_id=rid, fmt="xlsx")
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    assert ws is not None
    assert "決裁資料" in str(ws["A1"].value)
    header_row = next(r for r in range(1, 12) if ws.cell(r, 1).value == "順位（素点）")
    header = [c.value for c in ws[header_row]]
    assert header[2:4] == ["事業名", "所管部局"]
    assert "決定の理由" in header
    names = [ws.cell(r, 3).value for r in range(header_row + 1, ws.max_row + 1)]
    assert set(names) == _fy2024_projects()
    ranks = [ws.cell(r, 1).value for r in range(header_row + 1, ws.max_row + 1)]
    assert ranks == sorted(ranks)  # in rank order
    assert decided.content_hash in ws.oddFooter.left.text
    assert "&P" in ws.oddFooter.right.text and "&N" in ws.oddFooter.right.text
    assert ws.page_setup.orientation == "landscape"


def test_the_export_is_audited_with_the_hash(seeded_engine: Engine) -> None:
    rid = _seeded_round(seeded_engine)
    decided = screening.decide_round(seeded_engine, actor=EXEC, round_id=rid)
    screening.export_appendix(seeded_engine, actor=EXEC, round_id=rid, fmt="pdf")
    rows = query_df(
        seeded_engine,
        "SELECT actor, entity, after_values FROM audit_log WHERE action = 'export' AND entity = 'screening_appendix.pdf'",
    )
    assert rows["actor"].tolist() == [EXEC.login]
    assert decided.content_hash in json.dumps(rows["after_values"].iloc[0])


def test_an_undecided_unknown_or_tampered_round_and_unknown_format_are_refused(seeded_engine: Engine) -> None:
    rid = _seeded_round(seeded_engine)
    with pytest.raises(RuleViolation, match="まだ確定していないため"):
        screening.export_appendix(seeded_engine, actor=EXEC, round_id=rid, fmt="pdf")
    with pytest.raises(NotFound, match="審査ラウンド 9999 は見つかりません"):
        screening.export_appendix(seeded_engine, actor=EXEC, round_id=9999, fmt="pdf")
    screening.decide_round(seeded_engine, actor=EXEC, round_id=rid)
    with pytest.raises(RuleViolation, match="pdf または xlsx"):
        screening.export_appendix(seeded_engine, actor=EXEC, round_id=rid, fmt="docx")
    department = make_actor(
        Role.department, login="kenko_staff", department_id=ids(seeded_engine)["健康福祉部"]
    )
    with pytest.raises(PermissionDenied):
        screening.export_appendix(seeded_engine, actor=department, round_id=rid, fmt="pdf")
    with Session(seeded_engine) as session:  # someone edits the stored snapshot behind the application
        stored = session.exec(select(ScreeningDecision)).one()
        edited = copy.deepcopy(stored.snapshot)
        edited["decisions"][0]["decision"] = "不採択"
        stored.snapshot = edited
        session.add(stored)
        session.commit()
    with pytest.raises(RuleViolation, match="ハッシュと一致しない"):
        screening.export_appendix(seeded_engine, actor=EXEC, round_id=rid, fmt="pdf")
    exports = query_df(
        seeded_engine, "SELECT COUNT(*) AS n FROM audit_log WHERE entity LIKE 'screening_appendix%'"
    )
    assert int(exports["n"].iloc[0]) == 0  # nothing refused was recorded as handed out


def test_the_cli_decides_and_writes_the_appendix(
    seeded_engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rid = _seeded_round(seeded_engine)
    from fund import auth
    from fund.auth import SYSTEM

    auth.create_user(seeded_engine, actor=SYSTEM, login="kanbu_exec", role=Role.executive, password=None)
    out = tmp_path / "kessai.pdf"
    assert cli.main(["screening", "appendix", "--round", str(rid), "--format", "pdf", "--out", str(out)]) == 2
    assert "まだ確定していない" in capsys.readouterr().err
    assert not out.exists()
    assert cli.main(["screening", "decide", "--round", str(rid), "--as", "kanbu_exec"]) == 0
    said = capsys.readouterr().out
    digest = _audited_hash(seeded_engine, rid)
    assert digest in said and "24件" in said
    assert cli.main(["screening", "decide", "--round", str(rid), "--as", "kanbu_exec"]) == 2
    assert "確定済みのため、変更できません" in capsys.readouterr().err
    assert (
        cli.main(
            [
                "screening",
                "appendix",
                "--round",
                str(rid),
                "--format",
                "xlsx",
                "--out",
                str(out.with_suffix(".xlsx")),
                "--as",
                "kanbu_exec",
            ]
        )
        == 0
    )
    assert out.with_suffix(".xlsx").read_bytes()[:2] == b"PK"
    audited = query_df(seeded_engine, "SELECT actor FROM audit_log WHERE entity = 'screening_appendix.xlsx'")
    assert audited["actor"].tolist() == ["kanbu_exec"]
