"""Schema migrations: the revisions build the models' schema, old databases are upgraded with every
row and a verified audit chain, and any database this release cannot use is refused in Japanese."""

import gzip
import shutil
import types
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from alembic import command
from sqlalchemy import Engine, text
from streamlit.testing.v1 import AppTest

from fund import audit, ledger, schema
from fund.db import dispose_engines, get_engine, query_df
from fund.ops.cli import main
from fund.ops.seed import seed
from fund.settings import get_settings
from tests.conftest import APP, ROOT
from tests.integration.test_misconfiguration import locked_file, make_garbage_file  # noqa: F401

FIXTURE = ROOT / "tests" / "fixtures" / "release-0.1.0.duckdb.gz"
UPGRADE_HINT = "`fund db upgrade`"


def _use(monkeypatch: pytest.MonkeyPatch, path: Path, backups: Path) -> str:
    url = f"duckdb:///{path}"
    monkeypatch.setenv("FUND_DATABASE_URL", url)
    monkeypatch.setenv("FUND_BACKUP_DIR", str(backups))
    get_settings.cache_clear()
    return url


def _counts(path: Path) -> dict[str, int]:
    """Row counts read with DuckDB itself, outside the application's code."""
    dispose_engines()  # the app's pooled connection would block a read-only one
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {n: int(con.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0]) for n in names}  # type: ignore[index]
    finally:
        con.close()


def _tables(path: Path) -> set[str]:
    dispose_engines()
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    finally:
        con.close()


