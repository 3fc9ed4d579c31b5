"""Shared fixtures: a fresh DuckDB per test, a seeded copy built once from data/, actors, caches."""

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from fund import allocation, audit, auth, clock, ledger, schema, screening, throttle
from fund.auth import Actor
from fund.db import checkpoint, dispose_engines, get_engine, query_df, write_session
from fund.models import AuditAction, LedgerEntry, Role
from fund.ops.seed import seed
from fund.reference import SEED_ACTOR
from fund.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent

# Named instants for date-dependent tests (time-machine). Each is given in UTC with a zoneinfo zone,
# so time-machine also runs the test in a UTC local zone, where code that asked the system for
# "today" instead of fund.clock would see the UTC day and fail.
UTC = ZoneInfo("UTC")
FY_LAST_MINUTE = datetime(2027, 3, 31, 14, 59, tzinfo=UTC)  # 31 March 23:59 JST, 令和8年度
FY_FIRST_MINUTE = datetime(2027, 3, 31, 15, 0, tzinfo=UTC)  # 1 April 00:00 JST, 令和9年度
UTC_AFTERNOON = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)  # already 2 December 00:30 in Japan
APP = str(ROOT / "app.py")

# The tests' audit key and chain-head file, never the files under data/ (the servers that the browser
# tests start inherit both).
os.environ["FUND_AUDIT_KEY"] = "tests-audit-chain-key"
os.environ["FUND_AUDIT_HEADS_FILE"] = str(Path(tempfile.mkdtemp(prefix="fund-heads-")) / "heads.jsonl")


def _use_database(monkeypatch: pytest.MonkeyPatch, path: Path) -> str:
    url = f"duckdb:///{path}"
    monkeypatch.setenv("FUND_DATABASE_URL", url)
    get_settings.cache_clear()
    return url


@pytest.fixture(autouse=True)
def _isolation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Every test starts with fresh settings, engines and Streamlit caches, and signs backups with a
    test key (never the key file under data/)."""
    import streamlit as st

    monkeypatch.setenv("FUND_BACKUP_KEY", "tests-backup-signing-key")
    monkeypatch.setenv("FUND_AUDIT_HEADS_FILE", str(tmp_path / "audit-heads.jsonl"))
    get_settings.cache_clear()
    st.cache_resource.clear()
    st.cache_data.clear()
    throttle.reset()
    yield
    throttle.reset()
    st.cache_resource.clear()
    st.cache_data.clear()
    dispose_engines()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database seeded once from data/; tests get copies of the file."""
    path = tmp_path_factory.mktemp("template") / "seeded.duckdb"
    engine = get_engine(f"duckdb:///{path}")
    seed(engine)
    checkpoint(engine)
    dispose_engines()
    return path


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """An empty database with the schema, named by FUND_DATABASE_URL."""
    url = _use_database(monkeypatch, tmp_path / "test.duckdb")
    eng = get_engine(url)
    schema.create(eng)
    return eng


@pytest.fixture
def fresh_engine(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Engine]:
    """A factory of new, empty databases with the schema: one per example of a property test.
    tests/postgres/conftest.py gives the same on PostgreSQL."""

    def make() -> Engine:
        engine = get_engine(f"duckdb:///{tmp_path_factory.mktemp('fresh') / 'db.duckdb'}")
        schema.create(engine)
        return engine

    return make


@pytest.fixture
def fresh_seeded(seeded_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Engine]:
    """A factory of new copies of the seeded database: one per example of a property test."""

    def make() -> Engine:
        path = tmp_path_factory.mktemp("seeded") / "seeded.duckdb"
        shutil.copy(seeded_template, path)
        return get_engine(f"duckdb:///{path}")

    return make


