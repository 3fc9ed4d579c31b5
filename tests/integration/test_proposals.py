"""事業提案: validation, drafts, optimistic locking, department scoping and the status workflow."""

import io
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from fund import clock, proposals
from fund.auth import Actor
from fund.db import query_df
from fund.errors import InputInvalid, PermissionDenied, RuleViolation, StaleEdit
from fund.labels import PROPOSAL_STATUS
from fund.models import (
    AuditLog,
    FiscalYear,
    KpiIndicator,
    KpiTarget,
    Project,
    Proposal,
    ProposalCostLine,
    ProposalEvent,
    ProposalStatus,
    Role,
)
from fund.money import to_sen_yen
from tests.conftest import arranged, ids, make_actor, make_proposal, reviewed_by_two

S = ProposalStatus


@pytest.fixture
def year(seeded_engine: Engine) -> int:
    """Next 年度: registered and open, so proposals may be made for it whenever the tests run."""
    fy = clock.current_fiscal_year() + 1
    with arranged(seeded_engine) as session:
        if session.get(FiscalYear, fy) is None:
            session.add(FiscalYear(year=fy))
    return fy


def health(engine: Engine) -> Actor:
    return make_actor(Role.department, login="health_user", department_id=ids(engine)["健康福祉部"])


def errors_of(exc: pytest.ExceptionInfo[InputInvalid]) -> dict[str, str]:
    return exc.value.field_errors


def count(engine: Engine, table: str) -> int:
    return int(query_df(engine, f"SELECT COUNT(*) AS n FROM {table}")["n"].iloc[0])


# --- Validation -------------------------------------------------------------------------------------


def test_a_complete_proposal_is_submitted_with_cost_lines_kpis_events_and_audit(
    seeded_engine: Engine, year: int
) -> None:
    actor = health(seeded_engine)
    saved = proposals.save_proposal(
        seeded_engine, actor=actor, data=make_proposal(seeded_engine, year), submit=True
    )
    assert saved.status == S.submitted
    assert saved.project_cost_yen == 30_000_000 and saved.fund_share_yen == 20_000_000
    with Session(seeded_engine) as s:
        project = s.get(Project, saved.project_id)
        assert project is not None and project.first_fiscal_year == year
        lines = s.exec(select(ProposalCostLine).where(ProposalCostLine.proposal_id == saved.id)).all()
        assert sorted((c.fiscal_year, c.fund_share_yen) for c in lines) == [(year, 20_000_000), (year + 1, 0)]
        indicator = s.exec(select(KpiIndicator).where(KpiIndicator.proposal_id == saved.id)).one()
        assert indicator.kind.value == "outcome" and indicator.baseline_value == 0
        targets = s.exec(select(KpiTarget).where(KpiTarget.indicator_id == indicator.id)).all()
        assert sorted((t.fiscal_year, t.target_value) for t in targets) == [(year, 20), (year + 2, 50)]
        events = s.exec(select(ProposalEvent).where(ProposalEvent.proposal_id == saved.id)).all()
        assert [e.to_status for e in events] == ["draft", "submitted"]
        actions = s.exec(select(AuditLog.action).where(AuditLog.entity_id == str(saved.id))).all()
        assert "proposal.create" in actions and "proposal.status" in actions


