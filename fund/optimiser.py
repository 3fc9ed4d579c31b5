"""配分の最適化: choose proposals (whole or not at all) within the 年度's fund ceiling.

A 0–1 integer programme solved by HiGHS through `scipy.optimize.milp`:

    maximise   Σ value_i · x_i
    subject to Σ fund_i · x_i ≤ ceiling
               Σ_{i∈k} fund_i · x_i ≥ min_k · Σ fund_i · x_i     (per 区分, optional)
               Σ_{i∈k} fund_i · x_i ≤ max_k · Σ fund_i · x_i     (per 区分, optional)
               x_i = 1 (forced in), x_i = 0 (forced out, or below the score floor)

`value` is the proposal's weighted screening total (objective "score") or its annual citizen
touchpoints (objective "touchpoints"). A proposal without screening scores counts 0 under "score"
(it can still be forced in); its exclusion reason says 未採点. Among equal values the cheaper set wins
(a tie-break far below any real difference), so zero-value proposals are never chosen by accident.
"""

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from fund import allocation, proposals, screening
from fund.auth import Actor
from fund.db import query_df
from fund.errors import InputInvalid, RuleViolation
from fund.labels import FORCE_CHOICE, OPTIMISER_OBJECTIVE
from fund.ledger import CARRIED_IN_SQL
from fund.models import BudgetStage, ProposalStatus
from fund.money import format_yen

OBJECTIVES = OPTIMISER_OBJECTIVE
# Candidates: adopted proposals whose project has no allocation yet for the 年度 and stage (a 繰越
# from the 前年度 aside), so every answer can be promoted as it stands.
_CANDIDATES_SQL = f"""
    SELECT p.id, p.fiscal_year FROM proposal p
    WHERE p.status = :adopted
      AND NOT EXISTS (
          SELECT 1 FROM allocation a
          WHERE a.project_id = p.project_id AND a.fiscal_year = p.fiscal_year AND a.budget_stage = :stage
            AND a.id NOT IN ({CARRIED_IN_SQL}))
"""
TIME_LIMIT_SECONDS = 1.5
_TIE_BREAK = 1e-7  # per unit of (fund share ÷ ceiling); values are scaled to at most 1


@dataclass(frozen=True)
class Candidate:
    """One proposal the optimiser may choose. Amounts in yen."""

    proposal_id: int
    project_id: int
    category_id: int
    name: str
    fund_share_yen: int
    project_cost_yen: int
    value: float
    scored: bool = True
    forced: str = ""  # '' | in | out
    force_reason: str = ""


@dataclass(frozen=True)
class CategoryShare:
    """Optional share of the chosen 基金充当額 for one 区分 (0–1)."""

    category_id: int
    label: str
    min_share: float | None = None
    max_share: float | None = None


@dataclass
class Result:
    """The chosen set, the objective, the budget used and why each other proposal was left out."""

    objective: str
    ceiling_yen: int
    chosen: list[int]  # proposal ids
    objective_value: float
    budget_used_yen: int
    proven_optimal: bool
    reasons: dict[int, str] = field(default_factory=dict)  # proposal id → why it was left out
    seconds: float = 0.0


