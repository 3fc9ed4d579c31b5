"""基金台帳: append-only postings, balances and the 年度 roll-forward (基金シート form).

Amounts are stored positive; the kind gives the sign. A reversal (取消) carries the amount of the
entry it reverses and counts against that entry's kind, so the roll-forward shows net figures.
"""

from datetime import date
from typing import Annotated, Any, TypedDict

import pandas as pd
from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from fund import audit, clock, export
from fund.auth import Action, Actor, require
from fund.db import checkpoint, contains, in_list, like_pattern, query_df, write_session
from fund.errors import FundError, InputInvalid, NotFound, RuleViolation, field_messages
from fund.fiscal import allowed_fiscal_years, fiscal_label, fiscal_year_of, wareki
from fund.labels import ESTIMATE_MARK, LEDGER_KIND
from fund.models import (
    Allocation,
    AllocationChangeKind,
    AllocationStatus,
    AuditAction,
    DrawdownPolicy,
    DrawdownRequest,
    FiscalYear,
    LedgerEntry,
    LedgerKind,
    Project,
)
from fund.money import format_yen, oku_yen_series


class LedgerFilter(TypedDict):
    """The ledger's filters, as service arguments."""

    fiscal_year: int | None
    kind: LedgerKind | None
    department_id: int | None
    project_id: int | None
    project_name: str | None


MAX_AMOUNT_YEN = 1_000_000_000_000  # 1兆円: anything larger is a typing error

# Signed effect of a row on the balance, in SQL. `e` is the entry, `o` the entry it reverses.
# The kinds are bound parameters (`:kind_drawdown` …): every query using these merges KIND_PARAMS.
KIND_PARAMS: dict[str, object] = {f"kind_{k.value}": k.value for k in LedgerKind}
_EFFECTIVE_KIND = "COALESCE(o.kind, e.kind)"
_SIGNED_AMOUNT = (
    "(CASE WHEN COALESCE(o.kind, e.kind) = :kind_drawdown THEN -1 ELSE 1 END)"
    " * (CASE WHEN e.kind = :kind_reversal THEN -1 ELSE 1 END) * e.amount_yen"
)
# Net amount drawn against each allocation: drawdowns linked to it, minus their reversals (with
# KIND_PARAMS). The ceilings, the projection and the drawdown check all read it.
DRAWN_BY_ALLOCATION_SQL = """
    SELECT e.allocation_id,
           SUM(CASE WHEN e.kind = :kind_reversal THEN -e.amount_yen ELSE e.amount_yen END) AS drawn_yen
    FROM ledger_entry e LEFT JOIN ledger_entry o ON o.id = e.reverses_entry_id
    WHERE e.allocation_id IS NOT NULL AND COALESCE(o.kind, e.kind) = :kind_drawdown
    GROUP BY e.allocation_id
"""
LEFT_PARAMS: dict[str, object] = KIND_PARAMS | {
    "approved": AllocationStatus.approved.value,
    "proposed": AllocationStatus.proposed.value,
    "change_revision": AllocationChangeKind.revision.value,
    "change_carry_over": AllocationChangeKind.carry_over.value,
    "change_lapse": AllocationChangeKind.lapse.value,
}
# Allocations that are the 翌年度 part of a 繰越 (they never replace a commitment or count in a cap).
CARRIED_IN_SQL = "SELECT carried_to_id FROM allocation_change WHERE carried_to_id IS NOT NULL"

