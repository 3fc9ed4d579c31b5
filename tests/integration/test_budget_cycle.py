"""The budget cycle: one project through a whole year (要求 → 当初 → 補正 → 執行 → 補正 → 繰越 → 決算),
the refusals with their figures, and the headroom identity over random sequences (hypothesis)."""

import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import Engine

from fund import allocation, allocation_export, auth, dashboard, ledger, projection, proposals
from fund.db import query_df
from fund.errors import FundError, InputInvalid, RuleViolation
from fund.models import AllocationStatus, LedgerKind, ProposalStatus, Role
from fund.ops.cli import main
from tests.conftest import make_actor, make_proposal, posting, reviewed_by_two

TODAY = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)  # 令和8年度
FY = 2026
DEPT = make_actor(Role.department, login="dept_kenko")
SCREENER = make_actor(Role.screener, login="sato_screener")
EXEC = make_actor(Role.executive, login="tanaka_exec")
OTHER_EXEC = make_actor(Role.executive, login="kimura_exec")
ADMIN = make_actor(Role.admin, login="suzuki_admin")


@pytest.fixture(autouse=True)
def _in_reiwa_8() -> Iterator[None]:
    with time_machine.travel(TODAY, tick=True):
        yield


def _project_id(engine: Engine, name: str = "やまぐちデジタル実装推進事業") -> int:
    return int(query_df(engine, "SELECT id FROM project WHERE name = :n", {"n": name})["id"].iloc[0])


def _register(
    engine: Engine,
    *,
    share: int,
    cost: int | None = None,
    year: int = FY,
    project: int | None = None,
    proposal_id: int | None = None,
) -> int:
    row = allocation.propose_allocation(
        engine,
        actor=SCREENER,
        allocation=allocation.validate_allocation(
            {
                "project_id": project if project is not None else _project_id(engine),
                "fiscal_year": year,
                "project_cost_yen": cost if cost is not None else share * 2,
                "fund_share_yen": share,
                "proposal_id": proposal_id,
            }
        ),
    )
    assert row.id is not None
    return row.id


def _draw(engine: Engine, allocation_id: int, amount: int, day: date = date(2026, 10, 1)) -> None:
    ledger.post_entry(
        engine,
        actor=ADMIN,
        entry=posting(
            {
                "posted_on": day,
                "fiscal_year": FY,
                "kind": LedgerKind.drawdown,
                "amount_yen": amount,
                "memo": "委託料の支払",
                "allocation_id": allocation_id,
            }
        ),
    )


def _same_everywhere(engine: Engine) -> allocation.Ceiling:
    """The ceiling, the projection, ホーム and 基金の状況 agree; the identities hold."""
    c = allocation.fund_ceiling(engine, fiscal_year=FY)
    assert (
        c.headroom_yen
        == c.balance_yen - c.undrawn_allocations_yen - c.reserved_later_years_yen - c.pending_yen
    )
    totals = query_df(
        engine,
        "SELECT kind, SUM(amount_yen) AS yen FROM ledger_entry WHERE reverses_entry_id IS NULL GROUP BY kind",
    ).set_index("kind")["yen"]
    assert (
        c.balance_yen
        == ledger.balance(engine)
        == (
            totals.get("deposit", 0)
            + totals.get("interest", 0)
            + totals.get("refund", 0)
            - totals.get("drawdown", 0)
        )
    )
    fig = projection.figures(engine)
    today = TODAY.date()
    committed = projection.committed_remaining(engine, today=today)
    assert sum(committed.values()) == c.undrawn_allocations_yen + c.reserved_later_years_yen
    home = dashboard.headline(engine, today=today)
    status = projection.fund_status(fig, today=today)
    assert (home.base_case.runway_years, home.base_case.run_out_year) == (
        status.projection.runway_years,
        status.projection.run_out_year,
    )
    assert home.base_case.table.equals(status.projection.table)
    assert home.balance_yen == status.balance_yen == c.balance_yen
    return c


def _adopted_proposal(engine: Engine) -> int:
    """要求: a department's proposal for FY, submitted and adopted."""
    data = make_proposal(engine, FY)
    saved = proposals.save_proposal(engine, actor=ADMIN, data=data, submit=True)
    assert saved.id is not None
    reviewed_by_two(engine, saved.id)
    for to in (ProposalStatus.in_review, ProposalStatus.adopted):
        proposals.change_status(engine, actor=SCREENER, proposal_id=saved.id, to_status=to)
    return saved.id