@pytest.fixture
def seeded_engine(seeded_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """A copy of the seeded database, named by FUND_DATABASE_URL."""
    path = tmp_path / "seeded.duckdb"
    shutil.copy(seeded_template, path)
    return get_engine(_use_database(monkeypatch, path))


TEST_REASON = "テストのための記帳"


@contextmanager
def arranged(engine: Engine) -> Iterator[Session]:
    """A transaction for a test's starting data written directly (年度, users, history as earlier
    years left it), committed with a loading audit row like `fund seed`'s: every watched change needs
    one, and the data then verifies like seeded data."""
    with write_session(engine) as session:
        yield session
        audit.record(
            session, actor=SEED_ACTOR, action=AuditAction.seed, entity="database", reason="テストの前提データ"
        )


def posting(data: dict[str, object], *, today: date | None = None) -> ledger.LedgerEntryCreate:
    """`ledger.validate_entry` with what the form asks of a posting whose test is about something
    else: a reason (needed when dated in a past 年度) and, for a drawdown without 配分, the
    exception's reason. Tests of those rules call `validate_entry` themselves."""
    defaults: dict[str, object] = {"reason": TEST_REASON}
    if data.get("allocation_id") is None:
        defaults["unallocated_reason"] = TEST_REASON
    return ledger.validate_entry(defaults | data, today=today or clock.today_jst())


def post_approved(
    engine: Engine, *, actor: Actor, entry: ledger.LedgerEntryCreate, today: date | None = None
) -> LedgerEntry:
    """A posting whose test is about something else: registered by `actor` and, when it needs the
    second approval (no 配分, above the threshold), approved by a 幹部 at once."""
    from fund import drawdowns
    from fund.models import DrawdownRequest

    done = drawdowns.post_or_request(engine, actor=actor, entry=entry, today=today)
    if isinstance(done, DrawdownRequest):
        approver = make_actor(Role.executive, login="test_approver")
        return drawdowns.approve(engine, actor=approver, request_id=done.id or 0)
    return done


def adopted_copies(engine: Engine, *, year: int, status: str = "adopted") -> int:
    """The FY2024 proposals again, for `year` and already decided (`status`): the optimiser's
    candidates. Written directly, as a department's history would be. Returns how many."""
    from sqlmodel import select

    from fund.models import Proposal

    with arranged(engine) as session:
        rows = session.exec(select(Proposal).where(Proposal.fiscal_year == 2024)).all()
        for p in rows:
            session.add(
                Proposal.model_validate(
                    p.model_dump(exclude={"id"}) | {"fiscal_year": year, "status": status}
                )
            )
    return len(rows)


def approved_allocation(engine: Engine, project: str, fund_yen: int, year: int = 2026) -> int:
    """An allocation registered by 審査担当 and approved by 幹部 (maker–checker)."""
    project_id = int(query_df(engine, "SELECT id FROM project WHERE name = :n", {"n": project})["id"].iloc[0])
    proposed = allocation.propose_allocation(
        engine,
        actor=make_actor(Role.screener),
        allocation=allocation.validate_allocation(
            {
                "project_id": project_id,
                "fiscal_year": year,
                "project_cost_yen": fund_yen * 2,
                "fund_share_yen": fund_yen,
            }
        ),
    )
    assert proposed.id is not None
    allocation.approve_allocation(engine, actor=make_actor(Role.executive), allocation_id=proposed.id)
    return proposed.id


def make_actor(
    role: Role = Role.admin, *, login: str | None = None, department_id: int | None = None
) -> Actor:
    return Actor(
        login=login or f"test_{role.value}",
        role=role,
        department_id=department_id,
        display_name=f"テスト{role.value}",
    )


@pytest.fixture
def admin() -> Actor:
    return make_actor(Role.admin)


def ids(engine: Engine) -> dict[str, int]:
    """Department ids by name and category ids by code."""
    dept = query_df(engine, "SELECT id, name FROM department")
    cat = query_df(engine, "SELECT id, code FROM category")
    return {
        **dict(zip(dept["name"], dept["id"], strict=True)),
        **dict(zip(cat["code"], cat["id"], strict=True)),
    }


REVIEWERS = ("review_ichiro", "review_jiro")  # two 審査担当 of no department


def reviewed_by_two(engine: Engine, proposal_id: int, *, score: int = 4) -> int:
    """The two counted, complete reviews that adoption needs, given the way the bureau gives them:
    a round of the proposal's 年度 (created once), two 審査担当, four perspectives each; the round."""
    year = int(
        query_df(engine, "SELECT fiscal_year FROM proposal WHERE id = :p", {"p": proposal_id})[
            "fiscal_year"
        ].iloc[0]
    )
    system = make_actor(Role.admin, login="test_reviews_admin")
    users = query_df(
        engine,
        "SELECT id, login FROM app_user WHERE login IN (:a, :b)",
        dict(zip("ab", REVIEWERS, strict=True)),
    )
    for login in set(REVIEWERS) - set(users["login"]):
        auth.create_user(engine, actor=system, login=login, role=Role.screener, password=None)
    users = query_df(
        engine,
        "SELECT id, login FROM app_user WHERE login IN (:a, :b)",
        dict(zip("ab", REVIEWERS, strict=True)),
    )
    name = "採択前の審査"
    found = query_df(
        engine, "SELECT id FROM screening_round WHERE fiscal_year = :y AND name = :n", {"y": year, "n": name}
    )
    round_id = (
        int(found["id"].iloc[0])
        if len(found)
        else screening.create_round(engine, actor=system, fiscal_year=year, name=name).id or 0
    )
    screening.assign_reviewers(
        engine,
        actor=system,
        round_id=round_id,
        proposal_ids=[proposal_id],
        reviewer_ids=users["id"].astype(int).tolist(),
    )
    mine = query_df(
        engine,
        "SELECT ra.id, u.login FROM review_assignment ra JOIN app_user u ON u.id = ra.reviewer_id"
        " WHERE ra.round_id = :r AND ra.proposal_id = :p",
        {"r": round_id, "p": proposal_id},
    )
    for assignment_id, login in zip(mine["id"].astype(int), mine["login"], strict=True):
        screening.save_scores(
            engine,
            actor=make_actor(Role.screener, login=login),
            assignment_id=assignment_id,
            entries=[{"perspective": p, "score": score} for p in screening.PERSPECTIVES],
        )
    return round_id


def make_proposal(engine: Engine, year: int, **overrides: Any) -> dict[str, Any]:
    """A complete, valid proposal for `year` (the save_proposal input), with `overrides` applied."""
    i = ids(engine)
    data: dict[str, Any] = {
        "project_name": "オンライン健診予約事業",
        "department_id": i["健康福祉部"],
        "category_id": i["social_issue_life"],
        "fiscal_year": year,
        "meets_req1": True,
        "req1_reason": "健診予約をオンライン化し、住民の来庁・電話の負担をなくす。",
        "summary": "市町の健診予約をスマートフォンで完結させる。",
        "purpose": "受診率の向上と予約業務の削減",
        "problem": "電話予約が平日日中に集中し、つながりにくい。",
        "cost_lines": [
            {"fiscal_year": year, "project_cost_yen": 30_000_000, "fund_share_yen": 20_000_000, "note": ""},
            {"fiscal_year": year + 1, "project_cost_yen": 5_000_000, "fund_share_yen": 0, "note": "運用経費"},
        ],
        "national_funds_yen": 5_000_000,
        "other_funds_yen": 0,
        "expected_users": 40_000,
        "uses_per_user_per_year": 1.5,
        "procedures_per_year": 60_000,
        "minutes_saved_per_procedure": 20,
        "novelty": "prefecture_first",
        "novelty_note": "県内市町で初の共同予約基盤",
        "kpis": [
            {"name": "オンライン予約率", "unit": "%", "baseline": 0, "target_first": 20, "target_later": 50},
        ],
    }
    return data | overrides
