"""シナリオ: named, saved sets of candidate allocations for a 年度 — create, copy, edit, compare, promote.

A scenario never moves money. Promoting one creates allocations awaiting approval (承認待ち), so the
maker–checker rule and the ceilings of `fund.allocation` apply exactly as for a hand-made allocation.
"""

from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from fund import allocation, audit, clock, optimiser
from fund.auth import Action, Actor, require
from fund.db import query_df, write_session
from fund.errors import InputInvalid, NotFound, RuleViolation
from fund.fiscal import fiscal_label
from fund.labels import FORCE_CHOICE, SCENARIO_ORIGIN
from fund.ledger import MAX_AMOUNT_YEN
from fund.models import AuditAction, BudgetStage, Scenario, ScenarioItem
from fund.money import format_yen

ORIGIN_LABEL = SCENARIO_ORIGIN


def _check_name(session: Session, *, name: str, fiscal_year: int, exclude_id: int | None = None) -> str:
    name = name.strip()
    if not name or len(name) > 120:
        raise InputInvalid({"name": "シナリオ名を入力してください（120文字以内）。"})
    clash = session.exec(
        select(Scenario.id).where(Scenario.name == name, Scenario.fiscal_year == fiscal_year)
    ).first()
    if clash is not None and clash != exclude_id:
        raise InputInvalid(
            {"name": f"{fiscal_label(fiscal_year)}には「{name}」というシナリオが既にあります。"}
        )
    return name


def _get(session: Session, scenario_id: int) -> Scenario:
    row = session.get(Scenario, scenario_id)
    if row is None:
        raise NotFound(f"シナリオ番号 {scenario_id} は見つかりません。")
    return row


def create_scenario(
    engine: Engine, *, actor: Actor, name: str, fiscal_year: int, note: str = "", include_all: bool = False
) -> int:
    """A scenario holding every fundable proposal of the 年度 as a candidate (included or not). Returns its id."""
    require(actor, Action.allocate)
    frame = optimiser.candidate_frame(engine, actor=actor, fiscal_year=fiscal_year)
    with write_session(engine) as session:
        scenario = Scenario(
            name=_check_name(session, name=name, fiscal_year=fiscal_year),
            fiscal_year=fiscal_year,
            origin="manual",
            note=note.strip(),
            created_by=actor.login,
        )
        session.add(scenario)
        session.flush()
        for r in frame.itertuples(index=False):
            session.add(
                ScenarioItem(
                    scenario_id=scenario.id or 0,
                    proposal_id=int(r.id),
                    project_id=int(r.project_id),
                    category_id=int(r.category_id),
                    project_cost_yen=int(r.project_cost_yen),
                    fund_share_yen=int(r.fund_share_yen),
                    included=include_all,
                )
            )
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.scenario_create,
            entity="scenario",
            entity_id=scenario.id,
            after=audit.snapshot(scenario) | {"items": len(frame)},
        )
        return int(scenario.id or 0)


def save_optimised(
    engine: Engine,
    *,
    actor: Actor,
    name: str,
    fiscal_year: int,
    candidates: list[optimiser.Candidate],
    result: optimiser.Result,
    parameters: dict[str, Any],
) -> int:
    """Save an optimiser result as a scenario: every candidate, chosen or not, with its reason."""
    require(actor, Action.allocate)
    chosen = set(result.chosen)
    with write_session(engine) as session:
        scenario = Scenario(
            name=_check_name(session, name=name, fiscal_year=fiscal_year),
            fiscal_year=fiscal_year,
            origin="optimiser",
            objective=result.objective,
            ceiling_yen=result.ceiling_yen,
            note=(
                f"目的: {optimiser.OBJECTIVES[result.objective]}、目的値 {result.objective_value:,.2f}、"
                f"使用額 {format_yen(result.budget_used_yen)} / 上限 {format_yen(result.ceiling_yen)}"
            ),
            created_by=actor.login,
        )
        session.add(scenario)
        session.flush()
        for c in candidates:
            session.add(
                ScenarioItem(
                    scenario_id=scenario.id or 0,
                    proposal_id=c.proposal_id,
                    project_id=c.project_id,
                    category_id=c.category_id,
                    project_cost_yen=c.project_cost_yen,
                    fund_share_yen=c.fund_share_yen,
                    included=c.proposal_id in chosen,
                    forced=c.forced,
                    force_reason=c.force_reason.strip(),
                    exclusion_reason=result.reasons.get(c.proposal_id, ""),
                )
            )
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.scenario_optimise,
            entity="scenario",
            entity_id=scenario.id,
            after=audit.snapshot(scenario)
            | {"parameters": parameters, "chosen": sorted(chosen), "objective_value": result.objective_value},
        )
        return int(scenario.id or 0)


