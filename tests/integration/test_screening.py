"""審査・採点: rounds and rubric versions, assignments and recusal, scoring, results, calibration,
weight sensitivity and the export, against a fresh DuckDB."""

import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session, select

from fund import auth, screening
from fund.auth import Actor
from fund.db import query_df
from fund.errors import InputInvalid, PermissionDenied, RuleViolation
from fund.models import (
    Category,
    Department,
    FiscalYear,
    Project,
    Proposal,
    ProposalStatus,
    ReviewAssignment,
    ReviewScore,
    Role,
)
from fund.proposals.corrections import return_proposal
from fund.sensitivity import analyse, scenarios
from tests.conftest import arranged, make_actor

FY = 2025


@dataclass
class World:
    engine: Engine
    admin: Actor
    round_id: int
    proposals: dict[str, int]  # project name → proposal id
    reviewers: dict[str, int]  # login → user id

    def actor(self, login: str) -> Actor:
        return make_actor(Role.screener, login=login)


def _add_proposal(session: Session, name: str, department_id: int, category_id: int) -> int:
    project = Project(name=name, department_id=department_id, category_id=category_id, first_fiscal_year=FY)
    session.add(project)
    session.flush()
    proposal = Proposal(
        project_id=project.id or 0, fiscal_year=FY, status=ProposalStatus.submitted, summary=name
    )
    session.add(proposal)
    session.flush()
    return proposal.id or 0


@pytest.fixture
def world(engine: Engine, admin: Actor) -> World:
    """Two departments, three submitted FY2025 proposals, three 審査担当 (one in 健康福祉部)."""
    with arranged(engine) as session:
        health = Department(name="健康福祉部", sort_order=1)
        planning = Department(name="総合企画部", sort_order=2)
        category = Category(code="life", name="生活関連分野")
        session.add_all([health, planning, category, FiscalYear(year=FY)])
        session.flush()
        proposals = {
            "オンライン服薬指導": _add_proposal(
                session, "オンライン服薬指導", health.id or 0, category.id or 0
            ),
            "電子申請の拡充": _add_proposal(session, "電子申請の拡充", planning.id or 0, category.id or 0),
            "県民アプリ": _add_proposal(session, "県民アプリ", planning.id or 0, category.id or 0),
        }
    reviewers = {}
    for login, dept in [("sato", None), ("suzuki", None), ("tanaka", "健康福祉部")]:
        user = auth.create_user(
            engine, actor=admin, login=login, role=Role.screener, password=None, department_name=dept
        )
        reviewers[login] = user.id or 0
    created = screening.create_round(engine, actor=admin, fiscal_year=FY, name="当初予算 審査")
    return World(engine, admin, created.id or 0, proposals, reviewers)


def _assign(w: World, project: str, *logins: str) -> dict[str, int]:
    screening.assign_reviewers(
        w.engine,
        actor=w.admin,
        round_id=w.round_id,
        proposal_ids=[w.proposals[project]],
        reviewer_ids=[w.reviewers[login] for login in logins],
    )
    df = query_df(
        w.engine,
        "SELECT ra.id, u.login FROM review_assignment ra JOIN app_user u ON u.id = ra.reviewer_id "
        "WHERE ra.proposal_id = :p",
        {"p": w.proposals[project]},
    )
    return dict(zip(df["login"], df["id"].astype(int), strict=True))


def _score_all(w: World, login: str, assignment_id: int, scores: list[int]) -> None:
    screening.save_scores(
        w.engine,
        actor=w.actor(login),
        assignment_id=assignment_id,
        entries=[
            {"perspective": p, "score": s, "comment": ""} for p, s in zip((1, 2, 3, 4), scores, strict=True)
        ],
    )


# --- Rounds and rubric versions ---------------------------------------------------------------------


def test_a_new_round_starts_with_equal_weights_and_the_shipped_anchors(world: World) -> None:
    rubric = screening.current_rubric(world.engine, round_id=world.round_id)
    assert rubric.version == 1
    assert rubric.weights == [25, 25, 25, 25]
    assert all(len(rubric.anchors[str(p)]) == 5 for p in (1, 2, 3, 4))


def test_weights_that_do_not_sum_to_100_are_refused_in_japanese(world: World) -> None:
    with pytest.raises(InputInvalid) as exc:
        screening.create_round(
            world.engine, actor=world.admin, fiscal_year=FY, name="補正予算 審査", weights=[30, 30, 30, 30]
        )
    assert exc.value.field_errors["weights"] == "重みの合計は100%にしてください（現在の合計は120%です）。"
    with pytest.raises(InputInvalid, match="現在の合計は90%"):
        screening.new_rubric_version(
            world.engine, actor=world.admin, round_id=world.round_id, weights=[40, 20, 20, 10]
        )
    assert len(screening.rounds(world.engine)) == 1
    assert screening.current_rubric(world.engine, round_id=world.round_id).version == 1


