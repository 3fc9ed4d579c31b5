"""成果指標: targets versus actuals, achievement rates and status per indicator and 年度."""

import enum

import pandas as pd
from sqlalchemy import Engine

from fund.db import query_df
from fund.labels import KPI_KIND, PERSPECTIVE
from fund.models import Direction, KpiKind

ON_TRACK_RATE = 0.8  # 順調: at least 80% of the target


class KpiStatus(str, enum.Enum):
    achieved = "達成"
    on_track = "順調"
    behind = "遅れ"
    not_measured = "未計測"


STATUS_RULE = (
    "達成: 達成度100%以上 / 順調: 80%以上100%未満 / 遅れ: 80%未満 / 未計測: 実績なし。"
    "「以下」を目指す指標（低いほど良い）は、基準値から目標値までの改善幅に対する実際の改善幅で達成度を計算します"
    "（基準値がない場合は 目標値÷実績値）。"
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
    if rate is None:
        return KpiStatus.not_measured
    if rate >= 1.0:
        return KpiStatus.achieved
    if rate >= ON_TRACK_RATE:
        return KpiStatus.on_track
    return KpiStatus.behind


def kpi_frame(engine: Engine, *, department_id: int | None = None) -> pd.DataFrame:
    """One row per indicator and target 年度 with the actual (if any), achievement rate and status."""
    params: dict[str, object] = {}
    where = ""
    if department_id is not None:
        where = "WHERE p.department_id = :dept"
        params["dept"] = department_id
    df = query_df(
        engine,
        f"""
        SELECT i.id AS indicator_id, p.id AS project_id, p.name AS project, d.name AS department,
               i.kind, i.name AS indicator, i.unit, i.baseline_value, i.baseline_year, i.direction,
               i.perspectives, t.fiscal_year, t.target_value, a.actual_value, a.measured_on,
               a.source, a.is_sample
        FROM kpi_indicator i
        JOIN project p ON p.id = i.project_id
        JOIN department d ON d.id = p.department_id
        JOIN kpi_target t ON t.indicator_id = i.id
        LEFT JOIN kpi_actual a ON a.indicator_id = i.id AND a.fiscal_year = t.fiscal_year
        {where}
        ORDER BY p.id, i.id, t.fiscal_year
        """,
        params,
    )
    rates = [
        achievement_rate(
            target=float(r.target_value),
            actual=None if pd.isna(r.actual_value) else float(r.actual_value),
            direction=Direction(r.direction),
            baseline=None if pd.isna(r.baseline_value) else float(r.baseline_value),
        )
        for r in df.itertuples(index=False)
    ]
    df["achievement_rate"] = rates
    df["status"] = [status_of(r).value for r in rates]
    df["kind_label"] = [KPI_KIND[KpiKind(k)] for k in df["kind"]]
    df["perspective_labels"] = [
        "・".join(PERSPECTIVE[int(p)] for p in (ps if isinstance(ps, list) else _json_list(ps)))
        for ps in df["perspectives"]
    ]
    return df


def _json_list(value: object) -> list[int]:
    import json

    if value is None or (isinstance(value, float) and pd.isna(value)):
        return []
    return [int(v) for v in json.loads(str(value))]


def status_counts(engine: Engine, *, fiscal_year: int | None = None) -> dict[str, int]:
    """Number of indicator-years per status, for the headline (all 年度, or one)."""
    df = kpi_frame(engine)
    if fiscal_year is not None:
        df = df[df["fiscal_year"] == fiscal_year]
    counts = df["status"].value_counts()
    return {s.value: int(counts.get(s.value, 0)) for s in KpiStatus}
