"""`fund generate`: a synthetic, national-scale database for benchmarks and capacity planning.

The reference data (年度, departments, categories, the FY2024 projects and ledger, the sample
screening round) comes from `fund seed`; on top of it come N synthetic proposals of a programme in
which many municipalities apply every year: projects running several 年度, proposals with multi-year
cost lines, screening rounds with ~5 review scores per proposal, allocations for funded proposals,
~10 ledger entries per proposal and KPIs with targets and actuals. Every synthetic name carries
「（合成）」 so nobody mistakes it for real data.

Rows are written with DuckDB's native bulk insert from registered DataFrames (ids from the sequence
defaults; foreign keys resolved by joins on natural keys), not through the ORM: 100,000 proposals take
seconds, not hours.

Rules that still hold for the generated data:
- The ledger never goes negative: each funded allocation is deposited (積立) on 1 April of its 年度
  before any of its drawdowns (取崩し, paid in 12–28 instalments between mid-April and 31 March)
  and the instalments add up exactly to the allocation's 基金充当額.
- Postings respect the 年度 rules (a posting date belongs to its 年度, or to the previous one in
  April–May, the 出納整理期間).
- The audit chain stays intact: the generated rows get no audit rows of their own; one audit row
  (action `generate`) records the generation with its seed and row counts.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text

from fund import audit, clock, integrity, kpi
from fund.db import checkpoint, is_duckdb, write_session
from fund.errors import RuleViolation
from fund.models import AuditAction
from fund.ops.seed import seed

GENERATOR_ACTOR = "generate"
MARK = "（合成）"
FIRST_YEAR = 2019
LAST_YEAR = 2026
YEARS = list(range(FIRST_YEAR, LAST_YEAR + 1))
REVIEWERS = 240

MUNICIPALITIES = [
    "札幌市", "函館市", "青森市", "盛岡市", "仙台市", "秋田市", "山形市", "福島市", "水戸市", "宇都宮市",
    "前橋市", "さいたま市", "千葉市", "八王子市", "横浜市", "新潟市", "富山市", "金沢市", "福井市", "甲府市",
    "長野市", "岐阜市", "静岡市", "名古屋市", "津市", "大津市", "京都市", "堺市", "神戸市", "奈良市",
    "和歌山市", "鳥取市", "松江市", "岡山市", "広島市", "山口市", "下関市", "宇部市", "周南市", "岩国市",
    "徳島市", "高松市", "松山市", "高知市", "北九州市", "佐賀市", "長崎市", "熊本市", "大分市", "宮崎市",
    "鹿児島市", "那覇市",
]  # fmt: skip
SERVICES = [
    ("オンライン服薬指導", "健康/医療"), ("遠隔見守り", "介護"), ("母子健康手帳アプリ", "子ども"),
    ("学習ログ分析", "教育"), ("防災情報一斉配信", "防災"), ("AIデマンド交通", "交通"),
    ("キャッシュレス観光周遊", "観光"), ("スマート農業センシング", "農業"), ("漁獲データ共有", "水産"),
    ("電子申請", "行政"), ("窓口予約", "行政"), ("インフラ点検ドローン", "土木"),
    ("デジタル人材育成講座", "人材"), ("スマホ教室", "包摂"), ("公共施設予約", "行政"),
    ("オープンデータ基盤", "基盤"), ("AI議事録", "行政"), ("河川水位監視", "防災"),
]  # fmt: skip
# (status, share) for past 年度 and for the latest, still open 年度
PAST_STATUS = [
    ("funded", 0.50),
    ("rejected", 0.38),
    ("adopted", 0.04),
    ("on_hold", 0.05),
    ("in_review", 0.03),
]
OPEN_STATUS = [
    ("draft", 0.08),
    ("submitted", 0.12),
    ("in_review", 0.25),
    ("adopted", 0.05),
    ("rejected", 0.15),
    ("on_hold", 0.05),
    ("funded", 0.30),
]
SCREENED = ["in_review", "adopted", "rejected", "on_hold", "funded"]
LEAVES = [
    "social_issue_life",
    "social_issue_industry",
    "foundation_infrastructure",
    "foundation_talent",
    "foundation_inclusion",
]
NOVELTIES = ["national_first", "prefecture_first", "proven_elsewhere", "expansion"]

ProgressFn = Callable[[str, int, int], None]  # (step description, done, total), like fund.backup


@dataclass
class GenerateReport:
    proposals: int
    seed: int
    inserted: dict[str, int] = field(default_factory=dict)


def _split_int(total: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """Split each total into `parts` integer instalments that add up exactly (remainder on the first)."""
    base = np.repeat(total // parts, parts)
    first = np.concatenate([[0], np.cumsum(parts)[:-1]])
    base[first] += total - (total // parts) * parts
    return base


def _date_offsets(start: date, days: np.ndarray) -> np.ndarray:
    return np.datetime64(start.isoformat(), "D") + days.astype("timedelta64[D]")


class _Loader:
    """Bulk inserts through DuckDB's native API on the connection of the engine's transaction."""

    def __init__(self, dc: Any) -> None:
        self.dc = dc
        self.inserted: dict[str, int] = {}

    def insert(self, table: str, df: pd.DataFrame, *, columns: str, select: str) -> None:
        """Register `df` as `src` and run INSERT INTO table (columns) <select> (which reads from src).

        Required columns the statement leaves out get the model's own default, so a field added to
        the model later does not break the generator.
        """
        names = [c.strip() for c in columns.split(",")]
        extra, values = _model_defaults(table, names)
        if extra:
            columns = ", ".join(names + extra)
            head, sep, tail = select.partition(" FROM src")
            select = head + "".join(", ?" for _ in extra) + sep + tail
        self.dc.register("src", df)
        try:
            self.dc.execute(f"INSERT INTO {table} ({columns}) {select}", values)
        finally:
            self.dc.unregister("src")
        self.inserted[table] = self.inserted.get(table, 0) + len(df)


def _model_defaults(table: str, given: list[str]) -> tuple[list[str], list[Any]]:
    """Required columns of `table` missing from `given`, with the model's default values."""
    import enum
    import json

    from sqlmodel import SQLModel

    model = next(
        m.class_ for m in SQLModel._sa_registry.mappers if getattr(m.class_, "__tablename__", None) == table
    )
    names: list[str] = []
    values: list[Any] = []
    for column in SQLModel.metadata.tables[table].columns:
        if column.name in given or column.nullable or column.server_default is not None:
            continue
        value = model.model_fields[column.name].get_default(call_default_factory=True)
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, list | dict):
            value = json.dumps(value, ensure_ascii=False)
        names.append(column.name)
        values.append(value)
    return names, values


