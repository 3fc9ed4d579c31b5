"""成果指標: targets versus actuals, achievement rates and status per indicator and 年度.

The rules, in one place (the page shows `STATUS_RULE` and `PATH_RULE` word for word):

- Achievement rate: higher is better → actual ÷ target. Lower is better ("800件以下") → the
  improvement achieved over the improvement planned, (baseline − actual) ÷ (baseline − target),
  when a baseline above the target is known; otherwise target ÷ actual.
- A 年度 without a target of its own (between a baseline and a later target, or between two
  targets) is compared with the straight-line path between the anchor before it (the baseline or an
  earlier target) and the next target. After the last target year the last target applies; before
  the first target with no baseline, the first target applies.
- Status: 達成 ≥ 100%, 順調 ≥ 80%, 遅れ < 80%. Without an actual: 未計測 once the 年度 has ended
  (31 March has passed), 未到来 while the 年度 is still running or has not begun. Only 未計測 counts
  as overdue (未報告).
- The 年度 an indicator is tracked in: every 年度 from the year after the baseline (or the first
  target year when there is no baseline) to the last target year, plus any 年度 with an actual.
"""

import enum
import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import Engine
from sqlmodel import select

from fund import audit, export
from fund.auth import Action, Actor, require, require_department
from fund.db import checkpoint, query_df, write_session
from fund.errors import InputInvalid, NotFound, field_messages
from fund.fiscal import fiscal_label, fiscal_year_bounds
from fund.labels import KPI_KIND, PERSPECTIVE
from fund.models import Direction, FiscalYear, KpiActual, KpiIndicator, KpiKind, Project

ON_TRACK_RATE = 0.8  # 順調: at least 80% of the target
MAX_ACTUAL = 1e12  # anything larger is a typing error


class KpiStatus(str, enum.Enum):
    achieved = "達成"
    on_track = "順調"
    behind = "遅れ"
    not_measured = "未計測"
    not_due = "未到来"


JUDGED = (KpiStatus.achieved.value, KpiStatus.on_track.value, KpiStatus.behind.value)

STATUS_RULE = (
    "達成: 達成度100%以上 / 順調: 80%以上100%未満 / 遅れ: 80%未満 / "
    "未計測: 年度が終了したのに実績がない（未報告） / 未到来: 年度が終了しておらず実績もまだない。"
    "達成度は 実績÷目標。「以下」を目指す指標（低いほど良い）は、基準値から目標値までの改善幅に対する"
    "実際の改善幅で計算します（基準値がない場合は 目標÷実績）。"
)
PATH_RULE = (
    "目標が定められていない年度（例: 令和6年度の基準値と令和8年度の目標の間の令和7年度）は、"
    "前の基準値または目標から次の目標までを直線で結んだ「経路上の目標」と比べます。"
    "最後の目標年度より後は最後の目標と、基準値がなく最初の目標年度より前は最初の目標と比べます。"
)


def achievement_rate(
    *, target: float, actual: float | None, direction: Direction, baseline: float | None = None
) -> float | None:
    """Achievement as a fraction (1.0 = 100%), or None when it cannot be measured.

    Higher is better: actual ÷ target. Lower is better ("800件以下"): the improvement achieved
    over the improvement planned, (baseline − actual) ÷ (baseline − target), when a baseline above
    the target is known; otherwise target ÷ actual (an actual of 0 meets any target).
    """
    if actual is None:
        return None
    if direction == Direction.higher_is_better:
        if target == 0:
            return 1.0 if actual >= 0 else 0.0
        return actual / target
    if baseline is not None and baseline > target:
        return (baseline - actual) / (baseline - target)
    if actual <= 0:
        return 1.0
    return target / actual


def status_of(rate: float | None) -> KpiStatus:
    """Status from a rate alone (None → 未計測). See `status_for` for the 年度-aware status."""
    if rate is None:
        return KpiStatus.not_measured
    if rate >= 1.0:
        return KpiStatus.achieved
    if rate >= ON_TRACK_RATE:
        return KpiStatus.on_track
    return KpiStatus.behind


def year_finished(fiscal_year: int, *, today: date) -> bool:
    """True once the 年度 has ended (its 31 March is before today)."""
    return fiscal_year_bounds(fiscal_year)[1] < today


