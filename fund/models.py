"""SQLModel entities. Money is integer yen in BIGINT columns; ids come from sequences.

No `from __future__ import annotations` here: it breaks SQLModel relationships.
"""

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Double, Index, Sequence, String, UniqueConstraint
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from fund import clock


def id_field(seq_name: str) -> Any:
    """Integer primary key from a named sequence (DuckDB has no SERIAL; PostgreSQL accepts the same DDL)."""
    seq = Sequence(seq_name, metadata=SQLModel.metadata)
    return Field(
        default=None,
        primary_key=True,
        sa_column_args=[seq],
        sa_column_kwargs={"server_default": seq.next_value()},
    )


def enum_column(enum_cls: type[enum.Enum]) -> Any:
    """Stored as the enum's value in a VARCHAR with a CHECK constraint (portable, readable in SQL)."""
    return SAEnum(
        enum_cls,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def yen_field(**kwargs: Any) -> Any:
    return Field(sa_type=BigInteger, **kwargs)


class AuditAction(str, enum.Enum):
    """What an audit row records; the value is stored in audit_log.action."""

    user_sign_in = "user.sign_in"
    user_sign_out = "user.sign_out"
    user_sign_in_refused = "user.sign_in_refused"
    user_lock = "user.lock"
    user_create = "user.create"
    user_password = "user.password"
    user_deactivate = "user.deactivate"
    user_reactivate = "user.reactivate"
    user_role = "user.role"
    user_oidc_link = "user.oidc_link"
    user_oidc_unlink = "user.oidc_unlink"
    user_oidc_bind = "user.oidc_bind"
    ledger_post = "ledger.post"
    ledger_reverse = "ledger.reverse"
    drawdown_request = "drawdown.request"
    drawdown_approve = "drawdown.approve"
    drawdown_reject = "drawdown.reject"
    drawdown_threshold = "drawdown.threshold"
    fiscal_year_close = "fiscal_year.close"
    fiscal_year_annual_cap = "fiscal_year.annual_cap"
    export = "export"
    database_backup = "database.backup"
    database_restore = "database.restore"
    database_upgrade = "database.upgrade"
    seed = "seed"
    migrate = "migrate"
    generate = "generate"
    project_create = "project.create"
    proposal_create = "proposal.create"
    proposal_update = "proposal.update"
    proposal_status = "proposal.status"
    proposal_override = "proposal.override"
    proposal_return = "proposal.return"
    proposal_withdraw = "proposal.withdraw"
    allocation_propose = "allocation.propose"
    allocation_approve = "allocation.approve"
    allocation_withdraw = "allocation.withdraw"
    allocation_revise = "allocation.revise"
    allocation_carry_over = "allocation.carry_over"
    allocation_change_approve = "allocation.change_approve"
    allocation_change_withdraw = "allocation.change_withdraw"
    allocation_lapse = "allocation.lapse"
    relisting_add = "relisting.add"
    scenario_create = "scenario.create"
    scenario_copy = "scenario.copy"
    scenario_edit = "scenario.edit"
    scenario_optimise = "scenario.optimise"
    scenario_promote = "scenario.promote"
    screening_round_create = "screening.round_create"
    screening_rubric_version = "screening.rubric_version"
    screening_assign = "screening.assign"
    screening_score = "screening.score"
    screening_declare_conflict = "screening.declare_conflict"
    screening_policy = "screening.policy"
    screening_decide = "screening.decide"
    kpi_actual_create = "kpi_actual.create"
    kpi_actual_update = "kpi_actual.update"
    rollout_create = "rollout.create"
    rollout_delete = "rollout.delete"


class KpiStatus(str, enum.Enum):
    """How an indicator stands in one 年度 (computed, never stored; labels in fund.labels)."""

    achieved = "achieved"  # 達成
    on_track = "on_track"  # 順調
    behind = "behind"  # 遅れ
    not_measured = "not_measured"  # 未計測: the 年度 has ended without an actual
    not_due = "not_due"  # 未到来


class Role(str, enum.Enum):
    department = "department"  # 事業担当
    screener = "screener"  # 審査担当
    executive = "executive"  # 幹部
    admin = "admin"  # 管理者


class ProposalStatus(str, enum.Enum):
    draft = "draft"  # 下書き
    submitted = "submitted"  # 提出済
    in_review = "in_review"  # 審査中
    adopted = "adopted"  # 採択
    rejected = "rejected"  # 不採択
    on_hold = "on_hold"  # 保留
    funded = "funded"  # 事業化


class BudgetStage(str, enum.Enum):
    initial = "initial"  # 当初
    supplementary = "supplementary"  # 補正
    emergency = "emergency"  # 専決


class AllocationStatus(str, enum.Enum):
    proposed = "proposed"  # 承認待ち
    approved = "approved"  # 承認済


class AllocationChangeKind(str, enum.Enum):
    revision = "revision"  # 補正（増額・減額。0円まで減らせば取消）
    carry_over = "carry_over"  # 翌年度繰越
    lapse = "lapse"  # 不用額（決算で確定）


class AllocationStep(str, enum.Enum):
    """A row of an allocation's history (`fund.allocation.history`); not stored as such."""

    request = "request"  # 要求: the department's proposal
    assessment = "assessment"  # 査定: the amount registered
    budget = "budget"  # 当初予算 / 補正予算 (by stage): the approval
    revision = "revision"  # 補正
    drawdown = "drawdown"  # 執行（取崩し）
    reversal = "reversal"  # 取崩しの取消
    carry_over = "carry_over"  # 繰越
    carried_in = "carried_in"  # 前年度からの繰越
    lapse = "lapse"  # 不用額


class RequestStatus(str, enum.Enum):
    pending = "pending"  # 承認待ち
    approved = "approved"  # 承認済（記帳された）
    rejected = "rejected"  # 却下


class LedgerKind(str, enum.Enum):
    deposit = "deposit"  # 積立
    interest = "interest"  # 運用益
    drawdown = "drawdown"  # 取崩し
    refund = "refund"  # 返還・戻入
    reversal = "reversal"  # 取消（逆仕訳）


class KpiKind(str, enum.Enum):
    output = "output"  # アウトプット
    outcome = "outcome"  # アウトカム
    citizen_feel = "citizen_feel"  # 県民実感


class Direction(str, enum.Enum):
    higher_is_better = "higher"
    lower_is_better = "lower"


class Novelty(str, enum.Enum):
    national_first = "national_first"  # 全国初
    prefecture_first = "prefecture_first"  # 県内初
    proven_elsewhere = "proven_elsewhere"  # 他自治体で実績あり
    expansion = "expansion"  # 既存サービスの拡充


# --- Organisation -------------------------------------------------------------------------------


class Department(SQLModel, table=True):
    """所管部局. Kept as data: department names change between years."""

    id: int | None = id_field("department_id_seq")
    name: str = Field(max_length=60, unique=True)
    sort_order: int = 0


class Category(SQLModel, table=True):
    """区分. A two-level tree; projects hang on leaves. `heading` is the numbering shown in 帳票."""

    id: int | None = id_field("category_id_seq")
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=120)
    parent_id: int | None = Field(default=None, foreign_key="category.id")
    heading: str = Field(default="", max_length=10)  # '1', '(1)', '' …
    sort_order: int = 0


