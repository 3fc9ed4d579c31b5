"""The 年度's headroom: what may still be allocated from the fund, and the optional annual cap."""

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import Engine

from fund import audit
from fund.allocation import position
from fund.auth import Action, Actor, require
from fund.db import in_list, query_df, write_session
from fund.errors import InputInvalid, NotFound, RuleViolation
from fund.fiscal import fiscal_label
from fund.ledger import ALLOCATION_LEFT_SQL, MAX_AMOUNT_YEN, balance
from fund.models import (
    AuditAction,
    FiscalYear,
)
from fund.money import format_yen


@dataclass(frozen=True)
class Ceiling:
    """What a 年度 may still allocate from the fund, in yen (the rule: `fund.allocation.position`).

    `headroom_yen` is the tighter of the fund's 余裕額 (balance − undrawn − commitments − awaiting
    approval) and, when 管理者 has set one, the annual cap less the 年度's registered total.
    """

    fiscal_year: int
    balance_yen: int
    undrawn_allocations_yen: int  # approved allocations of every 年度, not yet drawn
    reserved_later_years_yen: int  # 後年度負担 of adopted proposals
    pending_yen: int  # this 年度's allocations and 補正 increases awaiting approval
    annual_cap_yen: int | None
    year_total_yen: int  # 基金充当額 of this 年度 (繰越 from the 前年度 aside), with what awaits approval
    approved_total_yen: int

    @property
    def fund_headroom_yen(self) -> int:
        return (
            self.balance_yen - self.undrawn_allocations_yen - self.reserved_later_years_yen - self.pending_yen
        )

    @property
    def headroom_yen(self) -> int:
        if self.annual_cap_yen is None:
            return self.fund_headroom_yen
        return min(self.fund_headroom_yen, self.annual_cap_yen - self.year_total_yen)

    def as_json(self) -> dict[str, int]:
        """The `fund ceiling --json` object."""
        return {
            "fiscal_year": self.fiscal_year,
            "balance_yen": self.balance_yen,
            "undrawn_allocations_yen": self.undrawn_allocations_yen,
            "reserved_later_years_yen": self.reserved_later_years_yen,
            "pending_yen": self.pending_yen,
            "headroom_yen": self.headroom_yen,
        }


def fund_ceiling(
    engine: Engine,
    *,
    fiscal_year: int,
    exclude_allocation_id: int | None = None,
    exclude_change_id: int | None = None,
    replacing_project_ids: tuple[int, ...] = (),
    today: date | None = None,
) -> Ceiling:
    """The 年度's headroom and totals (see `Ceiling`), leaving out the allocation or change being
    checked and the 後年度負担 that the allocation of `replacing_project_ids` replaces."""
    excl = {
        "fy": fiscal_year,
        "excl": -1 if exclude_allocation_id is None else exclude_allocation_id,
        "excl_change": -1 if exclude_change_id is None else exclude_change_id,
    }
    replacing, replacing_params = in_list("replacing", replacing_project_ids or (-1,))
    r = query_df(
        engine,
        f"""
        WITH lefts AS ({ALLOCATION_LEFT_SQL}),
        reserved AS ({position.COMMITMENTS_SQL}),
        pending_changes AS (
            SELECT c.allocation_id, SUM(c.fund_delta_yen) AS yen FROM allocation_change c
            WHERE c.kind = :change_revision AND c.status = :proposed AND c.fund_delta_yen > 0
              AND c.id <> :excl_change
            GROUP BY c.allocation_id
        )
        SELECT
            (SELECT COALESCE(SUM(left_yen), 0) FROM lefts) AS undrawn,
            (SELECT COALESCE(SUM(reserved_yen), 0) FROM reserved
             WHERE NOT (fiscal_year = :fy AND project_id IN {replacing})) AS reserved,
            (SELECT COALESCE(SUM(GREATEST(l.fund_share_yen - COALESCE(r.reserved_yen, 0), 0)), 0)
             FROM lefts l LEFT JOIN reserved r ON r.project_id = l.project_id AND r.fiscal_year = l.fiscal_year
             WHERE l.fiscal_year = :fy AND l.status = :proposed AND l.allocation_id <> :excl)
            + (SELECT COALESCE(SUM(pc.yen), 0) FROM pending_changes pc JOIN lefts l
               ON l.allocation_id = pc.allocation_id WHERE l.fiscal_year = :fy) AS pending,
            (SELECT COALESCE(SUM(l.fund_share_yen), 0) FROM lefts l
             WHERE l.fiscal_year = :fy AND NOT l.is_carried_in AND l.allocation_id <> :excl)
            + (SELECT COALESCE(SUM(pc.yen), 0) FROM pending_changes pc JOIN lefts l
               ON l.allocation_id = pc.allocation_id WHERE l.fiscal_year = :fy) AS year_total,
            (SELECT COALESCE(SUM(l.fund_share_yen), 0) FROM lefts l
             WHERE l.fiscal_year = :fy AND NOT l.is_carried_in AND l.status = :approved
               AND l.allocation_id <> :excl) AS approved_total,
            (SELECT annual_cap_yen FROM fiscal_year WHERE year = :fy) AS annual_cap
        """,
        excl | replacing_params | position.params(today),
    ).iloc[0]
    cap = r["annual_cap"]
    return Ceiling(
        fiscal_year=fiscal_year,
        balance_yen=balance(engine),
        undrawn_allocations_yen=int(r["undrawn"]),
        reserved_later_years_yen=int(r["reserved"]),
        pending_yen=int(r["pending"]),
        annual_cap_yen=None if cap is None or pd.isna(cap) else int(cap),
        year_total_yen=int(r["year_total"]),
        approved_total_yen=int(r["approved_total"]),
    )


def ceiling_breakdown(ceiling: Ceiling) -> str:
    """'基金残高 … − 承認済み未取崩し … − 後年度負担 … − 承認待ち … ＝ …' for messages and help texts."""
    return (
        f"基金残高 {format_yen(ceiling.balance_yen)} − 承認済み配分の未取崩し "
        f"{format_yen(ceiling.undrawn_allocations_yen)} − 後年度負担 {format_yen(ceiling.reserved_later_years_yen)}"
        f" − 承認待ち {format_yen(ceiling.pending_yen)} ＝ {format_yen(ceiling.fund_headroom_yen)}"
    )


def check_ceiling(ceiling: Ceiling, *, adding_yen: int) -> None:
    """Refuse (RuleViolation) when `adding_yen` exceeds the fund's headroom or the annual cap."""
    label = fiscal_label(ceiling.fiscal_year)
    room = ceiling.fund_headroom_yen
    if adding_yen > room:
        raise RuleViolation(
            f"{label}の基金の余裕額を超えるため登録できません。余裕額（{ceiling_breakdown(ceiling)}）に対し、"
            f"今回 {format_yen(adding_yen)} は {format_yen(adding_yen - room)} 超過します。"
        )
    if ceiling.annual_cap_yen is not None and ceiling.year_total_yen + adding_yen > ceiling.annual_cap_yen:
        new_total = ceiling.year_total_yen + adding_yen
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
