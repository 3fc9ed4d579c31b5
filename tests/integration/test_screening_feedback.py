"""Feedback: reviewers' comments for the screeners during a round, the outcome for the department
after it, the round's review rules, and scores given to an earlier version of a corrected proposal."""

import pytest
from sqlalchemy import Engine

from fund import auth, proposals, screening
from fund.auth import Actor
from fund.db import query_df
from fund.errors import InputInvalid, PermissionDenied, RuleViolation
from fund.models import ProposalStatus, Role
from fund.proposals import corrections
from tests.conftest import REVIEWERS, ids, make_actor, make_proposal, reviewed_by_two

S = ProposalStatus
FY = 2026
EXEC = make_actor(Role.executive, login="kanbu_exec")
ADMIN = make_actor(Role.admin, login="kanri_admin")
CHAIR = make_actor(Role.screener, login="shinsa_chair")  # moves the status; reviews nothing
NAMES = {"shinsa_yamada": "山田 花子", "shinsa_sato": "佐藤 一郎"}
# Reviewer → (score per perspective 1–4, comment)
GIVEN = {
    "shinsa_yamada": ([5, 4, 3, 2], "利用者数の根拠が明確です"),
    "shinsa_sato": ([3, 2, 3, 4], "運用経費の見通しを補ってください"),
}


def _department(engine: Engine, name: str = "健康福祉部") -> Actor:
    return make_actor(Role.department, login=f"staff_{ids(engine)[name]}", department_id=ids(engine)[name])


def _reviewed_round(engine: Engine, proposal_id: int) -> int:
    """A round of FY in which the two named screeners score the proposal with comments."""
    rnd = screening.create_round(engine, actor=ADMIN, fiscal_year=FY, name="当初予算 審査")
    users = [
        auth.create_user(
            engine, actor=ADMIN, login=login, role=Role.screener, password=None, display_name=name
        )
        for login, name in NAMES.items()
    ]
    screening.assign_reviewers(
        engine,
        actor=ADMIN,
        round_id=rnd.id or 0,
        proposal_ids=[proposal_id],
        reviewer_ids=[u.id or 0 for u in users],
    )
    mine = query_df(
        engine,
        "SELECT ra.id, u.login FROM review_assignment ra JOIN app_user u ON u.id = ra.reviewer_id"
        " WHERE ra.round_id = :r",
        {"r": rnd.id},
    )
    for assignment_id, login in zip(mine["id"].astype(int), mine["login"], strict=True):
        scores, comment = GIVEN[login]
        screening.save_scores(
            engine,
            actor=make_actor(Role.screener, login=login),
            assignment_id=assignment_id,
            entries=[
                {"perspective": p, "score": s, "comment": comment} for p, s in enumerate(scores, start=1)
            ],
        )
    return rnd.id or 0


def _submitted(engine: Engine) -> int:
    saved = proposals.save_proposal(
        engine, actor=_department(engine), data=make_proposal(engine, FY), submit=True
    )
    return saved.id or 0


def test_screeners_read_every_reviewers_comments_during_the_round(seeded_engine: Engine) -> None:
    pid = _submitted(seeded_engine)
    rid = _reviewed_round(seeded_engine, pid)
    table = screening.reviewer_comments(seeded_engine, actor=CHAIR, round_id=rid, proposal_id=pid)
    assert len(table) == 8
    assert set(table["審査担当"]) == set(NAMES.values())
    sato = table[table["審査担当"] == "佐藤 一郎"]
    assert sato["点数"].tolist() == [3, 2, 3, 4]
    assert set(sato["コメント"]) == {"運用経費の見通しを補ってください"}
    with pytest.raises(PermissionDenied):
        screening.reviewer_comments(
            seeded_engine, actor=_department(seeded_engine), round_id=rid, proposal_id=pid
        )


def test_the_department_reads_its_outcome_and_anonymous_comments_after_the_decision(
    seeded_engine: Engine,
) -> None:
    dept = _department(seeded_engine)
    pid = _submitted(seeded_engine)
    rid = _reviewed_round(seeded_engine, pid)
    proposals.change_status(seeded_engine, actor=CHAIR, proposal_id=pid, to_status=S.in_review)
    proposals.change_status(seeded_engine, actor=CHAIR, proposal_id=pid, to_status=S.adopted)
    assert (
        screening.proposal_feedback(seeded_engine, actor=dept, proposal_id=pid) == []
    )  # not before the decision

    screening.decide_round(seeded_engine, actor=EXEC, round_id=rid)
    [outcome] = screening.proposal_feedback(seeded_engine, actor=dept, proposal_id=pid)
    assert outcome.decision == "採択"
    assert (outcome.rank, outcome.ranked) == (1, 1)
    # Means of the two reviewers per perspective: (5+3)/2, (4+2)/2, (3+3)/2, (2+4)/2; equal weights.
    assert outcome.perspective_means["平均点"].tolist() == [4.0, 3.0, 3.0, 3.0]
    assert outcome.weighted_total == pytest.approx(3.25)
    assert len(outcome.comments) == 8
    assert set(outcome.comments["審査担当"]) == {"審査担当A", "審査担当B"}
    shown = outcome.comments.to_csv()
    assert not any(name in shown or login in shown for login, name in NAMES.items())
    assert "運用経費の見通しを補ってください" in set(outcome.comments["コメント"])
    other = _department(seeded_engine, "農林水産部")
    with pytest.raises(PermissionDenied):
        screening.proposal_feedback(seeded_engine, actor=other, proposal_id=pid)


