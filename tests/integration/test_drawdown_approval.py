"""Separation of money duties: a drawdown without an allocation, or above the administrator's
threshold, waits for a second person; approval posts it only if it still passes every check."""

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from fund import auth, drawdowns, integrity, ledger, ledger_batch
from fund.db import query_df
from fund.errors import InputInvalid, PermissionDenied, RuleViolation
from fund.models import DrawdownRequest, LedgerEntry, RequestStatus, Role
from fund.ops.cli import main
from tests.conftest import approved_allocation, make_actor

ADMIN = make_actor(Role.admin, login="kaikei_kanri")
BOSS = make_actor(Role.executive, login="bucho")
DAY = date(2026, 6, 1)


def _entry(amount: int, allocation_id: int | None = None) -> ledger.LedgerEntryCreate:
    return ledger.validate_entry(
        {
            "posted_on": DAY,
            "fiscal_year": 2026,
            "kind": "drawdown",
            "amount_yen": amount,
            "memo": "委託料",
            "allocation_id": allocation_id,
            "unallocated_reason": "" if allocation_id else "国の内示前の立替（財政課と協議済み）",
        },
        today=DAY,
    )


def _balance(engine: Engine) -> int:
    return ledger.balance(engine)


def test_a_drawdown_without_an_allocation_waits_and_a_second_person_posts_it(seeded_engine: Engine) -> None:
    before = _balance(seeded_engine)
    with pytest.raises(RuleViolation, match="配分のない取崩しは、別の幹部または管理者の承認"):
        ledger.post_entry(seeded_engine, actor=ADMIN, entry=_entry(3_000_000), today=DAY)

    request = drawdowns.post_or_request(seeded_engine, actor=ADMIN, entry=_entry(3_000_000), today=DAY)
    assert isinstance(request, DrawdownRequest)
    assert request.status == RequestStatus.pending and request.needs_approval_because == "配分のない取崩し"
    assert _balance(seeded_engine) == before  # nothing moves while it waits
    waiting = drawdowns.pending_frame(seeded_engine)
    assert waiting["依頼番号"].tolist() == [request.id] and waiting["金額（円）"].tolist() == [3_000_000]

    with pytest.raises(RuleViolation, match="自分が登録した取崩しは承認できません"):
        drawdowns.approve(seeded_engine, actor=ADMIN, request_id=request.id or 0)
    with pytest.raises(PermissionDenied):
        drawdowns.approve(seeded_engine, actor=make_actor(Role.screener), request_id=request.id or 0)
    posted = drawdowns.approve(seeded_engine, actor=BOSS, request_id=request.id or 0)

    assert posted.amount_yen == 3_000_000 and posted.created_by == "kaikei_kanri"
    assert _balance(seeded_engine) == before - 3_000_000
    assert drawdowns.pending_frame(seeded_engine).empty
    done = query_df(
        seeded_engine, "SELECT status, decided_by, ledger_entry_id FROM drawdown_request WHERE id = :i",
        {"i": request.id},
    ).to_dict("records")  # fmt: skip
    assert done == [{"status": "approved", "decided_by": "bucho", "ledger_entry_id": posted.id}]
    actions = query_df(seeded_engine, "SELECT action, actor FROM audit_log WHERE id > 1 ORDER BY id")
    assert actions.to_dict("records") == [
        {"action": "drawdown.request", "actor": "kaikei_kanri"},
        {"action": "drawdown.approve", "actor": "bucho"},  # the ledger entry
        {"action": "drawdown.approve", "actor": "bucho"},  # the request, now approved
    ]
    with pytest.raises(RuleViolation, match="既に処理されています"):
        drawdowns.approve(seeded_engine, actor=BOSS, request_id=request.id or 0)
    assert integrity.verify(seeded_engine) == []


def test_above_the_threshold_a_linked_drawdown_waits_too(seeded_engine: Engine) -> None:
    alloc = approved_allocation(seeded_engine, "やまぐちデジタル実装推進事業", 30_000_000)
    with pytest.raises(PermissionDenied):
        drawdowns.set_threshold(seeded_engine, actor=BOSS, threshold_yen=10_000_000, reason="規程改正")
    with pytest.raises(InputInvalid, match="設定の理由"):
        drawdowns.set_threshold(seeded_engine, actor=ADMIN, threshold_yen=10_000_000, reason=" ")
    with pytest.raises(InputInvalid, match="0円以上"):
        drawdowns.set_threshold(seeded_engine, actor=ADMIN, threshold_yen=-1, reason="規程改正")
    drawdowns.set_threshold(seeded_engine, actor=ADMIN, threshold_yen=10_000_000, reason="規程改正")
    assert "10,000,000円 を超える取崩し" in drawdowns.threshold_text(seeded_engine)

    small = drawdowns.post_or_request(seeded_engine, actor=ADMIN, entry=_entry(10_000_000, alloc), today=DAY)
    large = drawdowns.post_or_request(seeded_engine, actor=ADMIN, entry=_entry(10_000_001, alloc), today=DAY)

    assert isinstance(small, LedgerEntry)  # at the threshold: posted at once
    assert isinstance(large, DrawdownRequest)
    assert large.needs_approval_because == "承認基準額 10,000,000円 を超える取崩し"
    drawdowns.set_threshold(seeded_engine, actor=ADMIN, threshold_yen=None, reason="基準額を廃止")
    assert "未設定" in drawdowns.threshold_text(seeded_engine)
    assert integrity.verify(seeded_engine) == []