def copy_scenario(engine: Engine, *, actor: Actor, scenario_id: int, name: str) -> int:
    """A copy with every item, to edit without touching the original. Returns the new id."""
    require(actor, Action.allocate)
    with write_session(engine) as session:
        source = _get(session, scenario_id)
        copy = Scenario(
            name=_check_name(session, name=name, fiscal_year=source.fiscal_year),
            fiscal_year=source.fiscal_year,
            based_on_id=source.id,
            origin="copy",
            objective=source.objective,
            ceiling_yen=source.ceiling_yen,
            note=f"「{source.name}」の複製",
            created_by=actor.login,
        )
        session.add(copy)
        session.flush()
        items = session.exec(select(ScenarioItem).where(ScenarioItem.scenario_id == scenario_id)).all()
        for item in items:
            data = item.model_dump(exclude={"id", "scenario_id"})
            session.add(ScenarioItem(scenario_id=copy.id or 0, **data))
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.scenario_copy,
            entity="scenario",
            entity_id=copy.id,
            after=audit.snapshot(copy) | {"items": len(items)},
        )
        return int(copy.id or 0)


def update_items(engine: Engine, *, actor: Actor, scenario_id: int, changes: list[dict[str, Any]]) -> int:
    """Edit items: each change is {item_id, included?, project_cost_yen?, fund_share_yen?}. All or nothing.

    Returns the number of items changed. Raises InputInvalid naming the item when an amount is bad.
    """
    require(actor, Action.allocate)
    with write_session(engine) as session:
        scenario = _get(session, scenario_id)
        if scenario.promoted_at is not None:
            raise RuleViolation(
                "配分として登録済みのシナリオは編集できません。複製してから編集してください。"
            )
        diffs = []
        for change in changes:
            item = session.get(ScenarioItem, int(change["item_id"]))
            if item is None or item.scenario_id != scenario_id:
                raise NotFound(f"シナリオの項目 {change['item_id']} は見つかりません。")
            before = {k: getattr(item, k) for k in ("included", "project_cost_yen", "fund_share_yen")}
            for key in ("project_cost_yen", "fund_share_yen"):
                if key in change and change[key] is not None:
                    value = change[key]
                    if (
                        not isinstance(value, int)
                        or isinstance(value, bool)
                        or not 0 <= value <= MAX_AMOUNT_YEN
                    ):
                        raise InputInvalid(
                            {key: f"項目 {item.id}: 金額は0円以上1兆円以下の整数（円）で入力してください。"}
                        )
                    setattr(item, key, value)
            if "included" in change and change["included"] is not None:
                item.included = bool(change["included"])
            if item.fund_share_yen > item.project_cost_yen:
                raise InputInvalid(
                    {"fund_share_yen": f"項目 {item.id}: 基金充当額は事業費以下にしてください。"}
                )
            after = {k: getattr(item, k) for k in before}
            if after != before:
                session.add(item)
                diffs.append({"item_id": item.id, "before": before, "after": after})
        if diffs:
            scenario.updated_at = clock.now_utc()
            session.add(scenario)
            audit.record(
                session,
                actor=actor.login,
                action=AuditAction.scenario_edit,
                entity="scenario",
                entity_id=scenario_id,
                after={"changes": diffs},
            )
        return len(diffs)