def generate(
    engine: Engine, *, proposals: int, seed_value: int = 1, progress: ProgressFn | None = None
) -> GenerateReport:
    """Fill an empty DuckDB database with `proposals` synthetic proposals and everything that hangs on them.

    Raises RuleViolation when the engine is not DuckDB or the database already holds generated data.
    """
    if not is_duckdb(engine):
        raise RuleViolation(
            "合成データの生成は DuckDB にのみ対応しています。DuckDB に生成してから "
            "`fund migrate --to URL` で PostgreSQL へ移してください。"
        )
    if proposals < 1:
        raise RuleViolation("提案件数は1件以上を指定してください。")
    steps = 9
    step = 0
    if progress is not None:
        progress("準備", 0, steps)

    def tick(label: str) -> None:
        nonlocal step
        step += 1
        if progress is not None:
            progress(label, step, steps)

    seed(engine)
    with engine.connect() as conn:
        already = conn.execute(
            text("SELECT COUNT(*) FROM project WHERE name LIKE :m"), {"m": f"%{MARK}%"}
        ).scalar()
    if already:
        raise RuleViolation(
            "このデータベースには既に合成データがあります。新しいファイルを指定してください。"
        )
    tick("基準データ")

    rng = np.random.default_rng(seed_value)
    with engine.begin() as conn:
        dc: Any = conn.connection.driver_connection
        # Stored timestamps are UTC instants from the one clock, not DuckDB's clock in the server's zone.
        generated_at = clock.now_utc().replace(tzinfo=None).isoformat()
        dc.execute(f"SET VARIABLE generated_at = TIMESTAMP '{generated_at}'")
        load = _Loader(dc)
        _fiscal_years(dc)
        projects, props = _projects_and_proposals(load, rng, proposals)
        tick("事業・提案")
        _cost_lines_and_events(load, rng, props)
        tick("複数年度の経費・履歴")
        _screening(load, rng, dc, props)
        tick("審査・採点")
        allocs = _allocations(load, rng, props, projects)
        tick("年度配分")
        _ledger(load, rng, dc, allocs)
        tick("基金台帳")
        _kpis(load, rng, projects)
        kpi.refresh_years(conn)
        tick("成果指標")
    report = GenerateReport(proposals=proposals, seed=seed_value, inserted=load.inserted)
    with write_session(engine) as session:
        row = audit.record(
            session,
            actor=GENERATOR_ACTOR,
            action=AuditAction.generate,
            entity="database",
            after={"proposals": proposals, "seed": seed_value, "inserted": report.inserted},
            reason="ベンチマーク用の合成データ（名称に「（合成）」）",
        )
        integrity.baseline(session, row)  # the bulk-inserted rows get their after-images
    tick("監査ログ")
    checkpoint(engine)
    tick("書き出し")
    return report