class FiscalYear(SQLModel, table=True):
    """年度. `year` is the Western year in which the 年度 starts (2024 = 令和6年度)."""

    __tablename__ = "fiscal_year"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    closed: bool = False  # 決算確定: no more postings
    closed_at: datetime | None = None
    closed_by: str | None = None
    annual_cap_yen: int | None = yen_field(default=None)  # optional cap on the year's 基金充当額


class AppUser(SQLModel, table=True):
    __tablename__ = "app_user"
    id: int | None = id_field("app_user_id_seq")
    login: str = Field(max_length=60, unique=True)
    display_name: str = Field(max_length=60)
    role: Role = Field(sa_type=enum_column(Role))
    department_id: int | None = Field(default=None, foreign_key="department.id")
    password_hash: str | None = None  # None: cannot sign in locally (SSO or sample reviewer)
    oidc_subject: str | None = Field(default=None, max_length=200)
    active: bool = True
    is_sample: bool = False
    failed_logins: int = 0
    locked_until: datetime | None = None
    password_changed_at: datetime | None = None
    created_at: datetime = Field(default_factory=clock.now_utc)


# --- Projects and proposals ---------------------------------------------------------------------


class Project(SQLModel, table=True):
    """事業: stable across years. 新規 in a 年度 means that 年度 is `first_fiscal_year`."""

    id: int | None = id_field("project_id_seq")
    name: str = Field(max_length=120, unique=True)
    department_id: int = Field(foreign_key="department.id")
    category_id: int = Field(foreign_key="category.id")  # 主たる区分
    summary: str = ""
    first_fiscal_year: int