# One row per allocation: its 年度, project, status, 基金充当額, drawn, carried over, 不用額, what is
# still owed (`left_yen`, 0 unless approved in an open 年度) and its increase awaiting approval.
ALLOCATION_LEFT_SQL = f"""
    SELECT a.id AS allocation_id, a.project_id, a.fiscal_year, a.status, a.budget_stage,
           a.project_cost_yen, a.fund_share_yen,
           COALESCE(d.drawn_yen, 0) AS drawn_yen,
           COALESCE(m.carried_yen, 0) AS carried_yen,
           COALESCE(m.lapsed_yen, 0) AS lapsed_yen,
           CASE WHEN a.status = :approved AND NOT fy.closed
                THEN GREATEST(a.fund_share_yen - COALESCE(d.drawn_yen, 0) - COALESCE(m.carried_yen, 0), 0)
                ELSE 0 END AS left_yen,
           COALESCE(m.pending_increase_yen, 0) AS pending_increase_yen,
           a.id IN ({CARRIED_IN_SQL}) AS is_carried_in
    FROM allocation a
    JOIN fiscal_year fy ON fy.year = a.fiscal_year
    LEFT JOIN ({DRAWN_BY_ALLOCATION_SQL}) d ON d.allocation_id = a.id
    LEFT JOIN (
        SELECT allocation_id,
               SUM(CASE WHEN kind = :change_carry_over AND status = :approved THEN fund_delta_yen ELSE 0 END)
                   AS carried_yen,
               SUM(CASE WHEN kind = :change_lapse THEN fund_delta_yen ELSE 0 END) AS lapsed_yen,
               SUM(CASE WHEN kind = :change_revision AND status = :proposed AND fund_delta_yen > 0
                        THEN fund_delta_yen ELSE 0 END) AS pending_increase_yen
        FROM allocation_change GROUP BY allocation_id
    ) m ON m.allocation_id = a.id
"""

# Only reversed entries can be an `o`: joining that small set instead of the whole ledger keeps the
# sums fast at a million entries.
_FROM = (
    "FROM ledger_entry e LEFT JOIN (SELECT id, kind FROM ledger_entry WHERE id IN"
    " (SELECT reverses_entry_id FROM ledger_entry WHERE reverses_entry_id IS NOT NULL)) o"
    " ON o.id = e.reverses_entry_id"
)


class LedgerEntryCreate(BaseModel):
    """A new posting as typed on the form or the CLI."""

    posted_on: date
    fiscal_year: int
    kind: LedgerKind
    amount_yen: Annotated[int, Field(gt=0, le=MAX_AMOUNT_YEN)]
    memo: Annotated[str, Field(min_length=1, max_length=500)]
    project_id: int | None = None
    allocation_id: int | None = None  # a drawdown's 配分
    unallocated_reason: Annotated[str, Field(max_length=200)] = ""  # 管理者's exception: no 配分
    reason: Annotated[str, Field(max_length=500)] = ""  # why a posting goes into a past 年度 (audited)

    @field_validator("memo")
    @classmethod
    def memo_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("blank")
        return value.strip()

    @field_validator("unallocated_reason", "reason")
    @classmethod
    def stripped(cls, value: str) -> str:
        return value.strip()


_FIELD_MESSAGES = {
    "amount_yen": "金額は1円以上1兆円以下の整数で入力してください。",
    "memo": "摘要を入力してください（500文字以内）。",
    "posted_on": "記帳日を正しい日付で入力してください。",
    "fiscal_year": "年度を選択してください。",
    "kind": "区分を選択してください。",
    "unallocated_reason": "配分のない取崩しの理由は200文字以内で入力してください。",
    "reason": "理由は500文字以内で入力してください。",
}


class LedgerRefused(RuleViolation):
    """A refused posting, attributed to the form field it concerns (shown next to that field)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def form_errors(exc: FundError) -> dict[str, str]:
    """Field name → Japanese message for showing an error next to its field ('form' if none)."""
    if isinstance(exc, InputInvalid):
        return dict(exc.field_errors)
    if isinstance(exc, LedgerRefused):
        return {exc.field: exc.message}
    return {"form": exc.message}


def validate_entry(data: dict[str, object], *, today: date) -> LedgerEntryCreate:
    """A posting from form input (the `post_entry` input); raises InputInvalid with a Japanese
    message per field."""
    try:
        entry = LedgerEntryCreate.model_validate(data)
    except ValidationError as exc:
        raise InputInvalid(field_messages(exc, _FIELD_MESSAGES)) from None
    check_entry(entry, today=today)
    return entry


def check_entry(entry: LedgerEntryCreate, *, today: date) -> None:
    """The rules across fields: the 年度 must be one the 記帳日 may count in; no reversal here; the
    ledger records what has happened (nothing dated after today), a posting dated in a past 年度 says
    why, and a drawdown names its 配分 or, as 管理者's exception, why it has none."""
    if entry.posted_on > today:
        raise InputInvalid(
            {
                "posted_on": f"記帳日 {entry.posted_on:%Y年%m月%d日} は今日（{today:%Y年%m月%d日}）より後です。"
                "台帳には実際に入出金した日で記帳します（予定の取崩しは年度配分で管理します）。"
            }
        )
    if fiscal_year_of(entry.posted_on) < fiscal_year_of(today) and not entry.reason:
        raise InputInvalid(
            {
                "reason": f"記帳日 {entry.posted_on:%Y年%m月%d日} は過去の年度"
                f"（{fiscal_label(fiscal_year_of(entry.posted_on))}）の日付です。さかのぼって記帳する理由を入力してください。"
            }
        )
    if entry.kind == LedgerKind.drawdown and entry.allocation_id is None and not entry.unallocated_reason:
        raise InputInvalid(
            {
                "allocation_id": "取崩しは配分（配分番号）に紐付けて記帳してください。"
                "配分のない取崩しは、例外としてその理由を入力してください。"
            }
        )
    if entry.fiscal_year not in allowed_fiscal_years(entry.posted_on):
        allowed = "・".join(fiscal_label(y) for y in allowed_fiscal_years(entry.posted_on))
        raise InputInvalid(
            {"fiscal_year": f"記帳日 {entry.posted_on:%Y年%m月%d日} は {allowed} にしか計上できません。"}
        )
    if entry.kind == LedgerKind.reversal:
        raise InputInvalid({"kind": "取消は「取消（逆仕訳）」の操作から行ってください。"})