def test_one_project_through_a_whole_year_is_counted_once_at_every_step(seeded_engine: Engine) -> None:
    start = _same_everywhere(seeded_engine)
    proposal_id = _adopted_proposal(seeded_engine)
    project = int(
        query_df(seeded_engine, "SELECT project_id FROM proposal WHERE id = :p", {"p": proposal_id})[
            "project_id"
        ].iloc[0]
    )
    # 当初: registered at the 査定 amount, awaiting approval, then approved by someone else
    a = _register(seeded_engine, share=20_000_000, cost=30_000_000, project=project, proposal_id=proposal_id)
    assert _same_everywhere(seeded_engine).headroom_yen == start.headroom_yen - 20_000_000
    allocation.approve_allocation(seeded_engine, actor=EXEC, allocation_id=a)
    c = _same_everywhere(seeded_engine)
    assert (c.undrawn_allocations_yen, c.headroom_yen) == (20_000_000, start.headroom_yen - 20_000_000)

    # 補正 increase: pending counts against the headroom; the approval moves it to undrawn
    up = allocation.revise_allocation(
        seeded_engine,
        actor=SCREENER,
        allocation_id=a,
        fund_share_yen=26_000_000,
        project_cost_yen=36_000_000,
        reason="9月補正：対象市町の追加",
    )
    c = _same_everywhere(seeded_engine)
    assert (c.pending_yen, c.headroom_yen) == (6_000_000, start.headroom_yen - 26_000_000)
    assert allocation.approve_pending(seeded_engine, actor=EXEC, allocation_id=a).startswith(
        f"配分番号 {a} の補正"
    )
    c = _same_everywhere(seeded_engine)
    assert (c.pending_yen, c.undrawn_allocations_yen) == (0, 26_000_000)

    # 執行: three drawdowns; the headroom stays where it was, the balance falls
    for amount in (8_000_000, 7_000_000, 5_000_000):
        _draw(seeded_engine, a, amount)
        c = _same_everywhere(seeded_engine)
        assert c.headroom_yen == start.headroom_yen - 26_000_000
    assert (c.balance_yen, c.undrawn_allocations_yen) == (start.balance_yen - 20_000_000, 6_000_000)

    # 補正 decrease: frees money only once approved
    allocation.revise_allocation(
        seeded_engine, actor=SCREENER, allocation_id=a, fund_share_yen=24_000_000, reason="入札差金"
    )
    assert _same_everywhere(seeded_engine).headroom_yen == start.headroom_yen - 26_000_000
    allocation.approve_pending(seeded_engine, actor=OTHER_EXEC, allocation_id=a)
    c = _same_everywhere(seeded_engine)
    assert (c.undrawn_allocations_yen, c.headroom_yen) == (4_000_000, start.headroom_yen - 24_000_000)

    # 繰越: 3,000,000円 into FY2027 as an allocation of its own, approved with the 繰越
    allocation.carry_over(
        seeded_engine,
        actor=SCREENER,
        allocation_id=a,
        amount_yen=3_000_000,
        reason="資材納期の遅れ（明許繰越）",
    )
    message = allocation.approve_pending(seeded_engine, actor=EXEC, allocation_id=a)
    carried = int(message.split("翌年度の配分番号 ")[1].rstrip("）。"))
    c = _same_everywhere(seeded_engine)
    assert c.undrawn_allocations_yen == 4_000_000  # 1,000,000 left in FY2026 + 3,000,000 in FY2027
    assert c.headroom_yen == start.headroom_yen - 24_000_000

    # 決算: the last 1,000,000円 becomes 不用額 and returns to the headroom
    lapses = allocation.close_year(seeded_engine, actor=ADMIN, fiscal_year=FY)
    assert [(x.allocation_id, x.fund_delta_yen) for x in lapses] == [(a, 1_000_000)]
    after = allocation.fund_ceiling(seeded_engine, fiscal_year=FY + 1)
    assert after.undrawn_allocations_yen == 3_000_000
    # a closed 年度 reserves nothing: the FY2026 plans of the FY2024 proposals (200,000,000円) are released
    assert after.reserved_later_years_yen == start.reserved_later_years_yen - 200_000_000
    assert after.headroom_yen == start.headroom_yen - 23_000_000 + 200_000_000
    rows = ledger.allocation_drawn(seeded_engine, fiscal_years=(FY + 1,))
    assert rows.set_index("id").loc[carried, "left_yen"] == 3_000_000

    steps = allocation.history(seeded_engine, allocation_id=a)
    assert list(steps["step"]) == [
        "request",
        "assessment",
        "budget",
        "revision",
        "drawdown",
        "drawdown",
        "drawdown",
        "revision",
        "carry_over",
        "lapse",
    ]
    assert list(steps["amount_yen"]) == [
        20_000_000,
        20_000_000,
        20_000_000,
        6_000_000,
        8_000_000,
        7_000_000,
        5_000_000,
        -2_000_000,
        3_000_000,
        1_000_000,
    ]
    assert list(allocation.history(seeded_engine, allocation_id=carried)["step"]) == ["carried_in"]
    assert up.reason == "9月補正：対象市町の追加"
    _published_with_its_breakdown(seeded_engine, project)


