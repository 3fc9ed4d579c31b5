"""Allocations: ceilings (balance after committed drawdowns, the annual cap) and maker–checker."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pandas as pd
import pytest
import time_machine
from sqlalchemy import Engine, text

from fund import allocation, allocation_export, reference
from fund.db import query_df
from fund.errors import InputInvalid, PermissionDenied, RuleViolation
from fund.models import AllocationStatus, Role
from fund.money import to_sen_yen
from tests.conftest import make_actor

BALANCE = 2_060_000_000  # seeded balance; every FY2024 allocation is already drawn
# 後年度負担 on TODAY (令和8年度): the later-year 基金充当額 of the funded FY2024 proposals
# (data/proposal_cost_lines.csv) from the current 年度 on, FY2026 200,000,000 + FY2027 172,000,000;
# FY2025's plan is past and reserves nothing.
TODAY = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
RESERVED = 372_000_000
HEADROOM = BALANCE - RESERVED


@pytest.fixture(autouse=True)
def _in_reiwa_8() -> Iterator[None]:
    with time_machine.travel(TODAY, tick=True):
        yield


SCREENER = make_actor(Role.screener, login="sato_screener")
EXEC = make_actor(Role.executive, login="tanaka_exec")
ADMIN = make_actor(Role.admin, login="suzuki_admin")


def _project(engine: Engine, n: int = 0) -> int:
    return int(reference.projects(engine)["id"].iloc[n])


def _propose(engine: Engine, *, year: int, share: int, n: int = 0, cost: int | None = None, actor=SCREENER):  # type: ignore[no-untyped-def]
    return allocation.propose_allocation(
        engine,
        actor=actor,
        allocation=allocation.validate_allocation(
            {
                "project_id": _project(engine, n),
                "fiscal_year": year,
                "project_cost_yen": cost if cost is not None else share * 2,
                "fund_share_yen": share,
            }
        ),
    )


def _audit_actions(engine: Engine) -> list[str]:
    return list(query_df(engine, "SELECT action FROM audit_log ORDER BY id")["action"])


def test_next_year_headroom_is_the_balance_less_the_later_year_commitments(seeded_engine: Engine) -> None:
    c = allocation.fund_ceiling(seeded_engine, fiscal_year=2025)
    assert (c.balance_yen, c.undrawn_allocations_yen, c.reserved_later_years_yen, c.pending_yen) == (
        BALANCE,
        0,
        RESERVED,
        0,
    )
    assert c.headroom_yen == HEADROOM and c.year_total_yen == 0


def test_a_closed_year_owes_nothing_and_its_drawn_allocations_count_in_its_total(
    seeded_engine: Engine,
) -> None:
    c = allocation.fund_ceiling(seeded_engine, fiscal_year=2024)
    assert c.undrawn_allocations_yen == 0
    assert c.year_total_yen == c.approved_total_yen == 1_135_808_000
    assert c.headroom_yen == HEADROOM


def test_allocation_above_the_headroom_is_refused_with_every_figure_and_the_excess(
    seeded_engine: Engine,
) -> None:
    _propose(seeded_engine, year=2025, share=1_650_000_000, n=0)
    with pytest.raises(RuleViolation) as exc:
        _propose(seeded_engine, year=2025, share=100_000_000, n=1)
    message = exc.value.message
    assert "基金残高 2,060,000,000円" in message
    assert "後年度負担 372,000,000円" in message
    assert "承認待ち 1,650,000,000円 ＝ 38,000,000円" in message
    assert "62,000,000円 超過" in message
    assert allocation.fund_ceiling(seeded_engine, fiscal_year=2025).year_total_yen == 1_650_000_000


def test_approved_later_year_drawdowns_reduce_this_years_headroom(seeded_engine: Engine) -> None:
    later = _propose(seeded_engine, year=2026, share=1_000_000_000, n=0)
    # awaiting approval: it counts in its own 年度 only
    assert allocation.fund_ceiling(seeded_engine, fiscal_year=2025).headroom_yen == HEADROOM
    assert allocation.fund_ceiling(seeded_engine, fiscal_year=2026).pending_yen == 1_000_000_000
    allocation.approve_allocation(seeded_engine, actor=EXEC, allocation_id=later.id or 0)
    c = allocation.fund_ceiling(seeded_engine, fiscal_year=2025)
    assert c.undrawn_allocations_yen == 1_000_000_000
    assert c.headroom_yen == HEADROOM - 1_000_000_000
    _propose(seeded_engine, year=2025, share=688_000_000, n=1)  # exactly the headroom
    with pytest.raises(RuleViolation, match="1円 超過"):
        _propose(seeded_engine, year=2025, share=1, n=2)


def test_an_allocation_replaces_its_projects_commitment_instead_of_counting_twice(
    seeded_engine: Engine,
) -> None:
    """Project index 20 plans 50,000,000円 for FY2026 in its FY2024 proposal."""
    before = allocation.fund_ceiling(seeded_engine, fiscal_year=2026)
    assert before.headroom_yen == HEADROOM
    a = _propose(seeded_engine, year=2026, share=70_000_000, cost=140_000_000, n=20)
    pending = allocation.fund_ceiling(seeded_engine, fiscal_year=2026)
    assert pending.pending_yen == 20_000_000  # beyond its own commitment
    assert pending.headroom_yen == HEADROOM - 20_000_000
    allocation.approve_allocation(seeded_engine, actor=EXEC, allocation_id=a.id or 0)
    after = allocation.fund_ceiling(seeded_engine, fiscal_year=2026)
    assert after.reserved_later_years_yen == RESERVED - 50_000_000
    assert after.undrawn_allocations_yen == 70_000_000
    assert after.headroom_yen == HEADROOM - 20_000_000


def test_commitments_are_listed_per_year_and_only_approved_allocations_are_owed(
    seeded_engine: Engine,
) -> None:
    a = _propose(seeded_engine, year=2026, share=300_000_000, n=0)
    _propose(seeded_engine, year=2026, share=200_000_000, n=1)
    allocation.approve_allocation(seeded_engine, actor=EXEC, allocation_id=a.id or 0)
    owed = allocation.owed_by_year(seeded_engine).set_index("fiscal_year")
    assert owed.to_dict("index") == {
        # every reserved yen is a sample later-year cost of the seeded FY2024 proposals
        2025: {"undrawn_yen": 0, "reserved_yen": 231_000_000, "sample_reserved_yen": 231_000_000},
        2026: {"undrawn_yen": 300_000_000, "reserved_yen": 200_000_000, "sample_reserved_yen": 200_000_000},
        2027: {"undrawn_yen": 0, "reserved_yen": 172_000_000, "sample_reserved_yen": 172_000_000},
    }


def test_annual_cap_set_by_the_administrator_refuses_an_allocation_above_it(seeded_engine: Engine) -> None:
    allocation.set_annual_cap(
        seeded_engine, actor=ADMIN, fiscal_year=2025, cap_yen=100_000_000, reason="財政課協議"
    )
    _propose(seeded_engine, year=2025, share=80_000_000, n=0)
    with pytest.raises(RuleViolation) as exc:
        _propose(seeded_engine, year=2025, share=30_000_000, n=1)
    assert "年間上限額" in exc.value.message
    assert "上限は 100,000,000円" in exc.value.message
    assert "現在の合計は 80,000,000円" in exc.value.message
    assert "10,000,000円 超過" in exc.value.message
    allocation.set_annual_cap(seeded_engine, actor=ADMIN, fiscal_year=2025, cap_yen=None, reason="解除")
    _propose(seeded_engine, year=2025, share=30_000_000, n=1)
    assert _audit_actions(seeded_engine).count("fiscal_year.annual_cap") == 2


def test_only_the_administrator_sets_the_annual_cap(seeded_engine: Engine) -> None:
    with pytest.raises(PermissionDenied):
        allocation.set_annual_cap(seeded_engine, actor=EXEC, fiscal_year=2025, cap_yen=1_000)


def test_a_cap_below_the_years_current_total_is_refused(seeded_engine: Engine) -> None:
    _propose(seeded_engine, year=2025, share=80_000_000)
    with pytest.raises(RuleViolation, match="20,000,000円 下回る"):
        allocation.set_annual_cap(seeded_engine, actor=ADMIN, fiscal_year=2025, cap_yen=60_000_000)


def test_allocation_is_proposed_then_approved_by_a_different_executive(seeded_engine: Engine) -> None:
    a = _propose(seeded_engine, year=2025, share=10_000_000)
    assert a.status == AllocationStatus.proposed and a.proposed_by == SCREENER.login
    approved = allocation.approve_allocation(seeded_engine, actor=EXEC, allocation_id=a.id or 0)
    assert approved.status == AllocationStatus.approved
    assert approved.approved_by == EXEC.login and approved.approved_at is not None
    assert _audit_actions(seeded_engine)[-2:] == ["allocation.propose", "allocation.approve"]


def test_approving_your_own_allocation_is_refused(seeded_engine: Engine) -> None:
    a = _propose(seeded_engine, year=2025, share=10_000_000, actor=ADMIN)
    with pytest.raises(RuleViolation, match="自分が登録した配分は承認できません"):
        allocation.approve_allocation(seeded_engine, actor=ADMIN, allocation_id=a.id or 0)
    other_admin = make_actor(Role.admin, login="yamada_admin")
    assert allocation.approve_allocation(
        seeded_engine, actor=other_admin, allocation_id=a.id or 0
    ).status == (AllocationStatus.approved)


def test_an_administrator_cannot_approve_through_an_account_made_the_same_day(seeded_engine: Engine) -> None:
    """The second person must be a second person: not an account the maker created today."""
    from datetime import timedelta

    from fund import auth

    auth.create_user(seeded_engine, actor=ADMIN, login="kari_kanri", role=Role.admin, password=None)
    puppet = make_actor(Role.admin, login="kari_kanri")
    a = _propose(seeded_engine, year=2025, share=10_000_000, actor=ADMIN)
    with pytest.raises(RuleViolation, match="もう一方のアカウントを今日作成しているため"):
        allocation.approve_allocation(seeded_engine, actor=puppet, allocation_id=a.id or 0)
    b = _propose(seeded_engine, year=2025, share=5_000_000, n=1, actor=puppet)  # and the other way round
    with pytest.raises(RuleViolation, match="もう一方のアカウントを今日作成しているため"):
        allocation.approve_allocation(seeded_engine, actor=ADMIN, allocation_id=b.id or 0)
    with time_machine.travel(TODAY + timedelta(days=1), tick=True):  # the next day the account stands alone
        approved = allocation.approve_allocation(seeded_engine, actor=puppet, allocation_id=a.id or 0)
    assert approved.status == AllocationStatus.approved


def test_screeners_cannot_approve_and_department_staff_cannot_propose(seeded_engine: Engine) -> None:
    a = _propose(seeded_engine, year=2025, share=10_000_000)
    with pytest.raises(PermissionDenied):
        allocation.approve_allocation(
            seeded_engine, actor=make_actor(Role.screener, login="x_scr"), allocation_id=a.id or 0
        )
    with pytest.raises(PermissionDenied):
        _propose(
            seeded_engine, year=2025, share=10_000, n=1, actor=make_actor(Role.department, department_id=1)
        )


def test_approval_checks_the_ceiling_again(seeded_engine: Engine) -> None:
    this_year = _propose(seeded_engine, year=2025, share=1_000_000_000, n=0)
    later = _propose(seeded_engine, year=2026, share=1_000_000_000, n=1)
    allocation.approve_allocation(seeded_engine, actor=EXEC, allocation_id=later.id or 0)
    # 2026's approved drawdown now leaves 2025 only 1,688,000,000 − 1,000,000,000 = 688,000,000円
    with pytest.raises(RuleViolation, match="312,000,000円 超過"):
        allocation.approve_allocation(seeded_engine, actor=EXEC, allocation_id=this_year.id or 0)


def test_fund_share_larger_than_cost_is_refused_at_the_field(seeded_engine: Engine) -> None:
    with pytest.raises(InputInvalid) as exc:
        _propose(seeded_engine, year=2025, share=10_000_000, cost=5_000_000)
    assert exc.value.field_errors == {"fund_share_yen": "基金充当額は事業費以下にしてください。"}


def test_allocations_into_a_closed_year_or_twice_for_the_same_stage_are_refused(
    seeded_engine: Engine,
) -> None:
    with pytest.raises(RuleViolation, match="決算確定済み"):
        _propose(seeded_engine, year=2024, share=1_000)
    _propose(seeded_engine, year=2025, share=1_000)
    with pytest.raises(RuleViolation, match="既に登録されています"):
        _propose(seeded_engine, year=2025, share=2_000)


def test_new_is_derived_and_relisting_carries_no_amount(seeded_engine: Engine) -> None:
    a = _propose(seeded_engine, year=2025, share=10_000_000)
    allocation.approve_allocation(seeded_engine, actor=EXEC, allocation_id=a.id or 0)
    cats = reference.leaf_categories(seeded_engine)
    other = int(cats.loc[cats["id"] != a.category_id, "id"].iloc[0])
    allocation.add_relisting(
        seeded_engine, actor=SCREENER, project_id=a.project_id, fiscal_year=2025, category_id=other
    )
    rows = allocation.allocation_rows(seeded_engine, fiscal_year=2025)
    assert list(rows["is_relisting"]) in ([False, True], [True, False])
    assert rows.loc[rows["is_relisting"], "project_cost_yen"].isna().all()
    assert not rows["is_new"].any()  # the seeded project started in 2024 or earlier
    with pytest.raises(RuleViolation, match="主たる区分"):
        allocation.add_relisting(
            seeded_engine,
            actor=SCREENER,
            project_id=a.project_id,
            fiscal_year=2025,
            category_id=a.category_id,
        )
    assert "relisting.add" in _audit_actions(seeded_engine)


def test_withdrawn_proposal_frees_the_ceiling_and_is_audited(seeded_engine: Engine) -> None:
    a = _propose(seeded_engine, year=2025, share=HEADROOM)
    assert allocation.fund_ceiling(seeded_engine, fiscal_year=2025).headroom_yen == 0
    allocation.withdraw_allocation(seeded_engine, actor=EXEC, allocation_id=a.id or 0, reason="規模を見直し")
    assert allocation.fund_ceiling(seeded_engine, fiscal_year=2025).headroom_yen == HEADROOM
    assert _audit_actions(seeded_engine)[-1] == "allocation.withdraw"


# --- The table's totals in SQL and the head of a long table ------------------------------------------


@pytest.mark.parametrize(
    "filters", [{}, {"category_code": "foundation"}, {"department": "警察本部"}, {"category_code": "nothing"}]
)
def test_table_totals_in_sql_match_the_totals_of_the_loaded_rows(
    seeded_engine: Engine, filters: dict
) -> None:  # type: ignore[type-arg]
    if "department" in filters:
        depts = reference.departments(seeded_engine).set_index("name")
        filters = {"department_id": int(depts.at[filters["department"], "id"])}
    rows = allocation.allocation_rows(seeded_engine, fiscal_year=2024, **filters)
    in_sql = allocation.table_totals(seeded_engine, fiscal_year=2024, **filters)
    pd.testing.assert_frame_equal(in_sql, allocation.totals_of(rows), check_dtype=False)
    whole = in_sql[in_sql["level"] == "all"].iloc[0]
    assert int(whole["rows"]) == len(rows)
    assert allocation.table_lines(in_sql) == len(allocation.layout_frame(rows))


def test_sql_rounds_to_sen_yen_like_the_printed_table_also_below_zero(seeded_engine: Engine) -> None:
    with seeded_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE allocation SET project_cost_yen = -1500, fund_share_yen = -2500 "
                "WHERE project_id = (SELECT id FROM project WHERE name = '県内企業魅力発信事業')"
            )
        )
    rows = allocation.allocation_rows(seeded_engine, fiscal_year=2024)
    in_sql = allocation.table_totals(seeded_engine, fiscal_year=2024)
    pd.testing.assert_frame_equal(in_sql, allocation.totals_of(rows), check_dtype=False)
    assert [to_sen_yen(-1500), to_sen_yen(-2500)] == [-2, -3]


@pytest.mark.parametrize("limit", [1, 3, 10, 20, 40])
def test_the_head_of_a_table_with_its_totals_shows_the_same_lines_as_the_whole_table(
    seeded_engine: Engine, limit: int
) -> None:
    whole, lines = allocation_export.screen_table(
        allocation.allocation_rows(seeded_engine, fiscal_year=2024), limit=None
    )
    head = allocation.allocation_rows(seeded_engine, fiscal_year=2024, limit=limit)
    assert len(head) == min(limit, len(allocation.allocation_rows(seeded_engine, fiscal_year=2024)))
    totals = allocation.table_totals(seeded_engine, fiscal_year=2024)
    shown, counted = allocation_export.screen_table(head, totals=totals, limit=limit)
    assert counted == lines
    pd.testing.assert_frame_equal(shown, whole.head(limit).reset_index(drop=True))


def test_table_text_holds_every_text_of_the_table_in_print_order(seeded_engine: Engine) -> None:
    rows = allocation.allocation_rows(seeded_engine, fiscal_year=2024)
    expected = "".join(
        f"{r.section_heading}{r.section_name}{r.block_heading}{r.block_name}{r.project}{r.department}{r.summary}"
        for r in rows.itertuples(index=False)
    )
    assert allocation.table_text(seeded_engine, fiscal_year=2024) == expected
    assert allocation.table_text(seeded_engine, fiscal_year=2031) == ""


def test_the_command_line_walks_an_allocation_from_registration_to_drawdown_and_closing(
    seeded_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    from fund import auth
    from fund.ops.cli import main

    for login, role in (("suzuki", Role.screener), ("sato", Role.executive)):
        auth.create_user(
            seeded_engine,
            actor=auth.SYSTEM,
            login=login,
            role=role,
            password="a-long-passphrase-9",
            display_name=login,
        )
    project = int(
        query_df(seeded_engine, "SELECT id FROM project WHERE name = 'やまぐちデジタル実装推進事業'")[
            "id"
        ].iloc[0]
    )
    add = ["allocation", "add", "--project", str(project), "--year", "2026", "--cost-yen", "2000000"]
    assert main([*add, "--fund-yen", "1000000", "--as", "suzuki"]) == 0
    alloc = int(capsys.readouterr().out.split("配分番号 ")[1].split(" ")[0])
    assert main(["year", "close", "2026"]) == 2
    assert f"承認待ちの配分が 1件あります（配分番号 {alloc}）" in capsys.readouterr().err
    assert main(["allocation", "approve", str(alloc), "--as", "suzuki"]) == 2  # not one's own
    assert "承認" in capsys.readouterr().err
    assert main(["allocation", "approve", str(alloc), "--as", "sato"]) == 0
    post = [
        "ledger",
        "post",
        "--kind",
        "drawdown",
        "--date",
        "2026-07-01",
        "--memo",
        "委託料",
        "--allocation",
        str(alloc),
    ]
    assert main([*post, "--amount-yen", "1000000"]) == 0
    capsys.readouterr()
    assert main(["allocation", "list", "--year", "2026", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["id"], listed["status"], listed["fund_yen"], listed["drawn_yen"]) == (
        alloc,
        "approved",
        1_000_000,
        1_000_000,
    )
    assert main(["year", "close", "2026"]) == 0
    assert main([*post, "--amount-yen", "1"]) == 2
    assert "決算確定済み" in capsys.readouterr().err
