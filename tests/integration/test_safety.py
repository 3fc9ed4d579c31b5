"""Input and output safety: hostile text is stored verbatim and never executed, exports hold no
formulas, SQL fragments are only ever data, and bad uploads import nothing."""

import io
from datetime import date

import openpyxl
import pytest
from sqlalchemy import Engine, inspect

from fund import admin as audit_admin
from fund import auth, clock, intake, kpi, ledger, proposals, screening
from fund.allocation_export import export_allocations
from fund.auth import SYSTEM, Actor
from fund.db import query_df
from fund.errors import FundError, InputInvalid, PermissionDenied, RuleViolation
from fund.models import FiscalYear, LedgerKind, Role
from tests.conftest import arranged, make_proposal, posting

SCRIPT = "<script>alert(1)</script>"
MD_LINK = "[x](javascript:alert(1))"
BOLD = "**bold**"
HTML_IMG = '<img src=x onerror="alert(1)">'
LONG = "長" * 10_000
HOSTILE = [SCRIPT, MD_LINK, BOLD, HTML_IMG]
FORMULAS = ['=HYPERLINK("http://example.invalid","x")', "+1+1", "-2+3", "@SUM(A1:A2)", "=cmd|' /C calc'!A0"]
SQL_FRAGMENTS = [
    "' OR 1=1 --",
    '"; DROP TABLE ledger_entry; --',
    "%",
    "_",
    "\\",
    "'); DELETE FROM app_user; --",
]
TABLES = {"ledger_entry", "app_user", "audit_log", "proposal", "kpi_actual"}


def _tables_exist(engine: Engine) -> bool:
    return set(inspect(engine).get_table_names()) >= TABLES


def _post(engine: Engine, actor: Actor, memo: str) -> int:
    entry = ledger.post_entry(
        engine,
        actor=actor,
        entry=posting(
            {
                "posted_on": date(2025, 7, 1),
                "fiscal_year": 2025,
                "kind": LedgerKind.deposit,
                "amount_yen": 1_000,
                "memo": memo,
            }
        ),
    )
    assert entry.id is not None
    return entry.id


def _no_formula_cells(data: bytes) -> list[str]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [
        f"{ws.title}!{c.coordinate}"
        for ws in book.worksheets
        for row in ws.iter_rows()
        for c in row
        if c.data_type == "f"
    ]


def _csv_has_no_live_formula(data: bytes) -> bool:
    text = data.decode("utf-8-sig")
    cells = [cell.strip('"') for line in text.splitlines() for cell in line.split(",")]
    return not [c for c in cells if c[:1] in ("=", "+", "@") or (c[:1] == "-" and c[1:2] not in "0123456789")]


@pytest.fixture
def proposal_year(seeded_engine: Engine) -> int:
    fy = clock.current_fiscal_year() + 1
    with arranged(seeded_engine) as session:
        if session.get(FiscalYear, fy) is None:
            session.add(FiscalYear(year=fy))
    return fy


# --- Text is stored verbatim, and over-long text is refused with a message --------------------------


@pytest.mark.parametrize("text", HOSTILE + FORMULAS)
def test_display_names_are_stored_exactly_as_typed(seeded_engine: Engine, admin: Actor, text: str) -> None:
    auth.create_user(
        seeded_engine, actor=admin, login="hostile", role=Role.screener, password=None, display_name=text
    )
    users = auth.user_frame(seeded_engine)
    assert users.loc[users["login"] == "hostile", "display_name"].iloc[0] == text


def test_a_ten_thousand_character_display_name_is_refused(seeded_engine: Engine, admin: Actor) -> None:
    with pytest.raises(InputInvalid) as exc:
        auth.create_user(
            seeded_engine, actor=admin, login="longname", role=Role.screener, password=None, display_name=LONG
        )
    assert "60文字以内" in exc.value.field_errors["display_name"]


@pytest.mark.parametrize("text", HOSTILE + FORMULAS)
def test_ledger_memos_are_stored_exactly_as_typed(seeded_engine: Engine, admin: Actor, text: str) -> None:
    entry_id = _post(seeded_engine, admin, text)
    stored = query_df(seeded_engine, "SELECT memo FROM ledger_entry WHERE id = :i", {"i": entry_id})[
        "memo"
    ].iloc[0]
    assert stored == text
    frame = ledger.ledger_frame(seeded_engine, fiscal_year=2025)
    assert text in frame.astype(str).to_numpy().ravel().tolist()


def test_a_ten_thousand_character_memo_is_refused(seeded_engine: Engine, admin: Actor) -> None:
    with pytest.raises(InputInvalid) as exc:
        _post(seeded_engine, admin, LONG)
    assert "500文字以内" in exc.value.field_errors["memo"]


