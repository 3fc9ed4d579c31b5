"""The eleven tamperings of the hardening review, each done the way someone with write access to the
database file (but not to the audit key) would do it, and each named by `fund audit verify`."""

import hashlib
import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, text

from fund import allocation, auth, integrity, ledger
from fund.db import query_df
from fund.models import Role
from fund.ops.cli import main
from tests.conftest import approved_allocation, make_actor, posting


def _sql(engine: Engine, statement: str, params: dict[str, Any] | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(text(statement), params or {})


def _messages(engine: Engine) -> list[str]:
    return [f.message for f in integrity.verify(engine)]


def _one(engine: Engine, sql: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    rows: list[dict[str, Any]] = query_df(engine, sql, params).to_dict("records")
    assert len(rows) == 1, rows
    return rows[0]


def _last_audit_id(engine: Engine) -> int:
    return int(_one(engine, "SELECT MAX(id) AS n FROM audit_log")["n"])


def _close_2025(engine: Engine) -> int:
    """決算確定 of 令和7年度 through the service: it writes the chain head outside the database."""
    allocation.close_year(engine, actor=make_actor(Role.admin), fiscal_year=2025)
    return _last_audit_id(engine)


def test_the_seeded_database_and_a_working_day_on_it_verify_clean(
    seeded_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _messages(seeded_engine) == []
    alloc = approved_allocation(seeded_engine, "やまぐちデジタル実装推進事業", 30_000_000)
    entry = ledger.post_entry(
        seeded_engine,
        actor=make_actor(Role.admin),
        entry=posting(
            {
                "posted_on": date(2026, 6, 1),
                "fiscal_year": 2026,
                "kind": "drawdown",
                "amount_yen": 1_000_000,
                "memo": "委託料",
                "allocation_id": alloc,
            }
        ),
        today=date(2026, 6, 1),
    )
    ledger.reverse_entry(
        seeded_engine,
        actor=make_actor(Role.admin),
        entry_id=entry.id or 0,
        posted_on=date(2026, 6, 2),
        reason="誤記帳",
        today=date(2026, 6, 2),
    )
    auth.create_user(seeded_engine, actor=make_actor(), login="yamada", role=Role.screener, password=None)
    auth.set_user_active(seeded_engine, actor=make_actor(), login="yamada", active=False, reason="異動")
    _close_2025(seeded_engine)

    assert _messages(seeded_engine) == []
    assert main(["audit", "verify"]) == 0
    assert "一致しています" in capsys.readouterr().out


def test_1_a_ledger_amount_multiplied_by_ten_is_named(
    seeded_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    row = _one(seeded_engine, "SELECT id, amount_yen FROM ledger_entry WHERE id = 5")
    _sql(seeded_engine, "UPDATE ledger_entry SET amount_yen = amount_yen * 10 WHERE id = 5")

    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "監査ログと一致しない点が 1件" in err
    assert f"基金台帳 番号 5: 金額（円） が 監査ログ 番号 1 では {row['amount_yen']:,}、" in err
    assert f"現在は {row['amount_yen'] * 10:,} です" in err


def test_2_a_deleted_ledger_row_is_named(seeded_engine: Engine) -> None:
    _sql(seeded_engine, "DELETE FROM ledger_entry WHERE id = 26")

    assert _messages(seeded_engine) == [
        "基金台帳 番号 26: 削除されています（監査ログ 番号 1 の後に削除の記録がありません）。"
    ]


def test_3_a_drawdown_inserted_without_the_app_is_named(seeded_engine: Engine) -> None:
    _sql(
        seeded_engine,
        "INSERT INTO ledger_entry (posted_on, fiscal_year, kind, amount_yen, memo, is_estimate, created_by, "
        "created_at) VALUES (:d, 2026, :kind, 500000000, '委託料', FALSE, 'admin', :d)",
        {"d": date(2026, 7, 1), "kind": "drawdown"},
    )
    new_id = int(_one(seeded_engine, "SELECT MAX(id) AS n FROM ledger_entry")["n"])

    assert _messages(seeded_engine) == [
        f"基金台帳 番号 {new_id}: 監査記録がありません（アプリを通さずに追加された行）。"
    ]


@pytest.mark.parametrize("deleted", [1, 5])
def test_4_5_the_newest_audit_rows_deleted_after_a_closing_are_named(
    seeded_engine: Engine, deleted: int
) -> None:
    for login in ("suzuki", "tanaka", "sato", "ito"):
        auth.create_user(seeded_engine, actor=make_actor(), login=login, role=Role.screener, password=None)
    head = _close_2025(seeded_engine)
    _sql(seeded_engine, "DELETE FROM audit_log WHERE id > :n", {"n": head - deleted})

    messages = _messages(seeded_engine)
    assert any(f"決算確定で記録した監査ログの先頭（番号 {head}）がありません" in m for m in messages), (
        messages
    )


def test_6_a_role_raised_to_admin_is_named(seeded_engine: Engine) -> None:
    _sql(seeded_engine, "UPDATE app_user SET role = :r WHERE login = 'sample_screener_a'", {"r": "admin"})
    user = _one(seeded_engine, "SELECT id FROM app_user WHERE login = 'sample_screener_a'")

    assert _messages(seeded_engine) == [
        f"利用者 番号 {user['id']}: 役割 が 監査ログ 番号 1 では 審査担当、現在は 管理者 です。"
    ]


def test_7_a_closed_year_reopened_is_named(seeded_engine: Engine) -> None:
    _sql(seeded_engine, "UPDATE fiscal_year SET closed = FALSE, closed_by = NULL WHERE year = 2024")

    messages = _messages(seeded_engine)
    assert "令和6年度（2024年度）: 決算確定 が 監査ログ 番号 1 では はい、現在は いいえ です。" in messages
    assert len(messages) == 2  # and who closed it


def _legacy(row: dict[str, Any]) -> str:
    """The unkeyed formula anyone can read in the source of release 0.1.0."""
    payload = [
        row["occurred_at"].isoformat(timespec="microseconds"),
        row["actor"],
        row["action"],
        row["entity"],
        row["entity_id"],
        row["before_values"],
        row["after_values"],
        row["reason"],
        row["prev_hash"],
    ]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def test_8_a_chain_recomputed_from_the_public_formula_is_named(seeded_engine: Engine) -> None:
    _sql(seeded_engine, "UPDATE audit_log SET actor = 'someone' WHERE id = 1")
    rows = query_df(seeded_engine, "SELECT * FROM audit_log ORDER BY id").to_dict("records")
    prev = ""
    for row in rows:
        for column in ("before_values", "after_values"):
            if isinstance(row[column], str):
                row[column] = json.loads(row[column])
        row["prev_hash"] = prev
        prev = _legacy(row)
        _sql(seeded_engine, "UPDATE audit_log SET prev_hash = :p, row_hash = :h WHERE id = :i",
             {"p": row["prev_hash"], "h": prev, "i": row["id"]})  # fmt: skip

    assert _messages(seeded_engine)[0].startswith("監査ログの連鎖が番号 1 で途切れています")


def test_9_an_edited_audit_row_is_named(seeded_engine: Engine) -> None:
    auth.create_user(seeded_engine, actor=make_actor(), login="yamada", role=Role.screener, password=None)
    edited = _last_audit_id(seeded_engine)
    _sql(seeded_engine, "UPDATE audit_log SET actor = 'someone' WHERE id = :i", {"i": edited})

    assert _messages(seeded_engine)[0].startswith(f"監査ログの連鎖が番号 {edited} で途切れています")


def test_10_a_deleted_audit_row_in_the_middle_is_named(seeded_engine: Engine) -> None:
    for login in ("yamada", "kawada"):
        auth.create_user(seeded_engine, actor=make_actor(), login=login, role=Role.screener, password=None)
    last = _last_audit_id(seeded_engine)
    _sql(seeded_engine, "DELETE FROM audit_log WHERE id = :i", {"i": last - 1})

    assert _messages(seeded_engine)[0].startswith(f"監査ログの連鎖が番号 {last} で途切れています")


def test_11_an_audit_row_forged_with_the_public_formula_is_named(seeded_engine: Engine) -> None:
    head = _one(seeded_engine, "SELECT id, row_hash FROM audit_log ORDER BY id DESC LIMIT 1")
    forged = {
        "occurred_at": query_df(seeded_engine, "SELECT MAX(occurred_at) AS t FROM audit_log")["t"].iloc[0],
        "actor": "bucho",
        "action": "allocation.approve",
        "entity": "allocation",
        "entity_id": "3",
        "before_values": None,
        "after_values": None,
        "reason": "",
        "prev_hash": head["row_hash"],
    }
    _sql(
        seeded_engine,
        "INSERT INTO audit_log (occurred_at, actor, action, entity, entity_id, reason, prev_hash, row_hash) "
        "VALUES (:occurred_at, :actor, :action, :entity, :entity_id, :reason, :prev_hash, :row_hash)",
        {k: v for k, v in forged.items() if not k.endswith("_values")}
        | {"row_hash": _legacy(forged | {"occurred_at": forged["occurred_at"].to_pydatetime()})},
    )

    assert _messages(seeded_engine) == [
        f"監査ログの連鎖が番号 {head['id'] + 1} で途切れています（行の書き換え・挿入・削除、または鍵を持たない者による再計算）。"
    ]
