"""事業提案: intake, drafts, the status workflow and the derived citizen-feel evidence.

Rules kept here (the page only collects input and shows the result):

* 年度: a proposal is made for a registered 年度 that is not closed (決算確定) and not earlier
  than the current 年度. Past or closed years are outside any screening round.
* Drafts (下書き) are checked leniently: name, 所管部局, 区分 and 年度 are required, numbers must be
  sane, 基金充当額 never exceeds 事業費. Submission (提出) applies every rule.
* 事業名, 所管部局 and 区分 are fixed once the draft is first saved: the project row is created (or
  linked) at that moment and other rows point to it.
* Content is editable only while the proposal is a draft. KPIs live on the proposal while it is a
  draft and become kpi_indicator / kpi_target rows (kind アウトカム) when it is submitted.
* Optimistic locking: every write carries the version that was read; a stale version raises
  StaleEdit and nothing is written.
* Status workflow: see TRANSITIONS / `available_transitions`. 不採択 and every exceptional change
  (管理者 only) need a reason. Each change writes a proposal_event row and an audit row together.
"""

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, TypedDict

import pandas as pd
from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from fund import audit, clock, kpi
from fund.auth import Action, Actor, can, department_scope, require, require_department, scoped_department
from fund.db import contains, like_pattern, query_df, read_session, write_session
from fund.errors import InputInvalid, NotFound, PermissionDenied, RuleViolation, StaleEdit
from fund.export import record_export, to_csv_bytes, to_xlsx_bytes
from fund.fiscal import fiscal_label, fiscal_year_of, wareki
from fund.labels import KPI_KIND, NOVELTY, PROPOSAL_STATUS, REQUIREMENT
from fund.models import (
    AuditAction,
    Category,
    Department,
    FiscalYear,
    KpiIndicator,
    KpiKind,
    KpiTarget,
    Novelty,
    Project,
    Proposal,
    ProposalCostLine,
    ProposalEvent,
    ProposalStatus,
)
from fund.money import format_sen_yen, format_sen_yen_unit, sen_yen_series, to_sen_yen


class ProposalFilter(TypedDict):
    """The proposal list's filters, as service arguments."""

    fiscal_year: int | None
    status: ProposalStatus | None
    department_id: int | None
    search: str | None


# Limits: anything beyond these is a typing error, not a plan.
MAX_YEN = 100_000_000_000  # 1,000億円 per line; the whole fund is 40億円
MAX_USERS = 10_000_000  # 人 (Yamaguchi has about 1.3 million residents; visitors included)
MAX_USES_PER_YEAR = 3_650  # 回/年 (ten a day)
MAX_PROCEDURES = 100_000_000  # 件/年
MAX_MINUTES_SAVED = 1_440  # 分/件 (one day)
MAX_COST_YEARS = 10  # the cost profile covers the proposal's 年度 and the nine after it
MAX_KPIS = 3  # KPI rows on the form and in the 様式
SEARCH_MAX = 100  # characters of a search box
NAME_MAX = 120  # characters of 事業名
MAX_KPI_VALUE = 1e12
TEXT_MAX = 2_000
REASON_MAX = 1_000
NOTE_MAX = 500


# --- Input models ----------------------------------------------------------------------------------


class CostLineIn(BaseModel):
    """One 年度 of the cost profile (running costs after the fund years included)."""

    fiscal_year: int
    project_cost_yen: Annotated[int, Field(ge=0, le=MAX_YEN)] = 0
    fund_share_yen: Annotated[int, Field(ge=0, le=MAX_YEN)] = 0
    note: Annotated[str, Field(max_length=NOTE_MAX)] = ""

    def is_blank(self) -> bool:
        return self.project_cost_yen == 0 and self.fund_share_yen == 0 and not self.note.strip()


class KpiIn(BaseModel):
    """A proposed KPI: baseline, target for the first 年度 and for two years later."""

    name: Annotated[str, Field(max_length=200)] = ""
    unit: Annotated[str, Field(max_length=20)] = ""
    baseline: Annotated[float, Field(ge=-MAX_KPI_VALUE, le=MAX_KPI_VALUE, allow_inf_nan=False)] | None = None
    target_first: Annotated[float, Field(ge=-MAX_KPI_VALUE, le=MAX_KPI_VALUE, allow_inf_nan=False)] | None = (
        None
    )
    target_later: Annotated[float, Field(ge=-MAX_KPI_VALUE, le=MAX_KPI_VALUE, allow_inf_nan=False)] | None = (
        None
    )
    kind: KpiKind = KpiKind.outcome

    @field_validator("name", "unit")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    def is_blank(self) -> bool:
        return not self.name and not self.unit and self.target_first is None and self.target_later is None


class ProposalCreate(BaseModel):
    """What the intake form (or one row of the 様式) carries. Money in yen."""

    project_name: Annotated[str, Field(max_length=NAME_MAX)]
    department_id: int
    category_id: int | None = None
    fiscal_year: int
    meets_req1: bool = False
    meets_req2: bool = False
    meets_req3: bool = False
    req1_reason: Annotated[str, Field(max_length=REASON_MAX)] = ""
    req2_reason: Annotated[str, Field(max_length=REASON_MAX)] = ""
    req3_reason: Annotated[str, Field(max_length=REASON_MAX)] = ""
    summary: Annotated[str, Field(max_length=TEXT_MAX)] = ""
    purpose: Annotated[str, Field(max_length=TEXT_MAX)] = ""
    problem: Annotated[str, Field(max_length=TEXT_MAX)] = ""
    cost_lines: list[CostLineIn] = []
    national_funds_yen: Annotated[int, Field(ge=0, le=MAX_YEN)] = 0
    other_funds_yen: Annotated[int, Field(ge=0, le=MAX_YEN)] = 0
    expected_users: Annotated[int, Field(ge=0, le=MAX_USERS)] = 0
    uses_per_user_per_year: Annotated[float, Field(ge=0, le=MAX_USES_PER_YEAR, allow_inf_nan=False)] = 0.0
    procedures_per_year: Annotated[int, Field(ge=0, le=MAX_PROCEDURES)] = 0
    minutes_saved_per_procedure: Annotated[float, Field(ge=0, le=MAX_MINUTES_SAVED, allow_inf_nan=False)] = (
        0.0
    )
    novelty: Novelty | None = None
    novelty_note: Annotated[str, Field(max_length=NOTE_MAX)] = ""
    kpis: list[KpiIn] = []

    @field_validator(
        "project_name",
        "req1_reason",
        "req2_reason",
        "req3_reason",
        "summary",
        "purpose",
        "problem",
        "novelty_note",
    )
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    def line_for(self, fiscal_year: int) -> CostLineIn | None:
        return next((c for c in self.cost_lines if c.fiscal_year == fiscal_year), None)


