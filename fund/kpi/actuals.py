"""Entry of actuals: validation, one actual per indicator and 年度 (a second replaces the first), audited."""

from datetime import date, datetime
from typing import Annotated

import pandas as pd
from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import Engine
from sqlmodel import select

from fund import audit, clock
from fund.auth import Action, Actor, department_scope, require, require_department
from fund.db import checkpoint, contains, like_pattern, query_df, write_session
from fund.errors import InputInvalid, NotFound, field_messages
from fund.fiscal import fiscal_label, fiscal_year_bounds
from fund.kpi.rules import MAX_ACTUAL, TRACKED_INDICATOR_SQL, TRACKED_PARAMS
from fund.kpi.years import refresh_years
from fund.models import (
    AuditAction,
    FiscalYear,
    KpiActual,
    KpiIndicator,
    Project,
)

UNIT_MAX = 20  # characters of an indicator's 単位
SOURCE_MAX = 200  # characters of 出典


class KpiActualCreate(BaseModel):
    """An actual as typed on the form."""

    indicator_id: int
    fiscal_year: int
    actual_value: Annotated[float, Field(ge=0, le=MAX_ACTUAL, allow_inf_nan=False)]
    unit: Annotated[str, Field(min_length=1, max_length=UNIT_MAX)]
    measured_on: date
    source: Annotated[str, Field(min_length=1, max_length=SOURCE_MAX)]

    @field_validator("source", "unit")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("blank")
        return value.strip()


_FIELD_MESSAGES = {
    "indicator_id": "指標を選択してください。",
    "fiscal_year": "年度を選択してください。",
    "actual_value": "実績値は0以上の数値で入力してください。",
    "unit": "単位を入力してください。",
    "measured_on": "測定日を正しい日付で入力してください。",
    "source": f"出典（実績の根拠資料）を入力してください（{SOURCE_MAX}文字以内）。",
}


def validate_actual(data: dict[str, object]) -> KpiActualCreate:
    """Field checks that need no database; raises InputInvalid with a Japanese message per field."""
    try:
        return KpiActualCreate.model_validate(data)
    except ValidationError as exc:
        raise InputInvalid(field_messages(exc, _FIELD_MESSAGES)) from None


def enter_actual(
    engine: Engine, *, actor: Actor, data: dict[str, object], today: date | None = None
) -> KpiActual:
    """Record (or correct) the actual of one indicator for one 年度, with an audit row holding the
    values before and after. 事業担当 may enter only for their own department's projects.

    Raises PermissionDenied, NotFound, InputInvalid (unit differs from the indicator's, 年度 not
    registered, measurement date in the future or before the 年度 began).
    """
    require(actor, Action.enter_kpi_actual)
    today = today or clock.today_jst()
    # Collect every field's message at once: the form checks, then those that need the indicator.
    entry: KpiActualCreate | None = None
    errors: dict[str, str] = {}
    try:
        entry = validate_actual(data)
    except InputInvalid as exc:
        errors = dict(exc.field_errors)
    indicator_id = data.get("indicator_id")
    if not isinstance(indicator_id, int):
        raise InputInvalid(errors | {"indicator_id": _FIELD_MESSAGES["indicator_id"]})
    with write_session(engine) as session:
        indicator = session.get(KpiIndicator, indicator_id)
        if indicator is None:
            raise NotFound(f"指標（番号 {indicator_id}）は登録されていません。")
        project = session.get(Project, indicator.project_id)
        assert project is not None
        require_department(actor, project.department_id)
        unit = data.get("unit")
        if "unit" not in errors and isinstance(unit, str) and unit.strip() != indicator.unit:
            errors["unit"] = (
                f"単位が指標と異なります。この指標の単位は「{indicator.unit}」です。"
                "換算してから入力してください。"
            )
        year = data.get("fiscal_year")
        if isinstance(year, int) and session.get(FiscalYear, year) is None:
            errors["fiscal_year"] = f"{fiscal_label(year)}は登録されていません。"
        measured_on = data.get("measured_on")
        if isinstance(measured_on, date) and not isinstance(measured_on, datetime) and isinstance(year, int):
            start = fiscal_year_bounds(year)[0]
            if measured_on > today:
                errors["measured_on"] = (
                    f"測定日 {measured_on:%Y年%m月%d日} は未来の日付です。"
                    f"本日（{today:%Y年%m月%d日}）以前の日付を入力してください。"
                )
            elif measured_on < start:
                errors["measured_on"] = (
                    f"測定日 {measured_on:%Y年%m月%d日} は{fiscal_label(year)}の開始日"
                    f"（{start:%Y年%m月%d日}）より前です。"
                )
        if errors or entry is None:
            raise InputInvalid(errors)
        row = session.exec(
            select(KpiActual).where(
                KpiActual.indicator_id == entry.indicator_id, KpiActual.fiscal_year == entry.fiscal_year
            )
        ).first()
        before = None
        if row is None:
            row = KpiActual(
                indicator_id=entry.indicator_id,
                fiscal_year=entry.fiscal_year,
                actual_value=0.0,
                measured_on=entry.measured_on,
            )
        else:
            before = audit.snapshot(row)
        row.actual_value = entry.actual_value
        row.measured_on = entry.measured_on
        row.source = entry.source
        row.is_sample = False
        row.entered_by = actor.login
        row.entered_at = clock.now_utc()
        session.add(row)
        session.flush()
        refresh_years(session, indicator_ids=[entry.indicator_id])
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.kpi_actual_update if before else AuditAction.kpi_actual_create,
            entity="kpi_actual",
            entity_id=row.id,
            before=before,
            after=audit.snapshot(row),
            reason=f"{project.name}／{indicator.name}／{fiscal_label(entry.fiscal_year)}",
        )
        session.refresh(row)
        session.expunge(row)
    checkpoint(engine)
    return row


def _choice_where(actor: Actor, search: str | None) -> tuple[str, dict[str, object]]:
    clauses: list[str] = [TRACKED_INDICATOR_SQL]
    params: dict[str, object] = dict(TRACKED_PARAMS)
    own = department_scope(actor)
    if own is not None:
        clauses.append("p.department_id = :dept")
        params["dept"] = own
    if search:
        clauses.append(f"({contains('p.name', 'q')} OR {contains('i.name', 'q')})")
        params["q"] = like_pattern(search)
    return "WHERE " + " AND ".join(clauses), params


def entry_choices(
    engine: Engine, *, actor: Actor, search: str | None = None, limit: int | None = None
) -> pd.DataFrame:
    """Indicators the actor may enter actuals for (all for 管理者, own department for 事業担当),
    optionally only those whose project or indicator name contains `search`, the first `limit`."""
    where, params = _choice_where(actor, search)
    if limit is not None:
        params["limit"] = limit
    return query_df(
        engine,
        f"""
        SELECT i.id AS indicator_id, p.name AS project, i.name AS indicator, i.unit
        FROM kpi_indicator i JOIN project p ON p.id = i.project_id
        {where}
        ORDER BY p.department_id, p.id, i.id
        {"LIMIT :limit" if limit is not None else ""}
        """,
        params,
    )


def entry_choice_count(engine: Engine, *, actor: Actor, search: str | None = None) -> int:
    """How many indicators `entry_choices` would list without a limit."""
    where, params = _choice_where(actor, search)
    df = query_df(
        engine,
        f"SELECT COUNT(*) AS n FROM kpi_indicator i JOIN project p ON p.id = i.project_id {where}",
        params,
    )
    return int(df["n"].iloc[0])