def _fiscal_years(dc: Any) -> None:
    for year in YEARS:
        dc.execute(
            "INSERT INTO fiscal_year (year, closed) SELECT ?, FALSE "
            "WHERE NOT EXISTS (SELECT 1 FROM fiscal_year WHERE year = ?)",
            [year, year],
        )


def _projects_and_proposals(
    load: _Loader, rng: np.random.Generator, n: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    # Later 年度 have more applicants: first years weighted 1 … 8; projects run 1–5 年度.
    n_proj = n  # more than enough; trimmed below
    weights = np.arange(1, len(YEARS) + 1, dtype=float)
    first = rng.choice(YEARS, size=n_proj, p=weights / weights.sum())
    length = rng.choice([1, 2, 3, 4, 5], size=n_proj, p=[0.2, 0.25, 0.25, 0.18, 0.12])
    length = np.minimum(length, LAST_YEAR - first + 1)
    cum = np.cumsum(length)
    keep = int(np.searchsorted(cum, n)) + 1
    first, length = first[:keep], length[:keep]
    length[-1] -= int(cum[keep - 1] - n)
    idx = np.arange(keep)
    muni = rng.integers(0, len(MUNICIPALITIES), size=keep)
    svc = rng.integers(0, len(SERVICES), size=keep)
    dept = rng.integers(1, 10, size=keep)  # sort_order buckets 10 … 90
    leaf = rng.choice(
        LEAVES,
        size=keep,
        p=[0.4, 0.4, 0.08, 0.07, 0.05],
    )
    names = [
        f"{MUNICIPALITIES[m]}{SERVICES[s][0]}事業{MARK}{i + 1:06d}"
        for i, m, s in zip(idx, muni, svc, strict=True)
    ]
    projects = pd.DataFrame(
        {
            "name": names,
            "dept_order": dept * 10,
            "category_code": leaf,
            "summary": [
                f"{MUNICIPALITIES[m]}で{SERVICES[s][0]}を導入する（{SERVICES[s][1]}分野）"
                for m, s in zip(muni, svc, strict=True)
            ],
            "first_fiscal_year": first.astype("int64"),
        }
    )
    load.insert(
        "project",
        projects,
        select="SELECT src.name, d.id, c.id, src.summary, src.first_fiscal_year FROM src "
        "JOIN department d ON d.sort_order = src.dept_order JOIN category c ON c.code = src.category_code",
        columns="name, department_id, category_id, summary, first_fiscal_year",
    )
    projects["project_idx"] = idx

    # One proposal per project and 年度 it runs.
    p_idx = np.repeat(idx, length)
    starts = np.repeat(np.cumsum(length) - length, length)
    year = first[p_idx] + (np.arange(len(p_idx)) - starts)
    m = len(p_idx)
    status = np.empty(m, dtype=object)
    past = year < LAST_YEAR
    for mask, dist in ((past, PAST_STATUS), (~past, OPEN_STATUS)):
        labels, probs = zip(*dist, strict=True)
        status[mask] = rng.choice(labels, size=int(mask.sum()), p=np.array(probs) / sum(probs))
    cost = (np.round(rng.lognormal(mean=np.log(20_000_000), sigma=0.9, size=m), -3)).astype("int64")
    cost = np.clip(cost, 1_000_000, 2_000_000_000)
    share = (np.round(cost * rng.uniform(0.3, 1.0, size=m), -3)).astype("int64")
    national = (np.round((cost - share) * rng.uniform(0.0, 0.8, size=m), -3)).astype("int64")
    users = np.round(rng.lognormal(np.log(5_000), 1.3, size=m)).astype("int64")
    props = pd.DataFrame(
        {
            "project_name": np.array(names, dtype=object)[p_idx],
            "fiscal_year": year.astype("int64"),
            "status": status,
            "summary": projects["summary"].to_numpy()[p_idx],
            "meets_req1": np.isin(leaf[p_idx], ["social_issue_life", "social_issue_industry"]),
            "meets_req2": ~np.isin(leaf[p_idx], ["social_issue_life", "social_issue_industry"]),
            "meets_req3": rng.random(m) < 0.6,
            "project_cost_yen": cost,
            "fund_share_yen": share,
            "national_funds_yen": national,
            "other_funds_yen": cost - share - national,
            "expected_users": users,
            "uses_per_user_per_year": np.round(rng.lognormal(np.log(4), 1.0, size=m), 1),
            "procedures_per_year": np.round(users * rng.uniform(0.1, 2.0, size=m)).astype("int64"),
            "minutes_saved_per_procedure": np.round(rng.uniform(2, 90, size=m), 0),
            "novelty": rng.choice(NOVELTIES, size=m, p=[0.05, 0.2, 0.45, 0.3]),
        }
    )
    load.insert(
        "proposal",
        props,
        select="SELECT p.id, src.fiscal_year, src.status, src.summary, src.meets_req1, src.meets_req2, src.meets_req3, "
        "src.project_cost_yen, src.fund_share_yen, src.national_funds_yen, src.other_funds_yen, "
        "src.expected_users, src.uses_per_user_per_year, src.procedures_per_year, "
        "src.minutes_saved_per_procedure, src.novelty, TRUE, 1, 'generate', getvariable('generated_at'), getvariable('generated_at') "
        "FROM src JOIN project p ON p.name = src.project_name",
        columns="project_id, fiscal_year, status, summary, meets_req1, meets_req2, meets_req3, "
        "project_cost_yen, fund_share_yen, national_funds_yen, other_funds_yen, expected_users, "
        "uses_per_user_per_year, procedures_per_year, minutes_saved_per_procedure, novelty, "
        "is_sample, version, created_by, created_at, updated_at",
    )
    props["project_idx"] = p_idx
    return projects, props


# Resolves a generated proposal's id from its project's name and 年度.
_PROPOSAL_JOIN = "FROM src JOIN project pj ON pj.name = src.project_name JOIN proposal pr ON pr.project_id = pj.id AND pr.fiscal_year = src.fiscal_year"


def _cost_lines_and_events(load: _Loader, rng: np.random.Generator, props: pd.DataFrame) -> None:
    # The proposal's own 年度 plus 0–2 years of running costs (20–40% of the first year).
    extra = rng.choice([0, 1, 2], size=len(props), p=[0.4, 0.35, 0.25])
    n_lines = 1 + extra
    rep = np.repeat(np.arange(len(props)), n_lines)
    offset = np.arange(len(rep)) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines)
    ratio = np.where(offset == 0, 1.0, rng.uniform(0.2, 0.4, size=len(rep)))
    lines = pd.DataFrame(
        {
            "project_name": props["project_name"].to_numpy()[rep],
            "fiscal_year": props["fiscal_year"].to_numpy()[rep],
            "line_year": props["fiscal_year"].to_numpy()[rep] + offset,
            "project_cost_yen": np.round(props["project_cost_yen"].to_numpy()[rep] * ratio, -3).astype(
                "int64"
            ),
            "fund_share_yen": np.round(props["fund_share_yen"].to_numpy()[rep] * ratio, -3).astype("int64"),
            "note": np.where(offset == 0, "初年度", "運用経費"),
        }
    )
    load.insert(
        "proposal_cost_line",
        lines,
        select=f"SELECT pr.id, src.line_year, src.project_cost_yen, src.fund_share_yen, src.note {_PROPOSAL_JOIN}",
        columns="proposal_id, fiscal_year, project_cost_yen, fund_share_yen, note",
    )
    events = props[["project_name", "fiscal_year", "status"]]
    load.insert(
        "proposal_event",
        events,
        select=f"SELECT pr.id, NULL, src.status, 'generate', '合成データとして登録', getvariable('generated_at') {_PROPOSAL_JOIN}",
        columns="proposal_id, from_status, to_status, actor, reason, occurred_at",
    )