def balance(engine: Engine, *, as_of: date | None = None) -> int:
    """Fund balance in yen, counting entries posted on or before `as_of` (all entries if None)."""
    where = "WHERE e.posted_on <= :as_of" if as_of else ""
    df = query_df(
        engine,
        f"SELECT COALESCE(SUM({_SIGNED_AMOUNT}), 0) AS b {_FROM} {where}",
        KIND_PARAMS | ({"as_of": as_of} if as_of else {}),
    )
    return int(df["b"].iloc[0])


def _check_no_overdraw(session: Session, *, posted_on: date, amount_yen: int) -> None:
    """Refuse a decrease that would make the balance negative on its date or on any later date."""
    rows = session.execute(
        text(f"""
        WITH daily AS (
            SELECT e.posted_on AS d, SUM({_SIGNED_AMOUNT}) AS delta {_FROM} GROUP BY e.posted_on
        ), running AS (
            SELECT d, SUM(delta) OVER (ORDER BY d) AS bal FROM daily
        )
        SELECT
            COALESCE((SELECT bal FROM running WHERE d <= :p ORDER BY d DESC LIMIT 1), 0),
            (SELECT MIN(bal) FROM running WHERE d > :p)
        """),
        KIND_PARAMS | {"p": posted_on},
    ).one()
    at_date = int(rows[0])
    later_min = rows[1]
    available = at_date if later_min is None else min(at_date, int(later_min))
    if amount_yen > available:
        raise LedgerRefused(
            f"残高不足のため記帳できません。{posted_on:%Y年%m月%d日}時点で利用できる残高は {format_yen(available)}、"
            f"不足額は {format_yen(amount_yen - available)} です。",
            field="amount_yen",
        )


def _check_year_open(session: Session, fiscal_year: int) -> None:
    year = session.get(FiscalYear, fiscal_year)
    if year is None:
        raise InputInvalid({"fiscal_year": f"{fiscal_label(fiscal_year)}は登録されていません。"})
    if year.closed:
        raise LedgerRefused(
            f"{fiscal_label(fiscal_year)}は決算確定済みのため、記帳できません。", field="fiscal_year"
        )


class AllocationFigures(TypedDict):
    """One allocation's money as `ALLOCATION_LEFT_SQL` reads it (yen)."""

    fund_share_yen: int
    drawn_yen: int
    carried_yen: int
    unspent_yen: int  # 基金充当額 − drawn − 繰越: what may still be drawn or carried over


def allocation_figures(session: Session, allocation_id: int) -> AllocationFigures:
    """What has been drawn against the allocation, carried over from it, and what is left."""
    row = session.execute(
        text(
            f"SELECT fund_share_yen, drawn_yen, carried_yen FROM ({ALLOCATION_LEFT_SQL}) x"
            " WHERE x.allocation_id = :a"
        ),
        LEFT_PARAMS | {"a": allocation_id},
    ).one()
    share, drawn, carried = (int(v) for v in row)
    return AllocationFigures(
        fund_share_yen=share, drawn_yen=drawn, carried_yen=carried, unspent_yen=share - drawn - carried
    )


