"""横展開: where a project's result has been rolled out (a municipality of the prefecture, or
another department), per 年度, with the audit trail."""

from typing import Annotated

import pandas as pd
from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import Engine
from sqlmodel import select

from fund import audit
from fund.auth import Action, Actor, department_scope, require, require_department
from fund.db import query_df, write_session
from fund.errors import InputInvalid, NotFound, RuleViolation, field_messages
from fund.fiscal import fiscal_label
from fund.models import AuditAction, Department, FiscalYear, Project, Rollout

# 山口県の19市町 (13市6町), in the prefecture's usual order.
MUNICIPALITIES = (
    "下関市",
    "宇部市",
    "山口市",
    "萩市",
    "防府市",
    "下松市",
    "岩国市",
    "光市",
    "長門市",
    "柳井市",
    "美祢市",
    "周南市",
    "山陽小野田市",
    "周防大島町",
    "和木町",
    "上関町",
    "田布施町",
    "平生町",
    "阿武町",
)

MUNICIPALITY = "市町"
DEPARTMENT = "他部局"
NOTE_MAX = 500  # characters of 内容
REASON_MAX = 200  # characters of the reason for withdrawing a rollout


class RolloutCreate(BaseModel):
    project_id: int
    target: Annotated[str, Field(min_length=1, max_length=120)]
    fiscal_year: int
    note: Annotated[str, Field(max_length=NOTE_MAX)] = ""

    @field_validator("target", "note")
    @classmethod
    def strip(cls, value: str) -> str:
        return value.strip()


_FIELD_MESSAGES = {
    "project_id": "事業を選択してください。",
    "target": "展開先（市町または部局）を選択してください。",
    "fiscal_year": "年度を選択してください。",
    "note": f"内容は{NOTE_MAX}文字以内で入力してください。",
}


def target_kind(target: str) -> str:
    return MUNICIPALITY if target in MUNICIPALITIES else DEPARTMENT


def targets(engine: Engine) -> list[str]:
    """Every allowed 展開先: the 19 市町, then the departments."""
    depts = query_df(engine, "SELECT name FROM department ORDER BY sort_order, id")
    return [*MUNICIPALITIES, *depts["name"].tolist()]


def validate_rollout(data: dict[str, object]) -> RolloutCreate:
    """A rollout from form input (the `record_rollout` input); InputInvalid with a message per field."""
    try:
        return RolloutCreate.model_validate(data)
    except ValidationError as exc:
        raise InputInvalid(field_messages(exc, _FIELD_MESSAGES)) from None


def record_rollout(engine: Engine, *, actor: Actor, entry: RolloutCreate) -> Rollout:
    """Record that a project's result was rolled out to a 市町 or another department in a 年度.

    事業担当 record for their own department's projects. Raises PermissionDenied, NotFound,
    InputInvalid (unknown 展開先 or 年度, the project's own department) or RuleViolation (already
    recorded)."""
    require(actor, Action.enter_kpi_actual)
    with write_session(engine) as session:
        project = session.get(Project, entry.project_id)
        if project is None:
            raise NotFound(f"事業（番号 {entry.project_id}）は登録されていません。")
        require_department(actor, project.department_id)
        errors = {}
        departments = {d.name: d.id for d in session.exec(select(Department))}
        if entry.target not in MUNICIPALITIES and entry.target not in departments:
            errors["target"] = f"展開先「{entry.target}」は県内19市町・県の部局のいずれでもありません。"
        elif departments.get(entry.target) == project.department_id:
            errors["target"] = f"「{entry.target}」はこの事業の所管部局です。他の市町・部局を選んでください。"
        if session.get(FiscalYear, entry.fiscal_year) is None:
            errors["fiscal_year"] = f"{fiscal_label(entry.fiscal_year)}は登録されていません。"
        if errors:
            raise InputInvalid(errors)
        exists = session.exec(
            select(Rollout.id).where(
                Rollout.project_id == entry.project_id,
                Rollout.target == entry.target,
                Rollout.fiscal_year == entry.fiscal_year,
            )
        ).first()
        if exists is not None:
            raise RuleViolation(
                f"「{project.name}」の{entry.target}への横展開（{fiscal_label(entry.fiscal_year)}）は既に登録されています。"
            )
        row = Rollout.model_validate(entry.model_dump() | {"is_sample": False})
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.rollout_create,
            entity="rollout",
            entity_id=row.id,
            after=audit.snapshot(row),
            reason=project.name,
        )
        session.refresh(row)
        session.expunge(row)
    return row