def _screening(load: _Loader, rng: np.random.Generator, dc: Any, props: pd.DataFrame) -> None:
    import json
    import tomllib

    from fund.settings import get_settings

    with (get_settings().seed_dir / "screening.toml").open("rb") as fh:
        anchors = json.dumps(tomllib.load(fh)["anchors"], ensure_ascii=False)
    reviewers = pd.DataFrame(
        {
            "login": [f"gen_reviewer_{i:04d}" for i in range(1, REVIEWERS + 1)],
            "display_name": [f"審査担当{i:04d}{MARK}" for i in range(1, REVIEWERS + 1)],
        }
    )
    load.insert(
        "app_user",
        reviewers,
        select="SELECT src.login, src.display_name, 'screener', FALSE, TRUE, 0, getvariable('generated_at') FROM src",
        columns="login, display_name, role, active, is_sample, failed_logins, created_at",
    )
    rounds = pd.DataFrame({"fiscal_year": YEARS, "name": [f"{y}年度 全国公募 審査{MARK}" for y in YEARS]})
    load.insert("screening_round", rounds, select="SELECT src.fiscal_year, src.name, TRUE FROM src",
                columns="fiscal_year, name, is_sample")  # fmt: skip
    dc.execute(
        "INSERT INTO rubric_version (round_id, version, weights, anchors, created_by, created_at) "
        "SELECT id, 1, '[25, 25, 25, 25]', ?, 'generate', getvariable('generated_at') FROM screening_round WHERE name LIKE ?",
        [anchors, f"%{MARK}%"],
    )
    load.inserted["rubric_version"] = len(YEARS)

    screened = props[props["status"].isin(SCREENED)]
    # 1 or 2 reviewers per screened proposal (~5 scores per proposal overall); 2% recused.
    n_rev = np.where(rng.random(len(screened)) < 0.45, 2, 1)
    rep = np.repeat(np.arange(len(screened)), n_rev)
    first_rev = rng.integers(1, REVIEWERS + 1, size=len(screened))
    second = np.arange(len(rep)) - np.repeat(np.cumsum(n_rev) - n_rev, n_rev)
    reviewer = (first_rev[rep] - 1 + second * 7) % REVIEWERS + 1
    recused = rng.random(len(rep)) < 0.02
    assignments = pd.DataFrame(
        {
            "project_name": screened["project_name"].to_numpy()[rep],
            "fiscal_year": screened["fiscal_year"].to_numpy()[rep],
            "reviewer_login": [f"gen_reviewer_{r:04d}" for r in reviewer],
            "recused": recused,
            "recusal_reason": np.where(recused, "利害関係（所属先の事業）", ""),
        }
    )
    round_join = (
        f"{_PROPOSAL_JOIN} JOIN screening_round sr ON sr.fiscal_year = src.fiscal_year AND sr.name LIKE '%{MARK}%' "
        "JOIN app_user u ON u.login = src.reviewer_login"
    )
    load.insert(
        "review_assignment",
        assignments,
        select=f"SELECT sr.id, pr.id, u.id, src.recused, src.recusal_reason {round_join}",
        columns="round_id, proposal_id, reviewer_id, recused, recusal_reason",
    )
    scored = assignments[~assignments["recused"]]
    k = len(scored)
    # A proposal's quality drives all four perspectives, with reviewer noise.
    quality = rng.normal(3.0, 0.8, size=k)
    scores = np.clip(np.round(quality[:, None] + rng.normal(0, 0.7, size=(k, 4))), 1, 5).astype("int64")
    rows = pd.DataFrame(
        {
            "project_name": np.repeat(scored["project_name"].to_numpy(), 4),
            "fiscal_year": np.repeat(scored["fiscal_year"].to_numpy(), 4),
            "reviewer_login": np.repeat(scored["reviewer_login"].to_numpy(), 4),
            "perspective": np.tile(np.arange(1, 5), k),
            "score": scores.ravel(),
        }
    )
    load.insert(
        "review_score",
        rows,
        select=f"SELECT ra.id, src.perspective, src.score, '', rv.id, TRUE, getvariable('generated_at') {round_join} "
        "JOIN review_assignment ra ON ra.round_id = sr.id AND ra.proposal_id = pr.id AND ra.reviewer_id = u.id "
        "JOIN rubric_version rv ON rv.round_id = sr.id",
        columns="assignment_id, perspective, score, comment, rubric_version_id, is_sample, scored_at",
    )


