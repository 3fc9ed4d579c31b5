"""感度分析: how stable the ranking is when each weight moves, and its export."""

import pandas as pd
from sqlalchemy import Engine

from fund.auth import Actor
from fund.errors import InputInvalid
from fund.export import record_export, to_csv_bytes, to_xlsx_bytes
from fund.screening.assignments import _export_round
from fund.screening.results import results
from fund.screening.rubric import PERSPECTIVES, latest_weights
from fund.sensitivity import SensitivityResult, analyse


def weight_sensitivity(
    engine: Engine, *, round_id: int, step: int, funding_line: int | None = None, calibrated: bool = False
) -> SensitivityResult:
    """Move each weight ±`step` points (renormalised) and report who keeps their rank band.

    `calibrated` ranks by calibrated means instead of raw means. See `fund.sensitivity`.
    Raises InputInvalid for a step outside 1–50 or a funding line below 1.
    """
    _check_sensitivity_input(step, funding_line)
    return sensitivity_of(
        results(engine, round_id=round_id),
        weights=latest_weights(engine, round_id=round_id),
        step=step,
        funding_line=funding_line,
        calibrated=calibrated,
    )


def _check_sensitivity_input(step: int, funding_line: int | None) -> None:
    if not 1 <= step <= 50:
        raise InputInvalid({"step": "重みの変動幅は1〜50ポイントで指定してください。"})
    if funding_line is not None and funding_line < 1:
        raise InputInvalid({"funding_line": "採択ラインは1件以上で指定してください。"})


def sensitivity_of(
    res: pd.DataFrame,
    *,
    weights: list[int],
    step: int,
    funding_line: int | None = None,
    calibrated: bool = False,
) -> SensitivityResult:
    """`weight_sensitivity` on a ranking already read with `results` (the page reads it once)."""
    _check_sensitivity_input(step, funding_line)
    source = "c" if calibrated else "p"
    means = res[["proposal_id", "project", "department"]].copy()
    for p in PERSPECTIVES:
        means[f"p{p}"] = res[f"{source}{p}"].astype("float64")
    return analyse(means, weights=weights, step=step, funding_line=funding_line)


def export_sensitivity(
    engine: Engine,
    *,
    actor: Actor,
    round_id: int,
    step: int,
    funding_line: int | None = None,
    calibrated: bool = False,
    fmt: str,
) -> bytes:
    """The 感度分析 table (every proposal) as xlsx or CSV (UTF-8 with BOM); audited.

    Raises PermissionDenied, NotFound, InputInvalid, RuleViolation (unknown format).
    """
    title, _ = _export_round(engine, actor=actor, round_id=round_id, fmt=fmt)
    table = sensitivity_table(
        weight_sensitivity(
            engine, round_id=round_id, step=step, funding_line=funding_line, calibrated=calibrated
        )
    )
    if fmt == "xlsx":
        basis = (
            f"採択ライン 上位{funding_line}件" if funding_line is not None else "上位・中位・下位（3等分）"
        )
        data = to_xlsx_bytes(
            table,
            sheet_name="感度分析",
            title=f"{title} 重みの感度分析（±{step}ポイント、{basis}"
            + ("、補正後の点数" if calibrated else "")
            + "）",
        )
    else:
        data = to_csv_bytes(table)
    record_export(
        engine,
        actor=actor,
        what=f"screening_sensitivity.{fmt}",
        filters={
            "round_id": round_id,
            "step": step,
            "funding_line": funding_line,
            "calibrated": calibrated,
        },
        rows=len(table),
    )
    return data


def sensitivity_table(result: SensitivityResult) -> pd.DataFrame:
    """The sensitivity table with Japanese headers for the 感度分析 tab."""
    t = result.table
    return pd.DataFrame(
        {
            "順位": t["base_rank"],
            "事業名": t["project"],
            "所管部局": t["department"],
            "加重合計": t["base_total"].astype("float64").round(2),
            "現在の区分": t["base_band"],
            "最高順位": t["best_rank"],
            "最低順位": t["worst_rank"],
            "取りうる区分": t["bands_seen"],
            "区分が変わるシナリオ数": t["changed_scenarios"],
            "判定": ["安定" if r else "境界" for r in t["robust"]],
        }
    )


def robust_counts(result: SensitivityResult) -> tuple[int, int]:
    """(stable, borderline): proposals whose rank band never changes, and those whose band can."""
    robust = result.table["robust"].astype(bool)
    return int(robust.sum()), int((~robust).sum())