class ProposalUpdate(ProposalCreate):
    """An edit of a draft: the version that was read travels with it."""

    version: int


# Japanese names of the fields, for messages and for the bulk-intake columns.
FIELD_LABEL = {
    "project_name": "事業名",
    "department_id": "所管部局",
    "category_id": "区分",
    "fiscal_year": "年度",
    "requirements": "充当要件",
    "req1_reason": "要件①の該当理由",
    "req2_reason": "要件②の該当理由",
    "req3_reason": "要件③の該当理由",
    "summary": "事業概要",
    "purpose": "目的",
    "problem": "現状・課題",
    "cost_lines": "費用計画",
    "national_funds_yen": "国庫支出金",
    "other_funds_yen": "その他財源",
    "expected_users": "想定利用者数",
    "uses_per_user_per_year": "1人あたり年間利用回数",
    "procedures_per_year": "年間手続件数",
    "minutes_saved_per_procedure": "1件あたり短縮時間",
    "novelty": "新規性",
    "novelty_note": "新規性の補足",
    "kpis": "成果指標",
}

_FIELD_MESSAGES = {
    "project_name": f"事業名は{NAME_MAX}文字以内で入力してください。",
    "department_id": "所管部局を選択してください。",
    "category_id": "区分を選択してください。",
    "fiscal_year": "年度を選択してください。",
    "req1_reason": f"要件①の該当理由は{REASON_MAX:,}文字以内で入力してください。",
    "req2_reason": f"要件②の該当理由は{REASON_MAX:,}文字以内で入力してください。",
    "req3_reason": f"要件③の該当理由は{REASON_MAX:,}文字以内で入力してください。",
    "summary": f"事業概要は{TEXT_MAX:,}文字以内で入力してください。",
    "purpose": f"目的は{TEXT_MAX:,}文字以内で入力してください。",
    "problem": f"現状・課題は{TEXT_MAX:,}文字以内で入力してください。",
    "national_funds_yen": f"国庫支出金は0円以上{format_sen_yen(MAX_YEN)}千円以下で入力してください。",
    "other_funds_yen": f"その他財源は0円以上{format_sen_yen(MAX_YEN)}千円以下で入力してください。",
    "expected_users": f"想定利用者数は0人以上{MAX_USERS:,}人以下の整数で入力してください。",
    "uses_per_user_per_year": f"1人あたり年間利用回数は0以上{MAX_USES_PER_YEAR:,}回/年以下で入力してください。",
    "procedures_per_year": f"年間手続件数は0件以上{MAX_PROCEDURES:,}件以下の整数で入力してください。",
    "minutes_saved_per_procedure": (
        f"1件あたり短縮時間は0分以上{MAX_MINUTES_SAVED:,}分（1日）以下で入力してください。"
    ),
    "novelty": "新規性は「全国初・県内初・他自治体で実績あり・既存サービスの拡充」から選択してください。",
    "novelty_note": f"新規性の補足は{NOTE_MAX}文字以内で入力してください。",
}

_COST_MESSAGES = {
    "project_cost_yen": f"事業費は0以上{format_sen_yen(MAX_YEN)}千円以下で入力してください。",
    "fund_share_yen": f"基金充当額は0以上{format_sen_yen(MAX_YEN)}千円以下で入力してください。",
    "note": f"備考は{NOTE_MAX}文字以内で入力してください。",
    "fiscal_year": "年度を正しく入力してください。",
}

_KPI_MESSAGES = {
    "name": "指標名は200文字以内で入力してください。",
    "unit": "単位は20文字以内で入力してください。",
    "baseline": "基準値は数値（±1兆以内）で入力してください。",
    "target_first": "初年度の目標値は数値（±1兆以内）で入力してください。",
    "target_later": "2年後の目標値は数値（±1兆以内）で入力してください。",
    "kind": "指標の種類を選択してください。",
}


def _parse_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for err in exc.errors():
        loc = err["loc"]
        name = str(loc[0]) if loc else "form"
        if name == "cost_lines" and len(loc) >= 3 and isinstance(loc[1], int):
            detail = _COST_MESSAGES.get(str(loc[2]), "入力内容を確認してください。")
            errors.setdefault(f"cost_lines.{loc[1]}", f"費用計画の{loc[1] + 1}行目: {detail}")
        elif name == "kpis" and len(loc) >= 3 and isinstance(loc[1], int):
            detail = _KPI_MESSAGES.get(str(loc[2]), "入力内容を確認してください。")
            errors.setdefault(f"kpis.{loc[1]}", f"成果指標の{loc[1] + 1}行目: {detail}")
        else:
            label = FIELD_LABEL.get(name, name)
            errors.setdefault(name, _FIELD_MESSAGES.get(name, f"{label}を確認してください。"))
    return errors


def parse_input(data: dict[str, Any]) -> tuple[ProposalCreate | None, dict[str, str]]:
    """Type and range checks. Returns the parsed input and the errors keyed by field ('cost_lines.0' …).

    When some fields are invalid, the others are still parsed (the bad ones left at their defaults)
    so that the rules can report every other problem in the same pass.
    """
    try:
        return ProposalCreate.model_validate(data), {}
    except ValidationError as exc:
        errors = _parse_errors(exc)
        bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
    try:
        return ProposalCreate.model_validate({k: v for k, v in data.items() if k not in bad}), errors
    except ValidationError:
        return None, errors  # a required field (name, 所管部局, 年度) is unusable