def status_for(*, rate: float | None, fiscal_year: int, today: date) -> KpiStatus:
    """達成/順調/遅れ from the rate; without an actual, 未計測 for an ended 年度, else 未到来."""
    if rate is None and not year_finished(fiscal_year, today=today):
        return KpiStatus.not_due
    return status_of(rate)


@dataclass(frozen=True)
class PathTarget:
    value: float
    on_path: bool  # True: interpolated (or carried) rather than a target set for this 年度
    baseline: float | None  # the start of the segment, for lower-is-better rates


def path_target(
    *, fiscal_year: int, targets: dict[int, float], baseline_value: float | None, baseline_year: int | None
) -> PathTarget | None:
    """The target that applies to `fiscal_year` (see PATH_RULE), or None when there is no target at all.

    `baseline` in the result is the indicator's baseline for a year with its own target, and the
    value at the start of the straight-line segment for a year on the path.
    """
    if not targets:
        return None
    if fiscal_year in targets:
        return PathTarget(value=targets[fiscal_year], on_path=False, baseline=baseline_value)
    anchors = sorted(targets.items())
    if baseline_value is not None and baseline_year is not None and baseline_year not in targets:
        anchors = sorted([*anchors, (baseline_year, baseline_value)])
    # A 年度 without its own target can only equal the baseline year among the anchors.
    before = [a for a in anchors if a[0] <= fiscal_year]
    after = [a for a in anchors if a[0] > fiscal_year and a[0] in targets]
    if before and after:
        (y0, v0), (y1, v1) = before[-1], after[0]
        value = v0 + (v1 - v0) * (fiscal_year - y0) / (y1 - y0)
        return PathTarget(value=value, on_path=True, baseline=v0)
    if after:  # before the first target, no baseline
        return PathTarget(value=after[0][1], on_path=True, baseline=baseline_value)
    last_year = max(targets)  # after the last target: the last target holds
    return PathTarget(value=targets[last_year], on_path=True, baseline=baseline_value)


def tracking_years(
    *, target_years: list[int], baseline_year: int | None, actual_years: list[int]
) -> list[int]:
    """The 年度 an indicator is reported in (see the module docstring)."""
    years = set(actual_years)
    if target_years:
        first = min(target_years)
        if baseline_year is not None:
            first = min(first, baseline_year + 1)
        years |= set(range(first, max(target_years) + 1))
    return sorted(years)


def _perspective_list(value: object) -> list[int]:
    if isinstance(value, list):
        return [int(v) for v in value]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return [int(v) for v in json.loads(str(value))]


FRAME_COLUMNS = [
    "indicator_id",
    "project_id",
    "project",
    "department_id",
    "department",
    "kind",
    "kind_label",
    "indicator",
    "unit",
    "baseline_value",
    "baseline_year",
    "direction",
    "perspectives",
    "perspective_labels",
    "source_note",
    "fiscal_year",
    "target_value",
    "target_on_path",
    "actual_value",
    "measured_on",
    "source",
    "is_sample",
    "entered_by",
    "achievement_rate",
    "status",
    "year_finished",
]


def kpi_frame(
    engine: Engine,
    *,
    department_id: int | None = None,
    project_id: int | None = None,
    today: date | None = None,
) -> pd.DataFrame:
    """One row per indicator and tracked 年度: target (own or on the path), actual, rate and status."""
    today = today or date.today()
    clauses: list[str] = []
    params: dict[str, object] = {}
    if department_id is not None:
        clauses.append("p.department_id = :dept")
        params["dept"] = department_id
    if project_id is not None:
        clauses.append("p.id = :proj")
        params["proj"] = project_id
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    indicators = query_df(
        engine,
        f"""
        SELECT i.id AS indicator_id, p.id AS project_id, p.name AS project, d.id AS department_id,
               d.name AS department, i.kind, i.name AS indicator, i.unit, i.baseline_value,
               i.baseline_year, i.direction, i.perspectives, i.source_note
        FROM kpi_indicator i
        JOIN project p ON p.id = i.project_id
        JOIN department d ON d.id = p.department_id
        {where}
        ORDER BY d.id, p.id, i.id
        """,
        params,
    )
    targets = query_df(
        engine,
        f"""
        SELECT t.indicator_id, t.fiscal_year, t.target_value
        FROM kpi_target t JOIN kpi_indicator i ON i.id = t.indicator_id JOIN project p ON p.id = i.project_id
        {where}
        """,
        params,
    )
    actuals = query_df(
        engine,
        f"""
        SELECT a.indicator_id, a.fiscal_year, a.actual_value, a.measured_on, a.source, a.is_sample,
               a.entered_by
        FROM kpi_actual a JOIN kpi_indicator i ON i.id = a.indicator_id JOIN project p ON p.id = i.project_id
        {where}
        """,
        params,
    )
    return frame_from(indicators, targets, actuals, today=today)