def _published_with_its_breakdown(engine: Engine, project: int) -> None:
    """The published table splits the 基金充当額: FY2026 当初 20,000,000 + 補正 (+6,000,000 −2,000,000)
    = 24,000,000円; FY2027 holds the 3,000,000円 carried in."""
    parts = ["initial_fund_yen", "supplementary_fund_yen", "carried_in_fund_yen", "fund_share_yen"]
    for year, expected in (
        (FY, [20_000_000, 4_000_000, 0, 24_000_000]),
        (FY + 1, [0, 0, 3_000_000, 3_000_000]),
    ):
        rows = allocation.allocation_rows(engine, fiscal_year=year)
        own = rows[(rows["project_id"] == project) & ~rows["is_relisting"]]
        assert own[parts].iloc[0].tolist() == expected
    ws = load_workbook(
        io.BytesIO(allocation_export.build(engine, fiscal_year=FY, fmt="xlsx", breakdown=True).data)
    ).active
    assert ws is not None
    assert ws["A1"].value == "令和8年度（2026年度）予算（当初・補正）における基金活用事業一覧"
    assert [c.value for c in ws[4]][3:] == [
        "予算額（千円）",
        "基金充当額\n当初\n（千円）",
        "基金充当額\n補正\n（千円）",
        "基金充当額\n前年度繰越\n（千円）",
        "基金充当額\n計\n（千円）",
        "備考",
    ]
    name = query_df(engine, "SELECT name FROM project WHERE id = :p", {"p": project})["name"].iloc[0]
    line = next(r for r in ws.iter_rows(values_only=True) if str(r[1]).startswith(name))
    assert list(line[3:8]) == [
        36_000,
        20_000,
        4_000,
        0,
        24_000,
    ]  # 事業費 30,000,000 → 36,000,000円 by the 補正
    carried_title = allocation_export.build(engine, fiscal_year=FY + 1, fmt="xlsx").data
    assert load_workbook(io.BytesIO(carried_title)).active["A1"].value == (  # type: ignore[index]
        "令和9年度（2027年度）予算（前年度繰越）における基金活用事業一覧"
    )


def _approved(engine: Engine, share: int = 10_000_000) -> int:
    a = _register(engine, share=share)
    allocation.approve_allocation(engine, actor=EXEC, allocation_id=a)
    return a


def _changes(engine: Engine) -> int:
    return int(query_df(engine, "SELECT COUNT(*) AS n FROM allocation_change")["n"].iloc[0])


def test_a_revision_below_what_is_drawn_or_an_oversized_carry_over_is_refused_with_the_figures(
    seeded_engine: Engine,
) -> None:
    a = _approved(seeded_engine)
    _draw(seeded_engine, a, 7_000_000)
    with pytest.raises(RuleViolation) as exc:
        allocation.revise_allocation(
            seeded_engine, actor=SCREENER, allocation_id=a, fund_share_yen=6_000_000, reason="減額"
        )
    assert exc.value.message == (
        f"配分番号 {a} の補正後の基金充当額 6,000,000円 は、取崩し済み 7,000,000円 と繰越 0円 の合計 "
        "7,000,000円 を 1,000,000円 下回るため登録できません。"
    )
    with pytest.raises(RuleViolation) as exc:
        allocation.carry_over(
            seeded_engine, actor=SCREENER, allocation_id=a, amount_yen=3_000_001, reason="遅延"
        )
    assert exc.value.message == (
        f"配分番号 {a} の未執行額は 3,000,000円（基金充当額 10,000,000円 − 取崩し済み 7,000,000円 − 繰越済み 0円）です。"
        "繰越額 3,000,001円 は 1円 超過します。"
    )
    assert _changes(seeded_engine) == 0