def optimise(
    candidates: list[Candidate],
    *,
    objective: str,
    ceiling_yen: int,
    shares: list[CategoryShare] | None = None,
    min_value: float | None = None,
) -> Result:
    """Solve the selection. Raises InputInvalid for bad parameters, RuleViolation when no selection
    can satisfy the forced proposals and the shares together."""
    # Imported here: SciPy takes about a second to load, and only a run of the optimiser needs it.
    from scipy.optimize import Bounds, LinearConstraint, milp

    if objective not in OBJECTIVES:
        raise InputInvalid({"objective": "目的は「重み付き合計点」か「県民との接点数」を選んでください。"})
    if ceiling_yen <= 0:
        raise InputInvalid({"ceiling_yen": "上限額は1円以上にしてください。"})
    shares = shares or []
    for s in shares:
        lo, hi = s.min_share or 0.0, 1.0 if s.max_share is None else s.max_share
        if not (0.0 <= lo <= 1.0 and 0.0 <= hi <= 1.0) or lo > hi:
            raise InputInvalid(
                {"shares": f"区分「{s.label}」の割合は 0〜100% で、下限を上限以下にしてください。"}
            )
    for c in candidates:
        if c.forced and not c.force_reason.strip():
            raise InputInvalid(
                {"force_reason": f"「{c.name}」の指定（必ず採択・除外）には理由を入力してください。"}
            )
    forced_in = [c for c in candidates if c.forced == "in"]
    forced_cost = sum(c.fund_share_yen for c in forced_in)
    if forced_cost > ceiling_yen:
        raise RuleViolation(
            f"必ず採択に指定した提案の基金充当額の合計 {format_yen(forced_cost)} が上限 {format_yen(ceiling_yen)} を "
            f"{format_yen(forced_cost - ceiling_yen)} 超えています。指定を見直してください。"
        )
    started = time.perf_counter()
    n = len(candidates)
    if n == 0:
        return Result(objective, ceiling_yen, [], 0.0, 0, True, {}, 0.0)

    cost = np.array([c.fund_share_yen for c in candidates], dtype=float) / ceiling_yen
    value = np.array([max(c.value, 0.0) for c in candidates], dtype=float)
    scale = value.max() if value.max() > 0 else 1.0
    c_vec = -(value / scale) + _TIE_BREAK * cost

    lower = np.zeros(n)
    upper = np.ones(n)
    for i, c in enumerate(candidates):
        if c.forced == "in":
            lower[i] = 1
        elif c.forced == "out" or (min_value is not None and c.value < min_value):
            upper[i] = 0

    rows = [cost]
    lbs = [-np.inf]
    ubs = [1.0]
    cat = np.array([c.category_id for c in candidates])
    for s in shares:
        member = (cat == s.category_id).astype(float)
        if s.min_share:
            rows.append((member - s.min_share) * cost)
            lbs.append(0.0)
            ubs.append(np.inf)
        if s.max_share is not None and s.max_share < 1.0:
            rows.append((member - s.max_share) * cost)
            lbs.append(-np.inf)
            ubs.append(0.0)
    res = milp(
        c=c_vec,
        integrality=np.ones(n),
        bounds=Bounds(lower, upper),
        constraints=LinearConstraint(np.vstack(rows), np.array(lbs), np.array(ubs)),
        options={"time_limit": TIME_LIMIT_SECONDS, "mip_rel_gap": 1e-6, "disp": False},
    )
    if res.x is None:
        raise RuleViolation(
            "条件をすべて満たす組合せがありません。区分の下限・上限の割合や、必ず採択・除外の指定を見直してください。"
        )
    x = np.round(res.x).astype(int)
    chosen_idx = [i for i in range(n) if x[i] == 1]
    used = int(sum(candidates[i].fund_share_yen for i in chosen_idx))
    result = Result(
        objective=objective,
        ceiling_yen=ceiling_yen,
        chosen=[candidates[i].proposal_id for i in chosen_idx],
        objective_value=float(sum(candidates[i].value for i in chosen_idx)),
        budget_used_yen=used,
        proven_optimal=bool(res.status == 0),
    )
    result.reasons = _exclusion_reasons(
        candidates, x, used=used, ceiling_yen=ceiling_yen, shares=shares, min_value=min_value
    )
    result.seconds = time.perf_counter() - started
    return result


def _exclusion_reasons(
    candidates: list[Candidate],
    x: "np.ndarray",
    *,
    used: int,
    ceiling_yen: int,
    shares: list[CategoryShare],
    min_value: float | None,
) -> dict[int, str]:
    """Why each left-out proposal is out, checked in the order a reader would ask."""
    by_cat: dict[int, int] = {}
    for i, c in enumerate(candidates):
        if x[i]:
            by_cat[c.category_id] = by_cat.get(c.category_id, 0) + c.fund_share_yen
    reasons: dict[int, str] = {}
    for i, c in enumerate(candidates):
        if x[i]:
            continue
        if c.forced == "out":
            reasons[c.proposal_id] = f"除外指定: {c.force_reason.strip()}"
            continue
        if min_value is not None and c.value < min_value:
            reasons[c.proposal_id] = f"足切り: 評価値 {c.value:,.2f} が下限 {min_value:,.2f} 未満"
            continue
        if c.fund_share_yen > ceiling_yen:
            reasons[c.proposal_id] = f"予算: 基金充当額 {format_yen(c.fund_share_yen)} が単独で上限を超える"
            continue
        if used + c.fund_share_yen > ceiling_yen:
            reasons[c.proposal_id] = (
                f"予算: 残り {format_yen(ceiling_yen - used)} に対し基金充当額 {format_yen(c.fund_share_yen)}"
            )
            continue
        total = used + c.fund_share_yen
        reason = ""
        for s in shares:
            own = by_cat.get(s.category_id, 0) + (c.fund_share_yen if c.category_id == s.category_id else 0)
            if (
                c.category_id == s.category_id
                and s.max_share is not None
                and own > s.max_share * total + 1e-6
            ):
                reason = f"区分の上限割合: 「{s.label}」は {s.max_share:.0%} まで"
                break
            if c.category_id != s.category_id and s.min_share and own < s.min_share * total - 1e-6:
                reason = f"区分の下限割合: 加えると「{s.label}」が下限 {s.min_share:.0%} を下回る"
                break
        if not reason:
            reason = "未採点（審査の点数なし）" if not c.scored else "評価値が 0 のため選ばれない"
        reasons[c.proposal_id] = reason
    return reasons


# --- Candidates from the database -------------------------------------------------------------------


def _candidate_params(stage: BudgetStage) -> dict[str, object]:
    return {"adopted": ProposalStatus.adopted.value, "stage": stage.value}