def test_an_existing_project_name_links_the_proposal_instead_of_creating_a_project(
    seeded_engine: Engine, year: int
) -> None:
    name = query_df(
        seeded_engine,
        "SELECT p.name FROM project p JOIN department d ON d.id = p.department_id "
        "WHERE d.name = '健康福祉部' ORDER BY p.id LIMIT 1",
    )["name"].iloc[0]
    projects_before = count(seeded_engine, "project")
    saved = proposals.save_proposal(
        seeded_engine, actor=health(seeded_engine), data=make_proposal(seeded_engine, year, project_name=name)
    )
    assert count(seeded_engine, "project") == projects_before
    with Session(seeded_engine) as s:
        project = s.get(Project, saved.project_id)
        assert project is not None and project.name == name


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"project_name": "   "}, "project_name", "事業名を入力してください"),
        ({"project_name": "あ" * 121}, "project_name", "120文字以内"),
        ({"expected_users": -1}, "expected_users", "想定利用者数は0人以上"),
        ({"expected_users": 50_000_000}, "expected_users", "10,000,000人以下"),
        ({"uses_per_user_per_year": 10_000}, "uses_per_user_per_year", "回/年以下"),
        ({"minutes_saved_per_procedure": -5}, "minutes_saved_per_procedure", "1件あたり短縮時間"),
        ({"procedures_per_year": "たくさん"}, "procedures_per_year", "年間手続件数"),
        ({"national_funds_yen": -1}, "national_funds_yen", "国庫支出金"),
        ({"novelty": "世界初"}, "novelty", "全国初・県内初"),
        ({"novelty": None}, "novelty", "新規性を選択してください"),
        ({"meets_req1": False}, "requirements", "1つ以上選んでください"),
        ({"meets_req2": True, "req2_reason": ""}, "req2_reason", "要件②の該当理由を入力してください"),
        ({"summary": ""}, "summary", "事業概要を入力してください"),
        ({"purpose": " "}, "purpose", "目的を入力してください"),
        ({"problem": ""}, "problem", "現状・課題を入力してください"),
        ({"kpis": []}, "kpis", "成果指標を1つ以上入力してください"),
        ({"category_id": None}, "category_id", "区分を選択してください"),
        ({"fiscal_year": 2024}, "fiscal_year", "提案を受け付けていません"),
        ({"fiscal_year": 2099}, "fiscal_year", "提案を受け付けていません"),
    ],
)
def test_each_bad_input_is_refused_with_a_japanese_message_at_its_field(
    seeded_engine: Engine, year: int, overrides: dict[str, Any], field: str, fragment: str
) -> None:
    before = count(seeded_engine, "proposal")
    with pytest.raises(InputInvalid) as exc:
        proposals.save_proposal(
            seeded_engine,
            actor=health(seeded_engine),
            data=make_proposal(seeded_engine, year, **overrides),
            submit=True,
        )
    assert fragment in errors_of(exc)[field]
    assert count(seeded_engine, "proposal") == before


def test_fund_share_greater_than_project_cost_is_refused_with_both_figures(
    seeded_engine: Engine, year: int
) -> None:
    lines = [{"fiscal_year": year, "project_cost_yen": 5_000_000, "fund_share_yen": 6_000_000, "note": ""}]
    with pytest.raises(InputInvalid) as exc:
        proposals.save_proposal(
            seeded_engine,
            actor=health(seeded_engine),
            data=make_proposal(seeded_engine, year, cost_lines=lines),
        )
    message = errors_of(exc)["cost_lines.0"]
    assert "基金充当額（6,000千円）が事業費（5,000千円）を超えています" in message


def test_sources_beyond_the_project_cost_are_refused(seeded_engine: Engine, year: int) -> None:
    with pytest.raises(InputInvalid) as exc:
        proposals.save_proposal(
            seeded_engine,
            actor=health(seeded_engine),
            data=make_proposal(seeded_engine, year, national_funds_yen=8_000_000, other_funds_yen=3_000_000),
        )
    assert "財源の合計" in errors_of(exc)["other_funds_yen"]


def test_cost_lines_outside_the_profile_or_repeated_are_refused(seeded_engine: Engine, year: int) -> None:
    lines = [
        {"fiscal_year": year, "project_cost_yen": 1_000_000, "fund_share_yen": 0, "note": ""},
        {"fiscal_year": year, "project_cost_yen": 1_000_000, "fund_share_yen": 0, "note": ""},
        {"fiscal_year": year - 1, "project_cost_yen": 1_000_000, "fund_share_yen": 0, "note": ""},
    ]
    with pytest.raises(InputInvalid) as exc:
        proposals.save_proposal(
            seeded_engine,
            actor=health(seeded_engine),
            data=make_proposal(seeded_engine, year, cost_lines=lines, national_funds_yen=0),
        )
    errors = errors_of(exc)
    assert "重複" in errors["cost_lines.1"]
    assert "10年以内" in errors["cost_lines.2"]
    negative = [{"fiscal_year": year, "project_cost_yen": -3, "fund_share_yen": 0, "note": ""}]
    with pytest.raises(InputInvalid) as exc:
        proposals.save_proposal(
            seeded_engine,
            actor=health(seeded_engine),
            data=make_proposal(seeded_engine, year, cost_lines=negative),
        )
    assert "費用計画の1行目: 事業費は0以上" in errors_of(exc)["cost_lines.0"]


