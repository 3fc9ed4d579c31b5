"""Screening decisions that hold: separation of duties, 差戻し and 取下げ with revisions, the minimum
of reviews for 採択, and the frozen decision with its hash."""

import pytest
from sqlalchemy import Engine

from fund import allocation, proposals, screening
from fund.auth import Actor
from fund.db import query_df
from fund.errors import InputInvalid, PermissionDenied, RuleViolation
from fund.models import BudgetStage, ProposalStatus, Role
from fund.proposals import corrections, revisions
from fund.proposals.revisions import changes
from tests.conftest import REVIEWERS, ids, make_actor, make_proposal, reviewed_by_two

S = ProposalStatus
FY = 2026
LONE = make_actor(Role.screener, login="lone_screener")
EXEC = make_actor(Role.executive, login="kanbu_exec")
ADMIN = make_actor(Role.admin, login="kanri_admin")


def _department(engine: Engine) -> Actor:
    return make_actor(Role.department, login="kenko_staff", department_id=ids(engine)["健康福祉部"])


def _seeded_round(engine: Engine) -> int:
    return int(
        query_df(engine, "SELECT MIN(id) AS id FROM screening_round WHERE fiscal_year = 2024")["id"].iloc[0]
    )


def test_one_screener_alone_can_no_longer_take_a_proposal_to_an_allocation(seeded_engine: Engine) -> None:
    """The path the issue walked: create, submit, set up a round, assign oneself, score, adopt, allocate."""
    saved = proposals.save_proposal(
        seeded_engine, actor=LONE, data=make_proposal(seeded_engine, FY), submit=True
    )
    pid = saved.id or 0
    from fund import auth

    user = auth.create_user(seeded_engine, actor=ADMIN, login=LONE.login, role=Role.screener, password=None)
    rnd = screening.create_round(
        seeded_engine, actor=LONE, fiscal_year=FY, name="単独審査", weights=[100, 0, 0, 0]
    )
    result = screening.assign_reviewers(
        seeded_engine, actor=LONE, round_id=rnd.id or 0, proposal_ids=[pid], reviewer_ids=[user.id or 0]
    )
    assert result.auto_recused == 1  # the author is recused like a same-department reviewer
    reason = query_df(
        seeded_engine, "SELECT recusal_reason FROM review_assignment WHERE proposal_id = :p", {"p": pid}
    )
    assert reason["recusal_reason"].tolist() == ["提案の作成者"]
    with pytest.raises(PermissionDenied, match="提案の作成者のため、状態の変更はできません"):
        proposals.change_status(seeded_engine, actor=LONE, proposal_id=pid, to_status=S.in_review)
    other = make_actor(Role.screener, login="other_screener")
    proposals.change_status(seeded_engine, actor=other, proposal_id=pid, to_status=S.in_review)
    with pytest.raises(RuleViolation, match=r"完了した審査 0件、必要 2件"):
        proposals.change_status(seeded_engine, actor=other, proposal_id=pid, to_status=S.adopted)
    reviewed_by_two(seeded_engine, pid)
    proposals.change_status(seeded_engine, actor=other, proposal_id=pid, to_status=S.adopted)
    project_id = int(
        query_df(seeded_engine, "SELECT project_id FROM proposal WHERE id = :p", {"p": pid})[
            "project_id"
        ].iloc[0]
    )
    with pytest.raises(PermissionDenied, match="配分の登録はできません"):
        allocation.propose_allocation(
            seeded_engine,
            actor=LONE,
            allocation=allocation.AllocationCreate(
                project_id=project_id,
                fiscal_year=FY,
                budget_stage=BudgetStage.initial,
                project_cost_yen=2_000_000,
                fund_share_yen=1_000_000,
            ),
        )


def test_adoption_below_the_minimum_needs_a_managers_reason(seeded_engine: Engine) -> None:
    dept = _department(seeded_engine)
    pid = (
        proposals.save_proposal(
            seeded_engine, actor=dept, data=make_proposal(seeded_engine, FY), submit=True
        ).id
        or 0
    )
    screener = make_actor(Role.screener, login="shinsa_a")
    proposals.change_status(seeded_engine, actor=screener, proposal_id=pid, to_status=S.in_review)
    with pytest.raises(InputInvalid) as exc:
        proposals.change_status(seeded_engine, actor=ADMIN, proposal_id=pid, to_status=S.adopted)
    assert "例外として採択する理由" in exc.value.field_errors["reason"]
    adopted = proposals.change_status(
        seeded_engine, actor=ADMIN, proposal_id=pid, to_status=S.adopted, reason="災害対応で審査会を待てない"
    )
    assert adopted.status == S.adopted
    action = query_df(
        seeded_engine,
        "SELECT action FROM audit_log WHERE entity = 'proposal' AND entity_id = :p ORDER BY id DESC LIMIT 1",
        {"p": str(pid)},
    )
    assert action["action"].tolist() == ["proposal.override"]