def _rates(target: pd.Series, actual: pd.Series, direction: pd.Series, baseline: pd.Series) -> pd.Series:
    """`achievement_rate` for whole columns (NaN where it cannot be measured)."""
    t = target.to_numpy(dtype="float64")
    a = actual.to_numpy(dtype="float64")
    b = baseline.to_numpy(dtype="float64")
    higher = direction.to_numpy() == Direction.higher_is_better.value
    with np.errstate(divide="ignore", invalid="ignore"):
        up = np.where(t == 0, np.where(a >= 0, 1.0, 0.0), a / t)
        down = np.where(~np.isnan(b) & (b > t), (b - a) / (b - t), np.where(a <= 0, 1.0, t / a))
    rate = np.where(higher, up, down)
    rate[np.isnan(a) | np.isnan(t)] = np.nan
    return pd.Series(rate, index=target.index)


def _statuses(rate: pd.Series, finished: pd.Series) -> np.ndarray:
    """`status_for` for whole columns."""
    r = rate.to_numpy(dtype="float64")
    return np.select(
        [np.isnan(r) & ~finished.to_numpy(), np.isnan(r), r >= 1.0, r >= ON_TRACK_RATE],
        [
            KpiStatus.not_due.value,
            KpiStatus.not_measured.value,
            KpiStatus.achieved.value,
            KpiStatus.on_track.value,
        ],
        default=KpiStatus.behind.value,
    )