def default_proposal_year(years: list[int]) -> int:
    """The 年度 a new proposal opens on: the one after the current (proposals are made for next
    year's budget), or the only one open. `years` as from `proposal_years`, oldest first."""
    return years[min(1, len(years) - 1)]


def proposal_years(engine: Engine, *, today: date | None = None) -> list[int]:
    """年度 a proposal may be made for: registered, not closed, not before the current 年度."""
    current = fiscal_year_of(today or clock.today_jst())
    df = query_df(
        engine,
        "SELECT year FROM fiscal_year WHERE NOT closed AND year >= :y ORDER BY year",
        {"y": current},
    )
    return [int(y) for y in df["year"]]


def _allowed_years(session: Session, today: date | None = None) -> list[int]:
    current = fiscal_year_of(today or clock.today_jst())
    rows = session.exec(
        select(FiscalYear.year).where(FiscalYear.closed == False, FiscalYear.year >= current)  # noqa: E712
    ).all()
    return sorted(int(y) for y in rows)


def _rule_errors(p: ProposalCreate, *, final: bool) -> dict[str, str]:
    """The business rules that need no database. `final`: the proposal is being submitted."""
    errors: dict[str, str] = {}
    if not p.project_name:
        errors["project_name"] = "事業名を入力してください。"
    fy = p.fiscal_year
    seen: set[int] = set()
    for i, line in enumerate(p.cost_lines):
        key = f"cost_lines.{i}"
        if line.is_blank():
            continue
        if not fy <= line.fiscal_year < fy + MAX_COST_YEARS:
            errors[key] = (
                f"費用計画の{i + 1}行目: 年度は{fiscal_label(fy)}から{MAX_COST_YEARS}年以内で入力してください。"
            )
        elif line.fiscal_year in seen:
            errors[key] = f"費用計画の{i + 1}行目: {fiscal_label(line.fiscal_year)}が重複しています。"
        elif line.fund_share_yen > line.project_cost_yen:
            errors[key] = (
                f"費用計画の{i + 1}行目（{fiscal_label(line.fiscal_year)}）: 基金充当額（{format_sen_yen_unit(line.fund_share_yen)}）が"
                f"事業費（{format_sen_yen_unit(line.project_cost_yen)}）を超えています。"
            )
        seen.add(line.fiscal_year)
    first = p.line_for(fy)
    first_index = next((i for i, c in enumerate(p.cost_lines) if c is first), None)
    if first is not None and f"cost_lines.{first_index}" not in errors:
        sources = first.fund_share_yen + p.national_funds_yen + p.other_funds_yen
        if sources > first.project_cost_yen:
            errors["other_funds_yen"] = (
                f"{fiscal_label(fy)}の財源の合計（基金充当額{format_sen_yen_unit(first.fund_share_yen)}＋国庫支出金"
                f"{format_sen_yen_unit(p.national_funds_yen)}＋その他{format_sen_yen_unit(p.other_funds_yen)}＝{format_sen_yen_unit(sources)}）が"
                f"事業費（{format_sen_yen_unit(first.project_cost_yen)}）を超えています。"
            )
    kpis = [k for k in p.kpis if not k.is_blank()]
    if len(kpis) > MAX_KPIS:
        errors["kpis"] = f"成果指標は{MAX_KPIS}つまで登録できます。"
    for i, k in enumerate(p.kpis):
        if k.is_blank():
            continue
        if not k.name:
            errors.setdefault(f"kpis.{i}", f"成果指標の{i + 1}行目: 指標名を入力してください。")
        elif final and not k.unit:
            errors.setdefault(f"kpis.{i}", f"成果指標の{i + 1}行目: 単位を入力してください。")
        elif final and (k.target_first is None or k.target_later is None):
            errors.setdefault(
                f"kpis.{i}", f"成果指標の{i + 1}行目: 初年度と2年後の目標値を入力してください。"
            )
    if not final:
        return errors
    # Submission: everything a screener needs must be there.
    ticked = [n for n in (1, 2, 3) if getattr(p, f"meets_req{n}")]
    if not ticked:
        errors["requirements"] = "充当要件①②③のうち、該当するものを1つ以上選んでください。"
    for n in ticked:
        if not getattr(p, f"req{n}_reason"):
            errors[f"req{n}_reason"] = f"要件{'①②③'[n - 1]}の該当理由を入力してください。"
    for name in ("summary", "purpose", "problem"):
        if not getattr(p, name):
            errors[name] = f"{FIELD_LABEL[name]}を入力してください。"
    if first is None or first.project_cost_yen <= 0:
        errors.setdefault("cost_lines", f"1年度目（{wareki(fy)}）の事業費を入力してください。")
    if p.novelty is None:
        errors["novelty"] = "新規性を選択してください。"
    if not kpis:
        errors["kpis"] = "成果指標を1つ以上入力してください（指標名・単位・初年度と2年後の目標値）。"
    return errors


def _db_errors(
    session: Session, actor: Actor, p: ProposalCreate, *, proposal: Proposal | None
) -> tuple[dict[str, str], Project | None]:
    """Checks against the database; returns the errors and the existing project (if any)."""
    errors: dict[str, str] = {}
    dept = session.get(Department, p.department_id)
    if dept is None:
        errors["department_id"] = "所管部局を選択してください。"
    elif department_scope(actor) not in (None, p.department_id):
        errors["department_id"] = "事業担当は自部局の提案のみ作成・編集できます。"
    allowed = _allowed_years(session)
    if p.fiscal_year not in allowed:
        listed = "・".join(fiscal_label(y) for y in allowed) or "なし"
        errors["fiscal_year"] = (
            f"{fiscal_label(p.fiscal_year)}は提案を受け付けていません（受付中の年度: {listed}）。"
        )
    project = (
        session.exec(select(Project).where(Project.name == p.project_name)).first()
        if p.project_name
        else None
    )
    if proposal is not None:
        current = session.get(Project, proposal.project_id)
        assert current is not None
        if p.project_name and p.project_name != current.name:
            errors["project_name"] = (
                "事業名は下書きの保存後は変更できません。新しい事業名で提案を作り直してください。"
            )
        if p.department_id != current.department_id:
            errors["department_id"] = "所管部局は下書きの保存後は変更できません。"
        if p.category_id is not None and p.category_id != current.category_id:
            errors["category_id"] = "区分は下書きの保存後は変更できません。"
        project = current
    elif project is not None:
        if dept is not None and project.department_id != p.department_id:
            owner = session.get(Department, project.department_id)
            errors["project_name"] = (
                f"この事業名は{owner.name if owner else '他部局'}の事業として登録済みです。所管部局を確認してください。"
            )
    else:
        cat = session.get(Category, p.category_id) if p.category_id is not None else None
        if cat is None or cat.parent_id is None:
            errors["category_id"] = "区分を選択してください（例: 1(1) 生活関連分野）。"
    if project is not None and project.id is not None and "fiscal_year" not in errors:
        clash = session.exec(
            select(Proposal.id).where(
                Proposal.project_id == project.id,
                Proposal.fiscal_year == p.fiscal_year,
                Proposal.id != (proposal.id if proposal is not None else -1),
            )
        ).first()
        if clash is not None:
            errors["fiscal_year"] = (
                f"この事業の{fiscal_label(p.fiscal_year)}の提案は既にあります（提案番号 {clash}）。"
            )
    return errors, project


