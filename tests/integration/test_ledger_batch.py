"""取崩しの一括記帳: a CSV of drawdowns, each checked like the form, all or nothing, from the CLI."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import Engine

from fund import allocation, auth, ledger, ledger_batch
from fund.db import query_df
from fund.errors import InputInvalid, RuleViolation
from fund.models import Role
from fund.ops.cli import main
from tests.conftest import approved_allocation, make_actor

ADMIN = make_actor(Role.admin, login="suzuki_admin")
HEADER = "記帳日,配分番号,金額（円）,摘要\n"


@pytest.fixture(autouse=True)
def _in_reiwa_8() -> Iterator[None]:
    with time_machine.travel(datetime(2026, 11, 22, 1, 0, tzinfo=UTC), tick=True):
        yield


def _rows(engine: Engine) -> int:
    return int(query_df(engine, "SELECT COUNT(*) AS n FROM ledger_entry")["n"].iloc[0])


def test_a_csv_from_excel_posts_every_drawdown_against_its_allocation(seeded_engine: Engine) -> None:
    a = approved_allocation(seeded_engine, "やまぐちデジタル実装推進事業", 10_000_000)
    b = approved_allocation(seeded_engine, "スマート社会デザインプロジェクト推進事業", 5_000_000)
    text = HEADER + f'2026/10/01,{a},"4,000,000",委託料（前払）\n2026-10-15,{b},5000000,委託料\n\n'
    before = allocation.fund_ceiling(seeded_engine, fiscal_year=2026)
    entries = ledger_batch.read_drawdowns(text.encode("cp932"))  # Excel's 「CSV」 is Shift_JIS
    posted = ledger_batch.post_drawdowns(seeded_engine, actor=ADMIN, entries=entries)
    assert ledger_batch.summary(posted) == "2件、計 9,000,000円を記帳しました。"
    assert [(r.allocation_id, r.amount_yen) for r in posted] == [(a, 4_000_000), (b, 5_000_000)]
    assert ledger.balance(seeded_engine) == before.balance_yen - 9_000_000
    assert allocation.fund_ceiling(seeded_engine, fiscal_year=2026).headroom_yen == before.headroom_yen
    actions = query_df(seeded_engine, "SELECT action FROM audit_log ORDER BY id DESC LIMIT 2")["action"]
    assert list(actions) == ["ledger.post", "ledger.post"]


def test_one_bad_row_refuses_the_whole_file_with_every_row_number(seeded_engine: Engine) -> None:
    a = approved_allocation(seeded_engine, "やまぐちデジタル実装推進事業", 10_000_000)
    text = (
        HEADER
        + f"2026-10-01,{a},1000,摘要\n2026-13-01,{a},1000,摘要\n2026-10-02,,1000,摘要\n2026-10-03,{a},0,摘要\n"
    )
    with pytest.raises(RuleViolation) as exc:
        ledger_batch.read_drawdowns(text.encode("utf-8-sig"))
    lines = exc.value.message.splitlines()
    assert lines[0] == "一括記帳できません。何も記帳していません。"
    assert [line.split(":")[0] for line in lines[1:]] == ["3行目", "4行目", "5行目"]
    assert "配分（配分番号）に紐付けて" in lines[2]


def test_rows_are_checked_against_the_rows_before_them_and_nothing_is_posted_on_refusal(
    seeded_engine: Engine,
) -> None:
    a = approved_allocation(seeded_engine, "やまぐちデジタル実装推進事業", 10_000_000)
    rows = _rows(seeded_engine)
    text = HEADER + f"2026-10-01,{a},6000000,1回目\n2026-10-02,{a},6000000,2回目\n"
    entries = ledger_batch.read_drawdowns(text.encode())
    with pytest.raises(RuleViolation) as exc:
        ledger_batch.post_drawdowns(seeded_engine, actor=ADMIN, entries=entries)
    assert "3行目: " in exc.value.message and "残りは 4,000,000円" in exc.value.message
    assert _rows(seeded_engine) == rows


def test_a_file_without_the_columns_or_rows_is_refused_at_the_file(seeded_engine: Engine) -> None:
    with pytest.raises(InputInvalid, match="配分番号、金額（円）"):
        ledger_batch.read_drawdowns("記帳日,摘要\n2026-10-01,x\n".encode())
    with pytest.raises(InputInvalid, match="記帳する行がありません"):
        ledger_batch.read_drawdowns(HEADER.encode())


def test_the_cli_imports_a_file_as_a_signed_in_administrator(
    seeded_engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    auth.create_user(
        seeded_engine,
        actor=auth.SYSTEM,
        login=ADMIN.login,
        role=Role.admin,
        password="a-long-passphrase-9",
        display_name="鈴木",
    )
    a = approved_allocation(seeded_engine, "やまぐちデジタル実装推進事業", 10_000_000)
    path = tmp_path / "取崩し.csv"
    path.write_bytes((HEADER + f"2026-10-01,{a},3000000,委託料\n").encode("cp932"))
    assert main(["ledger", "import", str(path), "--as", ADMIN.login]) == 0
    assert "1件、計 3,000,000円を記帳しました。" in capsys.readouterr().out
    assert (
        main(
            [
                "ledger",
                "import",
                str(path),
                "--as",
                ADMIN.login,
            ]
        )
        == 0
    )  # a second payment
    assert main(["ledger", "import", str(path), "--as", ADMIN.login]) == 0
    assert main(["ledger", "import", str(path), "--as", ADMIN.login]) == 2  # 1,000,000円 left
    assert "残りは 1,000,000円" in capsys.readouterr().err