def test_a_round_needs_a_name_and_a_registered_fiscal_year(world: World) -> None:
    with pytest.raises(InputInvalid) as exc:
        screening.create_round(world.engine, actor=world.admin, fiscal_year=FY, name="  ")
    assert "name" in exc.value.field_errors
    with pytest.raises(InputInvalid, match="令和12年度（2030年度）は登録されていません"):
        screening.create_round(world.engine, actor=world.admin, fiscal_year=2030, name="審査")


def test_executives_cannot_create_rounds(world: World) -> None:
    with pytest.raises(PermissionDenied, match="幹部の権限では「採点」はできません"):
        screening.create_round(world.engine, actor=make_actor(Role.executive), fiscal_year=FY, name="審査")


def test_changing_weights_creates_a_new_version_and_old_scores_keep_theirs(world: World) -> None:
    a = _assign(world, "県民アプリ", "sato")["sato"]
    screening.save_score(world.engine, actor=world.actor("sato"), assignment_id=a, perspective=1, score=4)
    v2 = screening.new_rubric_version(
        world.engine,
        actor=world.admin,
        round_id=world.round_id,
        weights=[40, 20, 20, 20],
        reason="県議会の指摘で到達範囲を重視",
    )
    assert v2.version == 2
    screening.save_score(world.engine, actor=world.actor("sato"), assignment_id=a, perspective=2, score=3)
    versions = query_df(
        world.engine,
        "SELECT s.perspective, rv.version FROM review_score s JOIN rubric_version rv "
        "ON rv.id = s.rubric_version_id ORDER BY s.perspective",
    )
    assert versions["version"].tolist() == [1, 2]
    table = screening.rubric_versions(world.engine, round_id=world.round_id)
    assert table["scores"].tolist() == [1, 1]
    assert table["w1"].tolist() == [25, 40]
    assert screening.latest_weights(world.engine, round_id=world.round_id) == [40, 20, 20, 20]


def test_a_rubric_version_without_changes_is_refused(world: World) -> None:
    with pytest.raises(RuleViolation, match="変わっていない"):
        screening.new_rubric_version(
            world.engine, actor=world.admin, round_id=world.round_id, weights=[25, 25, 25, 25]
        )


def test_anchors_need_five_levels_per_perspective(world: World) -> None:
    anchors = screening.default_anchors()
    anchors["2"] = anchors["2"][:4]
    with pytest.raises(InputInvalid, match="5段階すべて"):
        screening.new_rubric_version(
            world.engine,
            actor=world.admin,
            round_id=world.round_id,
            weights=[25, 25, 25, 25],
            anchors=anchors,
        )


# --- Assignments and recusal ------------------------------------------------------------------------


def test_a_reviewer_from_the_proposing_department_is_recused_automatically(world: World) -> None:
    result = screening.assign_reviewers(
        world.engine,
        actor=world.admin,
        round_id=world.round_id,
        proposal_ids=[world.proposals["オンライン服薬指導"], world.proposals["県民アプリ"]],
        reviewer_ids=[world.reviewers["tanaka"], world.reviewers["sato"]],
    )
    assert (result.created, result.auto_recused, result.skipped) == (4, 1, 0)
    frame = screening.assignment_frame(world.engine, round_id=world.round_id)
    recused = frame[frame["recused"]]
    assert recused[["project", "reviewer"]].values.tolist() == [["オンライン服薬指導", "tanaka"]]
    assert recused["recusal_reason"].iloc[0] == screening.SAME_DEPARTMENT_REASON
    again = screening.assign_reviewers(
        world.engine,
        actor=world.admin,
        round_id=world.round_id,
        proposal_ids=[world.proposals["県民アプリ"]],
        reviewer_ids=[world.reviewers["sato"]],
    )
    assert (again.created, again.skipped) == (0, 1)


def test_a_recused_reviewer_cannot_score(world: World) -> None:
    a = _assign(world, "オンライン服薬指導", "tanaka")["tanaka"]
    with pytest.raises(RuleViolation, match="除斥されているため採点できません"):
        screening.save_score(
            world.engine, actor=world.actor("tanaka"), assignment_id=a, perspective=1, score=5
        )