def _check_allocation(session: Session, entry: LedgerEntryCreate) -> int:
    """The drawdown's 配分 must be approved, of its 年度 and project, with enough left; its project."""
    allocation = session.get(Allocation, entry.allocation_id)
    if allocation is None:
        raise InputInvalid({"allocation_id": f"配分番号 {entry.allocation_id} の配分は登録されていません。"})
    label = f"配分番号 {allocation.id}"
    if allocation.status != AllocationStatus.approved:
        raise LedgerRefused(
            f"{label} は承認待ちです。承認された配分にだけ取崩しを記帳できます。", field="allocation_id"
        )
    if allocation.fiscal_year != entry.fiscal_year:
        raise LedgerRefused(
            f"{label} は{fiscal_label(allocation.fiscal_year)}の配分です。"
            f"{fiscal_label(entry.fiscal_year)}の取崩しには、その年度の配分を選んでください。",
            field="allocation_id",
        )
    if entry.project_id is not None and entry.project_id != allocation.project_id:
        raise LedgerRefused(f"{label} は別の事業の配分です。", field="allocation_id")
    if allocation.fund_share_yen == 0:
        raise LedgerRefused(f"{label} は補正で0円に減額（取消）されています。", field="allocation_id")
    f = allocation_figures(session, allocation.id or 0)
    left = f["unspent_yen"]
    if entry.amount_yen > left:
        carried = f" − 繰越 {format_yen(f['carried_yen'])}" if f["carried_yen"] else ""
        raise LedgerRefused(
            f"{label} の残りは {format_yen(left)}（基金充当額 {format_yen(allocation.fund_share_yen)} − 取崩し済み "
            f"{format_yen(f['drawn_yen'])}{carried}）です。今回の {format_yen(entry.amount_yen)} は "
            f"{format_yen(entry.amount_yen - left)} 超過します。",
            field="amount_yen",
        )
    return allocation.project_id


ALLOCATION_DRAWN_COLUMNS = [
    "id",
    "project_id",
    "project_name",
    "fiscal_year",
    "budget_stage",
    "status",
    "project_cost_yen",
    "fund_share_yen",
    "drawn_yen",
    "carried_yen",
    "left_yen",
]


def allocation_drawn(
    engine: Engine, *, fiscal_years: tuple[int, ...], drawable_only: bool = False
) -> pd.DataFrame:
    """Each 配分 of these 年度 with what has been drawn against it and what is left
    (`ALLOCATION_DRAWN_COLUMNS`, yen; left = 基金充当額 − drawn − 繰越). `drawable_only`: approved
    ones with something left — the drawdown form's choices."""
    if not fiscal_years:
        return pd.DataFrame(columns=ALLOCATION_DRAWN_COLUMNS)
    years, params = in_list("fy", fiscal_years)
    drawable = (
        "AND x.status = :approved AND x.fund_share_yen - x.drawn_yen - x.carried_yen > 0"
        if drawable_only
        else ""
    )
    return query_df(
        engine,
        f"""
        SELECT x.allocation_id AS id, x.project_id, p.name AS project_name, x.fiscal_year, x.budget_stage,
               x.status, x.project_cost_yen, x.fund_share_yen, x.drawn_yen, x.carried_yen,
               x.fund_share_yen - x.drawn_yen - x.carried_yen AS left_yen
        FROM ({ALLOCATION_LEFT_SQL}) x JOIN project p ON p.id = x.project_id
        WHERE x.fiscal_year IN {years} {drawable}
        ORDER BY x.fiscal_year DESC, x.allocation_id
        """,
        LEFT_PARAMS | params,
    )


def post_entry(
    engine: Engine, *, actor: Actor, entry: LedgerEntryCreate, today: date | None = None
) -> LedgerEntry:
    """Append one posting (from `validate_entry`) with its audit row. Raises PermissionDenied,
    InputInvalid / RuleViolation."""
    require(actor, Action.post_ledger)
    check_entry(entry, today=today or clock.today_jst())
    with write_session(engine) as session:
        row = insert_entry(session, actor=actor, entry=entry)
        session.refresh(row)
        session.expunge(row)
    checkpoint(engine)
    return row


def drawdown_threshold(session: Session) -> int | None:
    """The administrator's threshold above which a drawdown needs a second approval (None: none)."""
    newest = session.exec(select(DrawdownPolicy).order_by(col(DrawdownPolicy.id).desc()).limit(1)).first()
    return None if newest is None else newest.threshold_yen


