"""Eight threads writing at once: nothing is lost, nothing is doubled, no invariant breaks."""

import threading
from collections.abc import Callable
from datetime import date

from sqlalchemy import Engine

from fund import audit, auth, drawdowns, export, kpi, ledger
from fund.auth import Actor
from fund.db import query_df
from fund.errors import RuleViolation
from fund.models import LedgerKind, Role
from tests.conftest import make_actor, posting

THREADS = 8
ROUNDS = 6
DAY = date(2025, 7, 1)
APPROVER = make_actor(Role.executive, login="bucho")


def _count(engine: Engine, table: str) -> int:
    return int(query_df(engine, f"SELECT COUNT(*) AS n FROM {table}")["n"].iloc[0])


def _min_running_balance(engine: Engine) -> int:
    """The lowest balance the fund ever had at the end of any posting date."""
    rows = query_df(
        engine,
        """
        WITH signed AS (
            SELECT e.posted_on AS d,
                (CASE WHEN COALESCE(o.kind, e.kind) = 'drawdown' THEN -1 ELSE 1 END)
                * (CASE WHEN e.kind = 'reversal' THEN -1 ELSE 1 END) * e.amount_yen AS delta
            FROM ledger_entry e LEFT JOIN ledger_entry o ON o.id = e.reverses_entry_id
        ), daily AS (SELECT d, SUM(delta) AS delta FROM signed GROUP BY d)
        SELECT MIN(bal) AS m FROM (SELECT SUM(delta) OVER (ORDER BY d) AS bal FROM daily) t
        """,
    )
    return int(rows["m"].iloc[0])


def test_eight_threads_of_mixed_writes_lose_nothing_and_keep_every_invariant(
    seeded_engine: Engine, admin: Actor
) -> None:
    engine = seeded_engine
    indicator = query_df(engine, "SELECT id, unit FROM kpi_indicator ORDER BY id LIMIT 1")
    indicator_id, unit = int(indicator["id"].iloc[0]), str(indicator["unit"].iloc[0])
    kpi_before = _count(engine, f"kpi_actual WHERE indicator_id = {indicator_id} AND fiscal_year = 2025")
    before = {t: _count(engine, t) for t in ("ledger_entry", "app_user", "audit_log")}
    # Drawdowns big enough that the balance cannot cover them all: some must be refused.
    drawdown = ledger.balance(engine, as_of=DAY) // (THREADS * ROUNDS // 4) + 1

    accepted_posts: list[int] = []
    refused_drawdowns: list[str] = []
    requests: list[int] = []  # drawdowns registered for approval (one audit row each)
    approved: list[int] = []  # and posted by the approval (two more: the entry and the request)
    users: list[str] = []
    kpi_values: list[float] = []
    exports: list[int] = []
    unexpected: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def deposit(i: int, j: int) -> None:
        e = ledger.post_entry(
            engine,
            actor=admin,
            entry=posting(
                {
                    "posted_on": DAY,
                    "fiscal_year": 2025,
                    "kind": LedgerKind.deposit,
                    "amount_yen": 1_000 + i,
                    "memo": f"積立 {i}-{j}",
                }
            ),
        )
        assert e.id is not None
        accepted_posts.append(e.id)

    def draw(i: int, j: int) -> None:
        """A drawdown without an allocation: registered, then approved by a 幹部 (checked again)."""
        entry = posting(
            {
                "posted_on": DAY,
                "fiscal_year": 2025,
                "kind": LedgerKind.drawdown,
                "amount_yen": drawdown,
                "memo": f"取崩し {i}-{j}",
            }
        )
        try:
            request = drawdowns.post_or_request(engine, actor=admin, entry=entry)
            requests.append(request.id or 0)
            e = drawdowns.approve(engine, actor=APPROVER, request_id=request.id or 0)
        except RuleViolation as exc:
            assert "残高不足" in exc.message
            refused_drawdowns.append(exc.message)
        else:
            assert e.id is not None
            accepted_posts.append(e.id)
            approved.append(e.id)

    def add_user(i: int, j: int) -> None:
        login = f"worker{i}-{j}"
        auth.create_user(
            engine,
            actor=admin,
            login=login,
            role=Role.screener,
            password="kihon-kikin-2024",
            display_name=f"並行{i}-{j}",
        )
        users.append(login)

    def kpi_actual(i: int, j: int) -> None:
        value = float(i * 100 + j)
        kpi.enter_actual(
            engine,
            actor=admin,
            data={
                "indicator_id": indicator_id,
                "fiscal_year": 2025,
                "actual_value": value,
                "unit": unit,
                "measured_on": date(2025, 12, 1),
                "source": f"並行入力 {i}-{j}",
            },
            today=date(2026, 1, 31),
        )
        kpi_values.append(value)

    def export_row(i: int, j: int) -> None:
        export.record_export(engine, actor=admin, what="ledger", filters={"thread": i, "round": j}, rows=j)
        exports.append(i)

    ops: list[Callable[[int, int], None]] = [deposit, draw, add_user, kpi_actual, export_row, draw]

    def worker(i: int) -> None:
        try:
            start.wait()
            for j in range(ROUNDS):
                ops[(i + j) % len(ops)](i, j)
        except BaseException as exc:  # collected and asserted below
            unexpected.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert unexpected == []
    assert refused_drawdowns, "the drawdowns were sized so that some must be refused"
    # Nothing lost, nothing doubled.
    ids = query_df(engine, "SELECT id FROM ledger_entry")["id"].astype(int).tolist()
    assert len(ids) == len(set(ids))
    assert set(accepted_posts) <= set(ids)
    assert _count(engine, "ledger_entry") == before["ledger_entry"] + len(accepted_posts)
    assert _count(engine, "app_user") == before["app_user"] + len(users)
    assert len(users) == len(set(users))
    writes = len(accepted_posts) + len(requests) + len(approved) + len(users) + len(kpi_values) + len(exports)
    assert _count(engine, "audit_log") == before["audit_log"] + writes
    # The KPI actual is one row per indicator and year, holding one of the values written.
    actual = query_df(
        engine,
        "SELECT actual_value FROM kpi_actual WHERE indicator_id = :i AND fiscal_year = 2025",
        {"i": indicator_id},
    )
    assert len(actual) == max(kpi_before, 1)
    assert float(actual["actual_value"].iloc[0]) in kpi_values
    # Invariants: the balance never went negative, and the audit chain is intact.
    assert _min_running_balance(engine) >= 0
    assert ledger.balance(engine) >= 0
    assert audit.verify_chain(engine) is None