class Proposal(SQLModel, table=True):
    """提案: one project's request for one 年度, with its evidence for the four perspectives."""

    id: int | None = id_field("proposal_id_seq")
    project_id: int = Field(foreign_key="project.id")
    fiscal_year: int
    status: ProposalStatus = Field(default=ProposalStatus.draft, sa_type=enum_column(ProposalStatus))
    summary: str = ""
    purpose: str = ""  # 目的
    problem: str = ""  # 現状・課題
    meets_req1: bool = False
    meets_req2: bool = False
    meets_req3: bool = False
    req1_reason: str = ""
    req2_reason: str = ""
    req3_reason: str = ""
    project_cost_yen: int = yen_field(default=0)  # 事業費 in the proposal's 年度
    fund_share_yen: int = yen_field(default=0)  # 基金充当額 in the proposal's 年度
    national_funds_yen: int = yen_field(default=0)  # 国庫支出金
    other_funds_yen: int = yen_field(default=0)  # その他財源
    expected_users: int = Field(default=0, sa_type=BigInteger)  # 人
    uses_per_user_per_year: float = 0.0  # 回/年
    procedures_per_year: int = Field(default=0, sa_type=BigInteger)  # 件/年
    minutes_saved_per_procedure: float = 0.0  # 分/件
    novelty: Novelty | None = Field(default=None, sa_type=enum_column(Novelty))
    novelty_note: str = ""
    is_sample: bool = False  # evidence figures are sample data, not from the seeds
    # KPIs as proposed (indicator, unit, baseline, targets). Kept here while the proposal is a
    # draft; on submission they become kpi_indicator/kpi_target rows (see fund.proposals).
    kpis: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    version: int = 1  # optimistic locking
    created_by: str = ""
    created_at: datetime = Field(default_factory=clock.now_utc)
    updated_at: datetime = Field(default_factory=clock.now_utc)


class ProposalCostLine(SQLModel, table=True):
    """Multi-year cost profile: 事業費 and 基金充当額 per 年度, running costs included."""

    __tablename__ = "proposal_cost_line"

    __table_args__ = (UniqueConstraint("proposal_id", "fiscal_year"),)
    id: int | None = id_field("proposal_cost_line_id_seq")
    proposal_id: int = Field(foreign_key="proposal.id")
    fiscal_year: int
    project_cost_yen: int = yen_field(default=0)
    fund_share_yen: int = yen_field(default=0)
    note: str = ""


class ProposalRevision(SQLModel, table=True):
    """What a proposal said when it was submitted: revision 1 at the first submission, one more at
    each resubmission after a 差戻し. The content is `fund.proposals.revisions.content_of`."""

    __tablename__ = "proposal_revision"
    __table_args__ = (UniqueConstraint("proposal_id", "revision"),)
    id: int | None = id_field("proposal_revision_id_seq")
    proposal_id: int = Field(foreign_key="proposal.id")
    revision: int
    content: dict[str, Any] = Field(sa_type=JSON)
    submitted_by: str
    submitted_at: datetime = Field(default_factory=clock.now_utc)


class ReturnKind(str, enum.Enum):
    returned = "returned"  # 差戻し: the bureau sends it back for correction
    withdrawn = "withdrawn"  # 取下げ: the department takes it back for good