def test_submission_needs_the_first_year_cost_and_complete_kpis(seeded_engine: Engine, year: int) -> None:
    lines = [{"fiscal_year": year + 1, "project_cost_yen": 1_000_000, "fund_share_yen": 0, "note": ""}]
    kpis = [{"name": "利用者数", "unit": "", "target_first": 1, "target_later": None}]
    with pytest.raises(InputInvalid) as exc:
        proposals.save_proposal(
            seeded_engine,
            actor=health(seeded_engine),
            data=make_proposal(seeded_engine, year, cost_lines=lines, kpis=kpis),
            submit=True,
        )
    errors = errors_of(exc)
    assert "年度目（令和" in errors["cost_lines"]
    assert "単位を入力してください" in errors["kpis.0"]


def test_a_project_of_another_department_cannot_be_linked(seeded_engine: Engine, year: int) -> None:
    other = query_df(
        seeded_engine,
        "SELECT p.name FROM project p JOIN department d ON d.id = p.department_id "
        "WHERE d.name = '総合企画部' ORDER BY p.id LIMIT 1",
    )["name"].iloc[0]
    with pytest.raises(InputInvalid) as exc:
        proposals.save_proposal(
            seeded_engine,
            actor=health(seeded_engine),
            data=make_proposal(seeded_engine, year, project_name=other),
        )
    # A department user learns that the name is taken, not whose project it is.
    assert (
        errors_of(exc)["project_name"]
        == "この事業名は他部局の事業として登録済みです。所管部局を確認してください。"
    )
    with pytest.raises(InputInvalid) as exc:
        proposals.save_proposal(
            seeded_engine,
            actor=make_actor(Role.admin),
            data=make_proposal(seeded_engine, year, project_name=other),
        )
    assert "総合企画部の事業として登録済み" in errors_of(exc)["project_name"]


def test_a_second_proposal_for_the_same_project_and_year_is_refused(seeded_engine: Engine, year: int) -> None:
    actor = health(seeded_engine)
    first = proposals.save_proposal(seeded_engine, actor=actor, data=make_proposal(seeded_engine, year))
    with pytest.raises(InputInvalid) as exc:
        proposals.save_proposal(seeded_engine, actor=actor, data=make_proposal(seeded_engine, year))
    assert f"提案番号 {first.id}" in errors_of(exc)["fiscal_year"]


def test_proposal_years_are_the_open_registered_years_from_the_current_one(
    seeded_engine: Engine, year: int
) -> None:
    years = proposals.proposal_years(seeded_engine)
    assert year in years
    assert 2024 not in years  # 決算確定
    assert min(years) >= clock.current_fiscal_year()


# --- Drafts and optimistic locking -------------------------------------------------------------------


def test_a_draft_is_saved_with_relaxed_rules_and_resumed_later(seeded_engine: Engine, year: int) -> None:
    actor = health(seeded_engine)
    i = ids(seeded_engine)
    partial = {
        "project_name": "見守りセンサー実証事業",
        "department_id": i["健康福祉部"],
        "category_id": i["social_issue_life"],
        "fiscal_year": year,
        "kpis": [{"name": "見守り世帯数"}],
    }
    draft = proposals.save_proposal(seeded_engine, actor=actor, data=partial)
    assert draft.status == S.draft and draft.version == 1
    values, version = proposals.proposal_input(seeded_engine, actor=actor, proposal_id=draft.id or 0)
    assert values["project_name"] == "見守りセンサー実証事業" and version == 1
    assert values["kpis"][0]["name"] == "見守り世帯数"
    completed = make_proposal(seeded_engine, year, project_name="見守りセンサー実証事業")
    saved = proposals.save_proposal(
        seeded_engine, actor=actor, data=completed, proposal_id=draft.id, version=version, submit=True
    )
    assert saved.status == S.submitted and saved.version == 3
    assert saved.id == draft.id