@pytest.mark.parametrize("text", HOSTILE + FORMULAS[:2])
def test_proposal_text_fields_are_stored_exactly_as_typed(
    seeded_engine: Engine, admin: Actor, proposal_year: int, text: str
) -> None:
    data = make_proposal(
        seeded_engine, proposal_year, summary=text, purpose=text, problem=text, req1_reason=text
    )
    saved = proposals.save_proposal(seeded_engine, actor=admin, data=data)
    row = query_df(
        seeded_engine,
        "SELECT summary, purpose, problem, req1_reason FROM proposal WHERE id = :i",
        {"i": saved.id},
    ).iloc[0]
    assert set(row.tolist()) == {text}


def test_a_ten_thousand_character_proposal_summary_is_refused(
    seeded_engine: Engine, admin: Actor, proposal_year: int
) -> None:
    before = len(query_df(seeded_engine, "SELECT id FROM proposal"))
    with pytest.raises(InputInvalid):
        proposals.save_proposal(
            seeded_engine, actor=admin, data=make_proposal(seeded_engine, proposal_year, summary=LONG)
        )
    assert len(query_df(seeded_engine, "SELECT id FROM proposal")) == before


def _kpi_entry(engine: Engine, source: str) -> dict[str, object]:
    ind = query_df(engine, "SELECT id, unit FROM kpi_indicator ORDER BY id LIMIT 1").iloc[0]
    return {
        "indicator_id": int(ind["id"]),
        "fiscal_year": 2025,
        "actual_value": 1.0,
        "unit": str(ind["unit"]),
        "measured_on": date(2025, 12, 1),
        "source": source,
    }


@pytest.mark.parametrize("text", HOSTILE + FORMULAS[:2])
def test_kpi_sources_are_stored_exactly_as_typed(seeded_engine: Engine, admin: Actor, text: str) -> None:
    row = kpi.enter_actual(
        seeded_engine, actor=admin, data=_kpi_entry(seeded_engine, text), today=date(2026, 1, 31)
    )
    assert row.source == text
    stored = query_df(seeded_engine, "SELECT source FROM kpi_actual WHERE id = :i", {"i": row.id})[
        "source"
    ].iloc[0]
    assert stored == text


def test_a_ten_thousand_character_kpi_source_is_refused(seeded_engine: Engine, admin: Actor) -> None:
    with pytest.raises(InputInvalid):
        kpi.enter_actual(
            seeded_engine, actor=admin, data=_kpi_entry(seeded_engine, LONG), today=date(2026, 1, 31)
        )


# --- Exports: formula-leading text never becomes a live formula -----------------------------------


def test_every_export_opened_back_has_no_formula_cells(seeded_engine: Engine, admin: Actor) -> None:
    for i, text in enumerate(FORMULAS):
        _post(seeded_engine, admin, text)
        auth.create_user(
            seeded_engine,
            actor=admin,
            login=f"formula{i}",
            role=Role.screener,
            password=None,
            display_name=text,
        )
    kpi.enter_actual(
        seeded_engine, actor=admin, data=_kpi_entry(seeded_engine, FORMULAS[0]), today=date(2026, 1, 31)
    )
    ledger_df = ledger.ledger_frame(seeded_engine, fiscal_year=2025, limit=None)
    assert FORMULAS[0] in ledger_df.astype(str).to_numpy().ravel().tolist()
    kpis = kpi.kpi_frame(seeded_engine, actor=SYSTEM)
    round_id = int(screening.rounds(seeded_engine)["id"].iloc[0])
    xlsx_exports = {
        "ledger": ledger.export_bytes(ledger_df, fmt="xlsx", sheet_name="台帳", title="台帳", sen_yen=False),
        "audit_log": audit_admin.export_audit_log(
            seeded_engine, actor=admin, filters=audit_admin.AuditFilters(), fmt="xlsx"
        ),
        "kpi_review": kpi.review_sheet_bytes(kpis, fmt="xlsx"),
        "screening": screening.export_results(
            seeded_engine, actor=admin, round_id=round_id, filters=screening.ResultFilters(), fmt="xlsx"
        ),
        "allocations": export_allocations(seeded_engine, actor=admin, fiscal_year=2024, fmt="xlsx").data,
    }
    for name, data in xlsx_exports.items():
        assert _no_formula_cells(data) == [], name
    audit_xlsx = openpyxl.load_workbook(io.BytesIO(xlsx_exports["audit_log"])).active
    values = [str(c.value) for row in audit_xlsx.iter_rows() for c in row if c.value is not None]
    assert any("HYPERLINK" in v for v in values)  # kept as typed: a string cell is never a formula
    assert not any(v.startswith("'=") for v in values)
    csv_exports = {
        "ledger": ledger.export_bytes(ledger_df, fmt="csv", sheet_name="台帳", title="台帳", sen_yen=False),
        "audit_log": audit_admin.export_audit_log(
            seeded_engine, actor=admin, filters=audit_admin.AuditFilters(), fmt="csv"
        ),
        "kpi_review": kpi.review_sheet_bytes(kpis, fmt="csv"),
    }
    for name, data in csv_exports.items():
        assert _csv_has_no_live_formula(data), name