def frame_from(
    indicators: pd.DataFrame, targets: pd.DataFrame, actuals: pd.DataFrame, *, today: date
) -> pd.DataFrame:
    """The rules of `tracking_years`, `path_target`, `achievement_rate` and `status_for` applied to
    whole tables at once (vectorised: tens of thousands of indicators in well under a second)."""
    if indicators.empty:
        return pd.DataFrame(columns=FRAME_COLUMNS)
    ind = indicators.set_index("indicator_id")
    targets = targets.astype({"indicator_id": "int64", "fiscal_year": "int64", "target_value": "float64"})
    actuals = actuals.astype({"indicator_id": "int64", "fiscal_year": "int64", "actual_value": "float64"})
    actual_years = actuals[["indicator_id", "fiscal_year"]]
    baseline_year = pd.to_numeric(ind["baseline_year"], errors="coerce")
    baseline_value = pd.to_numeric(ind["baseline_value"], errors="coerce")

    # The 年度 tracked: the span from the year after the baseline (or the first target) to the last
    # target, plus every 年度 with an actual.
    span = targets.groupby("indicator_id")["fiscal_year"].agg(["min", "max"])
    first = np.fmin(span["min"], baseline_year.reindex(span.index) + 1).astype("int64")
    lengths = (span["max"] - first + 1).to_numpy()
    grid = pd.DataFrame(
        {
            "indicator_id": np.repeat(span.index.to_numpy(), lengths),
            "fiscal_year": np.repeat(first.to_numpy(), lengths)
            + (np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)),
        }
    )
    grid = (
        pd.concat([grid, actual_years], ignore_index=True)
        .drop_duplicates()
        .sort_values(["fiscal_year"], kind="stable")
    )

    # The target that applies: the year's own, else the straight line from the anchor before it
    # (an earlier target or the baseline) to the next target; before the first target without a
    # baseline, the first target; after the last target, the last target.
    anchors = targets.rename(columns={"fiscal_year": "anchor_year", "target_value": "anchor_value"})
    has_base = baseline_value.notna() & baseline_year.notna()
    base = pd.DataFrame(
        {
            "indicator_id": ind.index[has_base],
            "anchor_year": baseline_year[has_base].astype("int64").to_numpy(),
            "anchor_value": baseline_value[has_base].to_numpy(),
        }
    )
    base = base.merge(anchors[["indicator_id", "anchor_year"]], how="left", indicator=True)
    base = base[base["_merge"] == "left_only"].drop(columns="_merge")
    anchors = pd.concat([anchors, base], ignore_index=True).sort_values("anchor_year", kind="stable")
    nexts = targets.rename(columns={"fiscal_year": "next_year", "target_value": "next_value"})
    nexts = nexts.sort_values("next_year", kind="stable")
    out = pd.merge_asof(
        grid, anchors, left_on="fiscal_year", right_on="anchor_year", by="indicator_id", direction="backward"
    )
    out = pd.merge_asof(
        out,
        nexts,
        left_on="fiscal_year",
        right_on="next_year",
        by="indicator_id",
        direction="forward",
        allow_exact_matches=False,
    )
    own = targets.rename(columns={"target_value": "own_target"})
    out = out.merge(own, on=["indicator_id", "fiscal_year"], how="left")
    last = targets.sort_values("fiscal_year").groupby("indicator_id")["target_value"].last()
    out["last_target"] = out["indicator_id"].map(last)
    out["ind_baseline"] = out["indicator_id"].map(baseline_value)

    has_own = out["own_target"].notna()
    between = ~has_own & out["anchor_year"].notna() & out["next_year"].notna()
    before_first = ~has_own & ~between & out["next_year"].notna()
    with np.errstate(divide="ignore", invalid="ignore"):
        line = out["anchor_value"] + (out["next_value"] - out["anchor_value"]) * (
            out["fiscal_year"] - out["anchor_year"]
        ) / (out["next_year"] - out["anchor_year"])
    out["target_value"] = np.select(
        [has_own, between, before_first],
        [out["own_target"], line, out["next_value"]],
        default=out["last_target"],
    )
    out["target_on_path"] = ~has_own & out["last_target"].notna()
    segment_baseline = out["ind_baseline"].where(~between, out["anchor_value"])

    out = out.merge(actuals, on=["indicator_id", "fiscal_year"], how="left")
    meta = ind.loc[out["indicator_id"]]
    perspectives = {i: _perspective_list(v) for i, v in ind["perspectives"].items()}
    labels = {i: "・".join(PERSPECTIVE[p] for p in ps) for i, ps in perspectives.items()}
    direction = meta["direction"].reset_index(drop=True)
    rate = _rates(out["target_value"], out["actual_value"], direction, segment_baseline)
    year_ends = {y: year_finished(int(y), today=today) for y in out["fiscal_year"].unique()}
    finished = out["fiscal_year"].map(year_ends).astype(bool)
    has_actual = out["actual_value"].notna()
    frame = pd.DataFrame(
        {
            "indicator_id": out["indicator_id"].astype("int64"),
            "project_id": meta["project_id"].astype("int64").to_numpy(),
            "project": meta["project"].to_numpy(),
            "department_id": meta["department_id"].astype("int64").to_numpy(),
            "department": meta["department"].to_numpy(),
            "kind": meta["kind"].to_numpy(),
            "kind_label": meta["kind"].map(lambda k: KPI_KIND[KpiKind(k)]).to_numpy(),
            "indicator": meta["indicator"].to_numpy(),
            "unit": meta["unit"].to_numpy(),
            "baseline_value": out["ind_baseline"].astype("float64").to_numpy(),
            "baseline_year": baseline_year.loc[out["indicator_id"]].astype("float64").to_numpy(),
            "direction": direction.to_numpy(),
            "perspectives": out["indicator_id"].map(perspectives),
            "perspective_labels": out["indicator_id"].map(labels),
            "source_note": meta["source_note"].to_numpy(),
            "fiscal_year": out["fiscal_year"].astype("int64"),
            "target_value": out["target_value"].astype("float64").to_numpy(),
            "target_on_path": out["target_on_path"].astype(bool),
            "actual_value": out["actual_value"].astype("float64").to_numpy(),
            "measured_on": [
                pd.Timestamp(d).date() if has else None
                for d, has in zip(out["measured_on"], has_actual, strict=True)
            ],
            "source": out["source"].where(has_actual, "").astype(str),
            "is_sample": out["is_sample"].where(has_actual, False).astype(bool),
            "entered_by": out["entered_by"].where(has_actual, "").astype(str),
            "achievement_rate": rate.astype("float64").to_numpy(),
            "status": _statuses(rate, finished),
            "year_finished": finished,
        },
        columns=FRAME_COLUMNS,
    )
    order = np.lexsort(
        (frame["fiscal_year"], frame["indicator_id"], frame["project_id"], frame["department_id"])
    )
    return frame.iloc[order].reset_index(drop=True)


