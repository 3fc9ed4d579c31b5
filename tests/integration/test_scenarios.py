"""Scenarios: create, optimise and save, copy, edit, compare, promote to allocations awaiting approval."""

import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine

from fund import allocation, optimiser, scenario
from fund.db import dispose_engines, get_engine, query_df
from fund.errors import InputInvalid, RuleViolation
from fund.models import AllocationStatus, Role
from fund.ops import generate
from tests.conftest import adopted_copies, make_actor

SCREENER = make_actor(Role.screener, login="sato_screener")
EXEC = make_actor(Role.executive, login="tanaka_exec")


def _proposals_for_2025(engine: Engine) -> None:
    """Next year's requests: the FY2024 proposals again, adopted for 2025."""
    adopted_copies(engine, year=2025)


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


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """500 synthetic proposals (DuckDB, on the PostgreSQL run too): adopted, scored candidates in 2026."""
    path = tmp_path_factory.mktemp("gen") / "gen.duckdb"
    generate.generate(get_engine(f"duckdb:///{path}"), proposals=500, seed_value=3)
    dispose_engines()
    return path


@pytest.fixture
def gen(generated: Path, tmp_path: Path) -> Engine:
    shutil.copy(generated, tmp_path / "gen.duckdb")
    return get_engine(f"duckdb:///{tmp_path / 'gen.duckdb'}")


GEN_YEAR = 2026


def test_comparison_totals_the_weighted_scores_of_included_proposals(gen: Engine) -> None:
    a = scenario.create_scenario(gen, actor=SCREENER, name="全件", fiscal_year=GEN_YEAR, include_all=True)
    b = scenario.copy_scenario(gen, actor=SCREENER, scenario_id=a, name="1件除く")
    items = scenario.scenario_items(gen, scenario_id=b)
    dropped = items.iloc[0]
    scenario.update_items(
        gen,
        actor=SCREENER,
        scenario_id=b,
        changes=[{"item_id": int(dropped["item_id"]), "included": False}],
    )
    totals = scenario.compare(gen, a_id=a, b_id=b).totals
    scores = optimiser.proposal_scores(gen, fiscal_year=GEN_YEAR)
    assert totals.loc["a", "score"] == pytest.approx(sum(scores[int(p)] for p in items["proposal_id"]))
    assert totals.loc["a", "score"] - totals.loc["b", "score"] == pytest.approx(dropped["score"])
    assert totals.loc["a", "fund_share_yen"] == int(items["fund_share_yen"].sum())


def test_the_optimisers_answer_at_its_default_ceiling_can_be_promoted_as_it_stands(gen: Engine) -> None:
    """Candidates are adopted proposals without an allocation; the default ceiling is the headroom."""
    frame = optimiser.candidate_frame(gen, actor=SCREENER, fiscal_year=GEN_YEAR)
    adopted_without = query_df(
        gen,
        "SELECT COUNT(*) AS n FROM proposal p WHERE p.fiscal_year = :y AND p.status = 'adopted' AND NOT EXISTS"
        " (SELECT 1 FROM allocation a WHERE a.project_id = p.project_id AND a.fiscal_year = p.fiscal_year)",
        {"y": GEN_YEAR},
    )
    assert len(frame) == int(adopted_without["n"].iloc[0]) > 0
    headroom = allocation.fund_ceiling(gen, fiscal_year=GEN_YEAR).headroom_yen
    cands = optimiser.candidates_from(frame, objective="score")
    result = optimiser.optimise(cands, objective="score", ceiling_yen=headroom // 1_000 * 1_000)
    assert result.chosen
    sid = scenario.save_optimised(
        gen,
        actor=SCREENER,
        name="既定の上限",
        fiscal_year=GEN_YEAR,
        candidates=cands,
        result=result,
        parameters={},
    )
    ids = scenario.promote(gen, actor=SCREENER, scenario_id=sid)
    assert len(ids) == len(result.chosen)
    assert optimiser.candidate_frame(gen, actor=SCREENER, fiscal_year=GEN_YEAR).empty or set(
        optimiser.candidate_frame(gen, actor=SCREENER, fiscal_year=GEN_YEAR)["id"]
    ).isdisjoint({c.proposal_id for c in cands if c.proposal_id in result.chosen})


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
    _proposals_for_2025(seeded_engine)
    sid = scenario.create_scenario(seeded_engine, actor=SCREENER, name="画面編集", fiscal_year=2025)
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