def candidate_frame(
    engine: Engine, *, actor: Actor, fiscal_year: int, budget_stage: BudgetStage = BudgetStage.initial
) -> pd.DataFrame:
    """Adopted proposals of the 年度 without an allocation for the stage, with both objective values.

    `score` is the proposal's weighted screening total from the latest round of the 年度 that scored
    it (NaN when unscored); `touchpoints` is users × uses per year from the proposal's evidence.
    """
    ids = query_df(
        engine,
        f"SELECT id FROM ({_CANDIDATES_SQL}) c WHERE fiscal_year = :fy",
        _candidate_params(budget_stage) | {"fy": fiscal_year},
    )["id"]
    df = proposals.proposal_frame(engine, actor=actor, fiscal_year=fiscal_year)
    df = df[df["id"].isin(set(ids))].copy()
    projects = allocation.project_categories(engine, proposal_year=fiscal_year)
    df = df.merge(projects, left_on="project", right_on="name", how="left")
    scores = proposal_scores(engine, fiscal_year=fiscal_year)
    df["score"] = df["id"].map(scores)
    return df.reset_index(drop=True)


def proposal_scores(engine: Engine, *, fiscal_year: int) -> dict[int, float]:
    """Weighted screening total per proposal: the latest decision, from the newest round of the 年度
    that gave the proposal a total (a later round for other proposals leaves it as it was)."""
    rounds = screening.rounds(engine)
    scores: dict[int, float] = {}
    for round_id in rounds.loc[rounds["fiscal_year"] == fiscal_year, "id"]:  # newest first
        results = screening.results(engine, round_id=int(round_id))
        for p, v in zip(results["proposal_id"], results["weighted_total"], strict=True):
            if not pd.isna(v):
                scores.setdefault(int(p), float(v))
    return scores


def candidates_from(
    frame: pd.DataFrame, *, objective: str, forced: dict[int, tuple[str, str]] | None = None
) -> list[Candidate]:
    """Candidates from `candidate_frame`, with forced in/out as {proposal id: (in|out, reason)}."""
    forced = forced or {}
    out = []
    for r in frame.itertuples(index=False):
        pid = int(r.id)
        if objective == "score":
            scored = not pd.isna(r.score)
            value = float(r.score) if scored else 0.0
        else:
            scored = True
            value = float(r.touchpoints or 0.0)
        mode, reason = forced.get(pid, ("", ""))
        out.append(
            Candidate(
                proposal_id=pid,
                project_id=int(r.project_id),
                category_id=int(r.category_id),
                name=str(r.project),
                fund_share_yen=int(r.fund_share_yen),
                project_cost_yen=int(r.project_cost_yen),
                value=value,
                scored=scored,
                forced=mode,
                force_reason=reason,
            )
        )
    return out


FORCE_CHOICES = FORCE_CHOICE


def forced_from_table(table: pd.DataFrame) -> dict[int, tuple[str, str]]:
    """{proposal id: (in|out, reason)} from an on-screen table with `id`, `force` (label) and `reason`."""
    by_label = {label: code for code, label in FORCE_CHOICES.items()}
    out: dict[int, tuple[str, str]] = {}
    for r in table.itertuples(index=False):
        code = by_label.get(str(r.force), "") if isinstance(r.force, str) else ""
        if code:
            out[int(r.id)] = (code, str(r.reason) if isinstance(r.reason, str) else "")
    return out


def shares_from_table(table: pd.DataFrame) -> list[CategoryShare]:
    """Category shares from an on-screen table with `category_id`, `label`, `min_pct`, `max_pct` (0–100, blank = none)."""
    shares = []
    for r in table.itertuples(index=False):
        lo = None if pd.isna(r.min_pct) else float(r.min_pct) / 100
        hi = None if pd.isna(r.max_pct) else float(r.max_pct) / 100
        if lo is not None or hi is not None:
            shares.append(CategoryShare(int(r.category_id), str(r.label), min_share=lo, max_share=hi))
    return shares


def proposal_years(engine: Engine) -> list[int]:
    """年度 that have proposals the optimiser could choose (当初), oldest first."""
    df = query_df(
        engine,
        f"SELECT DISTINCT fiscal_year FROM ({_CANDIDATES_SQL}) c ORDER BY 1",
        _candidate_params(BudgetStage.initial),
    )
    return [int(y) for y in df["fiscal_year"]]


def default_fiscal_year(candidate_years: list[int], *, open_years: list[int]) -> int | None:
    """The 年度 to plan by default: the newest with candidates, else the first open 年度."""
    if candidate_years:
        return candidate_years[-1]
    return open_years[0] if open_years else None


def objective_value_text(objective: str, value: float) -> str:
    """The optimum in its unit: weighted points (2 decimals) or touchpoints per year."""
    return f"{value:,.2f}点" if objective == "score" else f"{value:,.0f}回/年"