def promote(
    engine: Engine, *, actor: Actor, scenario_id: int, budget_stage: BudgetStage = BudgetStage.initial
) -> list[int]:
    """Turn the scenario's included items into allocations awaiting approval (maker–checker applies).

    The whole set must fit the 年度's ceilings and no project may already have an allocation for the
    stage; otherwise nothing is created. Returns the new allocation ids.
    """
    require(actor, Action.allocate)
    with write_session(engine) as session:
        scenario = _get(session, scenario_id)
        if scenario.promoted_at is not None:
            raise RuleViolation(f"このシナリオは既に配分として登録されています（{scenario.promoted_by}）。")
        items = session.exec(
            select(ScenarioItem)
            .where(ScenarioItem.scenario_id == scenario_id, col(ScenarioItem.included))
            .order_by(col(ScenarioItem.id))
        ).all()
        if not items:
            raise RuleViolation("採択に含める提案がありません。少なくとも1件を含めてください。")
        total = sum(i.fund_share_yen for i in items)
        allocation.check_ceiling(
            allocation.fund_ceiling(
                engine,
                fiscal_year=scenario.fiscal_year,
                replacing_project_ids=tuple(i.project_id for i in items),
            ),
            adding_yen=total,
        )
        ids = []
        for item in items:
            row = allocation.insert_allocation(
                session,
                engine,
                actor=actor,
                alloc_in=allocation.validate_allocation(
                    {
                        "project_id": item.project_id,
                        "proposal_id": item.proposal_id,
                        "fiscal_year": scenario.fiscal_year,
                        "budget_stage": budget_stage,
                        "category_id": item.category_id,
                        "project_cost_yen": item.project_cost_yen,
                        "fund_share_yen": item.fund_share_yen,
                    }
                ),
                with_ceiling_check=False,  # checked for the whole set above
            )
            ids.append(int(row.id or 0))
        scenario.promoted_at = clock.now_utc()
        scenario.promoted_by = actor.login
        session.add(scenario)
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.scenario_promote,
            entity="scenario",
            entity_id=scenario_id,
            after={"allocation_ids": ids, "fund_share_yen": total},
        )
        return ids


# --- Reading ---------------------------------------------------------------------------------------


def scenario_list(engine: Engine, *, fiscal_year: int | None = None) -> pd.DataFrame:
    """Scenarios with their included count and totals (yen), newest first."""
    where = "WHERE s.fiscal_year = :fy" if fiscal_year is not None else ""
    df = query_df(
        engine,
        f"""
        SELECT s.id, s.name, s.fiscal_year, s.origin, s.objective, s.created_by, s.created_at,
               s.promoted_at, s.note,
               COUNT(CASE WHEN i.included THEN 1 END) AS included,
               COUNT(i.id) AS candidates,
               COALESCE(SUM(CASE WHEN i.included THEN i.fund_share_yen ELSE 0 END), 0) AS fund_share_yen,
               COALESCE(SUM(CASE WHEN i.included THEN i.project_cost_yen ELSE 0 END), 0) AS project_cost_yen
        FROM scenario s LEFT JOIN scenario_item i ON i.scenario_id = s.id
        {where}
        GROUP BY s.id, s.name, s.fiscal_year, s.origin, s.objective, s.created_by, s.created_at,
                 s.promoted_at, s.note
        ORDER BY s.id DESC
        """,
        {"fy": fiscal_year} if fiscal_year is not None else None,
    )
    df["origin_label"] = df["origin"].map(lambda o: ORIGIN_LABEL.get(o, o))
    return df


def scenario_items(engine: Engine, *, scenario_id: int) -> pd.DataFrame:
    """A scenario's items with project, department, 区分 and the proposal's weighted score."""
    df = query_df(
        engine,
        """
        SELECT i.id AS item_id, i.proposal_id, i.project_id, p.name AS project, d.name AS department,
               c.name AS category, i.category_id, i.project_cost_yen, i.fund_share_yen, i.included,
               i.forced, i.force_reason, i.exclusion_reason, s.fiscal_year
        FROM scenario_item i
        JOIN scenario s ON s.id = i.scenario_id
        JOIN project p ON p.id = i.project_id
        JOIN department d ON d.id = p.department_id
        JOIN category c ON c.id = i.category_id
        WHERE i.scenario_id = :s
        ORDER BY c.sort_order, p.id
        """,
        {"s": scenario_id},
    )
    df["reason"] = [
        item_reason(f, r, e)
        for f, r, e in zip(df["forced"], df["force_reason"], df["exclusion_reason"], strict=True)
    ]
    if df.empty:
        df["score"] = pd.Series(dtype=float)
        return df
    scores = optimiser.proposal_scores(engine, fiscal_year=int(df["fiscal_year"].iloc[0]))
    df["score"] = df["proposal_id"].map(lambda p: scores.get(int(p)) if pd.notna(p) else None).astype(float)
    return df


