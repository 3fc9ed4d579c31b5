"""`fund seed`: load the plain files in data/ into the database. Idempotent by natural keys."""

import csv
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from fund import audit, kpi, schema
from fund.db import checkpoint, write_session
from fund.models import (
    Allocation,
    AllocationStatus,
    AppUser,
    AuditAction,
    BudgetStage,
    Category,
    Department,
    Direction,
    FiscalYear,
    KpiActual,
    KpiIndicator,
    KpiKind,
    KpiTarget,
    LedgerEntry,
    LedgerKind,
    Novelty,
    Project,
    Proposal,
    ProposalCostLine,
    ProposalEvent,
    ProposalStatus,
    Relisting,
    ReviewAssignment,
    ReviewScore,
    Role,
    Rollout,
    RubricVersion,
    ScreeningRound,
)
from fund.money import sen_yen_to_yen
from fund.reference import SEED_ACTOR
from fund.settings import get_settings, load_fund_config


@dataclass
class SeedReport:
    inserted: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, n: int = 1) -> None:
        self.inserted[table] = self.inserted.get(table, 0) + n

    @property
    def total(self) -> int:
        return sum(self.inserted.values())


def _rows(seed_dir: Path, name: str) -> list[dict[str, str]]:
    with (seed_dir / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _flag(value: str) -> bool:
    return value.strip().lower() == "true"


def _opt_float(value: str) -> float | None:
    return float(value) if value.strip() else None


def seed(engine: Engine, seed_dir: Path | None = None) -> SeedReport:
    """Create the schema of a new database and insert what is missing (running it twice inserts
    nothing the second time). A database at another revision is refused: `fund db upgrade` first."""
    seed_dir = seed_dir or get_settings().seed_dir
    schema.ensure(engine)
    report = SeedReport()
    with write_session(engine) as session:
        _seed_reference(session, seed_dir, report)
        _seed_projects(session, seed_dir, report)
        _seed_cost_lines(session, seed_dir, report)
        _seed_ledger(session, seed_dir, report)
        _seed_kpis(session, seed_dir, report)
        if any(report.inserted.get(t) for t in ("kpi_indicator", "kpi_target", "kpi_actual")):
            session.flush()
            kpi.refresh_years(session)
        _seed_rollouts(session, seed_dir, report)
        _seed_screening(session, seed_dir, report)
        if report.total:
            audit.record(
                session,
                actor=SEED_ACTOR,
                action=AuditAction.seed,
                entity="database",
                after={"inserted": report.inserted},
            )
    checkpoint(engine)
    kpi.ensure_years(engine)
    return report


def _seed_reference(session: Session, seed_dir: Path, report: SeedReport) -> None:
    config = load_fund_config(seed_dir)
    existing_years = set(session.exec(select(FiscalYear.year)).all())
    for year in config["fiscal_years"]:
        if year not in existing_years:
            session.add(
                FiscalYear(
                    year=year,
                    closed=year in config["closed_years"],
                    closed_by=SEED_ACTOR if year in config["closed_years"] else None,
                )
            )
            report.add("fiscal_year")

    existing_depts = set(session.exec(select(Department.name)).all())
    for row in _rows(seed_dir, "departments.csv"):
        if row["name"] not in existing_depts:
            session.add(Department(name=row["name"], sort_order=int(row["sort_order"])))
            report.add("department")

    existing_cats = set(session.exec(select(Category.code)).all())
    session.flush()
    for row in _rows(seed_dir, "categories.csv"):  # parents come first in the file
        if row["code"] in existing_cats:
            continue
        parent_id = None
        if row["parent_code"]:
            parent_id = session.exec(select(Category.id).where(Category.code == row["parent_code"])).one()
        session.add(
            Category(
                code=row["code"],
                name=row["name"],
                parent_id=parent_id,
                heading=row["heading"],
                sort_order=int(row["sort_order"]),
            )
        )
        session.flush()
        report.add("category")


def _ids(session: Session, seed_dir: Path) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Ids by natural key; projects only those of data/projects.csv (a large database holds many more)."""
    depts = {
        d_name: d_id
        for d_name, d_id in session.exec(select(Department.name, Department.id))
        if d_id is not None
    }
    cats = {
        c_code: c_id for c_code, c_id in session.exec(select(Category.code, Category.id)) if c_id is not None
    }
    projects = {
        p_name: p_id
        for p_name, p_id in session.exec(
            select(Project.name, Project.id).where(
                col(Project.name).in_([r["name"] for r in _rows(seed_dir, "projects.csv")])
            )
        )
        if p_id is not None
    }
    return depts, cats, projects


def _seed_projects(session: Session, seed_dir: Path, report: SeedReport) -> None:
    depts, cats, projects = _ids(session, seed_dir)
    project_rows = _rows(seed_dir, "projects.csv")
    summaries = {r["name"]: r["summary"] for r in project_rows}
    for row in project_rows:
        if row["name"] in projects:
            continue
        session.add(
            Project(
                name=row["name"],
                department_id=depts[row["department"]],
                category_id=cats[row["category_code"]],
                summary=row["summary"],
                first_fiscal_year=int(row["first_fiscal_year"]),
            )
        )
        report.add("project")
    session.flush()
    depts, cats, projects = _ids(session, seed_dir)

    evidence = {(r["project"], int(r["fiscal_year"])): r for r in _rows(seed_dir, "proposals.csv")}
    existing_allocs = {
        (a_project_id, a_fiscal_year, a_budget_stage)
        for a_project_id, a_fiscal_year, a_budget_stage in session.exec(
            select(Allocation.project_id, Allocation.fiscal_year, Allocation.budget_stage).where(
                col(Allocation.project_id).in_(list(projects.values()))
            )
        )
    }
    existing_props = {
        (p_project_id, p_fiscal_year): p_id
        for p_project_id, p_fiscal_year, p_id in session.exec(
            select(Proposal.project_id, Proposal.fiscal_year, Proposal.id).where(
                col(Proposal.project_id).in_(list(projects.values()))
            )
        )
    }
    for row in _rows(seed_dir, "allocations.csv"):
        project_id = projects[row["project"]]
        year = int(row["fiscal_year"])
        cost_yen = sen_yen_to_yen(int(row["project_cost_sen_yen"]))
        fund_yen = int(row["fund_share_yen"])
        proposal_id = existing_props.get((project_id, year))
        if proposal_id is None:
            ev = evidence.get((row["project"], year), {})
            proposal = Proposal(
                project_id=project_id,
                fiscal_year=year,
                status=ProposalStatus.funded,
                summary=summaries[row["project"]],
                meets_req1=row["category_code"].startswith("social_issue"),
                meets_req2=row["category_code"].startswith("foundation"),
                project_cost_yen=cost_yen,
                fund_share_yen=fund_yen,
                national_funds_yen=0,
                other_funds_yen=cost_yen - fund_yen,
                expected_users=int(ev.get("expected_users", 0) or 0),
                uses_per_user_per_year=float(ev.get("uses_per_user_per_year", 0) or 0),
                procedures_per_year=int(ev.get("procedures_per_year", 0) or 0),
                minutes_saved_per_procedure=float(ev.get("minutes_saved_per_procedure", 0) or 0),
                novelty=Novelty(ev["novelty"]) if ev.get("novelty") else None,
                is_sample=_flag(ev.get("is_sample", "false")),
                created_by=SEED_ACTOR,
            )
            session.add(proposal)
            session.flush()
            session.add(
                ProposalEvent(
                    proposal_id=proposal.id or 0,
                    from_status=None,
                    to_status=ProposalStatus.funded.value,
                    actor=SEED_ACTOR,
                    reason="令和6年度当初予算の基金活用事業一覧から登録",
                )
            )
            proposal_id = proposal.id
            report.add("proposal")
        stage = BudgetStage(row["budget_stage"])
        if (project_id, year, stage) in existing_allocs:
            continue
        session.add(
            Allocation(
                project_id=project_id,
                proposal_id=proposal_id,
                fiscal_year=year,
                budget_stage=stage,
                category_id=cats[row["category_code"]],
                project_cost_yen=cost_yen,
                fund_share_yen=fund_yen,
                fund_share_is_estimate=_flag(row["fund_share_is_estimate"]),
                status=AllocationStatus.approved,
                proposed_by=SEED_ACTOR,
                approved_by=SEED_ACTOR,
            )
        )
        report.add("allocation")

    existing_relists = {
        (r_project_id, r_fiscal_year, r_category_id)
        for r_project_id, r_fiscal_year, r_category_id in session.exec(
            select(Relisting.project_id, Relisting.fiscal_year, Relisting.category_id).where(
                col(Relisting.project_id).in_(list(projects.values()))
            )
        )
    }
    for row in _rows(seed_dir, "relistings.csv"):
        key = (projects[row["project"]], int(row["fiscal_year"]), cats[row["category_code"]])
        if key not in existing_relists:
            session.add(Relisting(project_id=key[0], fiscal_year=key[1], category_id=key[2]))
            report.add("relisting")
    session.flush()


def _seed_cost_lines(session: Session, seed_dir: Path, report: SeedReport) -> None:
    """Later-year planned costs of seeded proposals (サンプル・推計). Natural key: proposal + 年度."""
    if not (seed_dir / "proposal_cost_lines.csv").exists():
        return
    _, _, projects = _ids(session, seed_dir)
    proposals = {
        (p_project_id, p_fiscal_year): p_id
        for p_project_id, p_fiscal_year, p_id in session.exec(
            select(Proposal.project_id, Proposal.fiscal_year, Proposal.id).where(
                col(Proposal.project_id).in_(list(projects.values()))
            )
        )
    }
    existing = {
        (c_proposal_id, c_fiscal_year)
        for c_proposal_id, c_fiscal_year in session.exec(
            select(ProposalCostLine.proposal_id, ProposalCostLine.fiscal_year).where(
                col(ProposalCostLine.proposal_id).in_(list(proposals.values()))
            )
        )
    }
    for row in _rows(seed_dir, "proposal_cost_lines.csv"):
        proposal_id = proposals.get((projects[row["project"]], int(row["proposal_fiscal_year"])))
        if proposal_id is None or (proposal_id, int(row["fiscal_year"])) in existing:
            continue
        session.add(
            ProposalCostLine(
                proposal_id=proposal_id,
                fiscal_year=int(row["fiscal_year"]),
                project_cost_yen=sen_yen_to_yen(int(row["project_cost_sen_yen"])),
                fund_share_yen=int(row["fund_share_yen"]),
                note=row["note"],
            )
        )
        report.add("proposal_cost_line")
    session.flush()


def _seed_ledger(session: Session, seed_dir: Path, report: SeedReport) -> None:
    _, _, projects = _ids(session, seed_dir)
    existing = {
        (e_posted_on, e_kind, e_amount_yen, e_project_id, e_memo)
        for e_posted_on, e_kind, e_amount_yen, e_project_id, e_memo in session.execute(
            sa_select(  # type: ignore[call-overload]
                LedgerEntry.posted_on,
                LedgerEntry.kind,
                LedgerEntry.amount_yen,
                LedgerEntry.project_id,
                LedgerEntry.memo,
            ).where(LedgerEntry.created_by == SEED_ACTOR)  # only the seed's own rows can match
        )
    }
    allocs = {
        (a_project_id, a_fiscal_year): a_id
        for a_project_id, a_fiscal_year, a_id in session.exec(
            select(Allocation.project_id, Allocation.fiscal_year, Allocation.id).where(
                col(Allocation.project_id).in_(list(projects.values()))
            )
        )
    }
    for row in _rows(seed_dir, "ledger.csv"):
        project_id = projects[row["project"]] if row["project"] else None
        kind = LedgerKind(row["kind"])
        posted = date.fromisoformat(row["posted_on"])
        key = (posted, kind, int(row["amount_yen"]), project_id, row["memo"])
        if key in existing:
            continue
        year = int(row["fiscal_year"])
        session.add(
            LedgerEntry(
                posted_on=posted,
                fiscal_year=year,
                kind=kind,
                amount_yen=int(row["amount_yen"]),
                memo=row["memo"],
                project_id=project_id,
                allocation_id=allocs.get((project_id, year)) if project_id else None,
                unallocated_reason=row.get("unallocated_reason") or None,
                is_estimate=_flag(row["is_estimate"]),
                created_by=SEED_ACTOR,
            )
        )
        report.add("ledger_entry")
    session.flush()


def _seed_kpis(session: Session, seed_dir: Path, report: SeedReport) -> None:
    _, _, projects = _ids(session, seed_dir)
    indicators = {
        (i_project_id, i_name): i_id
        for i_project_id, i_name, i_id in session.exec(
            select(KpiIndicator.project_id, KpiIndicator.name, KpiIndicator.id).where(
                col(KpiIndicator.project_id).in_(list(projects.values()))
            )
        )
    }
    by_key: dict[str, int] = {}
    for row in _rows(seed_dir, "kpi_indicators.csv"):
        project_id = projects[row["project"]]
        ind_id = indicators.get((project_id, row["name"]))
        if ind_id is None:
            ind = KpiIndicator(
                project_id=project_id,
                kind=KpiKind(row["kind"]),
                name=row["name"],
                unit=row["unit"],
                baseline_value=_opt_float(row["baseline_value"]),
                baseline_year=int(row["baseline_year"]) if row["baseline_year"] else None,
                direction=Direction(row["direction"]),
                perspectives=[int(p) for p in row["perspectives"].split(";") if p],
                source_note=row["source_note"],
            )
            session.add(ind)
            session.flush()
            ind_id = ind.id
            report.add("kpi_indicator")
        assert ind_id is not None
        by_key[row["key"]] = ind_id
    targets = {
        (t_indicator_id, t_fiscal_year)
        for t_indicator_id, t_fiscal_year in session.exec(
            select(KpiTarget.indicator_id, KpiTarget.fiscal_year).where(
                col(KpiTarget.indicator_id).in_(list(by_key.values()))
            )
        )
    }
    for row in _rows(seed_dir, "kpi_targets.csv"):
        key = (by_key[row["indicator"]], int(row["fiscal_year"]))
        if key not in targets:
            session.add(
                KpiTarget(
                    indicator_id=key[0],
                    fiscal_year=key[1],
                    target_value=float(row["target_value"]),
                    year_is_estimate=_flag(row["year_is_estimate"]),
                )
            )
            report.add("kpi_target")
    actuals = {
        (a_indicator_id, a_fiscal_year)
        for a_indicator_id, a_fiscal_year in session.exec(
            select(KpiActual.indicator_id, KpiActual.fiscal_year).where(
                col(KpiActual.indicator_id).in_(list(by_key.values()))
            )
        )
    }
    for row in _rows(seed_dir, "kpi_actuals.csv"):
        key = (by_key[row["indicator"]], int(row["fiscal_year"]))
        if key not in actuals:
            session.add(
                KpiActual(
                    indicator_id=key[0],
                    fiscal_year=key[1],
                    actual_value=float(row["actual_value"]),
                    measured_on=date.fromisoformat(row["measured_on"]),
                    source=row["source"],
                    is_sample=_flag(row["is_sample"]),
                    entered_by=SEED_ACTOR,
                )
            )
            report.add("kpi_actual")
    session.flush()


def _seed_rollouts(session: Session, seed_dir: Path, report: SeedReport) -> None:
    """横展開 rows from data/rollouts.csv; natural key (project, target, 年度)."""
    if not (seed_dir / "rollouts.csv").exists():
        return
    _, _, projects = _ids(session, seed_dir)
    existing = {
        (r_project_id, r_target, r_fiscal_year)
        for r_project_id, r_target, r_fiscal_year in session.exec(
            select(Rollout.project_id, Rollout.target, Rollout.fiscal_year).where(
                col(Rollout.project_id).in_(list(projects.values()))
            )
        )
    }
    for row in _rows(seed_dir, "rollouts.csv"):
        key = (projects[row["project"]], row["target"], int(row["fiscal_year"]))
        if key in existing:
            continue
        session.add(
            Rollout(
                project_id=key[0],
                target=key[1],
                fiscal_year=key[2],
                note=row["note"],
                is_sample=_flag(row["is_sample"]),
            )
        )
        existing.add(key)
        report.add("rollout")
    session.flush()


def _seed_screening(session: Session, seed_dir: Path, report: SeedReport) -> None:
    with (seed_dir / "screening.toml").open("rb") as fh:
        config = tomllib.load(fh)
    users = {u_login: u_id or 0 for u_login, u_id in session.exec(select(AppUser.login, AppUser.id))}
    for reviewer in config["reviewer"]:
        if reviewer["login"] not in users:
            # Sample reviewers hold scores but cannot sign in (no password).
            user = AppUser(
                login=reviewer["login"],
                display_name=reviewer["display_name"],
                role=Role.screener,
                password_hash=None,
                active=False,
                is_sample=True,
            )
            session.add(user)
            session.flush()
            users[user.login] = user.id or 0
            report.add("app_user")
    _, _, projects = _ids(session, seed_dir)
    proposals = {
        (p_project_id, p_fiscal_year): p_id or 0
        for p_project_id, p_fiscal_year, p_id in session.exec(
            select(Proposal.project_id, Proposal.fiscal_year, Proposal.id).where(
                col(Proposal.project_id).in_(list(projects.values()))
            )
        )
    }
    anchors = {k: list(v) for k, v in config["anchors"].items()}
    scores = _rows(seed_dir, "review_scores.csv")
    for rnd in config["round"]:
        existing = session.exec(
            select(ScreeningRound).where(
                ScreeningRound.fiscal_year == rnd["fiscal_year"], ScreeningRound.name == rnd["name"]
            )
        ).first()
        if existing is not None:
            continue
        screening_round = ScreeningRound(fiscal_year=rnd["fiscal_year"], name=rnd["name"], is_sample=True)
        session.add(screening_round)
        session.flush()
        assert screening_round.id is not None
        rubric = RubricVersion(
            round_id=screening_round.id,
            version=1,
            weights=list(rnd["weights"]),
            anchors=anchors,
            created_by=SEED_ACTOR,
        )
        session.add(rubric)
        session.flush()
        report.add("screening_round")
        assignments: dict[tuple[int, int], int] = {}
        for row in scores:
            if int(row["fiscal_year"]) != rnd["fiscal_year"]:
                continue
            proposal_id = proposals[(projects[row["project"]], int(row["fiscal_year"]))]
            reviewer_id = users[row["reviewer"]]
            key = (proposal_id, reviewer_id)
            if key not in assignments:
                assignment = ReviewAssignment(
                    round_id=screening_round.id, proposal_id=proposal_id, reviewer_id=reviewer_id
                )
                session.add(assignment)
                session.flush()
                assert assignment.id is not None
                assignments[key] = assignment.id
                report.add("review_assignment")
            session.add(
                ReviewScore(
                    assignment_id=assignments[key],
                    perspective=int(row["perspective"]),
                    score=int(row["score"]),
                    comment=row["comment"],
                    rubric_version_id=rubric.id or 0,
                    is_sample=True,
                )
            )
            report.add("review_score")
    session.flush()
