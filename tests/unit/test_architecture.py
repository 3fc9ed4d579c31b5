"""Keep the layers and the docs honest."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_fund_package_never_imports_streamlit() -> None:
    offenders = []
    for path in (ROOT / "fund").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "streamlit" or n.startswith("streamlit.") for n in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_every_page_is_registered_in_app() -> None:
    app = (ROOT / "app.py").read_text(encoding="utf-8")
    pages = sorted(p.name for p in (ROOT / "pages").glob("*.py") if not p.name.startswith("_"))
    missing = [p for p in pages if f'"pages/{p}"' not in app]
    assert missing == []


def _ui_sources() -> list[Path]:
    """The Streamlit side: the frame, the pages and the UI package."""
    return [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").rglob("*.py")]


def test_the_ui_side_runs_no_sql_itself() -> None:
    pattern = re.compile(r"(\bselect\(|\bSession\(|\.execute\(|duckdb\.connect|query_df\()")
    offenders = [
        str(p.relative_to(ROOT)) for p in _ui_sources() if pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


PAGE_LINES = 150  # a page is a table of contents: title, tabs, one render call per tab


def test_every_page_is_a_table_of_contents_of_at_most_150_lines() -> None:
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in (ROOT / "pages").glob("*.py")}
    assert sizes and {name: n for name, n in sizes.items() if n > PAGE_LINES} == {}


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_page_imports_sqlalchemy_or_a_database_driver() -> None:
    banned = ("sqlalchemy", "sqlmodel", "duckdb", "psycopg")
    offenders = {
        p.name: sorted(m for m in _imported_modules(p) if m.split(".")[0] in banned)
        for p in (ROOT / "pages").glob("*.py")
    }
    assert {name: mods for name, mods in offenders.items() if mods} == {}


def test_the_import_checks_see_a_from_import_and_a_plain_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import sqlalchemy.orm\nfrom duckdb import connect\n", encoding="utf-8")
    assert _imported_modules(sample) == {"sqlalchemy.orm", "duckdb"}


def test_the_ui_reads_through_typed_loaders_not_a_lookup_by_name() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in _ui_sources()
        if "import_module" in p.read_text(encoding="utf-8") or "_ui.read(" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_no_page_passes_data_to_unsafe_html() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in _ui_sources()
        if "unsafe_allow_html=True" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_static_tables_go_through_the_widget_that_prints_cells_as_typed() -> None:
    """st.table reads every cell as Markdown; only widgets.table, which escapes the cells, calls it."""
    offenders = [
        str(p.relative_to(ROOT))
        for p in _ui_sources()
        if "st.table(" in p.read_text(encoding="utf-8") and p != ROOT / "ui" / "widgets.py"
    ]
    assert offenders == []


def test_readme_starts_with_the_two_commands_and_ci_calls_make_test() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    head = readme[:1500]
    assert "make run" in head and "make test" in head
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^run:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


# Any of these asks the system for the time in its own zone, or shifts by hand: only fund/clock.py may.
_OWN_CLOCK = re.compile(
    r"\bdate\.today\(|\bdatetime\.(now|today|utcnow)\(|\bTimestamp\.(now|today)\(|\btime\.(time|localtime)\("
    r"|timedelta\(hours=9\)|\bnow\(\)"
)


def _application_sources() -> list[Path]:
    return [*_ui_sources(), *(ROOT / "fund").rglob("*.py")]


def test_only_the_clock_module_reads_the_time() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _application_sources()
        if path != ROOT / "fund" / "clock.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if _OWN_CLOCK.search(line)
    ]
    assert offenders == []


def test_the_clock_check_catches_each_way_of_reading_the_time() -> None:
    for line in [
        "today = date.today()",
        "now = datetime.now(UTC)",
        "stamp = (clock.now_utc() + timedelta(hours=9))",
        "pd.Timestamp.now()",
        "SELECT now()",
    ]:
        assert _OWN_CLOCK.search(line), line
    assert not _OWN_CLOCK.search("today = clock.today_jst()")


def test_every_audit_action_has_a_japanese_label() -> None:
    from fund.labels import AUDIT_ACTION
    from fund.models import AuditAction

    assert set(AUDIT_ACTION) == set(AuditAction)
    assert all(label.strip() for label in AUDIT_ACTION.values())


def test_only_the_auth_module_decides_by_role() -> None:
    """Role checks outside fund/auth.py go through `can`, `require` or `department_scope`."""
    pattern = re.compile(r"\.role\s*(==|!=|\.value)|\brole\.value\s*==")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _application_sources()
        if path != ROOT / "fund" / "auth.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if pattern.search(line)
    ]
    assert offenders == []


# A code written into SQL as a literal (`status = 'approved'`) hides a rule from the enum it belongs to.
_SQL_CODE_LITERAL = re.compile(r"(=|<>)\s*'[a-z_]+'|\bIN\s*\(\s*'[a-z_]")


def test_codes_in_sql_are_bound_parameters_not_literals() -> None:
    # The synthetic-data generator writes bulk SQL of its own and is not part of the domain.
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in (ROOT / "fund").rglob("*.py")
        if path.name != "generate.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if _SQL_CODE_LITERAL.search(line) and not line.lstrip().startswith("#")
    ]
    assert offenders == []


def test_the_sql_literal_check_catches_each_form() -> None:
    for line in ["WHERE status = 'approved'", "a.kind <> 'drawdown'", "status IN ('adopted', 'funded')"]:
        assert _SQL_CODE_LITERAL.search(line), line
    assert not _SQL_CODE_LITERAL.search("WHERE status = :approved")


def test_the_domain_never_imports_the_operations_package() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(
            m for m in _imported_modules(p) if m == "fund.ops" or m.startswith("fund.ops.")
        )
        for p in (ROOT / "fund").rglob("*.py")
        if "ops" not in p.relative_to(ROOT / "fund").parts and p.name != "__main__.py"  # `python -m fund`
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}


def _pins() -> dict[str, str]:
    """name → exact version from requirements.txt (lower-cased, extras dropped)."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[name.split("[")[0].strip().lower()] = version.strip()
    return pins


def test_every_declared_dependency_is_pinned_inside_its_declared_range() -> None:
    import tomllib

    from packaging.requirements import Requirement

    declared = [
        Requirement(r)
        for r in tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
            "dependencies"
        ]
    ]
    pins = _pins()
    outside = {
        r.name: pins.get(r.name.lower())
        for r in declared
        if r.name.lower() not in pins or not r.specifier.contains(pins[r.name.lower()])
    }
    assert outside == {}
    assert all(str(r.specifier) for r in declared)  # a range, never a bare name