def test_the_registering_person_cannot_approve_and_a_second_pending_change_waits(
    seeded_engine: Engine,
) -> None:
    a = _approved(seeded_engine)
    change = allocation.revise_allocation(
        seeded_engine, actor=ADMIN, allocation_id=a, fund_share_yen=12_000_000, reason="増額"
    )
    with pytest.raises(RuleViolation, match="自分が登録した補正・繰越は承認できません"):
        allocation.approve_change(seeded_engine, actor=ADMIN, change_id=change.id or 0)
    with pytest.raises(RuleViolation, match=f"承認待ちの変更（変更番号 {change.id}）があります"):
        allocation.carry_over(seeded_engine, actor=SCREENER, allocation_id=a, amount_yen=1, reason="遅延")
    allocation.withdraw_change(seeded_engine, actor=EXEC, change_id=change.id or 0, reason="金額の誤り")
    assert _changes(seeded_engine) == 0
    assert allocation.fund_ceiling(seeded_engine, fiscal_year=FY).pending_yen == 0


def test_a_revision_to_zero_cancels_and_no_drawdown_can_follow(seeded_engine: Engine) -> None:
    a = _approved(seeded_engine)
    allocation.revise_allocation(
        seeded_engine, actor=SCREENER, allocation_id=a, fund_share_yen=0, reason="事業中止（取消）"
    )
    allocation.approve_pending(seeded_engine, actor=EXEC, allocation_id=a)
    with pytest.raises(ledger.LedgerRefused, match="0円に減額（取消）されています"):
        _draw(seeded_engine, a, 1)
    assert allocation.fund_ceiling(seeded_engine, fiscal_year=FY).undrawn_allocations_yen == 0


def test_closing_with_a_pending_change_lists_it_and_a_closed_year_refuses_changes(
    seeded_engine: Engine,
) -> None:
    a = _approved(seeded_engine)
    change = allocation.carry_over(
        seeded_engine, actor=SCREENER, allocation_id=a, amount_yen=2_000_000, reason="遅延"
    )
    with pytest.raises(RuleViolation) as exc:
        allocation.close_year(seeded_engine, actor=ADMIN, fiscal_year=FY)
    assert f"承認待ちの補正・繰越が 1件あります（変更番号 {change.id}（配分番号 {a}））" in exc.value.message
    allocation.withdraw_change(seeded_engine, actor=SCREENER, change_id=change.id or 0, reason="不要")
    allocation.close_year(seeded_engine, actor=ADMIN, fiscal_year=FY)
    with pytest.raises(RuleViolation, match="決算確定済み"):
        allocation.revise_allocation(
            seeded_engine, actor=SCREENER, allocation_id=a, fund_share_yen=1, reason="x"
        )
    with pytest.raises(ledger.LedgerRefused, match="決算確定済み"):
        _draw(seeded_engine, a, 1)


@pytest.mark.parametrize(
    ("fund_share_yen", "reason", "field"),
    [
        (-1, "減額", "fund_share_yen"),
        (10**12 + 1, "増額", "fund_share_yen"),
        (10_000_000, "増額", "fund_share_yen"),
        (5_000_000, "  ", "reason"),
    ],
)
def test_bad_revisions_get_a_message_at_the_field_and_write_nothing(
    seeded_engine: Engine, fund_share_yen: int, reason: str, field: str
) -> None:
    a = _approved(seeded_engine)
    with pytest.raises(InputInvalid) as exc:
        allocation.revise_allocation(
            seeded_engine, actor=SCREENER, allocation_id=a, fund_share_yen=fund_share_yen, reason=reason
        )
    assert list(exc.value.field_errors) == [field]
    assert _changes(seeded_engine) == 0