def test_a_draft_still_refuses_nonsense_numbers_and_a_blank_name(seeded_engine: Engine, year: int) -> None:
    i = ids(seeded_engine)
    with pytest.raises(InputInvalid) as exc:
        proposals.save_proposal(
            seeded_engine,
            actor=health(seeded_engine),
            data={
                "project_name": "",
                "department_id": i["健康福祉部"],
                "category_id": i["social_issue_life"],
                "fiscal_year": year,
                "expected_users": -10,
            },
        )
    assert set(errors_of(exc)) == {"project_name", "expected_users"}


def test_an_edit_with_a_stale_version_is_refused_and_nothing_is_overwritten(
    seeded_engine: Engine, year: int
) -> None:
    actor = health(seeded_engine)
    draft = proposals.save_proposal(seeded_engine, actor=actor, data=make_proposal(seeded_engine, year))
    proposals.save_proposal(
        seeded_engine,
        actor=actor,
        data=make_proposal(seeded_engine, year, summary="先に保存した内容"),
        proposal_id=draft.id,
        version=1,
    )
    with pytest.raises(StaleEdit) as exc:
        proposals.save_proposal(
            seeded_engine,
            actor=actor,
            data=make_proposal(seeded_engine, year, summary="後から上書きしようとした内容"),
            proposal_id=draft.id,
            version=1,
        )
    assert "他の利用者が先に更新しました" in exc.value.message
    with Session(seeded_engine) as s:
        stored = s.get(Proposal, draft.id)
        assert stored is not None and stored.summary == "先に保存した内容" and stored.version == 2


def test_project_name_is_fixed_once_the_draft_is_saved(seeded_engine: Engine, year: int) -> None:
    actor = health(seeded_engine)
    draft = proposals.save_proposal(seeded_engine, actor=actor, data=make_proposal(seeded_engine, year))
    with pytest.raises(InputInvalid) as exc:
        proposals.save_proposal(
            seeded_engine,
            actor=actor,
            data=make_proposal(seeded_engine, year, project_name="別の名前"),
            proposal_id=draft.id,
            version=draft.version,
        )
    assert "変更できません" in errors_of(exc)["project_name"]


def test_a_submitted_proposal_can_no_longer_be_edited(seeded_engine: Engine, year: int) -> None:
    actor = health(seeded_engine)
    sent = proposals.save_proposal(
        seeded_engine, actor=actor, data=make_proposal(seeded_engine, year), submit=True
    )
    with pytest.raises(RuleViolation, match="編集できるのは下書きだけです"):
        proposals.save_proposal(
            seeded_engine,
            actor=actor,
            data=make_proposal(seeded_engine, year),
            proposal_id=sent.id,
            version=sent.version,
        )


# --- Department scoping -----------------------------------------------------------------------------


def test_department_staff_cannot_propose_for_another_department(seeded_engine: Engine, year: int) -> None:
    data = make_proposal(seeded_engine, year, department_id=ids(seeded_engine)["警察本部"])
    with pytest.raises((InputInvalid, PermissionDenied)) as exc:
        proposals.save_proposal(seeded_engine, actor=health(seeded_engine), data=data)
    assert "自部局" in str(exc.value)