def approval_needed(session: Session, entry: LedgerEntryCreate) -> str | None:
    """Why this posting needs a second person's approval before it is posted (fund.drawdowns), or None:
    a drawdown without an allocation, or one above the administrator's threshold."""
    if entry.kind != LedgerKind.drawdown:
        return None
    if entry.allocation_id is None:
        return "配分のない取崩し"
    threshold = drawdown_threshold(session)
    if threshold is not None and entry.amount_yen > threshold:
        return f"承認基準額 {format_yen(threshold)} を超える取崩し"
    return None


def checked_values(session: Session, entry: LedgerEntryCreate) -> dict[str, Any]:
    """The posting's columns once every check against the database has passed (the 年度 is open, the
    project and 配分 exist and allow it, the balance covers it)."""
    values = entry.model_dump(exclude={"reason", "unallocated_reason"})
    _check_year_open(session, entry.fiscal_year)
    if entry.project_id is not None and session.get(Project, entry.project_id) is None:
        raise InputInvalid({"project_id": "指定された事業が見つかりません。"})
    if entry.kind == LedgerKind.drawdown:
        if entry.allocation_id is not None:
            values["project_id"] = _check_allocation(session, entry)
        else:
            values["unallocated_reason"] = entry.unallocated_reason
        _check_no_overdraw(session, posted_on=entry.posted_on, amount_yen=entry.amount_yen)
    else:
        values["allocation_id"] = None  # only a drawdown counts against a 配分
    return values


def insert_entry(
    session: Session,
    *,
    actor: Actor,
    entry: LedgerEntryCreate,
    approved_request: DrawdownRequest | None = None,
) -> LedgerEntry:
    """The checks against the database and the insert with its audit row, in the caller's write
    session (`post_entry`, the all-or-nothing batch of `fund.ledger_batch`, and the approval of a
    request in `fund.drawdowns`, `approved_request`). A drawdown that needs a second approval is
    refused unless it is that approval."""
    values = checked_values(session, entry)
    why = approval_needed(session, entry)
    if why is not None and approved_request is None:
        raise RuleViolation(
            f"{why}は、別の幹部または管理者の承認を得てから記帳されます。承認待ちとして登録してください。"
        )
    maker = approved_request.requested_by if approved_request else actor.login
    row = LedgerEntry.model_validate(values | {"created_by": maker})
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor.login,
        action=AuditAction.drawdown_approve if approved_request else AuditAction.ledger_post,
        entity="ledger_entry",
        entity_id=row.id,
        after=audit.snapshot(row)
        | ({"drawdown_request_id": approved_request.id} if approved_request else {}),
        reason=entry.reason,
    )
    return row


def reverse_entry(
    engine: Engine, *, actor: Actor, entry_id: int, posted_on: date, reason: str, today: date | None = None
) -> LedgerEntry:
    """Append a reversing entry for `entry_id`. A reversal, or an entry already reversed, is refused."""
    require(actor, Action.post_ledger)
    today = today or clock.today_jst()
    if posted_on > today:
        raise InputInvalid(
            {"posted_on": f"取消の記帳日 {posted_on:%Y年%m月%d日} は今日（{today:%Y年%m月%d日}）より後です。"}
        )
    if not reason.strip():
        raise InputInvalid({"reason": "取消の理由を入力してください。"})
    with write_session(engine) as session:
        original = session.get(LedgerEntry, entry_id)
        if original is None:
            raise NotFound(f"台帳番号 {entry_id} の記帳は見つかりません。")
        if original.kind == LedgerKind.reversal:
            raise RuleViolation(
                "取消の記帳をさらに取り消すことはできません。元の記帳を改めて記帳してください。"
            )
        already = session.exec(
            select(LedgerEntry.id).where(LedgerEntry.reverses_entry_id == entry_id)
        ).first()
        if already is not None:
            raise RuleViolation(f"台帳番号 {entry_id} は既に台帳番号 {already} で取り消されています。")
        fiscal_year = max(y for y in allowed_fiscal_years(posted_on))
        _check_year_open(session, fiscal_year)
        if original.kind != LedgerKind.drawdown:  # reversing money in takes money out
            _check_no_overdraw(session, posted_on=posted_on, amount_yen=original.amount_yen)
        entry = LedgerEntry(
            posted_on=posted_on,
            fiscal_year=fiscal_year,
            kind=LedgerKind.reversal,
            amount_yen=original.amount_yen,
            memo=f"取消: 台帳番号{entry_id}（{reason.strip()}）",
            project_id=original.project_id,
            allocation_id=original.allocation_id,
            reverses_entry_id=entry_id,
            created_by=actor.login,
        )
        session.add(entry)
        session.flush()
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.ledger_reverse,
            entity="ledger_entry",
            entity_id=entry.id,
            after=audit.snapshot(entry),
            reason=reason.strip(),
        )
        session.refresh(entry)
        session.expunge(entry)
    checkpoint(engine)
    return entry