def _allocations(
    load: _Loader, rng: np.random.Generator, props: pd.DataFrame, projects: pd.DataFrame
) -> pd.DataFrame:
    funded = props[props["status"] == "funded"].reset_index(drop=True)
    n = len(funded)
    approved = (funded["fiscal_year"].to_numpy() < LAST_YEAR) | (rng.random(n) < 0.8)
    initial = pd.DataFrame(
        {
            "project_name": funded["project_name"],
            "fiscal_year": funded["fiscal_year"],
            "budget_stage": "initial",
            "project_cost_yen": funded["project_cost_yen"],
            "fund_share_yen": funded["fund_share_yen"],
            "status": np.where(approved, "approved", "proposed"),
        }
    )
    # 10% get a 補正 allocation on top (5–30% of the initial amounts).
    sup_mask = rng.random(n) < 0.1
    ratio = rng.uniform(0.05, 0.3, size=int(sup_mask.sum()))
    supplementary = initial[sup_mask].copy()
    supplementary["budget_stage"] = "supplementary"
    supplementary["project_cost_yen"] = np.round(
        supplementary["project_cost_yen"].to_numpy() * ratio, -3
    ).astype("int64")
    supplementary["fund_share_yen"] = np.round(supplementary["fund_share_yen"].to_numpy() * ratio, -3).astype(
        "int64"
    )
    allocs = pd.concat([initial, supplementary], ignore_index=True)
    load.insert(
        "allocation",
        allocs,
        select="SELECT pj.id, pr.id, src.fiscal_year, src.budget_stage, pj.category_id, src.project_cost_yen, "
        "src.fund_share_yen, FALSE, src.status, 'generate', "
        "CASE WHEN src.status = 'approved' THEN 'generate' END, "
        "CASE WHEN src.status = 'approved' THEN getvariable('generated_at') END, getvariable('generated_at') "
        f"{_PROPOSAL_JOIN}",
        columns="project_id, proposal_id, fiscal_year, budget_stage, category_id, project_cost_yen, "
        "fund_share_yen, fund_share_is_estimate, status, proposed_by, approved_by, approved_at, created_at",
    )
    # 再掲: 10% of the funded projects are listed again under another leaf.
    leaves = np.array(LEAVES)
    rel = initial[rng.random(n) < 0.1]
    main_leaf = projects["category_code"].to_numpy()[funded["project_idx"].to_numpy()[rel.index]]
    main_pos = np.array([LEAVES.index(c) for c in main_leaf], dtype="int64")
    other = leaves[(main_pos + rng.integers(1, len(LEAVES), size=len(rel))) % len(LEAVES)]
    relist = pd.DataFrame(
        {"project_name": rel["project_name"], "fiscal_year": rel["fiscal_year"], "code": other}
    )
    load.insert(
        "relisting",
        relist,
        select="SELECT pj.id, src.fiscal_year, c.id FROM src JOIN project pj ON pj.name = src.project_name "
        "JOIN category c ON c.code = src.code",
        columns="project_id, fiscal_year, category_id",
    )
    return initial[initial["status"] == "approved"].reset_index(drop=True)