class ProposalReturn(SQLModel, table=True):
    """A submitted proposal that is back with its department: a 下書き again (DuckDB cannot widen the
    status column's CHECK), never screened or allocated while the row exists. A resubmission after a
    差戻し deletes the row; a 取下げ stays. The history is in proposal_event and the audit log."""

    __tablename__ = "proposal_return"
    id: int | None = id_field("proposal_return_id_seq")
    proposal_id: int = Field(foreign_key="proposal.id", unique=True)
    kind: ReturnKind = Field(sa_type=enum_column(ReturnKind))
    reason: str = Field(max_length=500)
    actor: str
    occurred_at: datetime = Field(default_factory=clock.now_utc)


class ProposalEvent(SQLModel, table=True):
    """The proposal's timeline: every status change with who, when and why."""

    __tablename__ = "proposal_event"

    id: int | None = id_field("proposal_event_id_seq")
    proposal_id: int = Field(foreign_key="proposal.id")
    from_status: str | None = None
    to_status: str
    actor: str
    reason: str = ""
    occurred_at: datetime = Field(default_factory=clock.now_utc)


# --- Screening -----------------------------------------------------------------------------------


class ScreeningRound(SQLModel, table=True):
    __tablename__ = "screening_round"
    id: int | None = id_field("screening_round_id_seq")
    fiscal_year: int
    name: str = Field(max_length=120)
    is_sample: bool = False


class RubricVersion(SQLModel, table=True):
    """Weights (percent per perspective, summing to 100) and 1–5 anchors; scores keep their version."""

    __tablename__ = "rubric_version"

    id: int | None = id_field("rubric_version_id_seq")
    round_id: int = Field(foreign_key="screening_round.id")
    version: int
    weights: list[int] = Field(sa_type=JSON)  # [reach, frequency, burden, novelty]
    anchors: dict[str, list[str]] = Field(sa_type=JSON)  # perspective → 5 descriptions
    created_by: str = ""
    created_at: datetime = Field(default_factory=clock.now_utc)


class SessionEnd(SQLModel, table=True):
    """When a login's sessions were last ended on purpose (its own sign-out): every session signed
    in before then stops at its next action."""

    __tablename__ = "session_end"
    id: int | None = id_field("session_end_id_seq")
    login: str = Field(max_length=60, unique=True)
    ended_at: datetime = Field(default_factory=clock.now_utc)


class RoundPolicy(SQLModel, table=True):
    """A round's review rules; a round without a row uses the defaults below."""

    __tablename__ = "round_policy"
    id: int | None = id_field("round_policy_id_seq")
    round_id: int = Field(foreign_key="screening_round.id", unique=True)
    min_reviews: int = 2  # counted, complete reviews a proposal needs before it is adopted
    feedback_names: bool = False  # departments see the reviewers' names beside their comments


class ScreeningDecision(SQLModel, table=True):
    """審査結果の確定: the frozen snapshot of a round and its SHA-256; after it the round is read-only."""

    __tablename__ = "screening_decision"
    id: int | None = id_field("screening_decision_id_seq")
    round_id: int = Field(foreign_key="screening_round.id", unique=True)
    snapshot: dict[str, Any] = Field(sa_type=JSON)
    content_hash: str = Field(max_length=64)
    override_reason: str = Field(default="", max_length=500)  # decided with unscored assignments
    decided_by: str
    decided_at: datetime = Field(default_factory=clock.now_utc)


class ReviewAssignment(SQLModel, table=True):
    __tablename__ = "review_assignment"
    __table_args__ = (UniqueConstraint("round_id", "proposal_id", "reviewer_id"),)
    id: int | None = id_field("review_assignment_id_seq")
    round_id: int = Field(foreign_key="screening_round.id")
    proposal_id: int = Field(foreign_key="proposal.id")
    reviewer_id: int = Field(foreign_key="app_user.id")
    recused: bool = False
    recusal_reason: str = ""