def filter_frame(
    df: pd.DataFrame,
    *,
    fiscal_year: int | None = None,
    department: str | None = None,
    perspective: int | None = None,
    status: str | None = None,
) -> pd.DataFrame:
    """The page's filters (年度, 所管部局, 観点, 状況) applied to a `kpi_frame` result."""
    out = df
    if fiscal_year is not None:
        out = out[out["fiscal_year"] == fiscal_year]
    if department is not None:
        out = out[out["department"] == department]
    if perspective is not None:
        out = out[[perspective in ps for ps in out["perspectives"]]]
    if status is not None:
        out = out[out["status"] == status]
    return out.reset_index(drop=True)


def status_counts(
    engine: Engine,
    *,
    fiscal_year: int | None = None,
    today: date | None = None,
    target_years_only: bool = False,
) -> dict[str, int]:
    """Number of indicator-years per status, for the headline (all 年度, or one). Every status listed.

    `target_years_only` leaves out 年度 judged against the path (no target set for that 年度)."""
    df = kpi_frame(engine, today=today)
    if fiscal_year is not None:
        df = df[df["fiscal_year"] == fiscal_year]
    if target_years_only:
        df = df[~df["target_on_path"].astype(bool)]
    return count_statuses(df)


def count_statuses(df: pd.DataFrame) -> dict[str, int]:
    counts = df["status"].value_counts() if not df.empty else pd.Series(dtype="int64")
    return {s.value: int(counts.get(s.value, 0)) for s in KpiStatus}


# --- Overdue (未報告) --------------------------------------------------------------------------------


def overdue_frame(
    engine: Engine, *, department_id: int | None = None, today: date | None = None
) -> pd.DataFrame:
    """Indicators with no actual for an ended 年度, oldest first, for follow-up with the department."""
    today = today or date.today()
    df = kpi_frame(engine, department_id=department_id, today=today)
    late = df[df["status"] == KpiStatus.not_measured.value].copy()
    late["year_end"] = [fiscal_year_bounds(int(y))[1] for y in late["fiscal_year"]]
    late["days_overdue"] = [(today - d).days for d in late["year_end"]]
    return late.sort_values(["fiscal_year", "department_id", "project_id", "indicator_id"]).reset_index(
        drop=True
    )


# --- Entry of actuals -------------------------------------------------------------------------------


class KpiActualIn(BaseModel):
    """An actual as typed on the form."""

    indicator_id: int
    fiscal_year: int
    actual_value: Annotated[float, Field(ge=0, le=MAX_ACTUAL, allow_inf_nan=False)]
    unit: Annotated[str, Field(min_length=1, max_length=20)]
    measured_on: date
    source: Annotated[str, Field(min_length=1, max_length=200)]

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
    "source": "出典（実績の根拠資料）を入力してください（200文字以内）。",
}


def validate_actual(data: dict[str, object]) -> KpiActualIn:
    """Field checks that need no database; raises InputInvalid with a Japanese message per field."""
    try:
        return KpiActualIn.model_validate(data)
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
    today = today or date.today()
    # Collect every field's message at once: the form checks, then those that need the indicator.
    entry: KpiActualIn | None = None
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
        row.entered_at = datetime.now(UTC)
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor=actor.login,
            action="kpi_actual.update" if before else "kpi_actual.create",
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


def entry_choices(engine: Engine, *, actor: Actor) -> pd.DataFrame:
    """Indicators the actor may enter actuals for (all for 管理者, own department for 事業担当)."""
    department_id = actor.department_id if actor.department_id is not None else -1
    where = "WHERE p.department_id = :dept" if actor.role.value == "department" else ""
    return query_df(
        engine,
        f"""
        SELECT i.id AS indicator_id, p.name AS project, i.name AS indicator, i.unit
        FROM kpi_indicator i JOIN project p ON p.id = i.project_id
        {where}
        ORDER BY p.department_id, p.id, i.id
        """,
        {"dept": department_id} if where else None,
    )


# --- Portfolio roll-up by perspective -----------------------------------------------------------------

REACH_UNIT = "人"
NOVEL = ("national_first", "prefecture_first")