def test_only_screeners_can_be_assigned_and_only_proposals_of_the_round(world: World, engine: Engine) -> None:
    boss = auth.create_user(engine, actor=world.admin, login="bucho", role=Role.executive, password=None)
    with pytest.raises(InputInvalid, match="審査担当として有効な利用者"):
        screening.assign_reviewers(
            engine,
            actor=world.admin,
            round_id=world.round_id,
            proposal_ids=[world.proposals["県民アプリ"]],
            reviewer_ids=[boss.id or 0],
        )
    return_proposal(  # 差戻し: a 下書き again, for the department to correct
        engine,
        actor=world.admin,
        proposal_id=world.proposals["県民アプリ"],
        reason="根拠の数値を確認してください",
    )
    with pytest.raises(InputInvalid, match="下書きのため"):
        screening.assign_reviewers(
            engine,
            actor=world.admin,
            round_id=world.round_id,
            proposal_ids=[world.proposals["県民アプリ"]],
            reviewer_ids=[world.reviewers["sato"]],
        )
    with pytest.raises(InputInvalid) as exc:
        screening.assign_reviewers(
            engine, actor=world.admin, round_id=world.round_id, proposal_ids=[], reviewer_ids=[]
        )
    assert set(exc.value.field_errors) == {"proposals", "reviewers"}


def test_a_declared_conflict_needs_a_reason_and_recuses_the_reviewer(world: World) -> None:
    a = _assign(world, "県民アプリ", "sato")["sato"]
    with pytest.raises(InputInvalid, match="利益相反の理由"):
        screening.declare_conflict(world.engine, actor=world.actor("sato"), assignment_id=a, reason="  ")
    screening.declare_conflict(
        world.engine, actor=world.actor("sato"), assignment_id=a, reason="受託候補の事業者に親族が勤務"
    )
    queue = screening.my_queue(world.engine, actor=world.actor("sato"), round_id=world.round_id)
    assert queue[["recused", "recusal_reason", "state"]].values.tolist() == [
        [True, "受託候補の事業者に親族が勤務", "除斥"]
    ]
    with pytest.raises(RuleViolation, match="既に除斥"):
        screening.declare_conflict(world.engine, actor=world.actor("sato"), assignment_id=a, reason="再申告")
    audit_rows = query_df(
        world.engine, "SELECT reason FROM audit_log WHERE action = 'screening.declare_conflict'"
    )
    assert audit_rows["reason"].tolist() == ["受託候補の事業者に親族が勤務"]


def test_nobody_declares_a_conflict_on_someone_elses_assignment(world: World) -> None:
    a = _assign(world, "県民アプリ", "sato")["sato"]
    with pytest.raises(PermissionDenied, match="自分に割り当てられた提案"):
        screening.declare_conflict(world.engine, actor=world.actor("suzuki"), assignment_id=a, reason="代理")


def test_recused_reviews_never_count_in_the_results(world: World) -> None:
    ids = _assign(world, "県民アプリ", "sato", "suzuki")
    _score_all(world, "sato", ids["sato"], [5, 5, 5, 5])
    _score_all(world, "suzuki", ids["suzuki"], [1, 1, 1, 1])
    before = screening.results(world.engine, round_id=world.round_id).iloc[0]
    assert (before["reviews"], before["weighted_total"]) == (2, 3.0)
    screening.declare_conflict(
        world.engine, actor=world.actor("suzuki"), assignment_id=ids["suzuki"], reason="兼業先"
    )
    after = screening.results(world.engine, round_id=world.round_id).iloc[0]
    assert (after["reviews"], after["weighted_total"], after["p1"]) == (1, 5.0, 5.0)
    assert screening.progress(world.engine, fiscal_year=FY) == {"assignments": 2, "recused": 1, "done": 1}


def test_progress_counts_only_fully_scored_assignments_as_done_and_is_zero_for_a_year_without_rounds(
    world: World,
) -> None:
    ids = _assign(world, "県民アプリ", "sato", "suzuki")
    _score_all(world, "sato", ids["sato"], [3, 3, 3, 3])
    for p in (1, 2, 3):
        screening.save_score(
            world.engine, actor=world.actor("suzuki"), assignment_id=ids["suzuki"], perspective=p, score=2
        )
    assert screening.progress(world.engine, fiscal_year=FY) == {"assignments": 2, "recused": 0, "done": 1}
    assert screening.progress(world.engine, fiscal_year=FY + 1) == {"assignments": 0, "recused": 0, "done": 0}


# --- Scoring ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "field", "message"),
    [
        (
            {"perspective": 1, "score": 0},
            "score_1",
            "「多くの人が利用する」の点数を1〜5の整数で選んでください。",
        ),
        (
            {"perspective": 2, "score": 6},
            "score_2",
            "「ひとりが頻繁に利用する」の点数を1〜5の整数で選んでください。",
        ),
        (
            {"perspective": 3, "score": None},
            "score_3",
            "「面倒な手続をデジタル化する」の点数を1〜5の整数で選んでください。",
        ),
        (
            {"perspective": 4, "score": "3"},
            "score_4",
            "「興味・関心を喚起する画期性」の点数を1〜5の整数で選んでください。",
        ),
        (
            {"perspective": 1, "score": 3, "comment": "長" * 1001},
            "comment_1",
            "「多くの人が利用する」のコメントは1,000文字以内で入力してください。",
        ),
        ({"perspective": 5, "score": 3}, "perspective", "観点は1〜4のいずれかです。"),
    ],
)
def test_bad_scores_are_refused_with_a_japanese_message_and_nothing_is_saved(
    world: World, entry: dict[str, object], field: str, message: str
) -> None:
    a = _assign(world, "県民アプリ", "sato")["sato"]
    good = {"perspective": 2 if entry["perspective"] != 2 else 3, "score": 4, "comment": "良い"}
    with pytest.raises(InputInvalid) as exc:
        screening.save_scores(world.engine, actor=world.actor("sato"), assignment_id=a, entries=[good, entry])
    assert exc.value.field_errors == {field: message}
    assert query_df(world.engine, "SELECT COUNT(*) AS n FROM review_score")["n"].iloc[0] == 0


