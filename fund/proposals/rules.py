"""The rules of a proposal: its input models, limits and every check before it is saved or submitted."""

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from fund import clock, user_text
from fund.auth import Actor, department_scope
from fund.db import query_df
from fund.errors import InputInvalid
from fund.fiscal import fiscal_label, fiscal_year_of, wareki
from fund.models import (
    Category,
    Department,
    FiscalYear,
    KpiKind,
    Novelty,
    Project,
    Proposal,
    ProposalReturn,
    ReturnKind,
)
from fund.money import format_sen_yen, format_sen_yen_unit

PROJECT_KEYS = "project_name_keys"  # session.info: name key → project id

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


class CostLineCreate(BaseModel):
    """One 年度 of the cost profile (running costs after the fund years included)."""

    fiscal_year: int
    project_cost_yen: Annotated[int, Field(ge=0, le=MAX_YEN)] = 0
    fund_share_yen: Annotated[int, Field(ge=0, le=MAX_YEN)] = 0
    note: Annotated[str, Field(max_length=NOTE_MAX)] = ""

    def is_blank(self) -> bool:
        return self.project_cost_yen == 0 and self.fund_share_yen == 0 and not self.note.strip()


class ProposalKpiCreate(BaseModel):
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
        return user_text.checked(value).strip()

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
    cost_lines: list[CostLineCreate] = []
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
    kpis: list[ProposalKpiCreate] = []

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
        return user_text.checked(value).strip()

    def line_for(self, fiscal_year: int) -> CostLineCreate | None:
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
        elif err["type"] == "value_error":  # a message of `user_text.checked`, already in Japanese
            errors.setdefault(name, f"{FIELD_LABEL.get(name, name)}: {err['ctx']['error']}")
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


def _project_named(session: Session, name: str) -> Project | None:
    """The project of that name, or of a name that differs only in width, case or spaces. The keys
    of every project are computed once per transaction (a bulk upload checks many rows)."""
    exact = session.exec(select(Project).where(Project.name == name)).first()
    if exact is not None:
        return exact
    keys: dict[str, int] | None = session.info.get(PROJECT_KEYS)
    if keys is None:
        keys = {
            user_text.name_key(n): i
            for i, n in session.exec(select(Project.id, Project.name))
            if i is not None
        }
        session.info[PROJECT_KEYS] = keys
    found = keys.get(user_text.name_key(name))
    return None if found is None else session.get(Project, found)


def remember_project(session: Session, project: Project) -> None:
    """Keep a project created in this transaction findable by `_project_named`."""
    keys = session.info.get(PROJECT_KEYS)
    if keys is not None and project.id is not None:
        keys[user_text.name_key(project.name)] = project.id


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
    project = _project_named(session, p.project_name) if p.project_name else None
    if project is not None and project.name != p.project_name and proposal is None:
        theirs = department_scope(actor) not in (None, project.department_id)
        errors["project_name"] = (
            ("他部局の登録済みの事業名" if theirs else f"登録済みの事業「{project.name}」")
            + "と、全角・半角や空白の違いしかありません。"
            + (
                "別の事業名にしてください。"
                if theirs
                else "同じ事業なら登録済みの事業名のとおりに入力してください。"
            )
        )
        return errors, None
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
            # A department user learns no other department's projects, only that the name is taken.
            shown = "他部局" if department_scope(actor) is not None else (owner.name if owner else "他部局")
            errors["project_name"] = (
                f"この事業名は{shown}の事業として登録済みです。所管部局を確認してください。"
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
                col(Proposal.id).not_in(  # a withdrawn proposal leaves the 年度 free
                    select(ProposalReturn.proposal_id).where(ProposalReturn.kind == ReturnKind.withdrawn)
                ),
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