def delete_rollout(engine: Engine, *, actor: Actor, rollout_id: int, reason: str) -> None:
    """Remove a rollout recorded in error; the audit row keeps the values removed and the reason."""
    require(actor, Action.enter_kpi_actual)
    if not reason.strip():
        raise InputInvalid({"reason": "削除の理由を入力してください。"})
    if len(reason) > REASON_MAX:
        raise InputInvalid({"reason": f"削除の理由は{REASON_MAX}文字以内で入力してください。"})
    with write_session(engine) as session:
        row = session.get(Rollout, rollout_id)
        if row is None:
            raise NotFound(f"横展開（番号 {rollout_id}）は登録されていません。")
        project = session.get(Project, row.project_id)
        assert project is not None
        require_department(actor, project.department_id)
        before = audit.snapshot(row)
        session.delete(row)
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.rollout_delete,
            entity="rollout",
            entity_id=rollout_id,
            before=before,
            reason=reason.strip(),
        )


def _scope(actor: Actor) -> tuple[str, dict[str, object]]:
    """The WHERE clause that keeps 事業担当 to their own department's projects (nothing for others)."""
    department_id = department_scope(actor)
    if department_id is None:
        return "", {}
    return "WHERE p.department_id = :dept", {"dept": department_id}


def rollout_frame(engine: Engine, *, actor: Actor, project_id: int | None = None) -> pd.DataFrame:
    """Recorded rollouts the actor may see, newest 年度 first, with the project, its department and
    the kind of 展開先."""
    clauses: list[str] = []
    params: dict[str, object] = {}
    if project_id is not None:
        clauses.append("r.project_id = :proj")
        params["proj"] = project_id
    department_id = department_scope(actor)
    if department_id is not None:
        clauses.append("p.department_id = :dept")
        params["dept"] = department_id
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    df = query_df(
        engine,
        f"""
        SELECT r.id, r.project_id, p.name AS project, d.name AS department, r.target, r.fiscal_year,
               r.note, r.is_sample
        FROM rollout r JOIN project p ON p.id = r.project_id JOIN department d ON d.id = p.department_id
        {where}
        ORDER BY r.fiscal_year DESC, p.id, r.id
        """,
        params,
    )
    df["target_kind"] = [target_kind(t) for t in df["target"]]
    return df


def rollout_by_project(engine: Engine, *, actor: Actor) -> pd.DataFrame:
    """Per project the actor may see: number of rollouts, of distinct 市町 and of other departments reached."""
    where, params = _scope(actor)
    df = query_df(
        engine,
        f"""
        SELECT p.name AS project, d.name AS department, r.target, r.is_sample
        FROM rollout r JOIN project p ON p.id = r.project_id JOIN department d ON d.id = p.department_id
        {where}
        ORDER BY p.id
        """,
        params,
    )
    if df.empty:
        return pd.DataFrame(columns=["project", "department", "rollouts", "municipalities", "departments"])
    df["is_municipality"] = df["target"].isin(MUNICIPALITIES)
    return (
        df.groupby(["project", "department"], as_index=False, sort=False)
        .agg(
            rollouts=("target", "size"),
            municipalities=("target", lambda s: int(s[df.loc[s.index, "is_municipality"]].nunique())),
            departments=("target", lambda s: int(s[~df.loc[s.index, "is_municipality"]].nunique())),
        )
        .sort_values("rollouts", ascending=False, kind="stable")
        .reset_index(drop=True)
    )


def rollout_by_municipality(engine: Engine, *, actor: Actor) -> pd.DataFrame:
    """Per 市町 (all of them, zero included): number of projects the actor may see rolled out there."""
    where, params = _scope(actor)
    df = query_df(
        engine,
        f"""
        SELECT r.target, COUNT(DISTINCT r.project_id) AS projects
        FROM rollout r JOIN project p ON p.id = r.project_id
        {where}
        GROUP BY r.target ORDER BY r.target
        """,
        params,
    )
    counts = dict(zip(df["target"], df["projects"], strict=True))
    return pd.DataFrame(
        {"municipality": list(MUNICIPALITIES), "projects": [int(counts.get(m, 0)) for m in MUNICIPALITIES]}
    )