def test_a_score_is_upserted_per_perspective_and_every_change_is_audited(world: World) -> None:
    a = _assign(world, "県民アプリ", "sato")["sato"]
    sato = world.actor("sato")
    assert (
        screening.save_score(
            world.engine, actor=sato, assignment_id=a, perspective=1, score=3, comment="普通"
        )
        == 1
    )
    assert (
        screening.save_score(
            world.engine, actor=sato, assignment_id=a, perspective=1, score=4, comment="多い"
        )
        == 1
    )
    assert (
        screening.save_score(
            world.engine, actor=sato, assignment_id=a, perspective=1, score=4, comment="多い"
        )
        == 0
    )
    assert screening.assignment_scores(world.engine, actor=sato, assignment_id=a) == {1: (4, "多い")}
    with Session(world.engine) as session:
        assert len(session.exec(select(ReviewScore)).all()) == 1
    audits = query_df(
        world.engine, "SELECT before_values, after_values FROM audit_log WHERE action = 'screening.score'"
    )
    assert len(audits) == 2


def test_a_reviewer_scores_only_their_own_assignments(world: World) -> None:
    a = _assign(world, "県民アプリ", "sato")["sato"]
    with pytest.raises(PermissionDenied, match="自分に割り当てられた提案だけ"):
        screening.save_score(
            world.engine, actor=world.actor("suzuki"), assignment_id=a, perspective=1, score=5
        )
    with pytest.raises(PermissionDenied, match="自分に割り当てられた提案だけ"):
        screening.save_score(world.engine, actor=world.admin, assignment_id=a, perspective=1, score=5)
    with pytest.raises(PermissionDenied, match="幹部の権限"):
        screening.save_score(
            world.engine,
            actor=make_actor(Role.executive, login="sato"),
            assignment_id=a,
            perspective=1,
            score=5,
        )


def test_my_queue_counts_x_of_y_done_and_filters_pending(world: World) -> None:
    for project in world.proposals:
        _assign(world, project, "tanaka")
    queue = screening.my_queue(world.engine, actor=world.actor("tanaka"), round_id=world.round_id)
    a = int(queue.loc[queue["project"] == "県民アプリ", "assignment_id"].iloc[0])
    b = int(queue.loc[queue["project"] == "電子申請の拡充", "assignment_id"].iloc[0])
    _score_all(world, "tanaka", a, [3, 3, 3, 3])
    screening.save_score(world.engine, actor=world.actor("tanaka"), assignment_id=b, perspective=1, score=2)
    assert screening.queue_progress(world.engine, actor=world.actor("tanaka"), round_id=world.round_id) == {
        "done": 1,
        "total": 2,
        "recused": 1,
    }
    pending = screening.my_queue(
        world.engine, actor=world.actor("tanaka"), round_id=world.round_id, pending_only=True
    )
    assert pending[["project", "state"]].values.tolist() == [["電子申請の拡充", "未完了（1/4観点）"]]
    assert screening.my_queue(world.engine, actor=world.actor("sato"), round_id=world.round_id).empty


# --- Results and calibration --------------------------------------------------------------------------


def test_results_give_mean_per_perspective_weighted_total_spread_and_disagreement(world: World) -> None:
    screening.new_rubric_version(
        world.engine, actor=world.admin, round_id=world.round_id, weights=[40, 30, 20, 10]
    )
    ids = _assign(world, "県民アプリ", "sato", "suzuki")
    _score_all(world, "sato", ids["sato"], [5, 4, 3, 2])
    _score_all(world, "suzuki", ids["suzuki"], [2, 4, 3, 2])
    row = screening.results(world.engine, round_id=world.round_id).iloc[0]
    assert [row["p1"], row["p2"], row["p3"], row["p4"]] == [3.5, 4.0, 3.0, 2.0]
    assert row["weighted_total"] == pytest.approx(3.5 * 0.4 + 4.0 * 0.3 + 3.0 * 0.2 + 2.0 * 0.1)
    assert row["max_sd"] == pytest.approx(math.sqrt(4.5))  # sample sd of (5, 2)
    assert bool(row["disagreement"]) is True
    assert row["reviews"] == 2