def funded_evidence_by_year(engine: Engine) -> pd.DataFrame:
    """Per 年度, over funded proposals (事業化, or with an approved allocation for the 年度): projects,
    expected users (人), touchpoints per year (users × uses), hours saved per year (procedures ×
    minutes ÷ 60), projects marked 全国初/県内初, and whether any figure is sample data."""
    return query_df(
        engine,
        """
        SELECT pr.fiscal_year,
               COUNT(DISTINCT pr.project_id) AS funded_projects,
               SUM(pr.expected_users) AS expected_users,
               SUM(pr.expected_users * pr.uses_per_user_per_year) AS touchpoints,
               SUM(pr.procedures_per_year * pr.minutes_saved_per_procedure) / 60.0 AS hours_saved,
               SUM(CASE WHEN pr.novelty IN ('national_first', 'prefecture_first') THEN 1 ELSE 0 END)
                   AS novel_projects,
               MAX(CASE WHEN pr.is_sample THEN 1 ELSE 0 END) AS any_sample
        FROM proposal pr
        WHERE pr.status = 'funded'
           OR EXISTS (SELECT 1 FROM allocation a WHERE a.project_id = pr.project_id
                      AND a.fiscal_year = pr.fiscal_year AND a.status = 'approved')
        GROUP BY pr.fiscal_year
        ORDER BY pr.fiscal_year
        """,
    )


def reach_by_year(df: pd.DataFrame) -> pd.DataFrame:
    """Residents reached per 年度 from perspective-1 indicators counted in 人: target and actual.

    One figure per project and 年度 (the largest, when a project has several such indicators), so
    the same residents are not counted twice."""
    reach = df[[1 in ps and u == REACH_UNIT for ps, u in zip(df["perspectives"], df["unit"], strict=True)]]
    if reach.empty:
        return pd.DataFrame(columns=["fiscal_year", "reach_target", "reach_actual", "reach_projects"])
    per_project = reach.groupby(["fiscal_year", "project_id"], as_index=False).agg(
        reach_target=("target_value", "max"), reach_actual=("actual_value", "max")
    )
    return per_project.groupby("fiscal_year", as_index=False).agg(
        reach_target=("reach_target", "sum"),
        reach_actual=("reach_actual", lambda v: v.sum(min_count=1)),  # NaN when nothing measured
        reach_projects=("project_id", "nunique"),
    )


def projects_on_track(df: pd.DataFrame) -> tuple[int, int]:
    """(projects judged, projects on track) in `df`: a project is judged when at least one of its
    indicator-years has an actual, and on track when none of those is 遅れ."""
    judged = df[df["status"].isin(JUDGED)]
    if judged.empty:
        return 0, 0
    behind = judged.groupby("project_id")["status"].apply(lambda s: bool((s == KpiStatus.behind.value).any()))
    return int(len(behind)), int((~behind).sum())


def portfolio_by_year(engine: Engine, *, today: date | None = None) -> pd.DataFrame:
    """Per 年度: funded projects, residents reached (KPI target/actual, proposals' expected users),
    touchpoints per year, hours saved per year, projects judged / on track and the on-track share."""
    kpis = kpi_frame(engine, today=today)
    evidence = funded_evidence_by_year(engine)
    reach = reach_by_year(kpis)
    years = sorted(set(evidence["fiscal_year"].astype(int)) | set(kpis["fiscal_year"].astype(int)))
    rows = []
    for year in years:
        ev = evidence[evidence["fiscal_year"] == year]
        rc = reach[reach["fiscal_year"] == year]
        judged, on_track = projects_on_track(kpis[kpis["fiscal_year"] == year])
        rows.append(
            {
                "fiscal_year": year,
                "funded_projects": int(ev["funded_projects"].sum()),
                "reach_target": float(rc["reach_target"].sum()),
                "reach_actual": None
                if rc.empty or pd.isna(rc["reach_actual"].iloc[0])
                else float(rc["reach_actual"].iloc[0]),
                "expected_users": int(ev["expected_users"].sum()),
                "touchpoints": float(ev["touchpoints"].sum()),
                "hours_saved": float(ev["hours_saved"].sum()),
                "novel_projects": int(ev["novel_projects"].sum()),
                "projects_judged": judged,
                "projects_on_track": on_track,
                "on_track_share": on_track / judged if judged else None,
                "evidence_is_sample": bool(ev["any_sample"].sum() > 0),
            }
        )
    return pd.DataFrame(rows)