def validate(
    session: Session, *, actor: Actor, data: dict[str, Any], final: bool, proposal: Proposal | None = None
) -> tuple[ProposalCreate, Project | None]:
    """Every check (types, rules, database). Raises InputInvalid with one Japanese message per field."""
    p, errors = parse_input(data)
    if p is None:
        raise InputInvalid(errors)
    for key, message in _rule_errors(p, final=final).items():
        errors.setdefault(key, message)
    db_errors, project = _db_errors(session, actor, p, proposal=proposal)
    for key, message in db_errors.items():
        errors.setdefault(key, message)
    if errors:
        raise InputInvalid(errors)
    return p, project


# --- Writes ----------------------------------------------------------------------------------------


# Proposal fields copied one-to-one between the input model and the table row (both directions).
PROPOSAL_TEXT_AND_EVIDENCE_FIELDS = (
    "summary",
    "purpose",
    "problem",
    "meets_req1",
    "meets_req2",
    "meets_req3",
    "req1_reason",
    "req2_reason",
    "req3_reason",
    "national_funds_yen",
    "other_funds_yen",
    "expected_users",
    "uses_per_user_per_year",
    "procedures_per_year",
    "minutes_saved_per_procedure",
    "novelty",
    "novelty_note",
)


def _apply(proposal: Proposal, p: ProposalCreate) -> None:
    first = p.line_for(p.fiscal_year)
    proposal.fiscal_year = p.fiscal_year
    for name in PROPOSAL_TEXT_AND_EVIDENCE_FIELDS:
        setattr(proposal, name, getattr(p, name))
    proposal.project_cost_yen = first.project_cost_yen if first else 0
    proposal.fund_share_yen = first.fund_share_yen if first else 0
    proposal.kpis = [k.model_dump(mode="json") for k in p.kpis if not k.is_blank()]
    proposal.updated_at = clock.now_utc()


def _replace_cost_lines(session: Session, proposal_id: int, p: ProposalCreate) -> None:
    for old in session.exec(select(ProposalCostLine).where(ProposalCostLine.proposal_id == proposal_id)):
        session.delete(old)
    session.flush()
    for line in sorted((c for c in p.cost_lines if not c.is_blank()), key=lambda c: c.fiscal_year):
        session.add(
            ProposalCostLine(
                proposal_id=proposal_id,
                fiscal_year=line.fiscal_year,
                project_cost_yen=line.project_cost_yen,
                fund_share_yen=line.fund_share_yen,
                note=line.note.strip(),
            )
        )


def _event(
    session: Session, proposal: Proposal, *, actor: Actor, to: ProposalStatus, reason: str = ""
) -> None:
    assert proposal.id is not None
    session.add(
        ProposalEvent(
            proposal_id=proposal.id,
            from_status=None if to == ProposalStatus.draft else proposal.status.value,  # None: created
            to_status=to.value,
            actor=actor.login,
            reason=reason,
        )
    )


def _materialise_kpis(session: Session, proposal: Proposal) -> None:
    """On submission: the proposal's KPIs become tracked indicators with their two targets."""
    assert proposal.id is not None
    for raw in proposal.kpis:
        k = KpiIn.model_validate(raw)
        indicator = KpiIndicator(
            project_id=proposal.project_id,
            proposal_id=proposal.id,
            kind=k.kind,
            name=k.name,
            unit=k.unit,
            baseline_value=k.baseline,
            baseline_year=proposal.fiscal_year - 1
            if k.baseline is not None
            else None,  # measured before year 1
            source_note=f"提案番号 {proposal.id}",
        )
        session.add(indicator)
        session.flush()
        assert indicator.id is not None
        for year, value in (
            (proposal.fiscal_year, k.target_first),
            (proposal.fiscal_year + 2, k.target_later),
        ):
            if value is not None:
                session.add(KpiTarget(indicator_id=indicator.id, fiscal_year=year, target_value=value))
        session.flush()
        kpi.refresh_years(session, indicator_ids=[indicator.id])


def _create_in_session(
    session: Session, *, actor: Actor, p: ProposalCreate, project: Project | None
) -> Proposal:
    if project is None:
        assert p.category_id is not None
        project = Project(
            name=p.project_name,
            department_id=p.department_id,
            category_id=p.category_id,
            summary=p.summary,
            first_fiscal_year=p.fiscal_year,
        )
        session.add(project)
        session.flush()
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.project_create,
            entity="project",
            entity_id=project.id,
            after=audit.snapshot(project),
        )
    assert project.id is not None
    proposal = Proposal(project_id=project.id, fiscal_year=p.fiscal_year, created_by=actor.login)
    _apply(proposal, p)
    session.add(proposal)
    session.flush()
    assert proposal.id is not None
    _replace_cost_lines(session, proposal.id, p)
    _event(session, proposal, actor=actor, to=ProposalStatus.draft, reason="下書きを作成")
    audit.record(
        session,
        actor=actor.login,
        action=AuditAction.proposal_create,
        entity="proposal",
        entity_id=proposal.id,
        after=audit.snapshot(proposal),
    )
    return proposal