def test_calibrated_totals_match_a_hand_computed_example(world: World) -> None:
    """sato is lenient (5 and 3), suzuki is harsh (3 and 1); both score 電子申請の拡充.

    sato: mean 4, population sd 1; suzuki: mean 2, sd 1. All 16 scores: mean 3, sd √2.
    Calibrated = 3 + √2 × z: sato's 5 and suzuki's 3 both become 3 + √2; sato's 3 and suzuki's 1
    become 3 − √2. Raw totals 5 / 3 / 2 → calibrated 4.414 / 4.414 / 1.586.
    """
    sato = _assign(world, "県民アプリ", "sato")["sato"]
    both = _assign(world, "電子申請の拡充", "sato", "suzuki")
    suzuki = _assign(world, "オンライン服薬指導", "suzuki")["suzuki"]
    _score_all(world, "sato", sato, [5, 5, 5, 5])
    _score_all(world, "sato", both["sato"], [3, 3, 3, 3])
    _score_all(world, "suzuki", both["suzuki"], [1, 1, 1, 1])
    _score_all(world, "suzuki", suzuki, [3, 3, 3, 3])
    res = screening.results(world.engine, round_id=world.round_id).set_index("project")
    assert res["weighted_total"].to_dict() == {
        "県民アプリ": 5.0,
        "オンライン服薬指導": 3.0,
        "電子申請の拡充": 2.0,
    }
    assert res.loc["県民アプリ", "calibrated_total"] == pytest.approx(3 + math.sqrt(2))
    assert res.loc["オンライン服薬指導", "calibrated_total"] == pytest.approx(3 + math.sqrt(2))
    assert res.loc["電子申請の拡充", "calibrated_total"] == pytest.approx(3 - math.sqrt(2))
    assert res["rank"].to_dict() == {"県民アプリ": 1, "オンライン服薬指導": 2, "電子申請の拡充": 3}
    assert res["calibrated_rank"].to_dict() == {"県民アプリ": 1, "オンライン服薬指導": 1, "電子申請の拡充": 3}


def test_a_reviewer_who_gives_one_score_throughout_is_calibrated_to_the_round_mean(world: World) -> None:
    ids = _assign(world, "県民アプリ", "sato", "suzuki")
    _score_all(world, "sato", ids["sato"], [4, 4, 4, 4])
    _score_all(world, "suzuki", ids["suzuki"], [1, 2, 3, 4])
    row = screening.results(world.engine, round_id=world.round_id).iloc[0]
    # Round mean 26/8 = 3.25; sato's constant 4s carry no ranking information and become 3.25 each.
    round_sd = math.sqrt(sum((s - 3.25) ** 2 for s in [4, 4, 4, 4, 1, 2, 3, 4]) / 8)
    for p, s in zip((1, 2, 3, 4), (1, 2, 3, 4), strict=True):
        suzuki_z = (s - 2.5) / math.sqrt(1.25)  # suzuki: mean 2.5, population sd √1.25
        assert row[f"c{p}"] == pytest.approx((3.25 + (3.25 + round_sd * suzuki_z)) / 2)
    assert row["calibrated_total"] == pytest.approx(3.25)


def test_unscored_round_has_an_empty_result(world: World) -> None:
    assert screening.results(world.engine, round_id=world.round_id).empty
    assert screening.weight_sensitivity(world.engine, round_id=world.round_id, step=10).table.empty


# --- Weight sensitivity -------------------------------------------------------------------------------


def _constructed_means() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "proposal_id": [1, 2, 3, 4],
            "project": ["A 常に首位", "B 観点1だけ強い", "C 観点2〜4がやや強い", "D 常に最下位"],
            "department": ["総合企画部"] * 4,
            "p1": [5.0, 4.0, 1.0, 1.0],
            "p2": [5.0, 1.0, 1.9, 1.0],
            "p3": [5.0, 1.0, 1.9, 1.0],
            "p4": [5.0, 1.0, 1.9, 1.0],
        }
    )


def test_sensitivity_tells_robust_from_borderline_around_a_funding_line() -> None:
    # Equal weights: B 1.75 > C 1.675. With the reach weight 10 points lower (15/90, 25/90 …),
    # B 1.5 < C 1.75: B drops below the line of 2 and C rises above it.
    result = analyse(_constructed_means(), weights=[25, 25, 25, 25], step=10, funding_line=2)
    t = result.table.set_index("project")
    assert t["base_band"].to_dict() == {
        "A 常に首位": "採択圏内",
        "B 観点1だけ強い": "採択圏内",
        "C 観点2〜4がやや強い": "圏外",
        "D 常に最下位": "圏外",
    }
    assert t["robust"].to_dict() == {
        "A 常に首位": True,
        "B 観点1だけ強い": False,
        "C 観点2〜4がやや強い": False,
        "D 常に最下位": True,
    }
    assert (t.loc["B 観点1だけ強い", "best_rank"], t.loc["B 観点1だけ強い", "worst_rank"]) == (2, 3)
    assert t.loc["C 観点2〜4がやや強い", "bands_seen"] == "圏外・採択圏内"
    assert len(result.scenarios) == 9  # current weights + 4 perspectives × 2 directions
    reach_down = result.scenarios.iloc[2]
    assert reach_down["シナリオ"] == "多くの人が利用する −10"
    assert reach_down["多くの人が利用する（%）"] == pytest.approx(16.7)