def test_department_staff_cannot_open_or_edit_another_departments_draft(
    seeded_engine: Engine, year: int
) -> None:
    draft = proposals.save_proposal(
        seeded_engine, actor=health(seeded_engine), data=make_proposal(seeded_engine, year)
    )
    police = make_actor(Role.department, login="police_user", department_id=ids(seeded_engine)["警察本部"])
    with pytest.raises(PermissionDenied):
        proposals.proposal_input(seeded_engine, actor=police, proposal_id=draft.id or 0)
    with pytest.raises(PermissionDenied):
        proposals.proposal_detail(seeded_engine, actor=police, proposal_id=draft.id or 0)
    with pytest.raises(PermissionDenied):
        proposals.save_proposal(
            seeded_engine,
            actor=police,
            data=make_proposal(seeded_engine, year),
            proposal_id=draft.id,
            version=1,
        )
    with pytest.raises(PermissionDenied):
        proposals.change_status(seeded_engine, actor=police, proposal_id=draft.id or 0, to_status=S.submitted)
    assert draft.id not in proposals.editable_drafts(seeded_engine, actor=police)["id"].tolist()
    assert draft.id in proposals.editable_drafts(seeded_engine, actor=health(seeded_engine))["id"].tolist()


def test_executives_cannot_create_proposals(seeded_engine: Engine, year: int) -> None:
    with pytest.raises(PermissionDenied, match="提案の作成"):
        proposals.save_proposal(
            seeded_engine, actor=make_actor(Role.executive), data=make_proposal(seeded_engine, year)
        )


# --- Status workflow ---------------------------------------------------------------------------------


def submitted(engine: Engine, year: int) -> Proposal:
    return proposals.save_proposal(
        engine, actor=health(engine), data=make_proposal(engine, year), submit=True
    )


def move(engine: Engine, actor: Actor, proposal_id: int, to: ProposalStatus, reason: str = "") -> Proposal:
    return proposals.change_status(engine, actor=actor, proposal_id=proposal_id, to_status=to, reason=reason)


def test_the_bureau_moves_a_proposal_through_review_adoption_and_funding(
    seeded_engine: Engine, year: int
) -> None:
    screener = make_actor(Role.screener)
    p = submitted(seeded_engine, year)
    pid = p.id or 0
    move(seeded_engine, screener, pid, S.in_review)
    move(seeded_engine, screener, pid, S.on_hold, "国の補助制度の結果待ち")
    move(seeded_engine, screener, pid, S.in_review)
    reviewed_by_two(seeded_engine, pid)
    move(seeded_engine, screener, pid, S.adopted)
    final = move(seeded_engine, make_actor(Role.admin), pid, S.funded)
    assert final.status == S.funded
    tl = proposals.timeline(seeded_engine, proposal_id=pid)
    assert tl["変更後"].tolist() == ["下書き", "提出済", "審査中", "保留", "審査中", "採択", "事業化"]
    assert "国の補助制度の結果待ち" in tl["理由"].tolist()
    audits = query_df(
        seeded_engine,
        "SELECT action FROM audit_log WHERE entity = 'proposal' AND entity_id = :i",
        {"i": str(pid)},
    )
    assert (audits["action"] == "proposal.status").sum() == 6


def test_rejection_needs_a_reason_and_records_it(seeded_engine: Engine, year: int) -> None:
    screener = make_actor(Role.screener)
    pid = submitted(seeded_engine, year).id or 0
    move(seeded_engine, screener, pid, S.in_review)
    with pytest.raises(InputInvalid) as exc:
        move(seeded_engine, screener, pid, S.rejected)
    assert "不採択には理由の入力が必要です" in errors_of(exc)["reason"]
    move(seeded_engine, screener, pid, S.rejected, "県民実感の根拠が不足")
    events = query_df(
        seeded_engine,
        "SELECT to_status, reason FROM proposal_event WHERE proposal_id = :p ORDER BY id",
        {"p": pid},
    )
    assert events.iloc[-1].tolist() == ["rejected", "県民実感の根拠が不足"]
    audit_row = query_df(
        seeded_engine,
        "SELECT reason FROM audit_log WHERE entity_id = :i ORDER BY id DESC LIMIT 1",
        {"i": str(pid)},
    )
    assert audit_row["reason"].iloc[0] == "県民実感の根拠が不足"


