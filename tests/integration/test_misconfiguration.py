"""A database that cannot be opened gives a Japanese message and a non-zero exit, never a traceback."""

import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from fund.ops.cli import main
from fund.settings import get_settings
from tests.conftest import APP, ROOT

_MASK = (1 << 64) - 1


def _header_checksum(block: bytes) -> int:
    """DuckDB's block checksum (8-byte words multiplied and xor-ed), used to forge an old header."""
    result = 5381
    for i in range(len(block) // 8):
        (word,) = struct.unpack_from("<Q", block, i * 8)
        result ^= (word * 0xBF58476D1CE4E5B9) & _MASK
    return result


def make_old_version_file(path: Path) -> Path:
    """A DuckDB file whose header says storage version 51 (written by DuckDB 0.8)."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t (i INTEGER)")
    con.close()
    data = bytearray(path.read_bytes())
    assert data[8:12] == b"DUCK"
    data[12:20] = struct.pack("<Q", 51)
    data[0:8] = struct.pack("<Q", _header_checksum(bytes(data[8:4096])))
    path.write_bytes(bytes(data))
    return path


def make_garbage_file(path: Path) -> Path:
    path.write_bytes(b"this is not a database\n" * 500)
    return path


@pytest.fixture
def locked_file(tmp_path: Path) -> Iterator[Path]:
    """A DuckDB file held open for writing by another process."""
    path = tmp_path / "locked.duckdb"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            "con = duckdb.connect(sys.argv[1])\n"
            "con.execute('CREATE TABLE IF NOT EXISTS t (i INTEGER)')\n"
            "print('ready', flush=True)\n"
            "time.sleep(120)\n",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        yield path
    finally:
        child.kill()
        child.wait()


UNREACHABLE_PG = "postgresql+psycopg://fund:secret@127.0.0.1:9/fund?connect_timeout=3"

CASES = {
    "unreachable_postgres": ("PostgreSQL サーバーに接続できません", None),
    "old_version": ("別のバージョンの DuckDB", make_old_version_file),
    "garbage": ("DuckDB のデータベースではないか", make_garbage_file),
    "malformed_url": ("形式が正しくありません", None),
}


def _url_for(case: str, tmp_path: Path) -> str:
    if case == "unreachable_postgres":
        return UNREACHABLE_PG
    if case == "malformed_url":
        return "nosuchdriver://somewhere/db"
    maker = CASES[case][1]
    assert maker is not None
    return f"duckdb:///{maker(tmp_path / f'{case}.duckdb')}"


def _use(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("FUND_DATABASE_URL", url)
    get_settings.cache_clear()


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_cli_exits_non_zero_with_a_japanese_message(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _use(monkeypatch, _url_for(case, tmp_path))
    assert main(["audit", "verify"]) != 0
    err = capsys.readouterr().err
    assert CASES[case][0] in err
    assert "Traceback" not in err


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_page_shows_a_japanese_error_instead_of_an_exception(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(monkeypatch, _url_for(case, tmp_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any(CASES[case][0] in e.value for e in at.error)


def test_a_file_locked_by_another_process_is_explained_in_the_cli_and_on_the_page(
    locked_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _use(monkeypatch, f"duckdb:///{locked_file}")
    assert main(["ledger"]) != 0
    err = capsys.readouterr().err
    assert "他のプロセスで使用中" in err and "Traceback" not in err
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("他のプロセスで使用中" in e.value for e in at.error)


def test_the_installed_command_prints_no_traceback(tmp_path: Path) -> None:
    path = make_old_version_file(tmp_path / "old.duckdb")
    result = subprocess.run(
        [sys.executable, "-m", "fund", "ledger"],
        env={"FUND_DATABASE_URL": f"duckdb:///{path}", "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "別のバージョンの DuckDB" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_streamlit_config_sends_no_usage_stats_and_shows_no_error_details() -> None:
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["showErrorDetails"] in (False, "none")
    assert config["client"]["toolbarMode"] == "viewer"
    assert not (ROOT / ".streamlit" / "secrets.toml").exists() or ".streamlit/secrets.toml" in (
        ROOT / ".gitignore"
    ).read_text(encoding="utf-8")


def test_the_app_never_creates_a_database_and_never_logs_a_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only `fund init` creates a database (and shows the first password, on its terminal)."""
    missing = tmp_path / "gone.duckdb"
    _use(monkeypatch, f"duckdb:///{missing}")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("がありません" in e.value and "fund init" in e.value for e in at.error)
    assert not missing.exists()
    assert "パスワード" not in capsys.readouterr().out
