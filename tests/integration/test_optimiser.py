"""The optimiser on small cases checkable by hand, its constraints, and its run on the seeded 年度."""

import pytest
from sqlalchemy import Engine

from fund import optimiser
from fund.db import write_session
from fund.errors import InputInvalid, RuleViolation
from fund.models import Role, ScreeningRound
from fund.optimiser import Candidate, CategoryShare, optimise
from tests.conftest import adopted_copies, make_actor

SCREENER = make_actor(Role.screener, login="sato_screener")


def cand(
    pid: int,
    fund: int,
    value: float,
    *,
    cat: int = 1,
    forced: str = "",
    reason: str = "",
    scored: bool = True,
) -> Candidate:
    return Candidate(
        proposal_id=pid,
        project_id=pid,
        category_id=cat,
        name=f"提案{pid}",
        fund_share_yen=fund,
        project_cost_yen=fund * 2,
        value=value,
        scored=scored,
        forced=forced,
        force_reason=reason,
    )


def test_two_smaller_proposals_beat_one_large_one_within_the_ceiling() -> None:
    # A alone scores 5; B + C fit exactly and score 8.
    result = optimise([cand(1, 60, 5), cand(2, 50, 4), cand(3, 50, 4)], objective="score", ceiling_yen=100)
    assert sorted(result.chosen) == [2, 3]
    assert (result.objective_value, result.budget_used_yen, result.proven_optimal) == (8, 100, True)
    assert result.reasons[1] == "予算: 残り 0円 に対し基金充当額 60円"


def test_forced_in_proposal_is_chosen_and_the_rest_fill_what_is_left() -> None:
    cands = [cand(1, 60, 5, forced="in", reason="知事重点施策"), cand(2, 50, 4), cand(3, 30, 1)]
    result = optimise(cands, objective="score", ceiling_yen=100)
    assert sorted(result.chosen) == [1, 3]
    assert result.budget_used_yen == 90
    assert result.reasons == {2: "予算: 残り 10円 に対し基金充当額 50円"}


def test_forced_out_proposal_is_left_out_with_its_reason() -> None:
    cands = [cand(1, 60, 5), cand(2, 50, 4, forced="out", reason="国庫補助の採択待ち"), cand(3, 50, 4)]
    result = optimise(cands, objective="score", ceiling_yen=100)
    assert result.chosen == [1]
    assert result.reasons[2] == "除外指定: 国庫補助の採択待ち"
    assert result.reasons[3].startswith("予算:")


def test_forcing_without_a_reason_is_refused() -> None:
    with pytest.raises(InputInvalid, match="理由を入力"):
        optimise([cand(1, 10, 1, forced="in")], objective="score", ceiling_yen=100)


def test_forced_proposals_above_the_ceiling_are_refused_with_the_figures() -> None:
    cands = [cand(1, 70, 1, forced="in", reason="継続"), cand(2, 50, 1, forced="in", reason="継続")]
    with pytest.raises(RuleViolation) as exc:
        optimise(cands, objective="score", ceiling_yen=100)
    assert (
        "120円" in exc.value.message
        and "上限 100円" in exc.value.message
        and "20円 超えて" in exc.value.message
    )


def test_category_maximum_share_limits_one_category() -> None:
    cands = [cand(1, 50, 5, cat=1), cand(2, 50, 5, cat=1), cand(3, 50, 1, cat=2)]
    unconstrained = optimise(cands, objective="score", ceiling_yen=100)
    assert sorted(unconstrained.chosen) == [1, 2]
    shares = [CategoryShare(1, "生活関連分野", max_share=0.5)]
    result = optimise(cands, objective="score", ceiling_yen=100, shares=shares)
    assert len(result.chosen) == 2 and 3 in result.chosen
    left_out = ({1, 2} - set(result.chosen)).pop()
    assert result.reasons[left_out] == "予算: 残り 0円 に対し基金充当額 50円"


def test_category_maximum_share_is_named_when_budget_is_not_the_reason() -> None:
    cands = [cand(1, 40, 5, cat=1), cand(2, 40, 5, cat=1), cand(3, 40, 1, cat=2)]
    result = optimise(
        cands, objective="score", ceiling_yen=200, shares=[CategoryShare(1, "生活関連分野", max_share=0.5)]
    )
    assert len(result.chosen) == 2 and 3 in result.chosen
    left_out = ({1, 2} - set(result.chosen)).pop()
    assert result.reasons[left_out] == "区分の上限割合: 「生活関連分野」は 50% まで"