ROLL_FORWARD_COLUMNS = [
    "fiscal_year",
    "opening_yen",
    "deposit_yen",
    "interest_yen",
    "drawdown_yen",
    "refund_yen",
    "closing_yen",
]
ROLL_FORWARD_LABELS = dict(
    zip(
        ROLL_FORWARD_COLUMNS,
        ["年度", "前年度末残高", "積立", "運用益", "取崩し", "返還等", "年度末残高"],
        strict=True,
    )
)
ROLL_FORWARD_AMOUNTS = [
    ROLL_FORWARD_LABELS[c] for c in ROLL_FORWARD_COLUMNS[1:]
]  # the yen columns, as headed


def roll_forward(engine: Engine, *, today: date | None = None) -> pd.DataFrame:
    """Per 年度 (yen, `ROLL_FORWARD_COLUMNS`): opening (前年度末残高), deposit (積立), interest (運用益),
    drawdown (取崩し), refund (返還等), closing (年度末残高). Every 年度 from the first posting's to
    the current one is listed, a 年度 without postings too (it carries the balance over).
    `estimated_entries`: how many of the 年度's postings are 推計 (their amount or date assumed).

    年度末 = 前年度末 + 積立 + 運用益 + 返還等 − 取崩し holds by construction for every row.
    """
    df = query_df(
        engine,
        f"""
        SELECT e.fiscal_year AS fiscal_year,
            SUM(CASE WHEN {_EFFECTIVE_KIND} = :kind_deposit THEN {_SIGNED_AMOUNT} ELSE 0 END) AS deposit,
            SUM(CASE WHEN {_EFFECTIVE_KIND} = :kind_interest THEN {_SIGNED_AMOUNT} ELSE 0 END) AS interest,
            -SUM(CASE WHEN {_EFFECTIVE_KIND} = :kind_drawdown THEN {_SIGNED_AMOUNT} ELSE 0 END) AS drawdown,
            SUM(CASE WHEN {_EFFECTIVE_KIND} = :kind_refund THEN {_SIGNED_AMOUNT} ELSE 0 END) AS refund,
            SUM(CASE WHEN e.is_estimate THEN 1 ELSE 0 END) AS estimated
        {_FROM}
        GROUP BY e.fiscal_year
        ORDER BY e.fiscal_year
        """,
        KIND_PARAMS,
    )
    rows = []
    opening = 0
    posted = {int(r.fiscal_year): r for r in df.itertuples(index=False)}
    if posted:
        current = fiscal_year_of(today or clock.today_jst())
        for year in range(min(posted), max(max(posted), current) + 1):
            r = posted.get(year)
            flows = [int(r.deposit), int(r.interest), int(r.drawdown), int(r.refund)] if r else [0, 0, 0, 0]
            deposit, interest, drawdown, refund = flows
            closing = opening + deposit + interest + refund - drawdown
            estimated = int(r.estimated) if r else 0
            rows.append([year, opening, deposit, interest, drawdown, refund, closing, estimated])
            opening = closing
    return pd.DataFrame(rows, columns=[*ROLL_FORWARD_COLUMNS, "estimated_entries"]).astype("int64")