def _submit_in_session(session: Session, *, actor: Actor, proposal: Proposal, reason: str = "") -> None:
    before = audit.snapshot(proposal)
    _event(session, proposal, actor=actor, to=ProposalStatus.submitted, reason=reason)
    proposal.status = ProposalStatus.submitted
    proposal.version += 1
    proposal.updated_at = clock.now_utc()
    session.add(proposal)
    session.flush()
    _materialise_kpis(session, proposal)
    audit.record(
        session,
        actor=actor.login,
        action=AuditAction.proposal_status,
        entity="proposal",
        entity_id=proposal.id,
        before=before,
        after=audit.snapshot(proposal),
        reason=reason,
    )


def create_in_session(
    session: Session, *, actor: Actor, p: ProposalCreate, project: Project | None, submit: bool
) -> int:
    """For the bulk intake: create one validated proposal inside the caller's transaction; its id."""
    proposal = _create_in_session(session, actor=actor, p=p, project=project)
    if submit:
        _submit_in_session(session, actor=actor, proposal=proposal)
    assert proposal.id is not None
    return proposal.id


def _detach(proposal: Proposal, session: Session) -> Proposal:
    session.flush()
    session.refresh(proposal)
    session.expunge(proposal)
    return proposal


def save_proposal(
    engine: Engine,
    *,
    actor: Actor,
    data: dict[str, Any],
    proposal_id: int | None = None,
    version: int | None = None,
    submit: bool = False,
) -> Proposal:
    """Create (proposal_id None) or update a draft, and submit it when `submit` is true.

    Returns the saved proposal. Raises PermissionDenied, InputInvalid (Japanese message per field;
    nothing saved), StaleEdit (someone saved after `version` was read), NotFound, RuleViolation
    (the proposal is no longer a draft).
    """
    require(actor, Action.create_proposal if proposal_id is None else Action.edit_proposal)
    if submit:
        require(actor, Action.submit_proposal)
    with write_session(engine) as session:
        if proposal_id is None:
            p, project = validate(session, actor=actor, data=data, final=submit)
            require_department(actor, p.department_id)
            proposal = _create_in_session(session, actor=actor, p=p, project=project)
        else:
            proposal = _load_for_edit(session, actor=actor, proposal_id=proposal_id, version=version)
            p, _ = validate(session, actor=actor, data=data, final=submit, proposal=proposal)
            _update_in_session(session, actor=actor, proposal=proposal, p=p)
        if submit:
            _submit_in_session(session, actor=actor, proposal=proposal)
        return _detach(proposal, session)


def _load_for_edit(session: Session, *, actor: Actor, proposal_id: int, version: int | None) -> Proposal:
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound(f"提案番号 {proposal_id} は見つかりません。")
    project = session.get(Project, proposal.project_id)
    assert project is not None
    require_department(actor, project.department_id)
    if version is None:
        raise StaleEdit("編集を始めた時点の版が分かりません。画面を開き直してから編集してください。")
    if proposal.version != version:
        raise StaleEdit(
            "他の利用者が先に更新しました（あなたが開いた版: "
            f"{version}、現在の版: {proposal.version}）。画面を開き直して最新の内容を確認してください。"
        )
    if proposal.status != ProposalStatus.draft:
        raise RuleViolation(
            f"提案番号 {proposal_id} は「{PROPOSAL_STATUS[proposal.status]}」のため編集できません。"
            "編集できるのは下書きだけです。"
        )
    return proposal


def _update_in_session(session: Session, *, actor: Actor, proposal: Proposal, p: ProposalCreate) -> None:
    before = audit.snapshot(proposal)
    project = session.get(Project, proposal.project_id)
    assert project is not None and proposal.id is not None
    # A project first proposed in this draft moves with the draft's 年度 (新規 stays right).
    if project.first_fiscal_year == proposal.fiscal_year and p.fiscal_year != proposal.fiscal_year:
        others = session.exec(
            select(Proposal.id).where(Proposal.project_id == project.id, Proposal.id != proposal.id)
        ).first()
        if others is None:
            project.first_fiscal_year = p.fiscal_year
            session.add(project)
    _apply(proposal, p)
    proposal.version += 1
    session.add(proposal)
    _replace_cost_lines(session, proposal.id, p)
    audit.record(
        session,
        actor=actor.login,
        action=AuditAction.proposal_update,
        entity="proposal",
        entity_id=proposal.id,
        before=before,
        after=audit.snapshot(proposal),
    )


# --- Status workflow ---------------------------------------------------------------------------------

S = ProposalStatus

# The normal path: (from, to) → needs a reason. Submitting is the department's step; the rest is
# the bureau's (審査担当・管理者).
TRANSITIONS: dict[tuple[ProposalStatus, ProposalStatus], bool] = {
    (S.draft, S.submitted): False,
    (S.submitted, S.in_review): False,
    (S.in_review, S.adopted): False,
    (S.in_review, S.rejected): True,
    (S.in_review, S.on_hold): False,
    (S.on_hold, S.in_review): False,
    (S.on_hold, S.adopted): False,
    (S.on_hold, S.rejected): True,
    (S.adopted, S.funded): False,
}


@dataclass(frozen=True)
class TransitionOption:
    to_status: ProposalStatus
    label: str
    reason_required: bool
    is_override: bool


def _is_override(current: ProposalStatus, to: ProposalStatus) -> bool:
    """Any other move between submitted statuses is an exception (管理者, with a reason).

    Nothing goes back to 下書き: the content and the KPIs are fixed once submitted.
    """
    return (current, to) not in TRANSITIONS and current != to and S.draft not in (current, to)


def available_transitions(
    actor: Actor, *, status: ProposalStatus, department_id: int
) -> list[TransitionOption]:
    """The status changes this actor may make on a proposal in `status` (for the page's buttons)."""
    options: list[TransitionOption] = []
    for to in ProposalStatus:
        try:
            _check_transition(actor, status, to, department_id)
        except (PermissionDenied, RuleViolation):
            continue
        override = _is_override(status, to)
        label = f"{PROPOSAL_STATUS[to]}にする" + ("（例外）" if override else "")
        options.append(
            TransitionOption(to, label, override or TRANSITIONS.get((status, to), False), override)
        )
    return options