def test_a_returned_proposal_is_corrected_and_resubmitted_as_revision_2(seeded_engine: Engine) -> None:
    dept = _department(seeded_engine)
    data = make_proposal(seeded_engine, FY)
    pid = proposals.save_proposal(seeded_engine, actor=dept, data=data, submit=True).id or 0
    reviewed_by_two(seeded_engine, pid, score=3)
    screener = make_actor(Role.screener, login="shinsa_b")
    with pytest.raises(InputInvalid):
        corrections.return_proposal(seeded_engine, actor=screener, proposal_id=pid, reason="  ")
    returned = corrections.return_proposal(
        seeded_engine, actor=screener, proposal_id=pid, reason="想定利用者数の根拠を示してください"
    )
    assert returned.status == S.draft
    with pytest.raises(PermissionDenied):  # 事業担当 cannot send back
        corrections.return_proposal(seeded_engine, actor=dept, proposal_id=pid, reason="x")
    data["summary"] = "予約とあわせて結果通知も電子化する（修正版）"
    resubmitted = proposals.save_proposal(
        seeded_engine, actor=dept, data=data, proposal_id=pid, version=returned.version, submit=True
    )
    assert resubmitted.status == S.submitted
    kept = revisions.revisions(seeded_engine, actor=dept, proposal_id=pid)
    assert [r.revision for r in kept] == [1, 2]
    diff = changes(kept[0].content, kept[1].content)
    assert diff["項目"].tolist() == ["事業概要"]
    assert diff["この版"].tolist() == ["予約とあわせて結果通知も電子化する（修正版）"]
    judged = query_df(
        seeded_engine,
        "SELECT DISTINCT s.proposal_revision FROM review_score s JOIN review_assignment ra ON ra.id = s.assignment_id"
        " WHERE ra.proposal_id = :p",
        {"p": pid},
    )
    assert judged["proposal_revision"].tolist() == [1]  # the old scores stay with revision 1
    indicators = query_df(
        seeded_engine, "SELECT COUNT(*) AS n FROM kpi_indicator WHERE proposal_id = :p", {"p": pid}
    )
    assert int(indicators["n"].iloc[0]) == len(data["kpis"])  # tracked once, not doubled


def test_a_withdrawn_proposal_stays_withdrawn_and_frees_the_year(seeded_engine: Engine) -> None:
    dept = _department(seeded_engine)
    data = make_proposal(seeded_engine, FY)
    first = proposals.save_proposal(seeded_engine, actor=dept, data=data, submit=True)
    withdrawn = corrections.withdraw_proposal(
        seeded_engine, actor=dept, proposal_id=first.id or 0, reason="国の補助事業に切り替えるため"
    )
    with pytest.raises(RuleViolation, match="取り下げられているため編集できません"):
        proposals.save_proposal(
            seeded_engine, actor=dept, data=data, proposal_id=first.id, version=withdrawn.version, submit=True
        )
    again = proposals.save_proposal(seeded_engine, actor=dept, data=data, submit=True)
    assert again.id != first.id and again.status == S.submitted
    other = make_actor(Role.department, login="keisatsu_staff", department_id=ids(seeded_engine)["警察本部"])
    with pytest.raises(PermissionDenied):
        corrections.withdraw_proposal(seeded_engine, actor=other, proposal_id=again.id or 0, reason="誤り")


def test_the_seeded_round_is_decided_once_and_then_nothing_in_it_changes(seeded_engine: Engine) -> None:
    round_id = _seeded_round(seeded_engine)
    with pytest.raises(PermissionDenied, match="審査結果の確定"):
        screening.decide_round(seeded_engine, actor=make_actor(Role.screener), round_id=round_id)
    decided = screening.decide_round(seeded_engine, actor=EXEC, round_id=round_id)
    snap = decided.snapshot
    assert len(snap["decisions"]) == 24 and len(snap["ranking"]) == 24
    assert len(snap["scores"]) == 288 and snap["rubric"]["weights"] == [25, 25, 25, 25]
    assert {r["sensitivity"]["band"] for r in snap["ranking"]} <= {"上位", "中位", "下位"}
    audit_row = query_df(
        seeded_engine,
        "SELECT after_values FROM audit_log WHERE action = 'screening.decide' ORDER BY id DESC LIMIT 1",
    )
    assert decided.content_hash in str(audit_row["after_values"].iloc[0])
    assert screening.verify(decided)

    assignment = query_df(
        seeded_engine,
        "SELECT ra.id, u.login, ra.proposal_id FROM review_assignment ra JOIN app_user u ON u.id = ra.reviewer_id"
        " WHERE ra.round_id = :r AND NOT ra.recused LIMIT 1",
        {"r": round_id},
    ).iloc[0]
    reviewer = make_actor(Role.screener, login=str(assignment["login"]))
    frozen = "確定済み"
    with pytest.raises(RuleViolation, match=frozen):
        screening.save_score(
            seeded_engine, actor=reviewer, assignment_id=int(assignment["id"]), perspective=1, score=1
        )
    with pytest.raises(RuleViolation, match=frozen):
        screening.new_rubric_version(
            seeded_engine, actor=ADMIN, round_id=round_id, weights=[70, 10, 10, 10], reason="上位を変えたい"
        )
    with pytest.raises(RuleViolation, match=frozen):
        screening.declare_conflict(
            seeded_engine, actor=reviewer, assignment_id=int(assignment["id"]), reason="後から"
        )
    with pytest.raises(RuleViolation, match=frozen):
        proposals.change_status(
            seeded_engine,
            actor=ADMIN,
            proposal_id=int(assignment["proposal_id"]),
            to_status=S.rejected,
            reason="再考",
        )
    with pytest.raises(RuleViolation, match=frozen):
        screening.decide_round(seeded_engine, actor=ADMIN, round_id=round_id)
    assert screening.decision(seeded_engine, round_id=round_id) is not None
    count = query_df(seeded_engine, "SELECT COUNT(*) AS n FROM screening_decision")
    assert int(count["n"].iloc[0]) == 1