@pytest.fixture
def release_010(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The database file written by release 0.1.0 (`fund init`, a user, two proposals, a posting)."""
    path = tmp_path / "fund.duckdb"
    with gzip.open(FIXTURE) as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    _use(monkeypatch, path, tmp_path / "backups")
    yield path
    dispose_engines()


# --- The revisions equal the models ----------------------------------------------------------------


def test_migrating_an_empty_database_builds_exactly_the_models_schema(tmp_path: Path) -> None:
    engine = get_engine(f"duckdb:///{tmp_path / 'migrated.duckdb'}")
    with engine.begin() as conn:
        command.upgrade(schema.config(conn), "head")
    assert schema.differences(engine) == []
    assert schema.status(engine).state is schema.State.current


def test_the_comparison_reports_a_column_the_models_do_not_have(engine: Engine) -> None:
    assert schema.differences(engine) == []
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE department ADD COLUMN note VARCHAR"))
    assert ("unexpected", ("column", "department", "note", "VARCHAR", "True", "None")) in schema.differences(
        engine
    )


def test_the_history_starts_at_the_baseline() -> None:
    assert [r[:2] for r in schema.history()] == [
        ("0001", None),
        ("0002", "0001"),
        ("0003", "0002"),
        ("0004", "0003"),
        ("0005", "0004"),
        ("0006", "0005"),
        ("0007", "0006"),
        ("0008", "0007"),
    ]
    assert schema.BASELINE == "0001" and schema.head() == "0008"


# --- Release 0.1.0's file --------------------------------------------------------------------------


def test_release_0_1_0_is_refused_until_upgraded_then_keeps_every_row(
    release_010: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _counts(release_010)
    assert "alembic_version" not in before and before["proposal"] == 26 and before["review_score"] == 288

    assert main(["ledger"]) == 4
    err = capsys.readouterr().err
    assert "0.1.0" in err and UPGRADE_HINT in err and "Traceback" not in err
    assert main(["migrate", "--to", f"duckdb:///{release_010.with_name('copy.duckdb')}"]) == 4
    assert UPGRADE_HINT in capsys.readouterr().err
    assert not release_010.with_name("copy.duckdb").exists()
    assert _counts(release_010) == before  # refusing writes nothing

    assert main(["db", "upgrade"]) == 0
    out = capsys.readouterr().out
    assert f"版 0.1.0（版の記録なし） から版 {schema.head()} に更新しました" in out and "バックアップ" in out

    after = _counts(release_010)
    assert after.pop("alembic_version") == 1
    # The backup and the upgrade each add one audit row; nothing else changes.
    assert after.pop("allocation_change") == 0  # 0003's new table starts empty
    for new_in_0004 in ("proposal_revision", "proposal_return", "round_policy", "screening_decision"):
        assert after.pop(new_in_0004) == 0
    assert after.pop("session_end") == 0  # 0005: no session of the old database was ended
    # 0006: every ledger entry, allocation, proposal, user and 年度 gets its baseline after-image
    watched = ("ledger_entry", "allocation", "allocation_change", "proposal", "app_user", "fiscal_year")  # fmt: skip
    assert after.pop("drawdown_request") == after.pop("drawdown_policy") == 0  # 0007: nothing waits yet
    assert after.pop("audit_image") == sum(before.get(t, 0) for t in watched)
    assert after == {**before, "audit_log": before["audit_log"] + 2}
    assert main(["audit", "verify"]) == 0
    assert main(["db", "current"]) == 0
    assert f"最新の版（{schema.head()}）" in capsys.readouterr().out

    engine = get_engine()
    # 0002: the FY2023 drawdown, posted without an allocation, now says so; linked ones need no reason
    drawdowns = query_df(
        engine, "SELECT fiscal_year, unallocated_reason FROM ledger_entry WHERE kind = 'drawdown'"
    )
    unlinked = drawdowns[drawdowns["unallocated_reason"].notna()]
    assert unlinked["fiscal_year"].tolist() == [2023] and len(drawdowns) == 25
    assert ledger.balance(engine) == 2_060_123_456  # 20.6億円 and the 123,456円 of interest posted
    # 0004: every score given before it judged the proposal's first revision
    judged = query_df(engine, "SELECT proposal_revision, COUNT(*) AS n FROM review_score GROUP BY 1")
    assert judged.to_dict("records") == [{"proposal_revision": 1, "n": 288}]
    # 0008: the three seeded targets whose 年度 the sources leave out are 推計 (data/README.md)
    assumed = query_df(
        engine,
        "SELECT i.name, t.fiscal_year FROM kpi_target t JOIN kpi_indicator i ON i.id = t.indicator_id"
        " WHERE t.year_is_estimate ORDER BY i.name",
    )
    assert sorted(zip(assumed["name"], assumed["fiscal_year"], strict=True)) == sorted(
        [
            ("捕獲システムでの野犬捕獲頭数", 2026),
            ("基幹回線の通信容量", 2024),
            ("Y-BASEのDXコンサルによる課題解決件数（累計）", 2026),
        ]
    )
    last = audit.audit_frame(engine, limit=1)
    assert last["操作"].iloc[0] == "database.upgrade"


def test_the_upgrade_keeps_a_verified_backup_of_the_old_file(
    release_010: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _counts(release_010)
    assert main(["db", "upgrade"]) == 0
    (backup_dir,) = (tmp_path / "backups").iterdir()
    restored = tmp_path / "restored.duckdb"
    monkeypatch.setenv("FUND_DATABASE_URL", f"duckdb:///{restored}")
    get_settings.cache_clear()
    assert main(["restore", str(backup_dir)]) == 0
    counts = _counts(restored)
    assert counts["proposal"] == before["proposal"] and counts["ledger_entry"] == before["ledger_entry"]


def test_the_page_refuses_release_0_1_0_and_opens_after_the_upgrade(release_010: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any(UPGRADE_HINT in e.value for e in at.error)
    dispose_engines()
    assert main(["db", "upgrade"]) == 0
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception and not at.error
    assert at.text_input  # the sign-in form


# --- What cannot be upgraded is refused, and nothing is written ------------------------------------


def _stamped(path: Path, revision: str, *, drop: str | None = None) -> Path:
    engine = get_engine(f"duckdb:///{path}")
    schema.create(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
        if drop:
            conn.execute(text(f"DROP TABLE {drop}"))
    dispose_engines()
    return path


def _foreign(path: Path) -> Path:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE customers (id INTEGER, name VARCHAR)")
    con.close()
    return path


def _half_made(path: Path) -> Path:
    """Release 0.1.0's tables, but one column short (a development build older than the release)."""
    engine = get_engine(f"duckdb:///{path}")
    with engine.begin() as conn:
        command.upgrade(schema.config(conn), schema.BASELINE)
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("ALTER TABLE rollout DROP COLUMN is_sample"))
    dispose_engines()
    return path