def test_department_staff_may_submit_but_not_review_or_adopt(seeded_engine: Engine, year: int) -> None:
    actor = health(seeded_engine)
    draft = proposals.save_proposal(seeded_engine, actor=actor, data=make_proposal(seeded_engine, year))
    pid = draft.id or 0
    move(seeded_engine, actor, pid, S.submitted)
    for to in (S.in_review, S.adopted, S.rejected):
        with pytest.raises((PermissionDenied, RuleViolation)):
            move(seeded_engine, actor, pid, to, "理由")
    opts = proposals.available_transitions(
        actor, status=S.submitted, department_id=ids(seeded_engine)["健康福祉部"]
    )
    assert opts == []


def test_submitting_an_incomplete_draft_from_the_detail_view_is_refused(
    seeded_engine: Engine, year: int
) -> None:
    actor = health(seeded_engine)
    draft = proposals.save_proposal(
        seeded_engine, actor=actor, data=make_proposal(seeded_engine, year, summary="", meets_req1=False)
    )
    with pytest.raises(InputInvalid) as exc:
        move(seeded_engine, actor, draft.id or 0, S.submitted)
    assert {"summary", "requirements"} <= set(errors_of(exc))
    with Session(seeded_engine) as s:
        stored = s.get(Proposal, draft.id)
        assert stored is not None and stored.status == S.draft


def test_executives_cannot_change_a_status(seeded_engine: Engine, year: int) -> None:
    pid = submitted(seeded_engine, year).id or 0
    with pytest.raises(PermissionDenied, match="提案の状態変更"):
        move(seeded_engine, make_actor(Role.executive), pid, S.in_review)


def test_skipping_steps_is_an_override_only_an_administrator_may_make_with_a_reason(
    seeded_engine: Engine, year: int
) -> None:
    pid = submitted(seeded_engine, year).id or 0
    with pytest.raises(PermissionDenied, match="例外変更"):
        move(seeded_engine, make_actor(Role.screener), pid, S.adopted, "急ぎ")
    admin = make_actor(Role.admin)
    with pytest.raises(InputInvalid) as exc:
        move(seeded_engine, admin, pid, S.adopted)
    assert "例外的な状態変更には理由" in errors_of(exc)["reason"]
    done = move(seeded_engine, admin, pid, S.adopted, "補正予算で緊急対応")
    assert done.status == S.adopted
    last = query_df(
        seeded_engine,
        "SELECT action, reason FROM audit_log WHERE entity_id = :i ORDER BY id DESC LIMIT 1",
        {"i": str(pid)},
    )
    assert last.iloc[0].tolist() == ["proposal.override", "補正予算で緊急対応"]
    tl = proposals.timeline(seeded_engine, proposal_id=pid)
    assert tl["理由"].iloc[-1] == "【例外】補正予算で緊急対応"


def test_nothing_goes_back_to_draft_and_funding_needs_adoption(seeded_engine: Engine, year: int) -> None:
    admin = make_actor(Role.admin)
    screener = make_actor(Role.screener)
    pid = submitted(seeded_engine, year).id or 0
    with pytest.raises(RuleViolation, match="下書きに戻せません"):
        move(seeded_engine, admin, pid, S.draft, "差戻し")
    move(seeded_engine, screener, pid, S.in_review)
    with pytest.raises(PermissionDenied):
        move(seeded_engine, screener, pid, S.funded, "理由")
    with pytest.raises(RuleViolation, match="へは変更できません"):
        move(seeded_engine, screener, pid, S.in_review)


def test_a_status_change_with_a_stale_version_is_refused(seeded_engine: Engine, year: int) -> None:
    screener = make_actor(Role.screener)
    p = submitted(seeded_engine, year)
    pid = p.id or 0
    move(seeded_engine, screener, pid, S.in_review)
    with pytest.raises(StaleEdit):
        proposals.change_status(
            seeded_engine, actor=screener, proposal_id=pid, to_status=S.adopted, version=p.version
        )