def test_the_cli_runs_the_cycle_with_the_page_rules(
    seeded_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    for user in (SCREENER, EXEC):
        auth.create_user(
            seeded_engine,
            actor=auth.SYSTEM,
            login=user.login,
            role=user.role,
            password="a-long-passphrase-9",
            display_name=user.login,
        )
    a = _approved(seeded_engine)
    assert (
        main(
            [
                "allocation",
                "revise",
                str(a),
                "--fund-yen",
                "8000000",
                "--reason",
                "入札差金",
                "--as",
                "sato_screener",
            ]
        )
        == 0
    )
    assert main(["allocation", "approve", str(a), "--as", "sato_screener"]) != 0  # a 審査担当 cannot approve
    assert main(["allocation", "approve", str(a), "--as", "tanaka_exec"]) == 0
    assert (
        main(
            [
                "allocation",
                "carry-over",
                str(a),
                "--amount-yen",
                "9000000",
                "--reason",
                "遅延",
                "--as",
                "sato_screener",
            ]
        )
        != 0
    )
    assert "未執行額は 8,000,000円" in capsys.readouterr().err
    assert main(["ceiling", "--year", str(FY), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    c = allocation.fund_ceiling(seeded_engine, fiscal_year=FY)
    assert figures == {
        "fiscal_year": FY,
        "balance_yen": 2_060_000_000,
        "undrawn_allocations_yen": 8_000_000,
        "reserved_later_years_yen": 372_000_000,
        "pending_yen": 0,
        "headroom_yen": 2_060_000_000 - 8_000_000 - 372_000_000,
    }
    assert figures["headroom_yen"] == c.headroom_yen


# --- The identity over random sequences --------------------------------------------------------------

OPS = st.lists(
    st.tuples(
        st.sampled_from(["register", "approve", "revise", "draw", "carry", "approve_change", "close"]),
        st.integers(min_value=0, max_value=3),
        st.integers(min_value=1, max_value=60),
    ),
    min_size=1,
    max_size=14,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_the_headroom_identity_holds_after_every_step(
    ops: list[tuple[str, int, int]], fresh_seeded: Callable[[], Engine]
) -> None:
    engine = fresh_seeded()
    projects = [int(i) for i in query_df(engine, "SELECT id FROM project ORDER BY id LIMIT 4")["id"]]
    allocations: list[int] = []
    for op, i, millions in ops:
        amount = millions * 1_000_000
        try:
            if op == "register":
                allocations.append(_register(engine, share=amount, project=projects[i], year=FY))
            elif op == "approve" and allocations:
                allocation.approve_pending(
                    engine, actor=EXEC, allocation_id=allocations[i % len(allocations)]
                )
            elif op == "revise" and allocations:
                allocation.revise_allocation(
                    engine,
                    actor=SCREENER,
                    allocation_id=allocations[i % len(allocations)],
                    fund_share_yen=amount,
                    project_cost_yen=amount * 2,
                    reason="補正",
                )
            elif op == "draw" and allocations:
                _draw(engine, allocations[i % len(allocations)], amount)
            elif op == "carry" and allocations:
                allocation.carry_over(
                    engine,
                    actor=SCREENER,
                    allocation_id=allocations[i % len(allocations)],
                    amount_yen=amount,
                    reason="繰越",
                )
            elif op == "approve_change" and allocations:
                allocation.approve_pending(
                    engine, actor=OTHER_EXEC, allocation_id=allocations[i % len(allocations)]
                )
            elif op == "close":
                allocation.close_year(engine, actor=ADMIN, fiscal_year=FY)
        except FundError:
            pass  # a refusal writes nothing; the identity must still hold
        assert _same_everywhere(engine).headroom_yen >= 0  # every increase was checked against it
        over = query_df(
            engine,
            f"SELECT COUNT(*) AS n FROM ({ledger.ALLOCATION_LEFT_SQL}) x"
            " WHERE x.drawn_yen + x.carried_yen > x.fund_share_yen",
            ledger.LEFT_PARAMS,
        )
        assert int(over["n"].iloc[0]) == 0
        unapproved = query_df(
            engine,
            "SELECT COUNT(*) AS n FROM ledger_entry e JOIN allocation a ON a.id = e.allocation_id"
            " WHERE a.status = :p",
            {"p": AllocationStatus.proposed.value},
        )
        assert int(unapproved["n"].iloc[0]) == 0


def test_an_allocation_registered_without_a_proposal_answers_the_adopted_one(seeded_engine: Engine) -> None:
    """The page and the CLI name only the project: the adopted 要求 of that 年度 is linked for them."""
    proposal_id = _adopted_proposal(seeded_engine)
    project = int(
        query_df(seeded_engine, "SELECT project_id FROM proposal WHERE id = :p", {"p": proposal_id})[
            "project_id"
        ].iloc[0]
    )
    a = _register(seeded_engine, share=5_000_000, project=project)
    steps = allocation.history(seeded_engine, allocation_id=a)
    assert list(steps["step"])[:2] == ["request", "assessment"]
    assert steps["note"].iloc[0] == str(proposal_id)
