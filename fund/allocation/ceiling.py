"""The 年度's ceilings: what may still be drawn from the fund, and the optional annual cap."""

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine

from fund import audit
from fund.allocation.table import APPROVED
from fund.auth import Action, Actor, require
from fund.db import query_df, write_session
from fund.errors import InputInvalid, NotFound, RuleViolation
from fund.fiscal import fiscal_label
from fund.ledger import DRAWN_BY_ALLOCATION_SQL, KIND_PARAMS, MAX_AMOUNT_YEN, balance
from fund.models import (
    AuditAction,
    FiscalYear,
)
from fund.money import format_yen


@dataclass(frozen=True)
class Ceiling:
    """What a 年度 may spend from the fund, in yen.

    `fund_ceiling_yen` = balance + already drawn against this 年度's allocations − committed
    drawdowns of other 年度 (approved allocations not yet drawn). `ceiling_yen` is the tighter of
    that and the optional annual cap set by 管理者.
    """

    fiscal_year: int
    balance_yen: int
    drawn_this_year_yen: int
    committed_other_years_yen: int
    fund_ceiling_yen: int
    annual_cap_yen: int | None
    year_total_yen: int  # 基金充当額 of this 年度: approved + awaiting approval
    approved_total_yen: int

    @property
    def ceiling_yen(self) -> int:
        if self.annual_cap_yen is None:
            return self.fund_ceiling_yen
        return min(self.fund_ceiling_yen, self.annual_cap_yen)

    @property
    def headroom_yen(self) -> int:
        return self.ceiling_yen - self.year_total_yen


def committed_drawdowns(engine: Engine) -> pd.DataFrame:
    """Approved allocations not yet (fully) drawn, per 年度: `fiscal_year`, `committed_yen`.

    This is the planned drawdown the fund projection reads: only approved allocations count;
    allocations awaiting approval never do.
    """
    return query_df(
        engine,
        f"""
        WITH drawn AS ({DRAWN_BY_ALLOCATION_SQL})
        SELECT a.fiscal_year,
               SUM(GREATEST(a.fund_share_yen - COALESCE(d.drawn_yen, 0), 0)) AS committed_yen
        FROM allocation a LEFT JOIN drawn d ON d.allocation_id = a.id
        WHERE a.status = :approved
        GROUP BY a.fiscal_year
        ORDER BY a.fiscal_year
        """,
        KIND_PARAMS | APPROVED,
    ).astype("int64")


def fund_ceiling(engine: Engine, *, fiscal_year: int, exclude_allocation_id: int | None = None) -> Ceiling:
    """The 年度's ceilings and current totals (see `Ceiling`). The one place the ceiling rule lives."""
    df = query_df(
        engine,
        f"""
        WITH drawn AS ({DRAWN_BY_ALLOCATION_SQL})
        SELECT
            COALESCE(SUM(CASE WHEN a.fiscal_year = :fy THEN COALESCE(d.drawn_yen, 0) ELSE 0 END), 0)
                AS drawn_this_year,
            COALESCE(SUM(CASE WHEN a.fiscal_year <> :fy AND a.status = :approved
                         THEN GREATEST(a.fund_share_yen - COALESCE(d.drawn_yen, 0), 0) ELSE 0 END), 0)
                AS committed_other,
            COALESCE(SUM(CASE WHEN a.fiscal_year = :fy AND a.id <> :excl THEN a.fund_share_yen ELSE 0 END), 0)
                AS year_total,
            COALESCE(SUM(CASE WHEN a.fiscal_year = :fy AND a.status = :approved AND a.id <> :excl
                         THEN a.fund_share_yen ELSE 0 END), 0) AS approved_total,
            (SELECT annual_cap_yen FROM fiscal_year WHERE year = :fy) AS annual_cap
        FROM allocation a LEFT JOIN drawn d ON d.allocation_id = a.id
        """,
        {"fy": fiscal_year, "excl": exclude_allocation_id if exclude_allocation_id is not None else -1}
        | KIND_PARAMS
        | APPROVED,
    )
    r = df.iloc[0]
    bal = balance(engine)
    drawn = int(r["drawn_this_year"])
    committed = int(r["committed_other"])
    cap = r["annual_cap"]
    return Ceiling(
        fiscal_year=fiscal_year,
        balance_yen=bal,
        drawn_this_year_yen=drawn,
        committed_other_years_yen=committed,
        fund_ceiling_yen=bal + drawn - committed,
        annual_cap_yen=None if cap is None or pd.isna(cap) else int(cap),
        year_total_yen=int(r["year_total"]),
        approved_total_yen=int(r["approved_total"]),
    )