def item_reason(forced: str | None, force_reason: str | None, exclusion_reason: str | None) -> str:
    """Why an item is in or out: the planner's choice (「必ず採択：…」「除外：…」), else the optimiser's reason."""
    if isinstance(forced, str) and forced:
        return f"{FORCE_CHOICE[forced]}：{force_reason or ''}"
    return exclusion_reason if isinstance(exclusion_reason, str) else ""


@dataclass(frozen=True)
class Comparison:
    """Two scenarios side by side: one row per project, and the totals of each."""

    rows: pd.DataFrame  # project, department, a_fund_share_yen, b_fund_share_yen, difference_yen, change
    totals: pd.DataFrame  # index: a, b; columns: projects, project_cost_yen, fund_share_yen, score


def compare(engine: Engine, *, a_id: int, b_id: int) -> Comparison:
    """What B adds, removes and changes against A (included items only), with totals and weighted scores."""
    a = scenario_items(engine, scenario_id=a_id)
    b = scenario_items(engine, scenario_id=b_id)
    a_in = a[a["included"]].set_index("project_id")
    b_in = b[b["included"]].set_index("project_id")
    names = pd.concat(
        [a[["project_id", "project", "department"]], b[["project_id", "project", "department"]]]
    )
    names = names.drop_duplicates("project_id").set_index("project_id")
    rows = []
    for pid in sorted(set(a_in.index) | set(b_in.index)):
        fa = int(a_in.at[pid, "fund_share_yen"]) if pid in a_in.index else None
        fb = int(b_in.at[pid, "fund_share_yen"]) if pid in b_in.index else None
        if fa is None:
            change = "追加"
        elif fb is None:
            change = "削除"
        elif fa != fb or int(a_in.at[pid, "project_cost_yen"]) != int(b_in.at[pid, "project_cost_yen"]):
            change = "金額変更"
        else:
            change = "変更なし"
        rows.append(
            {
                "project_id": pid,
                "project": names.at[pid, "project"],
                "department": names.at[pid, "department"],
                "a_fund_share_yen": fa,
                "b_fund_share_yen": fb,
                "difference_yen": (fb or 0) - (fa or 0),
                "change": change,
            }
        )
    order = {"追加": 0, "削除": 1, "金額変更": 2, "変更なし": 3}
    frame = pd.DataFrame(
        rows,
        columns=[
            "project_id",
            "project",
            "department",
            "a_fund_share_yen",
            "b_fund_share_yen",
            "difference_yen",
            "change",
        ],
    )
    for column in ("a_fund_share_yen", "b_fund_share_yen", "difference_yen"):
        frame[column] = frame[column].astype("Int64")
    frame = frame.sort_values(
        ["change", "project_id"], key=lambda s: s.map(order) if s.name == "change" else s
    )
    totals = pd.DataFrame(
        {
            "projects": [len(a_in), len(b_in)],
            "project_cost_yen": [int(a_in["project_cost_yen"].sum()), int(b_in["project_cost_yen"].sum())],
            "fund_share_yen": [int(a_in["fund_share_yen"].sum()), int(b_in["fund_share_yen"].sum())],
            "score": [float(a_in["score"].fillna(0).sum()), float(b_in["score"].fillna(0).sum())],
        },
        index=["a", "b"],
    )
    return Comparison(rows=frame.reset_index(drop=True), totals=totals)


def changes_from_edit(original: pd.DataFrame, edited: pd.DataFrame) -> list[dict[str, Any]]:
    """The `update_items` changes between a scenario's items and the same rows as edited on screen
    (columns item_id, included, project_cost_yen, fund_share_yen)."""
    keys = ("included", "project_cost_yen", "fund_share_yen")
    before = original.set_index("item_id")
    changes = []
    for row in edited.itertuples(index=False):
        item_id = int(row.item_id)
        change: dict[str, Any] = {"item_id": item_id}
        for key in keys:
            new = getattr(row, key)
            old = before.at[item_id, key]
            if pd.isna(new):
                continue
            new_value: Any = bool(new) if key == "included" else int(new)
            if new_value != (bool(old) if key == "included" else int(old)):
                change[key] = new_value
        if len(change) > 1:
            changes.append(change)
    return changes