def _check_transition(actor: Actor, current: ProposalStatus, to: ProposalStatus, department_id: int) -> None:
    if (current, to) == (S.draft, S.submitted):
        require(actor, Action.submit_proposal)
        require_department(actor, department_id)
        return
    if (current, to) in TRANSITIONS:
        require(actor, Action.change_status)
        return
    if _is_override(current, to):
        require(actor, Action.override_status)
        return
    raise RuleViolation(
        f"「{PROPOSAL_STATUS[current]}」から「{PROPOSAL_STATUS[to]}」へは変更できません。"
        + ("提出後の提案は下書きに戻せません。" if to == S.draft else "")
    )


def change_status(
    engine: Engine,
    *,
    actor: Actor,
    proposal_id: int,
    to_status: ProposalStatus,
    reason: str = "",
    version: int | None = None,
) -> Proposal:
    """Move a proposal along the workflow; writes the timeline event and the audit row together.

    `version` (optional) is the version the user saw; a newer one raises StaleEdit. Submitting
    checks the stored content with every rule. Raises PermissionDenied, RuleViolation,
    InputInvalid (missing reason or incomplete proposal), NotFound, StaleEdit.
    """
    reason = reason.strip()
    if len(reason) > REASON_MAX:
        raise InputInvalid({"reason": f"理由は{REASON_MAX:,}文字以内で入力してください。"})
    with write_session(engine) as session:
        proposal = session.get(Proposal, proposal_id)
        if proposal is None:
            raise NotFound(f"提案番号 {proposal_id} は見つかりません。")
        project = session.get(Project, proposal.project_id)
        assert project is not None
        current = proposal.status
        _check_transition(actor, current, to_status, project.department_id)
        if version is not None and proposal.version != version:
            raise StaleEdit(
                f"他の利用者が先に更新しました（現在の状態: {PROPOSAL_STATUS[current]}）。"
                "画面を開き直して最新の内容を確認してください。"
            )
        override = _is_override(current, to_status)
        if (override or TRANSITIONS.get((current, to_status), False)) and not reason:
            what = "例外的な状態変更" if override else f"{PROPOSAL_STATUS[to_status]}"
            raise InputInvalid({"reason": f"{what}には理由の入力が必要です。"})
        if to_status == S.submitted:
            validate(
                session,
                actor=actor,
                data=_input_of(proposal, project, session),
                final=True,
                proposal=proposal,
            )
            _submit_in_session(session, actor=actor, proposal=proposal, reason=reason)
            return _detach(proposal, session)
        before = audit.snapshot(proposal)
        _event(session, proposal, actor=actor, to=to_status, reason=("【例外】" if override else "") + reason)
        proposal.status = to_status
        proposal.version += 1
        proposal.updated_at = clock.now_utc()
        session.add(proposal)
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.proposal_override if override else AuditAction.proposal_status,
            entity="proposal",
            entity_id=proposal.id,
            before=before,
            after=audit.snapshot(proposal),
            reason=reason,
        )
        return _detach(proposal, session)


# --- Reads ------------------------------------------------------------------------------------------


def _input_of(proposal: Proposal, project: Project, session: Session) -> dict[str, Any]:
    lines = session.exec(
        select(ProposalCostLine)
        .where(ProposalCostLine.proposal_id == proposal.id)
        .order_by(col(ProposalCostLine.fiscal_year))
    ).all()
    return {
        "project_name": project.name,
        "department_id": project.department_id,
        "category_id": project.category_id,
        "fiscal_year": proposal.fiscal_year,
        **{name: getattr(proposal, name) for name in PROPOSAL_TEXT_AND_EVIDENCE_FIELDS},
        "cost_lines": [
            {
                "fiscal_year": c.fiscal_year,
                "project_cost_yen": c.project_cost_yen,
                "fund_share_yen": c.fund_share_yen,
                "note": c.note,
            }
            for c in lines
        ],
        "kpis": list(proposal.kpis or []),
    }


def proposal_input(engine: Engine, *, actor: Actor, proposal_id: int) -> tuple[dict[str, Any], int]:
    """A stored proposal as form input (to resume a draft), with the version to send back."""
    with read_session(engine) as session:
        proposal = session.get(Proposal, proposal_id)
        if proposal is None:
            raise NotFound(f"提案番号 {proposal_id} は見つかりません。")
        project = session.get(Project, proposal.project_id)
        assert project is not None
        require_department(actor, project.department_id)
        return _input_of(proposal, project, session), proposal.version


def editable_drafts(engine: Engine, *, actor: Actor) -> pd.DataFrame:
    """Drafts the actor may resume: own department's for 事業担当, all for the bureau."""
    if not can(actor, Action.edit_proposal):
        return pd.DataFrame({"id": [], "label": []})
    params: dict[str, Any] = {"st": S.draft.value}
    where = "pr.status = :st"
    own = department_scope(actor)
    if own is not None:
        where += " AND p.department_id = :d"
        params["d"] = own
    df = query_df(
        engine,
        f"""
        SELECT pr.id, pr.fiscal_year, p.name FROM proposal pr JOIN project p ON p.id = pr.project_id
        WHERE {where} ORDER BY pr.updated_at DESC, pr.id DESC
        """,
        params,
    )
    df["label"] = [
        f"{i}: {n}（{fiscal_label(int(y))}）"
        for i, n, y in zip(df["id"], df["name"], df["fiscal_year"], strict=True)
    ]
    return df[["id", "label"]]


def _figure(value: float | None) -> str:
    """A KPI figure as typed (no trailing .0), blank when not given."""
    return "" if value is None else f"{value:,.10g}"


@dataclass
class ProposalDetail:
    """Everything the detail view shows; money in yen."""

    id: int
    version: int
    status: ProposalStatus
    status_label: str
    project: str
    department_id: int
    department: str
    category: str
    fiscal_year: int
    is_new: bool
    is_sample: bool
    texts: dict[str, str]  # 事業概要・目的・現状・課題
    requirements: list[tuple[str, str]]  # (要件, 該当理由) for the ticked ones
    money: dict[str, int]  # 事業費・基金充当額・国庫支出金・その他財源 (yen)
    evidence_inputs: dict[str, str]
    evidence: dict[str, float | None]
    novelty: str
    novelty_note: str
    cost_lines: pd.DataFrame
    kpis: pd.DataFrame
    transitions: list[TransitionOption] = field(default_factory=list)