class ReviewScore(SQLModel, table=True):
    """One reviewer's 1–5 score on one perspective (1 reach, 2 frequency, 3 burden, 4 novelty)."""

    __tablename__ = "review_score"

    __table_args__ = (UniqueConstraint("assignment_id", "perspective"),)
    id: int | None = id_field("review_score_id_seq")
    assignment_id: int = Field(foreign_key="review_assignment.id")
    perspective: int
    score: int
    comment: str = ""
    rubric_version_id: int = Field(foreign_key="rubric_version.id")
    # The proposal's revision the score judged; a later resubmission flags it (nullable: 0004 added it).
    proposal_revision: int | None = Field(default=1, sa_column_kwargs={"server_default": "1"})
    is_sample: bool = False
    scored_at: datetime = Field(default_factory=clock.now_utc)


# --- Allocations and the ledger ---------------------------------------------------------------------


class Allocation(SQLModel, table=True):
    """配分: what the fund pays for one project in one 年度 and budget stage."""

    id: int | None = id_field("allocation_id_seq")
    project_id: int = Field(foreign_key="project.id")
    proposal_id: int | None = Field(default=None, foreign_key="proposal.id")
    fiscal_year: int
    budget_stage: BudgetStage = Field(default=BudgetStage.initial, sa_type=enum_column(BudgetStage))
    category_id: int = Field(foreign_key="category.id")
    project_cost_yen: int = yen_field()  # 事業費 (予算額)
    fund_share_yen: int = yen_field()  # 基金充当額
    fund_share_is_estimate: bool = False  # 推計: the seeds give no fund share
    status: AllocationStatus = Field(default=AllocationStatus.proposed, sa_type=enum_column(AllocationStatus))
    proposed_by: str = ""
    approved_by: str | None = None
    approved_at: datetime | None = None
    created_at: datetime = Field(default_factory=clock.now_utc)


class AllocationChange(SQLModel, table=True):
    """配分の履歴: one 補正, 繰越 or 不用額 of an allocation.

    A 補正 or 繰越 waits for a second person's approval (`status`); only then does it move money.
    `fund_delta_yen` is signed for a 補正 (new − old 基金充当額); for a 繰越 or 不用額 it is the
    positive amount that leaves the allocation's 年度.
    """

    __tablename__ = "allocation_change"

    id: int | None = id_field("allocation_change_id_seq")
    allocation_id: int = Field(foreign_key="allocation.id", index=True)
    kind: AllocationChangeKind = Field(sa_type=enum_column(AllocationChangeKind))
    fund_delta_yen: int = yen_field()
    cost_delta_yen: int = yen_field(default=0)  # 事業費, same sign rule
    status: AllocationStatus = Field(default=AllocationStatus.proposed, sa_type=enum_column(AllocationStatus))
    reason: str = Field(max_length=500)
    requested_by: str
    requested_at: datetime = Field(default_factory=clock.now_utc)
    approved_by: str | None = None
    approved_at: datetime | None = None
    carried_to_id: int | None = Field(
        default=None, foreign_key="allocation.id"
    )  # 繰越: the 翌年度 allocation


class Relisting(SQLModel, table=True):
    """再掲: a project listed again under a further category, without an amount."""

    __table_args__ = (UniqueConstraint("project_id", "fiscal_year", "category_id"),)
    id: int | None = id_field("relisting_id_seq")
    project_id: int = Field(foreign_key="project.id")
    fiscal_year: int
    category_id: int = Field(foreign_key="category.id")


class LedgerEntry(SQLModel, table=True):
    """基金台帳. Append-only: never updated or deleted; a mistake gets a reversing entry.

    `amount_yen` is always positive; the kind gives the sign (取崩し subtracts).
    """

    __tablename__ = "ledger_entry"

    id: int | None = id_field("ledger_entry_id_seq")
    posted_on: date
    fiscal_year: int
    kind: LedgerKind = Field(sa_type=enum_column(LedgerKind))
    amount_yen: int = yen_field()
    memo: str = ""
    project_id: int | None = Field(default=None, foreign_key="project.id")
    allocation_id: int | None = Field(default=None, foreign_key="allocation.id")
    reverses_entry_id: int | None = Field(default=None, foreign_key="ledger_entry.id")
    # A drawdown belongs to an allocation; one without is an exception 管理者 explains here.
    unallocated_reason: str | None = Field(default=None, max_length=200)
    is_estimate: bool = False  # 推計: amount or date assumed where the seeds are silent
    created_by: str = ""
    created_at: datetime = Field(default_factory=clock.now_utc)