def _ledger_where(
    *,
    fiscal_year: int | None,
    kind: LedgerKind | None,
    department_id: int | None,
    project_id: int | None,
    project_name: str | None,
) -> tuple[str, dict[str, object]]:
    clauses: list[str] = []
    params: dict[str, object] = {}
    if fiscal_year is not None:
        clauses.append("e.fiscal_year = :fy")
        params["fy"] = fiscal_year
    if kind is not None:
        clauses.append("e.kind = :kind")
        params["kind"] = kind.value
    if department_id is not None:
        clauses.append("p.department_id = :dept")
        params["dept"] = department_id
    if project_id is not None:
        clauses.append("e.project_id = :proj")
        params["proj"] = project_id
    if project_name:
        clauses.append(contains("p.name", "pname"))
        params["pname"] = like_pattern(project_name)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def ledger_count(
    engine: Engine,
    *,
    fiscal_year: int | None = None,
    kind: LedgerKind | None = None,
    department_id: int | None = None,
    project_id: int | None = None,
    project_name: str | None = None,
) -> int:
    """How many ledger entries match the filters (the list shows only the newest)."""
    where, params = _ledger_where(
        fiscal_year=fiscal_year, kind=kind, department_id=department_id, project_id=project_id,
        project_name=project_name,
    )  # fmt: skip
    join_project = "LEFT JOIN project p ON p.id = e.project_id" if "p." in where else ""
    df = query_df(engine, f"SELECT COUNT(*) AS n FROM ledger_entry e {join_project} {where}", params)
    return int(df["n"].iloc[0])


def ledger_frame(
    engine: Engine,
    *,
    fiscal_year: int | None = None,
    kind: LedgerKind | None = None,
    department_id: int | None = None,
    project_id: int | None = None,
    project_name: str | None = None,
    limit: int | None = 1000,
) -> pd.DataFrame:
    """The ledger list, newest first, with Japanese column names (amounts in yen, signed).

    `project_name` matches part of the project's name; `limit=None` returns every matching entry
    (exports)."""
    where, params = _ledger_where(
        fiscal_year=fiscal_year, kind=kind, department_id=department_id, project_id=project_id,
        project_name=project_name,
    )  # fmt: skip
    limit_sql = ""
    if limit is not None:
        params["limit"] = limit
        limit_sql = "LIMIT :limit"
    # The newest entries are chosen first, then joined to their names (cheap with a limit).
    join_project = "LEFT JOIN project p ON p.id = e.project_id" if "p." in where else ""
    df = query_df(
        engine,
        f"""
        WITH chosen AS (
            SELECT e.id FROM ledger_entry e {join_project}
            {where}
            ORDER BY e.posted_on DESC, e.id DESC
            {limit_sql}
        )
        SELECT e.id, e.posted_on, e.fiscal_year, e.kind, {_SIGNED_AMOUNT} AS signed_amount,
               e.memo, p.name AS project, d.name AS department, e.reverses_entry_id,
               e.is_estimate, e.created_by
        {_FROM}
        JOIN chosen ON chosen.id = e.id
        LEFT JOIN project p ON p.id = e.project_id
        LEFT JOIN department d ON d.id = p.department_id
        ORDER BY e.posted_on DESC, e.id DESC
        """,
        KIND_PARAMS | params,
    )
    df["kind"] = df["kind"].map(lambda k: LEDGER_KIND[LedgerKind(k)])
    return df.rename(
        columns={
            "id": "台帳番号",
            "posted_on": "記帳日",
            "fiscal_year": "年度",
            "kind": "区分",
            "signed_amount": "金額（円）",
            "memo": "摘要",
            "project": "事業名",
            "department": "所管部局",
            "reverses_entry_id": "取消対象",
            "is_estimate": "推計",
            "created_by": "記帳者",
        }
    )