def check_ceiling(ceiling: Ceiling, *, adding_yen: int) -> None:
    """Refuse (RuleViolation) when the 年度's total plus `adding_yen` exceeds either ceiling."""
    new_total = ceiling.year_total_yen + adding_yen
    label = fiscal_label(ceiling.fiscal_year)
    if new_total > ceiling.fund_ceiling_yen:
        raise RuleViolation(
            f"{label}の基金充当額の上限を超えるため登録できません。"
            f"上限（基金残高 {format_yen(ceiling.balance_yen)} ＋ 当年度の取崩し済み "
            f"{format_yen(ceiling.drawn_this_year_yen)} − 他年度の承認済み未取崩し "
            f"{format_yen(ceiling.committed_other_years_yen)}）は {format_yen(ceiling.fund_ceiling_yen)}、"
            f"現在の合計は {format_yen(ceiling.year_total_yen)}、今回 {format_yen(adding_yen)} を加えると "
            f"{format_yen(new_total)} となり、{format_yen(new_total - ceiling.fund_ceiling_yen)} 超過します。"
        )
    if ceiling.annual_cap_yen is not None and new_total > ceiling.annual_cap_yen:
        raise RuleViolation(
            f"{label}の年間上限額（管理者が設定）を超えるため登録できません。"
            f"上限は {format_yen(ceiling.annual_cap_yen)}、現在の合計は {format_yen(ceiling.year_total_yen)}、"
            f"今回 {format_yen(adding_yen)} を加えると {format_yen(new_total)} となり、"
            f"{format_yen(new_total - ceiling.annual_cap_yen)} 超過します。"
        )


def set_annual_cap(
    engine: Engine, *, actor: Actor, fiscal_year: int, cap_yen: int | None, reason: str = ""
) -> None:
    """Set (or clear with None) the 年度's optional cap on 基金充当額. 管理者 only; audited.

    A cap below the 年度's current total is refused: it would leave the year over its own limit.
    """
    require(actor, Action.set_annual_cap)
    if cap_yen is not None and not 0 < cap_yen <= MAX_AMOUNT_YEN:
        raise InputInvalid({"annual_cap_yen": "年間上限額は1円以上1兆円以下の整数で入力してください。"})
    with write_session(engine) as session:
        year = session.get(FiscalYear, fiscal_year)
        if year is None:
            raise NotFound(f"{fiscal_label(fiscal_year)}は登録されていません。")
        if cap_yen is not None:
            current = fund_ceiling(engine, fiscal_year=fiscal_year).year_total_yen
            if cap_yen < current:
                raise RuleViolation(
                    f"年間上限額 {format_yen(cap_yen)} は{fiscal_label(fiscal_year)}の現在の基金充当額の合計 "
                    f"{format_yen(current)} を {format_yen(current - cap_yen)} 下回るため設定できません。"
                )
        before = audit.snapshot(year)
        year.annual_cap_yen = cap_yen
        session.add(year)
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.fiscal_year_annual_cap,
            entity="fiscal_year",
            entity_id=fiscal_year,
            before=before,
            after=audit.snapshot(year),
            reason=reason.strip(),
        )