REFUSED = {
    "newer": (lambda p: _stamped(p, "9999_from_the_future"), "新しいリリースで更新されています"),
    "half_migrated": (
        lambda p: _stamped(p, schema.head(), drop="scenario_item"),
        "不足している表: scenario_item",
    ),
    "half_made": (_half_made, "不足している表: rollout.is_sample"),
    "foreign": (_foreign, "この基金管理アプリのものではない表があります（customers）"),
    "damaged": (make_garbage_file, "破損しています"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_database_that_cannot_be_upgraded_is_refused_in_japanese_and_left_alone(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make, expected = REFUSED[case]
    path = make(tmp_path / f"{case}.duckdb")
    content = path.read_bytes()
    _use(monkeypatch, path, tmp_path / "backups")
    for argv in (["db", "upgrade"], ["init"], ["ledger"]):
        assert main(argv) != 0, argv
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err, (argv, err)
    dispose_engines()
    assert path.read_bytes() == content
    assert not (tmp_path / "backups").exists()


def test_a_missing_file_is_not_created_by_upgrade_or_any_command_but_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nowhere.duckdb"
    _use(monkeypatch, path, tmp_path / "backups")
    for argv in (["db", "upgrade"], ["db", "current"], ["ledger"], ["backup", "--out", str(tmp_path / "b")]):
        assert main(argv) != 0, argv
        assert "がありません" in capsys.readouterr().err
        assert not path.exists()
    assert main(["init"]) == 0
    assert f"データベースを作成しました（スキーマの版 {schema.head()}）" in capsys.readouterr().out
    assert main(["db", "current"]) == 0


def test_a_locked_file_is_explained_and_not_upgraded(
    locked_file: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _use(monkeypatch, locked_file, tmp_path / "backups")
    assert main(["db", "upgrade"]) != 0
    assert "他のプロセスで使用中" in capsys.readouterr().err
    assert not (tmp_path / "backups").exists()


def test_seed_refuses_an_old_database_instead_of_adding_tables(release_010: Path) -> None:
    tables = _tables(release_010)
    with pytest.raises(schema.SchemaMismatch, match="fund db upgrade"):
        seed(get_engine())
    dispose_engines()
    assert _tables(release_010) == tables


def _failing_upgrade(conn_action: str | None) -> object:
    """`command.upgrade` as a broken release would run it: raising, or losing a row on the way."""

    def run(cfg: object, _revision: str) -> None:
        conn = cfg.attributes["connection"]  # type: ignore[attr-defined]
        if conn_action is None:
            raise RuntimeError("revision 0002 failed half-way")
        conn.execute(text(conn_action))

    return run


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (None, "スキーマを更新できませんでした（RuntimeError: revision 0002 failed half-way）。"),
        (
            "DELETE FROM rollout WHERE id = 1",
            "更新後の件数が更新前と一致しません: rollout（更新前 10件、更新後 9件）。",
        ),
    ],
)
def test_a_failed_upgrade_leaves_the_file_untouched_and_says_where_the_backup_is(
    release_010: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    action: str | None,
    expected: str,
) -> None:
    from fund.ops import upgrade

    before = _counts(release_010)
    broken = types.SimpleNamespace(stamp=command.stamp, upgrade=_failing_upgrade(action))
    monkeypatch.setattr(upgrade, "command", broken)  # only fund db upgrade's own migration step
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    (backup_dir,) = (tmp_path / "backups").iterdir()
    assert expected in err and upgrade.UNCHANGED in err and str(backup_dir) in err
    # Only the backup's own audit row was added; no version table, every other row as it was.
    assert _counts(release_010) == {**before, "audit_log": before["audit_log"] + 1}
    assert main(["db", "current"]) == 4
    assert not release_010.with_name(release_010.name + ".upgrading").exists()


def test_every_revision_can_be_undone_down_to_an_empty_database(tmp_path: Path) -> None:
    engine = get_engine(f"duckdb:///{tmp_path / 'roundtrip.duckdb'}")
    with engine.begin() as conn:
        command.upgrade(schema.config(conn), "head")
        command.downgrade(schema.config(conn), schema.BASELINE)
        assert "unallocated_reason" not in {
            c.split(".")[1] for c in schema.column_names(conn) if c.startswith("ledger_entry.")
        }
        command.downgrade(schema.config(conn), "base")
        assert schema.table_names(conn) == {schema.VERSION_TABLE}
        assert conn.execute(text("SELECT COUNT(*) FROM duckdb_sequences()")).scalar_one() == 0