def test_the_round_may_name_the_reviewers_and_raise_the_minimum_only_through_a_managers_reason(
    seeded_engine: Engine,
) -> None:
    pid = _submitted(seeded_engine)
    rid = _reviewed_round(seeded_engine, pid)
    with pytest.raises(PermissionDenied):
        screening.set_policy(
            seeded_engine, actor=CHAIR, round_id=rid, min_reviews=1, feedback_names=False, reason="急ぐため"
        )
    with pytest.raises(InputInvalid) as refused:
        screening.set_policy(
            seeded_engine, actor=ADMIN, round_id=rid, min_reviews=0, feedback_names=True, reason=""
        )
    assert set(refused.value.field_errors) == {"min_reviews", "reason"}
    with pytest.raises(RuleViolation, match="変わっていない"):
        screening.set_policy(
            seeded_engine, actor=ADMIN, round_id=rid, min_reviews=2, feedback_names=False, reason="確認"
        )
    screening.set_policy(
        seeded_engine,
        actor=ADMIN,
        round_id=rid,
        min_reviews=3,
        feedback_names=True,
        reason="重点事業のため3名で審査",
    )
    audited = query_df(
        seeded_engine,
        "SELECT actor, reason FROM audit_log WHERE action = 'screening.policy' AND entity_id = :r",
        {"r": str(rid)},
    )
    assert audited.values.tolist() == [[ADMIN.login, "重点事業のため3名で審査"]]
    proposals.change_status(seeded_engine, actor=CHAIR, proposal_id=pid, to_status=S.in_review)
    with pytest.raises(RuleViolation, match=r"完了した審査 2件、必要 3件"):
        proposals.change_status(seeded_engine, actor=CHAIR, proposal_id=pid, to_status=S.adopted)
    proposals.change_status(
        seeded_engine, actor=CHAIR, proposal_id=pid, to_status=S.on_hold, reason="3人目の審査待ち"
    )

    screening.decide_round(seeded_engine, actor=EXEC, round_id=rid)
    [outcome] = screening.proposal_feedback(seeded_engine, actor=_department(seeded_engine), proposal_id=pid)
    assert set(outcome.comments["審査担当"]) == set(NAMES.values())
    assert outcome.reason == "3人目の審査待ち"
    with pytest.raises(RuleViolation, match="確定済み"):
        screening.set_policy(
            seeded_engine, actor=ADMIN, round_id=rid, min_reviews=2, feedback_names=False, reason="戻す"
        )


def test_scores_given_before_a_correction_are_flagged_in_the_results_and_the_queue(
    seeded_engine: Engine,
) -> None:
    dept = _department(seeded_engine)
    data = make_proposal(seeded_engine, FY)
    pid = proposals.save_proposal(seeded_engine, actor=dept, data=data, submit=True).id or 0
    rid = reviewed_by_two(seeded_engine, pid, score=3)
    reviewer = make_actor(Role.screener, login=REVIEWERS[0])

    def flagged() -> tuple[int, list[str]]:
        ranked = screening.results(seeded_engine, round_id=rid)
        queue = screening.my_queue(seeded_engine, actor=reviewer, round_id=rid)
        return int(ranked["earlier_revision_reviews"].iloc[0]), queue["state"].tolist()

    assert flagged() == (0, ["完了"])
    returned = corrections.return_proposal(
        seeded_engine, actor=CHAIR, proposal_id=pid, reason="根拠を補ってください"
    )
    data["summary"] = "根拠を補った修正版"
    proposals.save_proposal(
        seeded_engine, actor=dept, data=data, proposal_id=pid, version=returned.version, submit=True
    )
    assert flagged() == (2, ["完了・採点後に提案が修正されました"])
    table = screening.results_table(screening.results(seeded_engine, round_id=rid))
    assert table["修正前の版への審査数"].tolist() == [2]


def test_the_detail_offers_no_step_the_service_would_refuse(seeded_engine: Engine) -> None:
    author = make_actor(Role.screener, login="sakusei_screener")
    pid = (
        proposals.save_proposal(
            seeded_engine, actor=author, data=make_proposal(seeded_engine, FY), submit=True
        ).id
        or 0
    )
    mine = proposals.proposal_detail(seeded_engine, actor=author, proposal_id=pid)
    assert mine.recused == "提案の作成者"
    assert mine.transitions == []
    offered = proposals.proposal_detail(seeded_engine, actor=CHAIR, proposal_id=pid)
    assert S.in_review in [o.to_status for o in offered.transitions]

    rid = reviewed_by_two(seeded_engine, pid)
    proposals.change_status(seeded_engine, actor=CHAIR, proposal_id=pid, to_status=S.in_review)
    proposals.change_status(seeded_engine, actor=CHAIR, proposal_id=pid, to_status=S.adopted)
    screening.decide_round(seeded_engine, actor=EXEC, round_id=rid)
    frozen = proposals.proposal_detail(seeded_engine, actor=ADMIN, proposal_id=pid)
    assert frozen.decided
    assert [o.to_status for o in frozen.transitions] == [S.funded]  # 事業化 only, no exception offered
    with pytest.raises(RuleViolation, match="確定済みのため"):  # not even as the 管理者's exception
        proposals.change_status(
            seeded_engine, actor=ADMIN, proposal_id=pid, to_status=S.submitted, reason="やり直し"
        )