def proposal_detail(engine: Engine, *, actor: Actor, proposal_id: int) -> ProposalDetail:
    """One proposal with its evidence, cost profile, KPIs and the status changes the actor may make."""
    require(actor, Action.view_proposals)
    with read_session(engine) as session:
        proposal = session.get(Proposal, proposal_id)
        if proposal is None:
            raise NotFound(f"提案番号 {proposal_id} は見つかりません。")
        project = session.get(Project, proposal.project_id)
        assert project is not None
        require_department(actor, project.department_id)
        dept = session.get(Department, project.department_id)
        cat = session.get(Category, project.category_id)
        lines = session.exec(
            select(ProposalCostLine)
            .where(ProposalCostLine.proposal_id == proposal_id)
            .order_by(col(ProposalCostLine.fiscal_year))
        ).all()
    cost = pd.DataFrame(
        {
            "年度": [fiscal_label(c.fiscal_year) for c in lines],
            "事業費（千円）": [to_sen_yen(c.project_cost_yen) for c in lines],
            "基金充当額（千円）": [to_sen_yen(c.fund_share_yen) for c in lines],
            "備考": [c.note for c in lines],
        }
    )
    kpis = [KpiIn.model_validate(k) for k in proposal.kpis or []]
    kpi_df = pd.DataFrame(
        {
            "指標名": [k.name for k in kpis],
            "種類": [KPI_KIND[k.kind] for k in kpis],
            "単位": [k.unit for k in kpis],
            "基準値": [_figure(k.baseline) for k in kpis],
            f"目標値（{wareki(proposal.fiscal_year)}）": [_figure(k.target_first) for k in kpis],
            f"目標値（{wareki(proposal.fiscal_year + 2)}）": [_figure(k.target_later) for k in kpis],
        }
    )
    return ProposalDetail(
        id=proposal_id,
        version=proposal.version,
        status=proposal.status,
        status_label=PROPOSAL_STATUS[proposal.status],
        project=project.name,
        department_id=project.department_id,
        department=dept.name if dept else "",
        category=cat.name if cat else "",
        fiscal_year=proposal.fiscal_year,
        is_new=project.first_fiscal_year == proposal.fiscal_year,
        is_sample=proposal.is_sample,
        texts={"事業概要": proposal.summary, "目的": proposal.purpose, "現状・課題": proposal.problem},
        requirements=[
            (REQUIREMENT[n], getattr(proposal, f"req{n}_reason"))
            for n in (1, 2, 3)
            if getattr(proposal, f"meets_req{n}")
        ],
        money={
            "事業費": proposal.project_cost_yen,
            "基金充当額": proposal.fund_share_yen,
            "国庫支出金": proposal.national_funds_yen,
            "その他財源": proposal.other_funds_yen,
        },
        evidence_inputs={
            "想定利用者数": f"{proposal.expected_users:,}人",
            "1人あたり年間利用回数": f"{proposal.uses_per_user_per_year:,.1f}回/年",
            "年間手続件数": f"{proposal.procedures_per_year:,}件",
            "1件あたり短縮時間": f"{proposal.minutes_saved_per_procedure:,.1f}分",
        },
        evidence=evidence(
            expected_users=proposal.expected_users,
            uses_per_user_per_year=proposal.uses_per_user_per_year,
            procedures_per_year=proposal.procedures_per_year,
            minutes_saved_per_procedure=proposal.minutes_saved_per_procedure,
            fund_share_yen=proposal.fund_share_yen,
        ),
        novelty=NOVELTY[proposal.novelty] if proposal.novelty else "",
        novelty_note=proposal.novelty_note,
        cost_lines=cost,
        kpis=kpi_df,
        transitions=available_transitions(actor, status=proposal.status, department_id=project.department_id),
    )


def evidence(
    *,
    expected_users: int,
    uses_per_user_per_year: float,
    procedures_per_year: int,
    minutes_saved_per_procedure: float,
    fund_share_yen: int,
) -> dict[str, float | None]:
    """Derived evidence: touchpoints/年 (users × uses), resident hours saved/年, 基金充当額 per 1,000 touchpoints."""
    touchpoints = expected_users * uses_per_user_per_year
    hours_saved = procedures_per_year * minutes_saved_per_procedure / 60
    per_thousand = fund_share_yen / touchpoints * 1000 if touchpoints > 0 else None
    return {"touchpoints": touchpoints, "hours_saved": hours_saved, "yen_per_1000_touchpoints": per_thousand}


