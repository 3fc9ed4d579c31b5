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


def test_pages_run_no_sql_themselves() -> None:
    pattern = re.compile(r"(\bselect\(|\bSession\(|\.execute\(|duckdb\.connect|query_df\()")
    offenders = [
        p.name for p in (ROOT / "pages").glob("*.py") if pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_no_page_passes_data_to_unsafe_html() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in [ROOT / "app.py", *(ROOT / "pages").glob("*.py")]
        if "unsafe_allow_html=True" in p.read_text(encoding="utf-8")
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
    return [ROOT / "app.py", *(ROOT / "pages").rglob("*.py"), *(ROOT / "fund").rglob("*.py")]


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