def test_a_small_step_keeps_everyone_in_their_band() -> None:
    result = analyse(_constructed_means(), weights=[25, 25, 25, 25], step=1, funding_line=2)
    assert result.table["robust"].all()


def test_sensitivity_bands_in_thirds_on_the_seeded_round(seeded_engine: Engine) -> None:
    round_id = int(screening.rounds(seeded_engine)["id"].iloc[0])
    result = screening.weight_sensitivity(seeded_engine, round_id=round_id, step=10)
    assert len(result.table) == 24
    assert set(result.table["base_band"]) == {"上位", "中位", "下位"}
    assert result.table["robust"].any() and not result.table["robust"].all()
    view = screening.sensitivity_table(result)
    assert set(view["判定"]) == {"安定", "境界"}
    with pytest.raises(InputInvalid, match="1〜50ポイント"):
        screening.weight_sensitivity(seeded_engine, round_id=round_id, step=0)


# --- Seeded sample round and export -------------------------------------------------------------------


def test_the_seeded_sample_round_has_24_ranked_proposals(seeded_engine: Engine) -> None:
    rounds = screening.rounds(seeded_engine)
    assert bool(rounds["is_sample"].iloc[0]) is True
    res = screening.results(seeded_engine, round_id=int(rounds["id"].iloc[0]))
    assert len(res) == 24
    assert (res["reviews"] == 3).all()
    assert res["weighted_total"].between(1, 5).all()
    assert res["rank"].iloc[0] == 1


def test_export_is_exactly_what_is_filtered_on_screen_and_is_audited(seeded_engine: Engine) -> None:
    round_id = int(screening.rounds(seeded_engine)["id"].iloc[0])
    exec_actor = make_actor(Role.executive)
    filters = screening.ResultFilters(departments=("総合企画部", "警察本部"), search="デジタル")
    on_screen = screening.filtered_results_table(seeded_engine, round_id=round_id, filters=filters)
    assert 0 < len(on_screen) < 24
    assert set(on_screen["所管部局"]) <= {"総合企画部", "警察本部"}
    assert on_screen["事業名"].str.contains("デジタル").all()

    csv = screening.export_results(
        seeded_engine, actor=exec_actor, round_id=round_id, filters=filters, fmt="csv"
    )
    assert csv.startswith(b"\xef\xbb\xbf")
    exported = pd.read_csv(io.BytesIO(csv), encoding="utf-8-sig", keep_default_na=False)
    # The seeded round is sample data: with no title in a CSV, every row carries the mark.
    assert exported.columns.tolist() == [*screening.RESULT_TABLE_COLUMNS, "データ"]
    assert set(exported["データ"]) == {"サンプル"}
    assert set(exported["評価が割れている"]) <= {"割れている", ""}
    assert exported["事業名"].tolist() == on_screen["事業名"].tolist()
    assert exported["加重合計（補正後）"].tolist() == on_screen["加重合計（補正後）"].tolist()

    xlsx = screening.export_results(
        seeded_engine, actor=exec_actor, round_id=round_id, filters=filters, fmt="xlsx"
    )
    ws = openpyxl.load_workbook(io.BytesIO(xlsx)).active
    assert ws is not None
    assert "サンプル" in str(ws["A1"].value)
    names = [ws.cell(row=r, column=3).value for r in range(4, 4 + len(on_screen))]
    assert names == on_screen["事業名"].tolist()
    assert ws.cell(row=4 + len(on_screen), column=3).value is None

    audits = query_df(
        seeded_engine, "SELECT actor, entity, after_values FROM audit_log WHERE action = 'export' ORDER BY id"
    )
    assert audits["entity"].tolist() == ["screening_results.csv", "screening_results.xlsx"]
    assert (audits["actor"] == exec_actor.login).all()
    assert "警察本部" in str(audits["after_values"].iloc[0])


def test_department_staff_cannot_export_screening_results(seeded_engine: Engine) -> None:
    round_id = int(screening.rounds(seeded_engine)["id"].iloc[0])
    with pytest.raises(PermissionDenied):
        screening.export_results(
            seeded_engine,
            actor=make_actor(Role.department, department_id=1),
            round_id=round_id,
            filters=screening.ResultFilters(),
            fmt="csv",
        )