class DrawdownRequest(SQLModel, table=True):
    """A drawdown that needs a second person before it is posted: one without an allocation, or above
    the administrator's threshold. Approval posts it (checked again then); 却下 keeps the record."""

    __tablename__ = "drawdown_request"

    id: int | None = id_field("drawdown_request_id_seq")
    posted_on: date
    fiscal_year: int
    amount_yen: int = yen_field()
    memo: str = ""
    allocation_id: int | None = Field(default=None, foreign_key="allocation.id")
    unallocated_reason: str | None = Field(default=None, max_length=200)
    reason: str = ""  # why a date in a past 年度
    needs_approval_because: str = Field(default="", max_length=200)
    status: RequestStatus = Field(default=RequestStatus.pending, sa_type=enum_column(RequestStatus))
    requested_by: str = Field(max_length=60)
    requested_at: datetime = Field(default_factory=clock.now_utc)
    decided_by: str | None = Field(default=None, max_length=60)
    decided_at: datetime | None = None
    decision_reason: str = ""
    ledger_entry_id: int | None = Field(default=None, foreign_key="ledger_entry.id")


class DrawdownPolicy(SQLModel, table=True):
    """The administrator's threshold: a drawdown above it needs a second approval even when it has
    an allocation. The newest row applies; none (or a None threshold): only unlinked drawdowns."""

    __tablename__ = "drawdown_policy"

    id: int | None = id_field("drawdown_policy_id_seq")
    threshold_yen: int | None = yen_field(default=None)
    set_by: str = Field(max_length=60)
    set_at: datetime = Field(default_factory=clock.now_utc)
    reason: str = ""


# --- Outcomes ------------------------------------------------------------------------------------------


class KpiIndicator(SQLModel, table=True):
    __tablename__ = "kpi_indicator"
    id: int | None = id_field("kpi_indicator_id_seq")
    project_id: int = Field(foreign_key="project.id")
    proposal_id: int | None = Field(default=None, foreign_key="proposal.id")  # set when a proposal created it
    kind: KpiKind = Field(sa_type=enum_column(KpiKind))
    name: str = Field(max_length=200)
    unit: str = Field(max_length=20)
    baseline_value: float | None = None
    baseline_year: int | None = None
    direction: Direction = Field(default=Direction.higher_is_better, sa_type=enum_column(Direction))
    perspectives: list[int] = Field(default_factory=list, sa_type=JSON)  # 1 reach … 4 novelty
    source_note: str = ""  # where the target is stated (e.g. 'P.36')


class KpiTarget(SQLModel, table=True):
    __tablename__ = "kpi_target"
    __table_args__ = (UniqueConstraint("indicator_id", "fiscal_year"),)
    id: int | None = id_field("kpi_target_id_seq")
    indicator_id: int = Field(foreign_key="kpi_indicator.id")
    fiscal_year: int
    target_value: float
    # 推計: the sources state the target but not its 年度 (migration 0008)
    year_is_estimate: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})


class KpiActual(SQLModel, table=True):
    __tablename__ = "kpi_actual"
    __table_args__ = (UniqueConstraint("indicator_id", "fiscal_year"),)
    id: int | None = id_field("kpi_actual_id_seq")
    indicator_id: int = Field(foreign_key="kpi_indicator.id")
    fiscal_year: int
    actual_value: float
    measured_on: date
    source: str = ""
    is_sample: bool = False
    entered_by: str = ""
    entered_at: datetime = Field(default_factory=clock.now_utc)


