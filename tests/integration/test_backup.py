"""Backups restore: every table comes back row for row, checksums guard the copy, ids continue."""

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from fund import audit, ledger, schema
from fund.auth import Actor
from fund.db import dispose_engines, get_engine, query_df
from fund.errors import PermissionDenied, RuleViolation
from fund.models import LedgerKind, Role
from fund.ops import backup
from fund.ops.cli import main
from tests.conftest import ROOT, make_actor, posting


def _tables(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    for name in backup.table_names():
        df = query_df(engine, f'SELECT * FROM "{name}" ORDER BY 1')
        out[name] = [tuple(str(v) for v in row) for row in df.itertuples(index=False)]
    return out


def _post(engine: Engine, actor: Actor, memo: str, amount: int = 1_000) -> int:
    entry = ledger.post_entry(
        engine,
        actor=actor,
        entry=posting(
            {
                "posted_on": date(2025, 6, 1),
                "fiscal_year": 2025,
                "kind": LedgerKind.deposit,
                "amount_yen": amount,
                "memo": memo,
            }
        ),
    )
    assert entry.id is not None
    return entry.id


def test_backup_then_restore_into_a_new_file_gives_every_table_back(
    seeded_engine: Engine, admin: Actor, tmp_path: Path
) -> None:
    _post(seeded_engine, admin, "バックアップ前の記帳")
    before = _tables(seeded_engine)
    manifest = backup.backup(seeded_engine, out_dir=tmp_path / "bk", actor=admin)
    assert manifest.tables["ledger_entry"] == len(before["ledger_entry"])
    saved = json.loads((tmp_path / "bk" / "manifest.json").read_text(encoding="utf-8"))
    assert saved["app_version"] and saved["created_at"] and saved["format"] == backup.FORMAT_DUCKDB
    assert saved["schema_revision"] == schema.head()
    assert set(saved["files"]) == {f"{name}.parquet" for name in backup.table_names()}

    target = tmp_path / "restored.duckdb"
    report = backup.restore(tmp_path / "bk", url=f"duckdb:///{target}", actor=admin)
    assert report.previous_file is None
    restored = get_engine(f"duckdb:///{target}")
    after = _tables(restored)
    # The restore adds exactly one audit row recording itself; every other row is identical.
    assert after["audit_log"][:-1] == before["audit_log"]
    assert after["audit_log"][-1][3] == "database.restore"
    assert {k: v for k, v in after.items() if k != "audit_log"} == {
        k: v for k, v in before.items() if k != "audit_log"
    }
    assert audit.verify_chain(restored) is None
    assert ledger.balance(restored) == ledger.balance(seeded_engine)


def test_ids_continue_after_the_largest_restored_id(
    seeded_engine: Engine, admin: Actor, tmp_path: Path
) -> None:
    last = _post(seeded_engine, admin, "最後の記帳")
    backup.backup(seeded_engine, out_dir=tmp_path / "bk", actor=admin)
    target = tmp_path / "restored.duckdb"
    backup.restore(tmp_path / "bk", url=f"duckdb:///{target}", actor=admin)
    restored = get_engine(f"duckdb:///{target}")
    assert _post(restored, admin, "復元後の記帳") > last
    assert audit.verify_chain(restored) is None


def test_ids_of_deleted_rows_are_not_handed_out_again_after_a_restore(
    seeded_engine: Engine, admin: Actor, tmp_path: Path
) -> None:
    with seeded_engine.begin() as conn:
        deleted = conn.exec_driver_sql("SELECT nextval('department_id_seq')").scalar_one()
    backup.backup(seeded_engine, out_dir=tmp_path / "bk", actor=admin)
    target = tmp_path / "restored.duckdb"
    backup.restore(tmp_path / "bk", url=f"duckdb:///{target}", actor=admin)
    with get_engine(f"duckdb:///{target}").begin() as conn:
        assert conn.exec_driver_sql("SELECT nextval('department_id_seq')").scalar_one() == deleted + 1


def test_a_backup_written_by_release_0_1_0_is_restored_and_upgraded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Release 0.1.0 wrote EXPORT DATABASE folders; `fund restore` imports one, then upgrades it."""
    source = ROOT / "tests" / "fixtures" / "release-0.1.0-backup"
    manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == backup.FORMAT_EXPORT and "schema_revision" not in manifest
    target = tmp_path / "restored.duckdb"
    monkeypatch.setenv("FUND_DATABASE_URL", f"duckdb:///{target}")
    monkeypatch.setenv("FUND_BACKUP_DIR", str(tmp_path / "backups"))
    from fund.settings import get_settings

    get_settings.cache_clear()
    assert main(["restore", str(source)]) == 2  # unsigned: refused unless accepted as such
    assert "署名がありません" in capsys.readouterr().err
    assert not target.exists()
    assert main(["restore", str(source), "--accept-unsigned"]) == 0
    out = capsys.readouterr().out
    # The schema is built from the migrations at the baseline (release 0.1.0), then upgraded.
    assert "復元しました" in out and f"版 {schema.BASELINE} から版 {schema.head()} に更新しました" in out
    restored = get_engine()
    assert schema.status(restored).state is schema.State.current
    counts = {
        n: int(query_df(restored, f'SELECT COUNT(*) AS n FROM "{n}"')["n"].iloc[0])
        for n in manifest["tables"]
    }
    # the restore, the upgrade's backup and the upgrade each add one audit row
    assert counts == {**manifest["tables"], "audit_log": manifest["tables"]["audit_log"] + 3}
    assert audit.verify_chain(restored) is None


def test_a_tampered_backup_file_is_refused_before_anything_is_written(
    seeded_engine: Engine, admin: Actor, tmp_path: Path
) -> None:
    backup.backup(seeded_engine, out_dir=tmp_path / "bk", actor=admin)
    parquet = tmp_path / "bk" / "ledger_entry.parquet"
    data = bytearray(parquet.read_bytes())
    data[len(data) // 2] ^= 0xFF
    parquet.write_bytes(bytes(data))
    target = tmp_path / "restored.duckdb"
    with pytest.raises(RuleViolation, match="チェックサム"):
        backup.restore(tmp_path / "bk", url=f"duckdb:///{target}", actor=admin)
    assert not target.exists()


def test_restore_refuses_a_database_with_data_unless_forced(
    seeded_engine: Engine, admin: Actor, tmp_path: Path
) -> None:
    backup.backup(seeded_engine, out_dir=tmp_path / "bk", actor=admin)
    _post(seeded_engine, admin, "バックアップ後の記帳")
    balance_after = ledger.balance(seeded_engine)
    url = str(seeded_engine.url)
    dispose_engines()
    with pytest.raises(RuleViolation, match="--force"):
        backup.restore(tmp_path / "bk", url=url, actor=admin)
    assert ledger.balance(get_engine(url)) == balance_after
    dispose_engines()
    report = backup.restore(tmp_path / "bk", url=url, force=True, actor=admin)
    assert report.previous_file is not None and report.previous_file.exists()
    assert ledger.balance(get_engine(url)) == balance_after - 1_000


def test_only_the_administrator_may_back_up(seeded_engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(PermissionDenied):
        backup.backup(seeded_engine, out_dir=tmp_path / "bk", actor=make_actor(Role.screener))


def test_backup_refuses_a_non_empty_output_folder(
    seeded_engine: Engine, admin: Actor, tmp_path: Path
) -> None:
    (tmp_path / "bk").mkdir()
    (tmp_path / "bk" / "other.txt").write_text("x")
    with pytest.raises(RuleViolation, match="空ではありません"):
        backup.backup(seeded_engine, out_dir=tmp_path / "bk", actor=admin)


def test_cli_backup_and_restore_round_trip(
    seeded_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = int(query_df(seeded_engine, "SELECT COUNT(*) AS n FROM ledger_entry")["n"].iloc[0])
    dispose_engines()
    assert main(["backup", "--out", str(tmp_path / "bk")]) == 0
    out = capsys.readouterr()
    assert "バックアップを" in out.out and "]" in out.err  # the progress bar
    monkeypatch.setenv("FUND_DATABASE_URL", f"duckdb:///{tmp_path / 'new.duckdb'}")
    from fund.settings import get_settings

    get_settings.cache_clear()
    assert main(["restore", str(tmp_path / "bk")]) == 0
    assert "復元しました" in capsys.readouterr().out
    restored = get_engine(f"duckdb:///{tmp_path / 'new.duckdb'}")
    assert int(query_df(restored, "SELECT COUNT(*) AS n FROM ledger_entry")["n"].iloc[0]) == rows
    dispose_engines()
    assert main(["restore", str(tmp_path / "bk")]) == 2
    assert "--force" in capsys.readouterr().err


def test_restore_refuses_a_database_in_use_by_another_process_even_with_force(
    seeded_engine: Engine, admin: Actor, tmp_path: Path
) -> None:
    import subprocess
    import sys

    backup.backup(seeded_engine, out_dir=tmp_path / "bk", actor=admin)
    target = tmp_path / "in_use.duckdb"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            "con = duckdb.connect(sys.argv[1])\n"
            "con.execute('CREATE TABLE t (i INTEGER)')\n"
            "print('ready', flush=True)\n"
            "time.sleep(120)\n",
            str(target),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        with pytest.raises(RuleViolation, match="使用中"):
            backup.restore(tmp_path / "bk", url=f"duckdb:///{target}", force=True, actor=admin)
    finally:
        child.kill()
        child.wait()
    assert not (tmp_path / "in_use.duckdb.restoring").exists()


def test_two_backups_in_the_same_second_get_their_own_folders(
    seeded_engine: Engine, admin: Actor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUND_BACKUP_DIR", str(tmp_path / "backups"))
    monkeypatch.setattr(backup.clock, "stamp_jst", lambda: "20261202-090000")
    first, _ = backup.backup_now(seeded_engine, actor=admin)
    second, _ = backup.backup_now(seeded_engine, actor=admin)
    assert (first.name, second.name) == ("fund-20261202-090000", "fund-20261202-090000-2")


def _rehash(directory: Path) -> None:
    """What an attacker with write access to the backup does after editing a file."""
    path = directory / "manifest.json"
    saved = json.loads(path.read_text(encoding="utf-8"))
    saved["files"] = {rel: backup._sha256(directory / rel) for rel in saved["files"]}
    path.write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8")


def test_an_edited_amount_with_a_rehashed_manifest_is_refused_by_the_signature(
    seeded_engine: Engine, admin: Actor, tmp_path: Path
) -> None:
    import duckdb

    backup.backup(seeded_engine, out_dir=tmp_path / "bk", actor=admin)
    parquet = tmp_path / "bk" / "ledger_entry.parquet"
    edited = tmp_path / "edited.parquet"
    with duckdb.connect() as con:
        con.execute(
            f"COPY (SELECT * REPLACE (amount_yen * 10 AS amount_yen) FROM read_parquet('{parquet}')) "
            f"TO '{edited}' (FORMAT PARQUET)"
        )
    edited.replace(parquet)
    _rehash(tmp_path / "bk")
    target = tmp_path / "restored.duckdb"
    with pytest.raises(RuleViolation, match="署名が一致しません"):
        backup.restore(tmp_path / "bk", url=f"duckdb:///{target}", actor=admin)
    assert not target.exists()


def test_a_backup_signed_with_another_key_is_refused(
    seeded_engine: Engine, admin: Actor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fund.settings import get_settings

    backup.backup(seeded_engine, out_dir=tmp_path / "bk", actor=admin)
    monkeypatch.setenv("FUND_BACKUP_KEY", "the-key-of-another-installation")
    get_settings.cache_clear()
    with pytest.raises(RuleViolation, match="署名が一致しません"):
        backup.restore(tmp_path / "bk", url=f"duckdb:///{tmp_path / 'r.duckdb'}", actor=admin)


def test_without_a_configured_key_the_first_backup_makes_a_private_key_file(
    seeded_engine: Engine, admin: Actor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fund.settings import get_settings

    monkeypatch.delenv("FUND_BACKUP_KEY")
    monkeypatch.setenv("FUND_BACKUP_KEY_FILE", str(tmp_path / "keys" / "backup.key"))
    get_settings.cache_clear()
    backup.backup(seeded_engine, out_dir=tmp_path / "bk", actor=admin)
    key = tmp_path / "keys" / "backup.key"
    assert key.is_file() and (key.stat().st_mode & 0o777) == 0o600
    assert key.read_text() not in (tmp_path / "bk" / "manifest.json").read_text(encoding="utf-8")
    assert not any(p.name == "backup.key" for p in (tmp_path / "bk").rglob("*"))
    report = backup.restore(tmp_path / "bk", url=f"duckdb:///{tmp_path / 'r.duckdb'}", actor=admin)
    assert report.tables["ledger_entry"] > 0


def test_restore_runs_no_statement_from_the_backup(tmp_path: Path, admin: Actor) -> None:
    """Release 0.1.0's folders carry schema.sql and load.sql; statements added to them never run."""
    import shutil

    source = tmp_path / "bk"
    shutil.copytree(ROOT / "tests" / "fixtures" / "release-0.1.0-backup", source)
    written, copied = tmp_path / "written.csv", tmp_path / "copied"
    for name in ("schema.sql", "load.sql"):
        with (source / name).open("a", encoding="utf-8") as fh:
            fh.write(
                f"\nCOPY (SELECT 42) TO '{written}';\nCREATE TABLE stolen AS SELECT * FROM read_text('{ROOT / 'README.md'}');\n"
            )
    _rehash(source)
    target = tmp_path / "restored.duckdb"
    backup.restore(source, url=f"duckdb:///{target}", accept_unsigned=True, actor=admin)
    assert not written.exists() and not copied.exists()
    tables = query_df(get_engine(f"duckdb:///{target}"), "SELECT table_name FROM information_schema.tables")
    assert "stolen" not in set(tables["table_name"])


def test_a_crash_before_the_swap_leaves_the_old_database_in_place(
    seeded_engine: Engine, admin: Actor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    backup.backup(seeded_engine, out_dir=tmp_path / "bk", actor=admin)
    _post(seeded_engine, admin, "バックアップ後の記帳")
    balance_after = ledger.balance(seeded_engine)
    url = str(seeded_engine.url)
    dispose_engines()

    def crash(_src: object, _dst: object) -> None:
        raise KeyboardInterrupt  # the process dies here

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        backup.restore(tmp_path / "bk", url=url, force=True, actor=admin)
    monkeypatch.undo()
    assert ledger.balance(get_engine(url)) == balance_after  # the target path still holds the old one