def test_a_round_with_unscored_assignments_is_refused_unless_a_manager_gives_a_reason(
    seeded_engine: Engine,
) -> None:
    dept = _department(seeded_engine)
    pid = (
        proposals.save_proposal(
            seeded_engine, actor=dept, data=make_proposal(seeded_engine, FY), submit=True
        ).id
        or 0
    )
    round_id = reviewed_by_two(seeded_engine, pid)
    late = make_proposal(seeded_engine, FY, project_name="後から出た提案")
    late_id = proposals.save_proposal(seeded_engine, actor=dept, data=late, submit=True).id or 0
    users = query_df(seeded_engine, "SELECT id FROM app_user WHERE login = :l", {"l": REVIEWERS[0]})
    screening.assign_reviewers(
        seeded_engine,
        actor=ADMIN,
        round_id=round_id,
        proposal_ids=[late_id],
        reviewer_ids=[int(users["id"].iloc[0])],
    )
    with pytest.raises(RuleViolation, match=r"採点が終わっていない割当が1件.*後から出た提案（.*0/4観点）"):
        screening.decide_round(seeded_engine, actor=EXEC, round_id=round_id)
    assert screening.decision(seeded_engine, round_id=round_id) is None  # nothing written
    decided = screening.decide_round(
        seeded_engine, actor=ADMIN, round_id=round_id, override_reason="期限のため"
    )
    assert decided.override_reason == "期限のため" and len(decided.snapshot["decisions"]) == 2


def test_a_later_round_of_the_year_shows_what_changed_since_the_previous_decision(
    seeded_engine: Engine,
) -> None:
    dept = _department(seeded_engine)
    first = proposals.save_proposal(
        seeded_engine, actor=dept, data=make_proposal(seeded_engine, FY), submit=True
    )
    r1 = reviewed_by_two(seeded_engine, first.id or 0)
    screening.decide_round(seeded_engine, actor=EXEC, round_id=r1)
    second = proposals.save_proposal(
        seeded_engine,
        actor=dept,
        data=make_proposal(seeded_engine, FY, project_name="補正で出た提案"),
        submit=True,
    )
    r2 = screening.create_round(seeded_engine, actor=ADMIN, fiscal_year=FY, name="補正審査").id or 0
    users = query_df(
        seeded_engine,
        "SELECT id FROM app_user WHERE login IN (:a, :b)",
        {"a": REVIEWERS[0], "b": REVIEWERS[1]},
    )
    screening.assign_reviewers(
        seeded_engine,
        actor=ADMIN,
        round_id=r2,
        proposal_ids=[second.id or 0],
        reviewer_ids=users["id"].astype(int).tolist(),
    )
    for a, login in query_df(
        seeded_engine,
        "SELECT ra.id, u.login FROM review_assignment ra JOIN app_user u ON u.id = ra.reviewer_id WHERE ra.round_id = :r",
        {"r": r2},
    ).itertuples(index=False):
        screening.save_scores(
            seeded_engine,
            actor=make_actor(Role.screener, login=login),
            assignment_id=int(a),
            entries=[{"perspective": p, "score": 5} for p in screening.PERSPECTIVES],
        )
    later = screening.decide_round(seeded_engine, actor=EXEC, round_id=r2)
    before = screening.previous_decision(seeded_engine, round_id=r2)
    assert before is not None and before.round_id == r1
    diff = screening.differences(before.snapshot, later.snapshot)
    assert diff.to_dict("records") == [
        {"事業名": "オンライン健診予約事業", "変化": "対象外", "前回": "提出済", "今回": ""},
        {"事業名": "補正で出た提案", "変化": "追加", "前回": "", "今回": "提出済"},
    ]