def _frame_filters(
    actor: Actor,
    fiscal_year: int | None,
    status: ProposalStatus | None,
    department_id: int | None,
    search: str | None,
) -> tuple[str, dict[str, object]]:
    """The WHERE clause and parameters shared by the list, its count and its export."""
    clauses: list[str] = []
    params: dict[str, object] = {}
    department_id = scoped_department(actor, department_id)
    if fiscal_year is not None:
        clauses.append("pr.fiscal_year = :fy")
        params["fy"] = fiscal_year
    if status is not None:
        clauses.append("pr.status = :status")
        params["status"] = status.value
    if department_id is not None:
        clauses.append("p.department_id = :dept")
        params["dept"] = department_id
    if search:
        clauses.append(f"({contains('p.name', 'q')} OR {contains('pr.summary', 'q')})")
        params["q"] = like_pattern(search)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def proposal_frame(
    engine: Engine,
    *,
    actor: Actor,
    fiscal_year: int | None = None,
    status: ProposalStatus | None = None,
    department_id: int | None = None,
    search: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Proposals with project, department, money and derived evidence (newest 年度 first; all of
    them, or the first `limit` for a screen). 事業担当 see their own department only."""
    where, params = _frame_filters(actor, fiscal_year, status, department_id, search)
    if limit is not None:
        params["limit"] = limit
    df = query_df(
        engine,
        f"""
        SELECT pr.id, pr.fiscal_year, p.name AS project, d.name AS department, pr.status,
               pr.project_cost_yen, pr.fund_share_yen, pr.expected_users, pr.uses_per_user_per_year,
               pr.procedures_per_year, pr.minutes_saved_per_procedure, pr.novelty, pr.is_sample,
               (p.first_fiscal_year = pr.fiscal_year) AS is_new
        FROM proposal pr
        JOIN project p ON p.id = pr.project_id
        JOIN department d ON d.id = p.department_id
        {where}
        ORDER BY pr.fiscal_year DESC, pr.id
        {"LIMIT :limit" if limit is not None else ""}
        """,
        params,
    )
    df["touchpoints"] = df["expected_users"] * df["uses_per_user_per_year"]
    df["hours_saved"] = df["procedures_per_year"] * df["minutes_saved_per_procedure"] / 60
    df["yen_per_1000_touchpoints"] = (
        df["fund_share_yen"] / df["touchpoints"].where(df["touchpoints"] > 0)
    ) * 1000
    status_label = {s.value: label for s, label in PROPOSAL_STATUS.items()}
    df["status_label"] = df["status"].map(status_label)
    novelty_label = {n.value: label for n, label in NOVELTY.items()}
    df["novelty_label"] = df["novelty"].map(novelty_label).fillna("")
    return df


def proposal_count(
    engine: Engine,
    *,
    actor: Actor,
    fiscal_year: int | None = None,
    status: ProposalStatus | None = None,
    department_id: int | None = None,
    search: str | None = None,
) -> int:
    """How many proposals `proposal_frame` would list without its limit."""
    where, params = _frame_filters(actor, fiscal_year, status, department_id, search)
    df = query_df(
        engine,
        f"""
        SELECT COUNT(*) AS n FROM proposal pr
        JOIN project p ON p.id = pr.project_id
        {where}
        """,
        params,
    )
    return int(df["n"].iloc[0])


LARGE_EXPORT_ROWS = 10_000  # above this many rows the Excel download takes tens of seconds: say so

PROPOSAL_TABLE_NUMBERS = [
    "事業費（千円）",
    "基金充当額（千円）",
    "県民接点（回/年）",
    "削減時間（時間/年）",
    "1,000接点あたり充当額（円）",
]


def proposal_table(df: pd.DataFrame) -> pd.DataFrame:
    """`proposal_frame` with Japanese headers and money in 千円: the list on screen and its export."""

    years = {int(y): fiscal_label(int(y)) for y in pd.unique(df["fiscal_year"])}
    return pd.DataFrame(
        {
            "番号": df["id"],
            "年度": df["fiscal_year"].map(years).astype(object),
            "新規": df["is_new"].map({True: "新規", False: ""}).astype(object),
            "事業名": df["project"],
            "所管部局": df["department"],
            "状態": df["status_label"],
            "事業費（千円）": sen_yen_series(df["project_cost_yen"]).astype("int64"),
            "基金充当額（千円）": sen_yen_series(df["fund_share_yen"]).astype("int64"),
            "県民接点（回/年）": df["touchpoints"],
            "削減時間（時間/年）": df["hours_saved"],
            "1,000接点あたり充当額（円）": df["yen_per_1000_touchpoints"],
            "新規性": df["novelty_label"],
            "根拠データ": df["is_sample"].map({True: "サンプル", False: ""}).astype(object),
        }
    ).reset_index(drop=True)


def export_proposals(
    engine: Engine,
    *,
    actor: Actor,
    fiscal_year: int | None = None,
    status: ProposalStatus | None = None,
    department_id: int | None = None,
    search: str | None = None,
    fmt: str,
) -> bytes:
    """Every proposal the list's filters match (no display limit), as xlsx or CSV; audited.

    Raises PermissionDenied, RuleViolation (unknown format).
    """
    require(actor, Action.view_proposals)
    require(actor, Action.export)
    if fmt not in ("xlsx", "csv"):
        raise RuleViolation("出力形式は xlsx または csv を指定してください。")
    table = proposal_table(
        proposal_frame(
            engine,
            actor=actor,
            fiscal_year=fiscal_year,
            status=status,
            department_id=department_id,
            search=search,
            limit=None,
        )
    )
    if fmt == "xlsx":
        title = "事業提案一覧" + (f"（{fiscal_label(fiscal_year)}）" if fiscal_year is not None else "")
        data = to_xlsx_bytes(table, sheet_name="事業提案", title=title)
    else:
        data = to_csv_bytes(table)
    record_export(
        engine,
        actor=actor,
        what=f"proposals.{fmt}",
        filters={
            "fiscal_year": fiscal_year,
            "status": status.value if status is not None else None,
            "department_id": scoped_department(actor, department_id),
            "search": search or "",
        },
        rows=len(table),
    )
    return data


def status_counts(engine: Engine, *, fiscal_year: int) -> dict[ProposalStatus, int]:
    """Proposals of the 年度 per status, every status listed in workflow order (zero included)."""
    # A handful of rows for the home page: read as plain rows (a DataFrame would double the time).
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT status, COUNT(*) AS n FROM proposal WHERE fiscal_year = :fy GROUP BY status"),
            {"fy": fiscal_year},
        ).all()
    counts = {str(status): int(n) for status, n in rows}
    return {s: counts.get(s.value, 0) for s in PROPOSAL_STATUS}


def timeline(engine: Engine, *, proposal_id: int) -> pd.DataFrame:
    """The proposal's status changes, oldest first, with Japanese labels and JST times."""
    df = query_df(
        engine,
        "SELECT occurred_at, from_status, to_status, actor, reason FROM proposal_event "
        "WHERE proposal_id = :p ORDER BY occurred_at, id",
        {"p": proposal_id},
    )
    label = {s.value: PROPOSAL_STATUS[s] for s in ProposalStatus}
    return pd.DataFrame(
        {
            "日時": clock.jst_text(df["occurred_at"], fmt="%Y-%m-%d %H:%M"),
            "変更前": [label.get(s, "") if isinstance(s, str) else "" for s in df["from_status"]],
            "変更後": [label.get(s, s) for s in df["to_status"]],
            "担当者": df["actor"],
            "理由": df["reason"],
        }
    )