def drawdowns_by(engine: Engine, *, by: str) -> pd.DataFrame:
    """Net drawdown per 年度 and category (`by="category"`) or department (`by="department"`).

    Columns: `年度`, `区分` or `所管部局`, `取崩し（円）`. Drawdowns not tied to a project (the FY2023
    lump sum) fall under 「事業別内訳なし」.
    """
    if by == "category":
        select_sql = "pc.heading AS h1, c.heading AS h2, c.name AS name, c.sort_order AS sort_key"
        join_sql = "LEFT JOIN category c ON c.id = p.category_id LEFT JOIN category pc ON pc.id = c.parent_id"
        group_sql = "pc.heading, c.heading, c.name, c.sort_order"
        column = "区分"
    elif by == "department":
        select_sql = "'' AS h1, '' AS h2, d.name AS name, d.sort_order AS sort_key"
        join_sql = "LEFT JOIN department d ON d.id = p.department_id"
        group_sql = "d.name, d.sort_order"
        column = "所管部局"
    else:
        raise ValueError(by)
    # Summed per 年度 and project first, then named: the joins see thousands of rows, not millions.
    df = query_df(
        engine,
        f"""
        WITH per_project AS (
            SELECT e.fiscal_year, e.project_id, -SUM({_SIGNED_AMOUNT}) AS yen
            {_FROM}
            WHERE {_EFFECTIVE_KIND} = :kind_drawdown
            GROUP BY e.fiscal_year, e.project_id
        )
        SELECT e.fiscal_year AS fiscal_year, {select_sql}, SUM(e.yen) AS yen
        FROM per_project e
        LEFT JOIN project p ON p.id = e.project_id
        {join_sql}
        GROUP BY e.fiscal_year, {group_sql}
        ORDER BY e.fiscal_year, sort_key
        """,
        KIND_PARAMS,
    )
    labels = []
    for h1, h2, name in zip(df["h1"], df["h2"], df["name"], strict=True):
        if name is None or (not isinstance(name, str) and pd.isna(name)):
            labels.append("事業別内訳なし")
        else:
            short = str(name).split("（")[0]  # the bracketed field list makes legends unreadable
            prefix = f"{h1 or ''}{h2 or ''}"
            labels.append(f"{prefix} {short}".strip())
    out = pd.DataFrame(
        {"年度": df["fiscal_year"].astype("int64"), column: labels, "取崩し（円）": df["yen"].astype("int64")}
    )
    out["和暦"] = [wareki(int(y)) for y in out["年度"]]
    out["取崩し（億円）"] = oku_yen_series(out["取崩し（円）"])
    return out


# --- Exports (the roll-forward and the ledger list, exactly as shown) -----------------------------------


def roll_forward_export(rf: pd.DataFrame) -> pd.DataFrame:
    """The roll-forward (`roll_forward`) with Japanese headers, a 和暦 column and 「推計を含む」 on
    each 年度 that holds a 推計 posting (yen; the xlsx writes the yen columns in 千円)."""
    out = rf[ROLL_FORWARD_COLUMNS].rename(columns=ROLL_FORWARD_LABELS)
    out.insert(1, "和暦", [fiscal_label(int(y)) for y in rf["fiscal_year"]])
    out["推計"] = [f"{ESTIMATE_MARK}を含む" if int(n) else "" for n in rf["estimated_entries"]]
    return out


def ledger_export(
    engine: Engine,
    *,
    fiscal_year: int | None = None,
    kind: LedgerKind | None = None,
    department_id: int | None = None,
    project_id: int | None = None,
    project_name: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """The ledger entries matching the filters (all of them unless `limit`), 推計 as 「推計」,
    amounts in exact yen."""
    df = ledger_frame(
        engine,
        fiscal_year=fiscal_year,
        kind=kind,
        department_id=department_id,
        project_id=project_id,
        project_name=project_name,
        limit=limit,
    )
    df["推計"] = ["推計" if bool(v) else "" for v in df["推計"]]
    df["取消対象"] = [None if pd.isna(v) else int(v) for v in df["取消対象"]]
    df["記帳日"] = [str(v) for v in df["記帳日"]]
    return df


def ledger_export_bytes(engine: Engine, *, fmt: str, filters: LedgerFilter) -> bytes:
    """Every ledger entry matching `filters` (as for `ledger_export`) as xlsx or CSV: the download."""
    return export_bytes(
        ledger_export(engine, **filters), fmt=fmt, sheet_name="基金台帳", title="基金台帳", sen_yen=False
    )


def export_bytes(df: pd.DataFrame, *, fmt: str, sheet_name: str, title: str, sen_yen: bool) -> bytes:
    """xlsx (formatted) or csv (UTF-8 with BOM). `sen_yen`: yen columns are written in 千円 in xlsx."""
    # Each amount header names its unit: exact yen in CSV, 千円 in the formatted xlsx.
    unit = {"csv": "（円）", "xlsx": "（千円）"}.get(fmt, "")
    amounts = {name: f"{name}{unit}" for name in ROLL_FORWARD_AMOUNTS} if sen_yen else {}
    df = df.rename(columns=amounts)
    if fmt == "csv":
        return export.to_csv_bytes(df)
    if fmt == "xlsx":
        return export.to_xlsx_bytes(
            df, sheet_name=sheet_name, title=title, sen_yen_columns=list(amounts.values())
        )
    raise InputInvalid({"format": "形式は xlsx または csv を指定してください。"})
