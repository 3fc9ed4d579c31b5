"""Reads: the list with its filters and count, one proposal's detail, drafts to resume, the timeline."""

from dataclasses import dataclass, field
from typing import Any, TypedDict

import pandas as pd
from sqlalchemy import Engine, text
from sqlmodel import col, select

from fund import clock, duties
from fund.auth import Action, Actor, can, department_scope, require, scoped_department
from fund.db import contains, like_pattern, query_df, read_session
from fund.fiscal import fiscal_label, wareki
from fund.labels import ESTIMATE_MARK, KPI_KIND, NOVELTY, PROPOSAL_STATUS, REQUIREMENT, RETURN_KIND
from fund.models import (
    Category,
    Department,
    ProposalCostLine,
    ProposalReturn,
    ProposalStatus,
    ReturnKind,
)
from fund.money import to_sen_yen
from fund.proposals import revisions
from fund.proposals.access import visible_proposal
from fund.proposals.drafts import _input_of
from fund.proposals.rules import ProposalKpiCreate
from fund.proposals.workflow import S, TransitionOption, available_transitions
from fund.reference import SEED_ACTOR
from fund.screening.rounds import decided_round_ids


class ProposalFilter(TypedDict):
    """The proposal list's filters, as service arguments."""

    fiscal_year: int | None
    status: ProposalStatus | None
    department_id: int | None
    search: str | None


def proposal_input(engine: Engine, *, actor: Actor, proposal_id: int) -> tuple[dict[str, Any], int]:
    """A stored proposal as form input (to resume a draft), with the version to send back."""
    with read_session(engine) as session:
        proposal, project = visible_proposal(session, actor, proposal_id)
        return _input_of(proposal, project, session), proposal.version


def editable_drafts(engine: Engine, *, actor: Actor) -> pd.DataFrame:
    """Drafts the actor may resume: own department's for 事業担当, all for the bureau."""
    if not can(actor, Action.edit_proposal):
        return pd.DataFrame({"id": [], "label": []})
    params: dict[str, Any] = {"st": S.draft.value, "withdrawn": ReturnKind.withdrawn.value}
    where = "pr.status = :st AND NOT EXISTS (SELECT 1 FROM proposal_return r WHERE r.proposal_id = pr.id AND r.kind = :withdrawn)"
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


RETURN_LABEL = {kind.value: label for kind, label in RETURN_KIND.items()}


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
    money_marks: dict[str, str]  # 「推計」 beside the amounts the sources do not give
    evidence_inputs: dict[str, str]
    evidence: dict[str, float | None]
    novelty: str
    novelty_note: str
    cost_lines: pd.DataFrame
    kpis: pd.DataFrame
    transitions: list[TransitionOption] = field(default_factory=list)
    returned: tuple[str, str] | None = None  # (差戻し or 取下げ, its reason) while back with the department
    revision: int = 1
    recused: str | None = None  # why the actor may take none of the bureau's steps on it
    decided: bool = False  # a round that reviewed it is decided: its status is frozen but for 事業化


# The one rule for a proposal's 基金充当額 being 推計: its project's allocation of that 年度 says so.
_ESTIMATED_SHARE_SQL = (
    "EXISTS (SELECT 1 FROM allocation a WHERE a.project_id = pr.project_id"
    " AND a.fiscal_year = pr.fiscal_year AND a.fund_share_is_estimate)"
)


def _money_marks(*, estimated_share: bool, seeded: bool) -> dict[str, str]:
    """The sources give a project's 事業費 and, mostly, its 基金充当額: a 基金充当額 the seed had to
    assume is 推計, and so is the seed's split of the rest (国庫支出金 0, the rest その他財源)."""
    marks = {"基金充当額": ESTIMATE_MARK} if estimated_share else {}
    if seeded:
        marks |= {"国庫支出金": ESTIMATE_MARK, "その他財源": ESTIMATE_MARK}
    return marks


def proposal_detail(engine: Engine, *, actor: Actor, proposal_id: int) -> ProposalDetail:
    """One proposal with its evidence, cost profile, KPIs and the status changes the actor may make."""
    require(actor, Action.view_proposals)
    with read_session(engine) as session:
        proposal, project = visible_proposal(session, actor, proposal_id)
        dept = session.get(Department, project.department_id)
        cat = session.get(Category, project.category_id)
        held = session.exec(select(ProposalReturn).where(ProposalReturn.proposal_id == proposal_id)).first()
        returned = (RETURN_LABEL[held.kind.value], held.reason) if held is not None else None
        revision = revisions.current_revision(session, proposal_id)
        recused = duties.recusal_reason(session, login=actor.login, proposal_id=proposal_id)
        decided = bool(decided_round_ids(session, proposal_id))
        estimated_share = bool(
            session.execute(
                text(f"SELECT {_ESTIMATED_SHARE_SQL} FROM proposal pr WHERE pr.id = :id"), {"id": proposal_id}
            ).scalar_one()
        )
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
    kpis = [ProposalKpiCreate.model_validate(k) for k in proposal.kpis or []]
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
        status_label=returned[0] if returned else PROPOSAL_STATUS[proposal.status],
        returned=returned,
        revision=revision,
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
        money_marks=_money_marks(estimated_share=estimated_share, seeded=proposal.created_by == SEED_ACTOR),
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
        transitions=available_transitions(
            actor,
            status=proposal.status,
            department_id=project.department_id,
            recused=recused is not None,
            decided=decided,
        ),
        recused=recused,
        decided=decided,
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
               (p.first_fiscal_year = pr.fiscal_year) AS is_new, ret.kind AS return_kind,
               {_ESTIMATED_SHARE_SQL} AS fund_share_is_estimate
        FROM proposal pr
        JOIN project p ON p.id = pr.project_id
        JOIN department d ON d.id = p.department_id
        LEFT JOIN proposal_return ret ON ret.proposal_id = pr.id
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
    df["status_label"] = df["return_kind"].map(RETURN_LABEL).fillna(df["status"].map(status_label))
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