class KpiYear(SQLModel, table=True):
    """Derived, never edited: one row per indicator and tracked 年度 with the target that applies
    (its own or on the path), the actual and the achievement rate. `fund.kpi.refresh_years` rewrites
    an indicator's rows in the same transaction as every change to its indicator, targets or
    actuals, so counts and roll-ups are plain aggregates. The status is not stored: it depends on
    the day (未計測 once the 年度 has ended)."""

    __tablename__ = "kpi_year"
    __table_args__ = (Index("ix_kpi_year_year", "fiscal_year"),)
    indicator_id: int = Field(primary_key=True)
    fiscal_year: int = Field(primary_key=True)
    project_id: int
    department_id: int
    unit: str
    direction: str
    perspectives_text: str
    target_value: float | None = Field(default=None, sa_type=Double)
    target_on_path: bool = False
    actual_value: float | None = Field(default=None, sa_type=Double)
    achievement_rate: float | None = Field(default=None, sa_type=Double)


class Rollout(SQLModel, table=True):
    """横展開: where a project's result has been rolled out."""

    id: int | None = id_field("rollout_id_seq")
    project_id: int = Field(foreign_key="project.id")
    target: str = Field(max_length=120)  # a municipality or a department
    fiscal_year: int
    note: str = ""
    is_sample: bool = False


# --- Audit ---------------------------------------------------------------------------------------------


class AuditLog(SQLModel, table=True):
    """Every write and export. Hash-chained: row_hash covers the row and the previous row's hash."""

    __tablename__ = "audit_log"

    id: int | None = id_field("audit_log_id_seq")
    occurred_at: datetime = Field(default_factory=clock.now_utc)
    actor: str = Field(max_length=60)
    action: str = Field(max_length=60)
    entity: str = Field(max_length=60)
    entity_id: str | None = Field(default=None, sa_type=String(60))
    before_values: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after_values: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    reason: str = ""
    prev_hash: str = ""
    row_hash: str = ""


class AuditImage(SQLModel, table=True):
    """The after-image of one money or authority row an audit row changed: its watched columns as
    written (`image` None: the row was deleted). Keyed like the chain, and covered by its audit row's
    hash, so neither the data nor its image can be changed unseen (see fund.integrity)."""

    __tablename__ = "audit_image"

    id: int | None = id_field("audit_image_id_seq")
    audit_id: int  # the audit_log row (no foreign key: DuckDB could then never alter audit_log)
    table_name: str = Field(max_length=60)
    row_id: str = Field(max_length=60)
    image: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    image_hash: str = ""


# --- Scenarios (年度配分の案) ------------------------------------------------------------------------------


class Scenario(SQLModel, table=True):
    """A named, saved set of candidate allocations for one 年度 (hand-made, copied or optimised)."""

    id: int | None = id_field("scenario_id_seq")
    name: str = Field(max_length=120)
    fiscal_year: int
    based_on_id: int | None = Field(default=None, foreign_key="scenario.id")  # copied from
    origin: str = Field(default="manual", max_length=20)  # manual | copy | optimiser
    objective: str = Field(default="", max_length=20)  # optimiser: score | touchpoints
    ceiling_yen: int | None = yen_field(default=None)  # the ceiling the optimiser used
    note: str = ""
    created_by: str = ""
    created_at: datetime = Field(default_factory=clock.now_utc)
    updated_at: datetime = Field(default_factory=clock.now_utc)
    promoted_at: datetime | None = None  # when it became proposed allocations
    promoted_by: str | None = None


class ScenarioItem(SQLModel, table=True):
    """One candidate in a scenario: a proposal (or project) with its amounts and whether it is in."""

    __tablename__ = "scenario_item"

    id: int | None = id_field("scenario_item_id_seq")
    scenario_id: int = Field(foreign_key="scenario.id")
    proposal_id: int | None = Field(default=None, foreign_key="proposal.id")
    project_id: int = Field(foreign_key="project.id")
    category_id: int = Field(foreign_key="category.id")
    project_cost_yen: int = yen_field(default=0)  # 事業費
    fund_share_yen: int = yen_field(default=0)  # 基金充当額
    included: bool = False
    forced: str = Field(default="", max_length=3)  # '' | in | out (the optimiser must respect it)
    force_reason: str = ""
    exclusion_reason: str = ""  # why the optimiser left it out