@pytest.mark.usefixtures("seeded_engine")
def test_screeners_see_the_allowed_actions_with_reason_flags() -> None:
    opts = proposals.available_transitions(make_actor(Role.screener), status=S.in_review, department_id=1)
    assert {(o.to_status, o.reason_required) for o in opts} == {
        (S.adopted, False),
        (S.rejected, True),
        (S.on_hold, False),
    }
    admin_opts = proposals.available_transitions(make_actor(Role.admin), status=S.rejected, department_id=1)
    assert all(o.is_override and o.reason_required for o in admin_opts)
    assert S.in_review in {o.to_status for o in admin_opts}


def test_the_detail_shows_evidence_cost_profile_and_kpis(seeded_engine: Engine, year: int) -> None:
    p = submitted(seeded_engine, year)
    detail = proposals.proposal_detail(seeded_engine, actor=make_actor(Role.screener), proposal_id=p.id or 0)
    assert detail.evidence["touchpoints"] == 60_000
    assert detail.evidence["hours_saved"] == 20_000
    assert detail.evidence["yen_per_1000_touchpoints"] == pytest.approx(20_000_000 / 60_000 * 1000)
    assert detail.cost_lines["事業費（千円）"].tolist() == [30_000, 5_000]
    assert detail.kpis["指標名"].tolist() == ["オンライン予約率"]
    assert detail.is_new and detail.department == "健康福祉部"


def test_the_seeds_assumed_amounts_are_marked_on_the_detail_and_in_the_list(seeded_engine: Engine) -> None:
    """data/allocations.csv gives やまぐちデジタル実装推進事業's FY2024 基金充当額 as 推計; the sources
    give no 国庫支出金 for any project, so the seed's split of the rest is 推計 too."""
    admin = make_actor(Role.admin)
    listed = proposals.proposal_frame(seeded_engine, actor=admin, fiscal_year=2024, limit=None)
    table = proposals.proposal_table(listed).set_index("事業名")
    assert table.loc["やまぐちデジタル実装推進事業", "推計"] == "基金充当額"
    seeded = int(listed.set_index("project").loc["やまぐちデジタル実装推進事業", "id"])
    detail = proposals.proposal_detail(seeded_engine, actor=admin, proposal_id=seeded)
    assert detail.money_marks == {"基金充当額": "推計", "国庫支出金": "推計", "その他財源": "推計"}


def test_a_departments_own_amounts_carry_no_mark(seeded_engine: Engine, year: int) -> None:
    p = submitted(seeded_engine, year)
    admin = make_actor(Role.admin)
    assert proposals.proposal_detail(seeded_engine, actor=admin, proposal_id=p.id or 0).money_marks == {}
    listed = proposals.proposal_table(proposals.proposal_frame(seeded_engine, actor=admin, limit=None))
    assert listed.set_index("番号").loc[p.id, "推計"] == ""


# --- The list, its count and its export -----------------------------------------------------------


def test_the_list_is_limited_in_order_and_the_count_covers_every_match(seeded_engine: Engine) -> None:
    admin = make_actor(Role.admin)
    every = proposals.proposal_frame(seeded_engine, actor=admin, limit=None)
    assert len(every) > 5
    assert proposals.proposal_count(seeded_engine, actor=admin) == len(every)
    first = proposals.proposal_frame(seeded_engine, actor=admin, limit=5)
    assert first["id"].tolist() == every["id"].tolist()[:5]
    police = ids(seeded_engine)["警察本部"]
    own = make_actor(Role.department, department_id=police)
    # 事業担当 count only their own department, whatever department they ask for.
    assert proposals.proposal_count(seeded_engine, actor=own, department_id=police + 1) == len(
        proposals.proposal_frame(seeded_engine, actor=own, limit=None)
    )
    assert set(proposals.proposal_frame(seeded_engine, actor=own, limit=None)["department"]) == {"警察本部"}


