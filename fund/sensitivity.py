"""Weight sensitivity: does a proposal keep its rank band when the rubric weights move?

For each perspective i and each direction, weight i is moved by ±N percentage points (not below
0) and the four weights are renormalised to sum to 100:

    w'_i = max(0, w_i ± N);  w'_j = w_j for j ≠ i;  then every w' is multiplied by 100 / Σ w'

That gives 8 scenarios besides the current weights. A proposal is robust (安定) when it stays in the
same rank band in every scenario, borderline (境界) when at least one scenario moves it to
another band. Bands are either thirds of the ranking (上位 / 中位 / 下位: ranks up to ⌈n/3⌉, up to
⌈2n/3⌉, the rest) or a funding line (上位K件が採択圏内). Ties share the better rank.
"""

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fund.labels import PERSPECTIVE

PERSPECTIVES = (1, 2, 3, 4)
BAND_THIRDS = ("上位", "中位", "下位")
BAND_LINE = ("採択圏内", "圏外")


def scenarios(weights: list[int], step: int) -> list[tuple[str, list[float]]]:
    """(label, renormalised weights in percent) for every perspective moved up and down by `step` points."""
    out: list[tuple[str, list[float]]] = []
    for p in PERSPECTIVES:
        for sign, word in ((1, "+"), (-1, "−")):
            moved = [float(w) for w in weights]
            moved[p - 1] = max(0.0, moved[p - 1] + sign * step)
            total = sum(moved)
            if total <= 0:
                continue
            out.append((f"{PERSPECTIVE[p]} {word}{step}", [w * 100 / total for w in moved]))
    return out


def ranks(totals: pd.Series) -> pd.Series:
    """1 = best; ties share the better rank (float noise below 1e-9 counts as a tie)."""
    return totals.round(9).rank(ascending=False, method="min").astype("int64")


def band(rank: int, n: int, funding_line: int | None) -> str:
    if funding_line is not None:
        return BAND_LINE[0] if rank <= funding_line else BAND_LINE[1]
    if rank <= math.ceil(n / 3):
        return BAND_THIRDS[0]
    if rank <= math.ceil(2 * n / 3):
        return BAND_THIRDS[1]
    return BAND_THIRDS[2]


def _band_index(rank: np.ndarray, n: int, funding_line: int | None) -> np.ndarray:
    """`band` for a whole array of ranks, as the index into BAND_LINE or BAND_THIRDS."""
    if funding_line is not None:
        return (rank > funding_line).astype("int64")
    upper: np.ndarray = (rank > math.ceil(n / 3)).astype("int64")
    lower: np.ndarray = (rank > math.ceil(2 * n / 3)).astype("int64")
    both: np.ndarray = upper + lower
    return both


@dataclass(frozen=True)
class SensitivityResult:
    table: pd.DataFrame  # one row per proposal
    scenarios: pd.DataFrame  # one row per scenario with its weights


def analyse(
    means: pd.DataFrame, *, weights: list[int], step: int, funding_line: int | None = None
) -> SensitivityResult:
    """`means` has proposal_id, project, department and p1–p4 (one row per fully scored proposal).

    Returns per proposal: base total, rank and band, best and worst rank across the scenarios,
    the bands seen (the current band first, then in the order the scenarios reach them), how many
    scenarios change its band, and `robust`. Vectorised over the proposals: one pass per scenario.
    """
    cols = [f"p{p}" for p in PERSPECTIVES]
    data = means.dropna(subset=cols).reset_index(drop=True)
    n = len(data)
    labels = BAND_LINE if funding_line is not None else BAND_THIRDS

    def totals(ws: list[float]) -> pd.Series:
        return sum(data[c] * ws[i] / 100 for i, c in enumerate(cols))

    base_total = totals([float(w) for w in weights])
    base_rank = ranks(base_total) if n else pd.Series(dtype="int64")
    base_idx = _band_index(base_rank.to_numpy(), n, funding_line)
    best = base_rank.to_numpy().copy()
    worst = base_rank.to_numpy().copy()
    changed = np.zeros(n, dtype="int64")
    # first[i, b]: the first scenario (0 = current weights) that puts proposal i in band b.
    never = len(PERSPECTIVES) * 2 + 1
    first = np.full((n, len(labels)), never, dtype="int64")
    first[np.arange(n), base_idx] = 0
    scenario_rows = [{"シナリオ": "現在の重み", **_weight_cols(weights)}]
    for number, (label, ws) in enumerate(scenarios(weights, step), start=1):
        scenario_rows.append({"シナリオ": label, **_weight_cols(ws)})
        if not n:
            continue
        r = ranks(totals(ws)).to_numpy()
        best = np.minimum(best, r)
        worst = np.maximum(worst, r)
        idx = _band_index(r, n, funding_line)
        changed += idx != base_idx
        rows = np.arange(n)
        first[rows, idx] = np.minimum(first[rows, idx], number)
    table = pd.DataFrame(
        {
            "proposal_id": data["proposal_id"],
            "project": data["project"],
            "department": data["department"],
            "base_total": base_total,
            "base_rank": base_rank,
            "base_band": [labels[i] for i in base_idx],
            "best_rank": pd.Series(best, dtype="int64"),
            "worst_rank": pd.Series(worst, dtype="int64"),
            "bands_seen": _bands_seen(first, labels, never),
            "changed_scenarios": pd.Series(changed, dtype="int64"),
            "robust": pd.Series(changed == 0, dtype="bool"),
        }
    )
    table = table.sort_values(["base_rank", "project"]).reset_index(drop=True)
    return SensitivityResult(table=table, scenarios=pd.DataFrame(scenario_rows))


def _bands_seen(first: np.ndarray, labels: tuple[str, ...], never: int) -> list[str]:
    """「中位・上位」: the bands each row reached, in the order it reached them (few distinct patterns)."""
    if not len(first):
        return []
    patterns, inverse = np.unique(first, axis=0, return_inverse=True)
    text = [
        "・".join(labels[b] for b in sorted(range(len(labels)), key=lambda b: row[b]) if row[b] < never)
        for row in patterns
    ]
    return [text[i] for i in inverse.reshape(-1)]


def _weight_cols(ws: list[int] | list[float]) -> dict[str, float]:
    return {f"{PERSPECTIVE[p]}（%）": round(float(ws[p - 1]), 1) for p in PERSPECTIVES}