def _after(value: object) -> dict[str, Any]:
    """An audit row's after_values as a dict (a JSON string on some drivers)."""
    return json.loads(value) if isinstance(value, str) else dict(value)


def test_a_partly_scored_proposal_has_no_total_and_is_ranked_after_the_scored_ones(world: World) -> None:
    full = _assign(world, "県民アプリ", "sato")["sato"]
    part = _assign(world, "電子申請の拡充", "sato")["sato"]
    _score_all(world, "sato", full, [2, 2, 2, 2])
    screening.save_score(world.engine, actor=world.actor("sato"), assignment_id=part, perspective=1, score=5)
    res = screening.results(world.engine, round_id=world.round_id)
    assert res["project"].tolist() == ["県民アプリ", "電子申請の拡充"]
    assert res["rank"].iloc[0] == 1 and pd.isna(res["rank"].iloc[1])
    assert pd.isna(res["weighted_total"].iloc[1]) and res["p1"].iloc[1] == 5.0
    assert pd.isna(res["p2"].iloc[1])
    assert res["reviews"].tolist() == [1, 1]
    # Only fully scored proposals enter the sensitivity analysis.
    assert screening.weight_sensitivity(world.engine, round_id=world.round_id, step=10).table[
        "project"
    ].tolist() == ["県民アプリ"]


def test_sensitivity_of_a_ranking_already_read_is_the_same_as_weight_sensitivity(
    seeded_engine: Engine,
) -> None:
    round_id = int(screening.rounds(seeded_engine)["id"].iloc[0])
    res = screening.results(seeded_engine, round_id=round_id)
    weights = screening.latest_weights(seeded_engine, round_id=round_id)
    for kwargs in ({"step": 10}, {"step": 20, "funding_line": 8, "calibrated": True}):
        direct = screening.weight_sensitivity(seeded_engine, round_id=round_id, **kwargs)
        read = screening.sensitivity_of(res, weights=weights, **kwargs)
        pd.testing.assert_frame_equal(direct.table, read.table)
    with pytest.raises(InputInvalid, match="採択ラインは1件以上"):
        screening.sensitivity_of(res, weights=weights, step=10, funding_line=0)


def test_the_sensitivity_export_holds_every_proposal_and_is_audited(seeded_engine: Engine) -> None:
    round_id = int(screening.rounds(seeded_engine)["id"].iloc[0])
    exec_actor = make_actor(Role.executive)
    on_screen = screening.sensitivity_table(
        screening.weight_sensitivity(seeded_engine, round_id=round_id, step=15, funding_line=5)
    )
    csv = screening.export_sensitivity(
        seeded_engine, actor=exec_actor, round_id=round_id, step=15, funding_line=5, fmt="csv"
    )
    exported = pd.read_csv(io.BytesIO(csv), encoding="utf-8-sig")
    assert len(exported) == len(on_screen) == 24
    assert exported["事業名"].tolist() == on_screen["事業名"].tolist()
    assert exported["判定"].tolist() == on_screen["判定"].tolist()
    xlsx = screening.export_sensitivity(
        seeded_engine, actor=exec_actor, round_id=round_id, step=15, funding_line=5, fmt="xlsx"
    )
    ws = openpyxl.load_workbook(io.BytesIO(xlsx)).active
    assert ws is not None
    assert "±15ポイント" in str(ws["A1"].value) and "上位5件" in str(ws["A1"].value)
    audits = query_df(
        seeded_engine, "SELECT entity, after_values FROM audit_log WHERE action = 'export' ORDER BY id"
    )
    assert audits["entity"].tolist() == ["screening_sensitivity.csv", "screening_sensitivity.xlsx"]
    assert _after(audits["after_values"].iloc[0])["filters"]["funding_line"] == 5
    with pytest.raises(PermissionDenied):
        screening.export_sensitivity(
            seeded_engine,
            actor=make_actor(Role.department, department_id=1),
            round_id=round_id,
            step=10,
            fmt="csv",
        )


def test_assignment_frame_can_be_limited_and_the_count_and_export_cover_every_assignment(
    world: World,
) -> None:
    _assign(world, "県民アプリ", "sato", "suzuki", "tanaka")
    _assign(world, "オンライン服薬指導", "sato", "tanaka")
    every = screening.assignment_frame(world.engine, round_id=world.round_id)
    assert len(every) == 5 and screening.assignment_count(world.engine, round_id=world.round_id) == 5
    first = screening.assignment_frame(world.engine, round_id=world.round_id, limit=2)
    assert first["assignment_id"].tolist() == every["assignment_id"].tolist()[:2]
    recused = every[every["recused"].astype(bool)]
    assert recused["reviewer"].tolist() == ["tanaka"]  # 健康福祉部 reviewing 健康福祉部's proposal

    csv = screening.export_assignments(world.engine, actor=world.admin, round_id=world.round_id, fmt="csv")
    exported = pd.read_csv(io.BytesIO(csv), encoding="utf-8-sig", keep_default_na=False)
    assert exported.columns.tolist() == list(screening.ASSIGNMENT_TABLE_COLUMNS.values())
    assert len(exported) == 5
    assert exported["事業名"].tolist() == every["project"].tolist()
    audit_row = query_df(world.engine, "SELECT entity, after_values FROM audit_log WHERE action = 'export'")
    assert audit_row["entity"].tolist() == ["screening_assignments.csv"]
    assert _after(audit_row["after_values"].iloc[0])["rows"] == 5


