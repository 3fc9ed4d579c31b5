"""Scenarios: create, optimise and save, copy, edit, compare, promote to allocations awaiting approval."""

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from fund import allocation, optimiser, scenario
from fund.db import query_df
from fund.errors import InputInvalid, RuleViolation
from fund.models import AllocationStatus, Proposal, Role
from tests.conftest import make_actor

SCREENER = make_actor(Role.screener, login="sato_screener")
EXEC = make_actor(Role.executive, login="tanaka_exec")


def _proposals_for_2025(engine: Engine) -> None:
    """Next year's requests: the FY2024 proposals again, submitted for 2025."""
    with Session(engine) as session:
        for p in session.exec(select(Proposal).where(Proposal.fiscal_year == 2024)).all():
            data = p.model_dump(exclude={"id"}) | {"fiscal_year": 2025, "status": "submitted"}
            session.add(Proposal.model_validate(data))
        session.commit()


def _optimised(engine: Engine, *, ceiling: int, name: str = "最適化案") -> int:
    frame = optimiser.candidate_frame(engine, actor=SCREENER, fiscal_year=2025)
    cands = optimiser.candidates_from(frame, objective="touchpoints")
    result = optimiser.optimise(cands, objective="touchpoints", ceiling_yen=ceiling)
    return scenario.save_optimised(
        engine,
        actor=SCREENER,
        name=name,
        fiscal_year=2025,
        candidates=cands,
        result=result,
        parameters={"ceiling_yen": ceiling},
    )


def test_optimiser_result_is_saved_as_a_scenario_with_reasons(seeded_engine: Engine) -> None:
    _proposals_for_2025(seeded_engine)
    sid = _optimised(seeded_engine, ceiling=500_000_000)
    listed = scenario.scenario_list(seeded_engine, fiscal_year=2025)
    row = listed.iloc[0]
    assert (row["name"], row["origin_label"], row["candidates"]) == ("最適化案", "最適化", 24)
    assert 0 < row["fund_share_yen"] <= 500_000_000
    items = scenario.scenario_items(seeded_engine, scenario_id=sid)
    assert len(items) == 24 and items["included"].any() and not items["included"].all()
    assert (items.loc[~items["included"], "exclusion_reason"] != "").all()
    assert (items.loc[items["included"], "exclusion_reason"] == "").all()


def test_copy_edit_and_compare_show_added_removed_and_changed(seeded_engine: Engine) -> None:
    _proposals_for_2025(seeded_engine)
    a = _optimised(seeded_engine, ceiling=300_000_000)
    b = scenario.copy_scenario(seeded_engine, actor=SCREENER, scenario_id=a, name="修正案")
    items = scenario.scenario_items(seeded_engine, scenario_id=b)
    included = items[items["included"]]
    excluded = items[~items["included"]]
    removed, changed = included.iloc[0], included.iloc[1]
    added = excluded.iloc[0]
    n = scenario.update_items(
        seeded_engine,
        actor=SCREENER,
        scenario_id=b,
        changes=[
            {"item_id": int(removed["item_id"]), "included": False},
            {
                "item_id": int(changed["item_id"]),
                "fund_share_yen": int(changed["fund_share_yen"]) - 1_000_000,
            },
            {"item_id": int(added["item_id"]), "included": True},
        ],
    )
    assert n == 3
    cmp = scenario.compare(seeded_engine, a_id=a, b_id=b)
    by_change = {c: set(g["project"]) for c, g in cmp.rows.groupby("change")}
    assert by_change["追加"] == {added["project"]}
    assert by_change["削除"] == {removed["project"]}
    assert by_change["金額変更"] == {changed["project"]}
    diff = cmp.totals.loc["b", "fund_share_yen"] - cmp.totals.loc["a", "fund_share_yen"]
    assert diff == int(added["fund_share_yen"]) - int(removed["fund_share_yen"]) - 1_000_000
    assert cmp.totals.loc["a", "projects"] == len(included)
    assert "scenario.edit" in list(query_df(seeded_engine, "SELECT action FROM audit_log")["action"])


