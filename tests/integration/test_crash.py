"""A process killed in the middle of a batch loses nothing committed and leaves no half batch."""

import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fund import audit, ledger
from fund.db import dispose_engines, get_engine, query_df
from tests.conftest import ROOT

# The child: committed postings through the service (checkpointed), committed postings that are
# only in the WAL, then one transaction with a batch of postings that never commits.
CHILD = textwrap.dedent(
    """
    import sys, time
    from datetime import date
    from fund import audit, clock, ledger
    from fund.auth import SYSTEM
    from fund.db import get_engine, write_session
    from fund.models import AuditAction, LedgerEntry, LedgerKind

    engine = get_engine("duckdb:///" + sys.argv[1])
    day = date(2025, 7, 1)
    for i in range(5):
        kind = LedgerKind.deposit if i % 2 == 0 else LedgerKind.refund
        entry = ledger.post_entry(engine, actor=SYSTEM, entry=ledger.validate_entry({
            "posted_on": day, "fiscal_year": 2025, "kind": kind,
            "amount_yen": 1_000 + i, "memo": f"確定済み{i}", "reason": "クラッシュ試験",
            "unallocated_reason": "クラッシュ試験"}, today=clock.today_jst()))
        print("committed", entry.id, flush=True)
    for i in range(5):
        with write_session(engine) as session:
            entry = LedgerEntry(posted_on=day, fiscal_year=2025, kind=LedgerKind.interest,
                                amount_yen=10 + i, memo=f"WAL{i}", created_by="crash-test")
            session.add(entry)
            session.flush()
            audit.record(session, actor="crash-test", action=AuditAction.ledger_post,
                         entity="ledger_entry", entity_id=entry.id)
            entry_id = entry.id
        print("committed", entry_id, flush=True)
    with write_session(engine) as session:
        for i in range(50):
            entry = LedgerEntry(posted_on=day, fiscal_year=2025, kind=LedgerKind.drawdown,
                                amount_yen=1, memo=f"未確定バッチ{i}", created_by="crash-test")
            session.add(entry)
            session.flush()
            audit.record(session, actor="crash-test", action=AuditAction.ledger_post,
                         entity="ledger_entry", entity_id=entry.id)
            if i == 25:
                print("mid-batch", flush=True)
                time.sleep(120)
    """
)


def test_a_killed_writer_keeps_every_commit_and_none_of_its_open_batch(
    seeded_template: Path, tmp_path: Path
) -> None:
    path = tmp_path / "crash.duckdb"
    shutil.copy(seeded_template, path)
    engine = get_engine(f"duckdb:///{path}")
    balance_before = ledger.balance(engine)
    entries_before = int(query_df(engine, "SELECT COUNT(*) AS n FROM ledger_entry")["n"].iloc[0])
    dispose_engines()

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    committed: list[int] = []
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("committed"):
            committed.append(int(line.split()[1]))
        if line.strip() == "mid-batch":
            child.send_signal(signal.SIGKILL)
            break
    assert child.wait(timeout=60) == -signal.SIGKILL
    assert len(committed) == 10

    # Reopen as the app would after a crash: the file opens and the WAL is replayed.
    reopened = get_engine(f"duckdb:///{path}")
    ids = set(query_df(reopened, "SELECT id FROM ledger_entry")["id"].astype(int))
    assert set(committed) <= ids
    assert len(ids) == entries_before + 10
    partial = query_df(
        reopened, "SELECT COUNT(*) AS n FROM ledger_entry WHERE memo LIKE :p", {"p": "未確定バッチ%"}
    )
    assert int(partial["n"].iloc[0]) == 0
    expected = balance_before + sum(1_000 + i for i in range(5))  # deposits and refunds
    expected += sum(10 + i for i in range(5))
    assert ledger.balance(reopened) == expected
    # The balance identity: 年度末 = 前年度末 + 積立 + 運用益 + 返還等 − 取崩し, chained year to year.
    rf = ledger.roll_forward(reopened)
    opening = 0
    for row in rf.itertuples(index=False):
        assert row[1] == opening
        assert row[6] == row[1] + row[2] + row[3] + row[5] - row[4]
        opening = row[6]
    assert opening == expected
    assert audit.verify_chain(reopened) is None


@pytest.mark.parametrize("kill_after", [1, 3])
def test_killing_between_service_posts_loses_no_acknowledged_posting(
    seeded_template: Path, tmp_path: Path, kill_after: int
) -> None:
    path = tmp_path / "crash.duckdb"
    shutil.copy(seeded_template, path)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    committed: list[int] = []
    assert child.stdout is not None
    for line in child.stdout:
        committed.append(int(line.split()[1]))
        if len(committed) == kill_after:
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=60)
    reopened = get_engine(f"duckdb:///{path}")
    ids = set(query_df(reopened, "SELECT id FROM ledger_entry")["id"].astype(int))
    assert set(committed) <= ids
    assert audit.verify_chain(reopened) is None