def perspective_rollup(
    engine: Engine, *, fiscal_year: int | None = None, today: date | None = None
) -> pd.DataFrame:
    """One row per perspective (1 reach … 4 novelty): indicator-years evidencing it, their statuses,
    the share judged on track (達成+順調 ÷ 達成+順調+遅れ), and the portfolio measure that goes with it:
    residents reached (人), touchpoints per year (回), hours saved per year (時間), novel projects (事業)."""
    kpis = kpi_frame(engine, today=today)
    if fiscal_year is not None:
        kpis = kpis[kpis["fiscal_year"] == fiscal_year]
    evidence = funded_evidence_by_year(engine)
    if fiscal_year is not None:
        evidence = evidence[evidence["fiscal_year"] == fiscal_year]
    reach = reach_by_year(kpis)
    measures = {
        1: ("想定利用者数（人）", float(evidence["expected_users"].sum())),
        2: ("利用回数（回/年）", float(evidence["touchpoints"].sum())),
        3: ("削減時間（時間/年）", float(evidence["hours_saved"].sum())),
        4: ("全国初・県内初（事業）", float(evidence["novel_projects"].sum())),
    }
    rows = []
    for p, label in PERSPECTIVE.items():
        sub = kpis[[p in ps for ps in kpis["perspectives"]]]
        counts = count_statuses(sub)
        judged = sum(counts[s] for s in JUDGED)
        good = counts[KpiStatus.achieved.value] + counts[KpiStatus.on_track.value]
        measure_label, measure_value = measures[p]
        rows.append(
            {
                "perspective": p,
                "perspective_label": label,
                "indicators": int(sub["indicator_id"].nunique()) if not sub.empty else 0,
                **counts,
                "on_track_share": good / judged if judged else None,
                "measure_label": measure_label,
                "measure_value": measure_value,
                "reach_actual": float(reach["reach_actual"].sum(min_count=1)) if p == 1 else None,
                "reach_target": float(reach["reach_target"].sum()) if p == 1 else None,
            }
        )
    return pd.DataFrame(rows)


# --- Export (行政事業レビューシート) ----------------------------------------------------------------

REVIEW_SHEET_COLUMNS = [
    "事業名",
    "所管部局",
    "指標",
    "単位",
    "基準値",
    "基準年度",
    "年度",
    "目標値",
    "実績値",
    "達成度（%）",
    "状況",
    "目標の種類",
    "指標の種別",
    "県民実感の観点",
    "測定日",
    "実績の出典",
    "サンプル",
]


def review_sheet(df: pd.DataFrame) -> pd.DataFrame:
    """A `kpi_frame` result in the column order of the 行政事業レビューシート (成果目標及び成果実績)."""
    out = pd.DataFrame(
        {
            "事業名": df["project"],
            "所管部局": df["department"],
            "指標": df["indicator"],
            "単位": df["unit"],
            "基準値": df["baseline_value"],
            "基準年度": [
                fiscal_label(int(y)) if y is not None and not pd.isna(y) else "" for y in df["baseline_year"]
            ],
            "年度": [fiscal_label(int(y)) for y in df["fiscal_year"]],
            "目標値": [None if v is None or pd.isna(v) else round(float(v), 2) for v in df["target_value"]],
            "実績値": df["actual_value"],
            "達成度（%）": [
                None if r is None or pd.isna(r) else round(float(r) * 100, 1) for r in df["achievement_rate"]
            ],
            "状況": df["status"],
            "目標の種類": ["経路上の目標" if p else "年度目標" for p in df["target_on_path"]],
            "指標の種別": df["kind_label"],
            "県民実感の観点": df["perspective_labels"],
            "測定日": [d.isoformat() if isinstance(d, date) else "" for d in df["measured_on"]],
            "実績の出典": df["source"],
            "サンプル": ["サンプル" if s else "" for s in df["is_sample"]],
        },
        columns=REVIEW_SHEET_COLUMNS,
    )
    return out


def review_sheet_bytes(df: pd.DataFrame, *, fmt: str) -> bytes:
    """The review-sheet table as xlsx ('xlsx') or CSV with BOM ('csv'). Audit with `record_export`."""
    sheet = review_sheet(df)
    if fmt == "xlsx":
        return export.to_xlsx_bytes(sheet, sheet_name="成果指標", title="成果指標（成果目標及び成果実績）")
    return export.to_csv_bytes(sheet)