def test_comparison_totals_the_weighted_scores_of_included_proposals(seeded_engine: Engine) -> None:
    a = scenario.create_scenario(
        seeded_engine, actor=SCREENER, name="全件", fiscal_year=2024, include_all=True
    )
    b = scenario.copy_scenario(seeded_engine, actor=SCREENER, scenario_id=a, name="1件除く")
    dropped = scenario.scenario_items(seeded_engine, scenario_id=b).iloc[0]
    scenario.update_items(
        seeded_engine,
        actor=SCREENER,
        scenario_id=b,
        changes=[{"item_id": int(dropped["item_id"]), "included": False}],
    )
    totals = scenario.compare(seeded_engine, a_id=a, b_id=b).totals
    scores = optimiser.proposal_scores(seeded_engine, fiscal_year=2024)
    assert totals.loc["a", "score"] == pytest.approx(sum(scores.values()))
    assert totals.loc["a", "score"] - totals.loc["b", "score"] == pytest.approx(dropped["score"])
    assert totals.loc["a", "fund_share_yen"] == 1_135_808_000


def test_editing_a_fund_share_above_the_cost_is_refused(seeded_engine: Engine) -> None:
    _proposals_for_2025(seeded_engine)
    sid = scenario.create_scenario(seeded_engine, actor=SCREENER, name="手動案", fiscal_year=2025)
    item = scenario.scenario_items(seeded_engine, scenario_id=sid).iloc[0]
    with pytest.raises(InputInvalid, match="基金充当額は事業費以下"):
        scenario.update_items(
            seeded_engine,
            actor=SCREENER,
            scenario_id=sid,
            changes=[{"item_id": int(item["item_id"]), "fund_share_yen": int(item["project_cost_yen"]) + 1}],
        )


def test_duplicate_scenario_names_in_a_year_are_refused(seeded_engine: Engine) -> None:
    scenario.create_scenario(seeded_engine, actor=SCREENER, name="案A", fiscal_year=2025)
    with pytest.raises(InputInvalid, match="既にあります"):
        scenario.create_scenario(seeded_engine, actor=SCREENER, name="案A", fiscal_year=2025)


def test_promoting_creates_allocations_awaiting_a_different_approver(seeded_engine: Engine) -> None:
    _proposals_for_2025(seeded_engine)
    sid = _optimised(seeded_engine, ceiling=400_000_000)
    ids = scenario.promote(seeded_engine, actor=SCREENER, scenario_id=sid)
    pending = allocation.allocation_frame(seeded_engine, fiscal_year=2025, status=AllocationStatus.proposed)
    assert sorted(pending["id"]) == sorted(ids)
    assert set(pending["proposed_by"]) == {SCREENER.login}
    with pytest.raises(RuleViolation, match="既に配分として登録"):
        scenario.promote(seeded_engine, actor=SCREENER, scenario_id=sid)
    with pytest.raises(RuleViolation, match="編集できません"):
        scenario.update_items(seeded_engine, actor=SCREENER, scenario_id=sid, changes=[])
    approved = allocation.approve_allocation(seeded_engine, actor=EXEC, allocation_id=ids[0])
    assert approved.status == AllocationStatus.approved


def test_promoting_a_scenario_above_the_ceiling_creates_nothing(seeded_engine: Engine) -> None:
    _proposals_for_2025(seeded_engine)
    sid = _optimised(seeded_engine, ceiling=400_000_000)
    allocation.set_annual_cap(
        seeded_engine, actor=make_actor(Role.admin), fiscal_year=2025, cap_yen=100_000_000
    )
    with pytest.raises(RuleViolation, match="年間上限額"):
        scenario.promote(seeded_engine, actor=SCREENER, scenario_id=sid)
    assert allocation.allocation_frame(seeded_engine, fiscal_year=2025).empty


def test_edits_on_screen_become_only_the_changed_fields(seeded_engine: Engine) -> None:
    sid = scenario.create_scenario(seeded_engine, actor=SCREENER, name="画面編集", fiscal_year=2024)
    original = scenario.scenario_items(seeded_engine, scenario_id=sid)[
        ["item_id", "included", "project_cost_yen", "fund_share_yen"]
    ]
    edited = original.copy()
    edited.loc[0, "included"] = True
    edited.loc[1, "fund_share_yen"] = int(edited.loc[1, "fund_share_yen"]) - 1_000
    changes = scenario.changes_from_edit(original, edited)
    assert changes == [
        {"item_id": int(original.loc[0, "item_id"]), "included": True},
        {
            "item_id": int(original.loc[1, "item_id"]),
            "fund_share_yen": int(original.loc[1, "fund_share_yen"]) - 1_000,
        },
    ]
    assert scenario.update_items(seeded_engine, actor=SCREENER, scenario_id=sid, changes=changes) == 2