def test_proposals_to_assign_are_narrowed_by_department_and_name_and_counted_in_all(
    seeded_engine: Engine,
) -> None:
    round_id = int(screening.rounds(seeded_engine)["id"].iloc[0])
    every = screening.round_proposals(seeded_engine, round_id=round_id)
    first, total = screening.assignable_proposals(seeded_engine, round_id=round_id, limit=5)
    assert total == len(every) and len(first) == 5
    assert first["id"].tolist() == every["id"].tolist()[:5]
    police, n_police = screening.assignable_proposals(seeded_engine, round_id=round_id, department="警察本部")
    assert n_police == len(police) == (every["department"] == "警察本部").sum() > 0
    named, n_named = screening.assignable_proposals(seeded_engine, round_id=round_id, search="デジタル")
    assert n_named == len(named) > 0 and named["project"].str.contains("デジタル").all()
    none, n_none = screening.assignable_proposals(seeded_engine, round_id=round_id, search="該当なしの事業名")
    assert none.empty and n_none == 0


def test_assignments_are_unique_per_round_proposal_and_reviewer(world: World) -> None:
    _assign(world, "県民アプリ", "sato")
    _assign(world, "県民アプリ", "sato")
    with Session(world.engine) as session:
        assert len(session.exec(select(ReviewAssignment)).all()) == 1


def test_the_cli_exports_the_filtered_ranking_and_audits_it(seeded_engine: Engine, tmp_path: Path) -> None:
    from fund.ops import cli

    round_id = int(screening.rounds(seeded_engine)["id"].iloc[0])
    out = tmp_path / "審査結果.csv"
    args = ["export", "screening", "--round", str(round_id), "--format", "csv", "--out", str(out)]
    assert cli.main([*args, "--department", "警察本部", "--disagreement-only"]) == 0
    exported = pd.read_csv(out, encoding="utf-8-sig")
    filters = screening.ResultFilters(departments=("警察本部",), disagreement_only=True)
    expected = screening.filtered_results_table(seeded_engine, round_id=round_id, filters=filters)
    assert exported["事業名"].tolist() == expected["事業名"].tolist()
    audits = query_df(seeded_engine, "SELECT actor, entity FROM audit_log WHERE action = 'export'")
    assert audits.values.tolist() == [["system", "screening_results.csv"]]


# --- Properties of the sensitivity analysis ----------------------------------------------------------

_weights = st.lists(st.integers(0, 100), min_size=3, max_size=3).filter(lambda w: sum(w) <= 100)
_means = st.lists(st.lists(st.floats(1, 5, allow_nan=False), min_size=4, max_size=4), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(first_three=_weights, step=st.integers(1, 50))
def test_every_scenario_renormalises_the_weights_to_100(first_three: list[int], step: int) -> None:
    weights = [*first_three, 100 - sum(first_three)]
    moves = scenarios(weights, step)
    # Each of the four perspectives up and down; a move that leaves every weight at 0 is dropped.
    assert len(moves) >= 7
    for _, moved in moves:
        assert sum(moved) == pytest.approx(100)
        assert min(moved) >= 0


@settings(max_examples=60, deadline=None)
@given(first_three=_weights, step=st.integers(1, 50), rows=_means, line=st.integers(1, 12))
def test_the_base_rank_lies_between_the_best_and_worst_rank_and_robust_means_no_band_change(
    first_three: list[int], step: int, rows: list[list[float]], line: int
) -> None:
    weights = [*first_three, 100 - sum(first_three)]
    means = pd.DataFrame(rows, columns=["p1", "p2", "p3", "p4"])
    means.insert(0, "department", "総合企画部")
    means.insert(0, "project", [f"事業{i}" for i in range(len(rows))])
    means.insert(0, "proposal_id", range(1, len(rows) + 1))
    table = analyse(means, weights=weights, step=step, funding_line=line).table
    assert len(table) == len(rows)
    assert (table["best_rank"] <= table["base_rank"]).all()
    assert (table["base_rank"] <= table["worst_rank"]).all()
    assert (table["robust"] == (table["changed_scenarios"] == 0)).all()
    assert table["base_total"].between(1 - 1e-9, 5 + 1e-9).all()