def test_the_list_table_shows_money_in_sen_yen_as_the_money_module_rounds_it(seeded_engine: Engine) -> None:
    df = proposals.proposal_frame(seeded_engine, actor=make_actor(Role.admin), limit=4)
    df["project_cost_yen"] = [1_499, 1_500, 0, 123_456_789]
    table = proposals.proposal_table(df)
    assert (
        table["事業費（千円）"].tolist()
        == [to_sen_yen(v) for v in df["project_cost_yen"]]
        == [1, 2, 0, 123_457]
    )
    assert table["番号"].tolist() == df["id"].tolist()
    assert table["年度"].str.startswith("令和").all()


def test_the_list_export_holds_every_match_without_the_display_limit_and_is_audited(
    seeded_engine: Engine,
) -> None:
    police = ids(seeded_engine)["警察本部"]
    own = make_actor(Role.department, login="police_user", department_id=police)
    expected = proposals.proposal_table(proposals.proposal_frame(seeded_engine, actor=own, limit=None))
    assert len(expected) > 1
    csv = proposals.export_proposals(seeded_engine, actor=own, department_id=police + 1, fmt="csv")
    exported = pd.read_csv(io.BytesIO(csv), encoding="utf-8-sig")
    assert exported.columns.tolist() == expected.columns.tolist()
    assert exported["番号"].tolist() == expected["番号"].tolist()
    assert set(exported["所管部局"]) == {"警察本部"}
    audit_row = query_df(
        seeded_engine, "SELECT actor, entity, after_values FROM audit_log WHERE action = 'export'"
    )
    assert audit_row["entity"].tolist() == ["proposals.csv"]
    assert audit_row["actor"].tolist() == ["police_user"]
    assert f'"department_id": {police}' in str(audit_row["after_values"].iloc[0]).replace("'", '"')
    with pytest.raises(RuleViolation, match="xlsx または csv"):
        proposals.export_proposals(seeded_engine, actor=own, fmt="pdf")


def test_status_counts_list_every_status_of_the_year_with_zeros(seeded_engine: Engine, year: int) -> None:
    before = proposals.status_counts(seeded_engine, fiscal_year=year)
    assert list(before) == list(PROPOSAL_STATUS)
    submitted(seeded_engine, year)
    proposals.save_proposal(
        seeded_engine,
        actor=health(seeded_engine),
        data=make_proposal(seeded_engine, year, project_name="下書きのまま残る事業"),
    )
    after = proposals.status_counts(seeded_engine, fiscal_year=year)
    assert after[S.submitted] == before[S.submitted] + 1
    assert after[S.draft] == before[S.draft] + 1
    assert sum(after.values()) == sum(before.values()) + 2
    assert proposals.status_counts(seeded_engine, fiscal_year=1990) == dict.fromkeys(PROPOSAL_STATUS, 0)


def test_the_proposal_export_prints_whole_figures_not_float_noise() -> None:
    """1,000,000円 over 3 touchpoints is 333,333.33…円 per 1,000: printed 333,333, half away from zero."""
    frame = pd.DataFrame(
        {
            "id": [1, 2], "fiscal_year": [2026, 2026], "is_new": [True, False], "project": ["甲", "乙"],
            "department": ["総合企画部"] * 2, "status_label": ["提出済"] * 2,
            "project_cost_yen": [2_000_000, 0], "fund_share_yen": [1_000_000, 0],
            "touchpoints": [3_000.4, 0.0], "hours_saved": [12.345, 0.0],
            "yen_per_1000_touchpoints": [333_333.3333333333, float("nan")], "novelty_label": ["県内初", ""],
            "is_sample": [False, False], "fund_share_is_estimate": [False, False],
        }
    )  # fmt: skip
    table = proposals.proposal_table(frame)
    assert table["1,000接点あたり充当額（円）"].tolist()[0] == 333_333
    assert table["1,000接点あたり充当額（円）"].isna().tolist() == [False, True]
    assert table["県民接点（回/年）"].tolist() == [3_000, 0]
    assert table["削減時間（時間/年）"].tolist() == [12.3, 0.0]