def test_the_approval_checks_the_posting_again(seeded_engine: Engine) -> None:
    alloc = approved_allocation(seeded_engine, "やまぐちデジタル実装推進事業", 30_000_000)
    drawdowns.set_threshold(seeded_engine, actor=ADMIN, threshold_yen=10_000_000, reason="規程改正")
    request = drawdowns.post_or_request(
        seeded_engine, actor=ADMIN, entry=_entry(20_000_000, alloc), today=DAY
    )
    for _ in range(2):  # meanwhile 18,000,000円 is drawn directly: 12,000,000円 is left
        drawdowns.post_or_request(seeded_engine, actor=ADMIN, entry=_entry(9_000_000, alloc), today=DAY)

    with pytest.raises(RuleViolation, match=f"配分番号 {alloc} の残りは 12,000,000円"):
        drawdowns.approve(seeded_engine, actor=BOSS, request_id=request.id or 0)
    assert drawdowns.pending_frame(seeded_engine)["依頼番号"].tolist() == [request.id]  # still waits

    with pytest.raises(InputInvalid, match="却下の理由"):
        drawdowns.reject(seeded_engine, actor=BOSS, request_id=request.id or 0, reason="")
    rejected = drawdowns.reject(
        seeded_engine, actor=BOSS, request_id=request.id or 0, reason="配分の補正後に再依頼"
    )
    assert rejected.status == RequestStatus.rejected and rejected.decision_reason == "配分の補正後に再依頼"
    assert drawdowns.pending_frame(seeded_engine).empty


def test_an_approver_whose_account_the_requester_made_today_cannot_approve(seeded_engine: Engine) -> None:
    auth.create_user(seeded_engine, actor=ADMIN, login="shin_bucho", role=Role.executive, password=None)
    request = drawdowns.post_or_request(seeded_engine, actor=ADMIN, entry=_entry(1_000_000), today=DAY)

    with pytest.raises(RuleViolation, match="職務分離"):
        drawdowns.approve(
            seeded_engine, actor=make_actor(Role.executive, login="shin_bucho"), request_id=request.id or 0
        )


def test_a_batch_registers_the_rows_that_need_approval_and_posts_the_others(seeded_engine: Engine) -> None:
    alloc = approved_allocation(seeded_engine, "やまぐちデジタル実装推進事業", 30_000_000)
    before = _balance(seeded_engine)
    csv = (
        "記帳日,配分番号,金額（円）,摘要,配分のない理由\n"
        f"2026-06-01,{alloc},1000000,委託料 6月分,\n"
        "2026-06-01,,2500000,立替,国の内示前の立替\n"
    ).encode()
    done = ledger_batch.post_drawdowns(
        seeded_engine, actor=ADMIN, entries=ledger_batch.read_drawdowns(csv, today=DAY)
    )

    assert [type(r).__name__ for r in done] == ["LedgerEntry", "DrawdownRequest"]
    assert _balance(seeded_engine) == before - 1_000_000
    assert ledger_batch.summary(done) == (
        "1件、計 1,000,000円を記帳しました。ほか 1件、計 2,500,000円は承認が必要なため承認待ちとして登録しました"
        "（別の幹部または管理者の承認で記帳されます）。"
    )


def test_the_cli_registers_and_a_second_person_approves(
    seeded_engine: Engine, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    system = make_actor()
    auth.create_user(seeded_engine, actor=system, login="kaikei_kanri", role=Role.admin, password=None)
    auth.create_user(seeded_engine, actor=system, login="bucho", role=Role.executive, password=None)
    post = ["ledger", "post", "--kind", "drawdown", "--amount-yen", "4000000", "--date", "2026-06-01",
            "--memo", "立替", "--unallocated-reason", "国の内示前の立替", "--as", "kaikei_kanri"]  # fmt: skip
    assert main(post) == 0
    out = capsys.readouterr().out
    assert "配分のない取崩しのため、承認依頼" in out
    request_id = int(query_df(seeded_engine, "SELECT MAX(id) AS i FROM drawdown_request")["i"].iloc[0])

    assert main(["ledger", "approve", "--request", str(request_id), "--as", "kaikei_kanri"]) == 2
    assert "自分が登録した取崩しは承認できません" in capsys.readouterr().err
    assert main(["ledger", "approve", "--request", str(request_id), "--as", "bucho"]) == 0
    assert f"承認依頼 {request_id} を承認し、台帳番号" in capsys.readouterr().out