def test_category_minimum_share_brings_in_a_lower_scoring_category() -> None:
    cands = [cand(1, 50, 5, cat=1), cand(2, 50, 5, cat=1), cand(3, 50, 1, cat=2)]
    result = optimise(
        cands, objective="score", ceiling_yen=100, shares=[CategoryShare(2, "基盤整備", min_share=0.4)]
    )
    assert 3 in result.chosen and result.budget_used_yen == 100
    assert result.objective_value == 6


def test_category_minimum_is_the_reason_when_adding_would_dilute_it() -> None:
    cands = [cand(1, 50, 5, cat=1), cand(2, 10, 1, cat=2), cand(3, 20, 3, cat=1)]
    result = optimise(
        cands, objective="score", ceiling_yen=1_000, shares=[CategoryShare(2, "基盤整備", min_share=0.2)]
    )
    # 2 (10) allows at most 40 of category 1: only proposal 3 (20) fits beside it.
    assert sorted(result.chosen) == [2, 3]
    assert result.reasons[1] == "区分の下限割合: 加えると「基盤整備」が下限 20% を下回る"


def test_impossible_shares_are_refused() -> None:
    cands = [cand(1, 50, 5, cat=2, forced="in", reason="継続"), cand(2, 10, 1, cat=1)]
    with pytest.raises(RuleViolation, match="条件をすべて満たす組合せがありません"):
        optimise(
            cands, objective="score", ceiling_yen=100, shares=[CategoryShare(2, "基盤整備", max_share=0.3)]
        )


def test_touchpoints_objective_prefers_reach() -> None:
    cands = [cand(1, 60, 3), cand(2, 60, 4)]
    cands_tp = [cand(1, 60, 100_000), cand(2, 60, 2_000)]
    assert optimise(cands, objective="score", ceiling_yen=100).chosen == [2]
    assert optimise(cands_tp, objective="touchpoints", ceiling_yen=100).chosen == [1]


def test_unscored_proposals_count_zero_and_say_so() -> None:
    cands = [cand(1, 10, 4), cand(2, 10, 0, scored=False)]
    result = optimise(cands, objective="score", ceiling_yen=100)
    assert result.chosen == [1]
    assert result.reasons[2] == "未採点（審査の点数なし）"


def test_score_floor_excludes_low_scores() -> None:
    result = optimise([cand(1, 10, 4), cand(2, 10, 2.5)], objective="score", ceiling_yen=100, min_value=3.0)
    assert result.chosen == [1]
    assert result.reasons[2] == "足切り: 評価値 2.50 が下限 3.00 未満"


def test_bad_parameters_are_refused_in_japanese() -> None:
    with pytest.raises(InputInvalid):
        optimise([cand(1, 10, 1)], objective="cost", ceiling_yen=100)
    with pytest.raises(InputInvalid):
        optimise([cand(1, 10, 1)], objective="score", ceiling_yen=0)
    with pytest.raises(InputInvalid, match="下限を上限以下"):
        optimise(
            [cand(1, 10, 1)], objective="score", ceiling_yen=100, shares=[CategoryShare(1, "x", 0.6, 0.4)]
        )


def test_proposals_that_already_have_an_allocation_are_not_offered(seeded_engine: Engine) -> None:
    """The 24 FY2024 proposals are 事業化 with their allocations: nothing to promote there."""
    assert optimiser.candidate_frame(seeded_engine, actor=SCREENER, fiscal_year=2024).empty
    assert 2024 not in optimiser.proposal_years(seeded_engine)


def test_adopted_proposals_without_an_allocation_are_the_candidates(seeded_engine: Engine) -> None:
    assert adopted_copies(seeded_engine, year=2025) == 24
    adopted_copies(seeded_engine, year=2026, status="in_review")  # not decided yet: not offered
    frame = optimiser.candidate_frame(seeded_engine, actor=SCREENER, fiscal_year=2025)
    assert len(frame) == 24 and (frame["touchpoints"] > 0).all()
    assert optimiser.proposal_years(seeded_engine) == [2025]
    cands = optimiser.candidates_from(frame, objective="touchpoints")
    half = int(frame["fund_share_yen"].sum()) // 2
    result = optimise(cands, objective="touchpoints", ceiling_yen=half)
    assert result.budget_used_yen <= half
    assert set(result.reasons) == {c.proposal_id for c in cands} - set(result.chosen)
    assert all(r.startswith("予算") for r in result.reasons.values())


def test_a_later_round_of_the_same_year_keeps_the_scores_of_proposals_it_does_not_score(
    seeded_engine: Engine,
) -> None:
    before = optimiser.proposal_scores(seeded_engine, fiscal_year=2024)
    assert len(before) == 24
    with write_session(seeded_engine) as session:
        session.add(ScreeningRound(fiscal_year=2024, name="追加審査（補正予算）"))
    assert optimiser.proposal_scores(seeded_engine, fiscal_year=2024) == before