# --- SQL fragments are data, never SQL --------------------------------------------------------------


@pytest.mark.parametrize("fragment", SQL_FRAGMENTS)
def test_sql_fragments_in_search_and_filter_boxes_return_normal_results(
    seeded_engine: Engine, admin: Actor, fragment: str
) -> None:
    all_proposals = proposals.proposal_frame(seeded_engine, actor=admin)
    found = proposals.proposal_frame(seeded_engine, actor=admin, search=fragment)
    assert len(found) <= len(all_proposals)
    assert found.empty  # wildcards are taken literally, and no seeded name or summary holds them
    log = audit_admin.audit_search(
        seeded_engine, actor=admin, filters=audit_admin.AuditFilters(actor=fragment)
    )
    assert log.empty  # no login contains these characters
    log = audit_admin.audit_search(
        seeded_engine, actor=admin, filters=audit_admin.AuditFilters(action=fragment, entity=fragment)
    )
    assert log.empty
    round_id = int(screening.rounds(seeded_engine)["id"].iloc[0])
    results = screening.filtered_results_table(
        seeded_engine, round_id=round_id, filters=screening.ResultFilters(search=fragment)
    )
    assert results.empty
    assert _tables_exist(seeded_engine)
    assert not query_df(seeded_engine, "SELECT id FROM ledger_entry").empty


@pytest.mark.parametrize(
    ("name", "search", "found"),
    [
        ("利用率100%達成事業", "100%", True),
        ("A_B連携事業", "A_B", True),
        ("AXB連携事業", "A_B", False),
        ("率100達成事業", "100%", False),
    ],
)
def test_a_search_box_takes_percent_and_underscore_literally(
    seeded_engine: Engine, admin: Actor, name: str, search: str, found: bool
) -> None:
    year = int(clock.current_fiscal_year())
    proposals.save_proposal(
        seeded_engine, actor=admin, data=make_proposal(seeded_engine, year, project_name=name)
    )
    hits = proposals.proposal_frame(seeded_engine, actor=admin, search=search)
    assert (name in set(hits["project"])) is found
    entries = ledger.ledger_export(seeded_engine, project_name=search)
    assert entries.empty  # a new project has no postings, and no seeded project matches literally


@pytest.mark.parametrize("fragment", SQL_FRAGMENTS)
def test_sql_fragments_in_service_parameters_are_refused_or_harmless(
    seeded_engine: Engine, fragment: str
) -> None:
    users_before = len(query_df(seeded_engine, "SELECT id FROM app_user"))
    with pytest.raises(RuleViolation):
        auth.authenticate(seeded_engine, login=fragment, password=fragment)
    with pytest.raises(PermissionDenied):
        auth.actor_for_oidc(seeded_engine, subject=fragment, email=fragment)
    with pytest.raises(InputInvalid):
        auth.create_user(
            seeded_engine,
            actor=make_admin(),
            login=fragment,
            role=Role.screener,
            password=None,
            display_name=fragment,
        )
    with pytest.raises(FundError):
        ledger.post_entry(
            seeded_engine,
            actor=make_admin(),
            entry=posting(
                {
                    "posted_on": date(2025, 7, 1),
                    "fiscal_year": fragment,
                    "kind": fragment,
                    "amount_yen": 1,
                    "memo": "x",
                }
            ),
        )
    assert _tables_exist(seeded_engine)
    assert len(query_df(seeded_engine, "SELECT id FROM app_user")) == users_before


def make_admin() -> Actor:
    return Actor(login="test_admin", role=Role.admin, display_name="テスト管理者")


# --- Uploads: unusable files are refused and import nothing -----------------------------------------


def _xlsx_bytes(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    ws = book.active
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("proposals.exe", b"MZ\x90\x00"),
        ("proposals.xlsx", b"this is not a zip file at all"),
        ("proposals.xlsx", b"PK\x03\x04" + b"\x00" * 200),
        ("proposals.csv", b"\xff\xfe\x00\x00garbage"),
        ("proposals.xlsx", _xlsx_bytes([[SCRIPT, MD_LINK], ["=1+1", "x"]])),
        ("proposals.csv", b"x" * (intake.MAX_UPLOAD_BYTES + 1)),
    ],
)
def test_unusable_uploads_are_refused_and_import_nothing(
    seeded_engine: Engine, admin: Actor, filename: str, content: bytes
) -> None:
    before = len(query_df(seeded_engine, "SELECT id FROM proposal"))
    with pytest.raises(FundError) as exc:
        intake.import_upload(seeded_engine, actor=admin, filename=filename, content=content)
    assert exc.value.message  # a Japanese message the page shows as-is
    assert len(query_df(seeded_engine, "SELECT id FROM proposal")) == before