def _ledger(load: _Loader, rng: np.random.Generator, dc: Any, allocs: pd.DataFrame) -> None:
    n = len(allocs)
    year = allocs["fiscal_year"].to_numpy()
    share = allocs["fund_share_yen"].to_numpy().astype("int64")
    names = allocs["project_name"].to_numpy()
    year_start = np.array([np.datetime64(f"{y}-04-01", "D") for y in YEARS])
    starts = year_start[year - FIRST_YEAR]

    # 積立 on 1 April of the 年度: the allocation's 基金充当額, before any of its drawdowns.
    deposits = pd.DataFrame(
        {
            "posted_on": starts,
            "fiscal_year": year,
            "kind": "deposit",
            "amount_yen": share,
            "memo": [f"{nm}分 財源の積立" for nm in names],
            "project_name": names,
        }
    )
    # 取崩し in 12–28 instalments between 15 April and 31 March of the same 年度.
    parts = rng.integers(12, 29, size=n)
    rep = np.repeat(np.arange(n), parts)
    days = rng.integers(14, 365, size=len(rep))
    draws = pd.DataFrame(
        {
            "posted_on": starts[rep] + days.astype("timedelta64[D]"),
            "fiscal_year": year[rep],
            "kind": "drawdown",
            "amount_yen": _split_int(share, parts),
            "memo": "事業費の支払に充当",
            "project_name": names[rep],
        }
    )
    # 返還・戻入 in May (出納整理期間, booked to the 年度): 15% of allocations return 1–5%.
    ref_mask = rng.random(n) < 0.15
    refunds = pd.DataFrame(
        {
            "posted_on": starts[ref_mask] + np.timedelta64(409, "D"),
            "fiscal_year": year[ref_mask],
            "kind": "refund",
            "amount_yen": np.maximum(
                np.round(share[ref_mask] * rng.uniform(0.01, 0.05, ref_mask.sum()), -3), 1000
            ).astype("int64"),
            "memo": "精算による返還",
            "project_name": names[ref_mask],
        }
    )
    months = np.array(
        [
            np.datetime64(f"{y + (1 if m < 4 else 0)}-{m:02d}-28", "D")
            for y in YEARS
            for m in (*range(4, 13), 1, 2, 3)
        ]
    )
    interest = pd.DataFrame(
        {
            "posted_on": months,
            "fiscal_year": np.repeat(YEARS, 12),
            "kind": "interest",
            "amount_yen": rng.integers(50_000, 400_000, size=len(months)),
            "memo": f"運用益{MARK}",
            "project_name": None,
        }
    )
    entries = pd.concat([deposits, draws, refunds, interest], ignore_index=True)
    entries = entries.sort_values("posted_on", kind="stable").reset_index(drop=True)
    entries["posted_on"] = pd.to_datetime(entries["posted_on"]).dt.date
    load.insert(
        "ledger_entry",
        entries,
        select="SELECT src.posted_on, src.fiscal_year, src.kind, src.amount_yen, src.memo, pj.id, a.id, "
        "FALSE, 'generate', getvariable('generated_at') FROM src LEFT JOIN project pj ON pj.name = src.project_name "
        "LEFT JOIN allocation a ON a.project_id = pj.id AND a.fiscal_year = src.fiscal_year "
        "AND a.budget_stage = 'initial' ORDER BY src.posted_on",
        columns="posted_on, fiscal_year, kind, amount_yen, memo, project_id, allocation_id, is_estimate, "
        "created_by, created_at",
    )
    # 取消: 0.2% of the drawdowns reversed on the same day (money back; the balance only rises).
    dc.execute(
        "INSERT INTO ledger_entry (posted_on, fiscal_year, kind, amount_yen, memo, project_id, allocation_id, "
        "reverses_entry_id, is_estimate, created_by, created_at) "
        "SELECT posted_on, fiscal_year, 'reversal', amount_yen, '取消: 台帳番号' || CAST(id AS VARCHAR) || "
        "'（支払先の誤り）', project_id, allocation_id, id, FALSE, 'generate', getvariable('generated_at') "
        "FROM ledger_entry WHERE created_by = 'generate' AND kind = 'drawdown' AND id % 500 = 0"
    )


def _kpis(load: _Loader, rng: np.random.Generator, projects: pd.DataFrame) -> None:
    n = len(projects)
    per = np.where(rng.random(n) < 0.3, 2, 1)
    rep = np.repeat(np.arange(n), per)
    k = len(rep)
    second = np.arange(k) - np.repeat(np.cumsum(per) - per, per)
    kinds = np.where(second == 0, "citizen_feel", rng.choice(["output", "outcome"], size=k))
    lower = rng.random(k) < 0.15
    baseline = np.round(rng.lognormal(np.log(500), 1.0, size=k))
    indicator_names = np.where(second == 0, "利用者数", np.where(lower, "手続処理日数", "導入件数"))
    units = np.where(second == 0, "人", np.where(lower, "日", "件"))
    first = projects["first_fiscal_year"].to_numpy()[rep]
    indicators = pd.DataFrame(
        {
            "project_name": projects["name"].to_numpy()[rep],
            "kind": kinds,
            "name": indicator_names,
            "unit": units,
            "baseline_value": baseline,
            "baseline_year": first - 1,
            "direction": np.where(lower, "lower", "higher"),
            "perspectives": np.where(second == 0, "[1]", np.where(lower, "[3]", "[1, 2]")),
        }
    )
    load.insert(
        "kpi_indicator",
        indicators,
        select="SELECT pj.id, src.kind, src.name, src.unit, src.baseline_value, src.baseline_year, src.direction, "
        "src.perspectives, '合成データ' FROM src JOIN project pj ON pj.name = src.project_name",
        columns="project_id, kind, name, unit, baseline_value, baseline_year, direction, perspectives, source_note",
    )
    # Targets for the first three 年度 (growing 15–40% a year); actuals up to the previous 年度.
    t_rep = np.repeat(np.arange(k), 3)
    t_off = np.tile(np.arange(3), k) + 1
    growth = rng.uniform(0.15, 0.4, size=len(t_rep))
    base = baseline[t_rep]
    lower_t = lower[t_rep]
    target = np.where(lower_t, base * (1 - 0.2 * t_off), base * (1 + growth) ** t_off)
    t_year = first[t_rep] + t_off - 1
    targets = pd.DataFrame(
        {
            "project_name": indicators["project_name"].to_numpy()[t_rep],
            "name": indicator_names[t_rep],
            "fiscal_year": t_year,
            "target_value": np.round(target, 1),
        }
    )
    ind_join = "FROM src JOIN project pj ON pj.name = src.project_name JOIN kpi_indicator i ON i.project_id = pj.id AND i.name = src.name"
    load.insert(
        "kpi_target", targets, select=f"SELECT i.id, src.fiscal_year, src.target_value {ind_join}",
        columns="indicator_id, fiscal_year, target_value",
    )  # fmt: skip
    measured = (t_year < LAST_YEAR) & (rng.random(len(t_rep)) < 0.8)
    perf = rng.normal(0.95, 0.2, size=len(t_rep))
    actual = np.where(lower_t, target / np.maximum(perf, 0.3), target * perf)
    actuals = targets[measured].copy()
    actuals["actual_value"] = np.round(actual[measured], 1)
    actuals["measured_on"] = [date(int(y) + 1, 5, 31) for y in actuals["fiscal_year"]]
    load.insert(
        "kpi_actual",
        actuals.drop(columns=["target_value"]),
        select=f"SELECT i.id, src.fiscal_year, src.actual_value, src.measured_on, '合成データ', TRUE, 'generate', getvariable('generated_at') {ind_join}",
        columns="indicator_id, fiscal_year, actual_value, measured_on, source, is_sample, entered_by, entered_at",
    )
