"""基金の見通し: planned drawdowns per 年度, the projected balance, a stress test and health signals.

The projection starts from the ledger's balance today and walks forward one 年度 at a time:

    年度末残高 = 期首残高 + 運用益 − 取崩し（計画分 + 想定分）

* 計画分 (committed): what the fund owes (`fund.allocation.position`, the rule the ceiling uses
  too): the undrawn rest of approved allocations and the 後年度負担 of adopted proposals, per 年度.
  What open past 年度 still owe counts in the current 年度, so each yen is counted once.
* 想定分 (assumed): 年度 without approved allocations are not budgeted yet. By default they are
  assumed to draw at least the recent pace (the mean drawdown of the last two 年度 with drawdowns),
  the way new projects have been added every year so far. It can be switched off. It is worked out
  on the plan as it stands, so the 1年遅れ stress moves the committed money without the assumption
  filling the gap it leaves.
* 運用益: the interest rate applies to each 年度's opening balance (simple annual interest).

Everything is integer yen; ratios are floats. No streamlit here.
"""

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

import pandas as pd
from sqlalchemy import Engine

from fund import ledger
from fund.allocation import position
from fund.db import query_df
from fund.fiscal import fiscal_label, fiscal_year_of, wareki
from fund.labels import SAMPLE_MARK
from fund.models import AllocationStatus
from fund.money import (
    format_oku_yen,
    format_sen_yen_series,
    format_yen,
    oku_yen_series,
    round_yen,
    sen_yen_series,
    to_oku_yen,
)
from fund.settings import load_fund_config

MIN_HORIZON_YEARS = 10  # the projection covers at least this many 年度, the current one included
DEVIATION_CAUTION = 0.2  # |乖離率| at or above 20% deserves a look
MOVEMENTS = (
    "deposit_yen",
    "interest_yen",
    "refund_yen",
    "drawdown_yen",
)  # roll-forward columns that move the balance
PACE_YEARS = 2  # the recent pace: mean drawdown of this many latest 年度 with drawdowns

APPROVED = {"approved": AllocationStatus.approved.value}


@dataclass(frozen=True)
class StressTest:
    """Stress-test settings. The defaults are the base case."""

    cost_overrun_pct: float = 0.0  # 事業費の上振れ (%), applied to every future drawdown
    slip_one_year: bool = False  # 計画事業の1年遅れ: committed drawdowns move to the next 年度
    interest_rate_pct: float = 0.0  # 運用利回り (% per year on the opening balance)
    assume_recent_pace: bool = True  # unbudgeted 年度 draw at least the recent pace


@dataclass(frozen=True)
class Figures:
    """What every projection and signal starts from, read from the database once per call."""

    balance_yen: int
    roll_forward: pd.DataFrame  # ledger.roll_forward
    planned: pd.DataFrame  # planned_drawdowns
    budgeted_years: frozenset[int]  # 年度 with approved allocations
    owed: pd.DataFrame  # position.owed_by_year

    @property
    def drawn(self) -> dict[int, int]:
        """Net drawdown (取崩し after reversals) per 年度, yen."""
        rf = self.roll_forward
        return {int(y): int(d) for y, d in zip(rf["fiscal_year"], rf["drawdown_yen"], strict=True)}


def figures(engine: Engine) -> Figures:
    rf = ledger.roll_forward(engine)
    return Figures(
        balance_yen=int(rf["closing_yen"].iloc[-1]) if not rf.empty else 0,  # = ledger.balance
        roll_forward=rf,
        planned=planned_drawdowns(engine),
        budgeted_years=frozenset(_budgeted_years(engine)),
        owed=position.owed_by_year(engine),
    )


@dataclass(frozen=True)
class Projection:
    """The result of `project`: one row per 年度 in `table` (yen), and the headline figures."""

    current_year: int
    balance_yen: int  # the ledger balance today
    recent_pace_yen: int  # mean annual drawdown of the latest 年度 with drawdowns
    table: pd.DataFrame
    run_out_year: int | None  # first 年度 whose year-end balance would be negative
    runway_years: float | None  # years from the start of the current 年度 until the money runs out
    horizon_end: int
    stress: StressTest = field(default_factory=StressTest)


PROJECTION_COLUMNS = [
    "fiscal_year",
    "opening_yen",
    "planned_yen",
    "assumed_yen",
    "interest_yen",
    "closing_yen",
]
PROJECTION_LABELS = dict(
    zip(
        PROJECTION_COLUMNS,
        ["年度", "期首残高", "計画取崩し", "想定取崩し", "運用益", "年度末残高"],
        strict=True,
    )
)


def planned_drawdowns(engine: Engine) -> pd.DataFrame:
    """Planned drawdown per 年度 (yen): `fiscal_year`, `allocated_yen` (approved allocations),
    `later_plan_yen` (commitments of adopted proposals), `planned_yen` (both); every year with a plan."""
    alloc = query_df(
        engine,
        """
        SELECT fiscal_year, SUM(fund_share_yen) AS yen
        FROM allocation WHERE status = :approved
        GROUP BY fiscal_year
        """,
        APPROVED,
    )
    later = query_df(
        engine,
        f"SELECT fiscal_year, SUM(reserved_yen) AS yen FROM ({position.COMMITMENTS_SQL}) c GROUP BY fiscal_year",
        position.PARAMS | {"from_fy": 0},  # every 年度's plan, past ones too (plan against actual)
    )
    a = {int(r.fiscal_year): int(r.yen) for r in alloc.itertuples(index=False)}
    b = {int(r.fiscal_year): int(r.yen) for r in later.itertuples(index=False)}
    years = sorted(set(a) | set(b))
    df = pd.DataFrame(
        {
            "fiscal_year": years,
            "allocated_yen": [a.get(y, 0) for y in years],
            "later_plan_yen": [b.get(y, 0) for y in years],
        },
        dtype="int64",
    )
    df["planned_yen"] = df["allocated_yen"] + df["later_plan_yen"]
    return df


def recent_pace(drawn_by_year: dict[int, int], *, before_year: int | None) -> int:
    """Mean net drawdown of the latest `PACE_YEARS` 年度 with drawdowns before `before_year` (0 if none).

    The current 年度 is left out: a year under way would pull the pace down."""
    drawn = [
        d for y, d in sorted(drawn_by_year.items()) if d > 0 and (before_year is None or y < before_year)
    ][-PACE_YEARS:]
    return sum(drawn) // len(drawn) if drawn else 0


def _budgeted_years(engine: Engine) -> set[int]:
    df = query_df(engine, "SELECT DISTINCT fiscal_year FROM allocation WHERE status = :approved", APPROVED)
    return {int(y) for y in df["fiscal_year"]}


def committed_remaining(engine: Engine, *, today: date) -> dict[int, int]:
    """Committed drawdown still to come per 年度 from the current one on (yen, base case)."""
    return _committed(figures(engine), today=today)


def _committed(fig: Figures, *, today: date) -> dict[int, int]:
    """What the fund owes per 年度 from the current one on (`position.owed_from`)."""
    owed = position.owed_from(fig.owed, current_year=fiscal_year_of(today))
    return {int(y): int(v) for y, v in zip(owed["fiscal_year"], owed["total_yen"], strict=True)}


def project(fig: Figures, *, today: date, stress: StressTest | None = None) -> Projection:
    """Walk the balance forward 年度 by 年度 from `fig` under `stress` (the base case if None)."""
    stress = stress or StressTest()
    current = fiscal_year_of(today)
    balance = fig.balance_yen
    drawn = fig.drawn
    pace = recent_pace(drawn, before_year=current)
    plan = _committed(fig, today=today)
    committed = {y + 1: v for y, v in plan.items()} if stress.slip_one_year else plan
    budgeted = fig.budgeted_years
    drawn_now = drawn.get(current, 0)  # counts towards the current 年度's pace
    last_plan = max(committed, default=current)
    horizon_end = max(current + MIN_HORIZON_YEARS - 1, last_plan)
    factor = 1 + stress.cost_overrun_pct / 100
    rate = stress.interest_rate_pct / 100

    rows: list[list[int]] = []
    run_out: int | None = None
    runway: float | None = None
    opening = balance
    for i, year in enumerate(range(current, horizon_end + 1)):
        planned = committed.get(year, 0)
        assumed = 0
        if stress.assume_recent_pace and year not in budgeted:
            assumed = max(pace - plan.get(year, 0) - (drawn_now if year == current else 0), 0)
        planned_x = round_yen(planned * factor)
        assumed_x = round_yen(assumed * factor)
        interest = round_yen(opening * rate) if opening > 0 else 0
        closing = opening + interest - planned_x - assumed_x
        rows.append([year, opening, planned_x, assumed_x, interest, closing])
        if run_out is None and closing < 0:
            run_out = year
            outflow = planned_x + assumed_x - interest
            runway = round(i + (max(opening, 0) / outflow if outflow > 0 else 0), 1)
        opening = closing
        if run_out is not None:
            break  # past the run-out 年度 the figures only grow more negative
    table = pd.DataFrame(rows, columns=PROJECTION_COLUMNS).astype("int64")
    return Projection(
        current_year=current,
        balance_yen=balance,
        recent_pace_yen=pace,
        table=table,
        run_out_year=run_out,
        runway_years=runway,
        horizon_end=horizon_end,
        stress=stress,
    )


@dataclass(frozen=True)
class FundStatus:
    """Headline figures of the 基金の状況 page (yen unless noted)."""

    fund_size_yen: int
    balance_yen: int
    used_ratio: float  # (基金規模 − 残高) ÷ 基金規模
    current_year: int
    planned_this_year_yen: int  # the current 年度's planned drawdown (allocations + later-year costs)
    drawn_this_year_yen: int  # already drawn in the current 年度
    committed_future_yen: int  # committed drawdowns of the 年度 after the current one
    projection: Projection  # base case


def fund_status(fig: Figures, *, today: date) -> FundStatus:
    """The headline: balance, this 年度's plan, later commitments, runway (base case) and % used."""
    current = fiscal_year_of(today)
    size = int(load_fund_config()["size_yen"])
    planned = fig.planned
    committed = _committed(fig, today=today)
    p = project(fig, today=today)
    return FundStatus(
        fund_size_yen=size,
        balance_yen=p.balance_yen,
        used_ratio=(size - p.balance_yen) / size if size else 0.0,
        current_year=current,
        planned_this_year_yen=int(planned.loc[planned["fiscal_year"] == current, "planned_yen"].sum()),
        drawn_this_year_yen=fig.drawn.get(current, 0),
        committed_future_yen=sum(v for y, v in committed.items() if y > current),
        projection=p,
    )


def projection_display(p: Projection) -> pd.DataFrame:
    """The projection table as shown: 年度 label, amounts in 千円 (▲ for negatives), and 判定."""
    out = pd.DataFrame({"年度": [fiscal_label(int(y)) for y in p.table["fiscal_year"]]})
    for column in PROJECTION_COLUMNS[1:]:
        out[f"{PROJECTION_LABELS[column]}（千円）"] = format_sen_yen_series(p.table[column])
    out["判定"] = ["不足" if v < 0 else "" for v in p.table["closing_yen"]]
    return out


def owed_display(fig: Figures, *, today: date) -> pd.DataFrame:
    """What the fund owes per 年度 from the current one on, as shown beside the projection (千円):
    the same figures as its 計画取崩し in the base case."""
    owed = position.owed_from(fig.owed, current_year=fiscal_year_of(today))
    return pd.DataFrame(
        {
            "年度": [fiscal_label(int(y)) for y in owed["fiscal_year"]],
            "承認済み配分の未取崩し（千円）": format_sen_yen_series(owed["undrawn_yen"]),
            "後年度負担（採択事業の計画、千円）": format_sen_yen_series(owed["reserved_yen"]),
            "計（千円）": format_sen_yen_series(owed["total_yen"]),
            "サンプル": [f"{SAMPLE_MARK}を含む" if v else "" for v in owed["sample_reserved_yen"]],
        }
    )


def runway_text(p: Projection) -> str:
    """'2.1年（令和10年度に不足）' or '10年以上' — the runway as an executive reads it."""
    if p.run_out_year is None or p.runway_years is None:
        return f"{p.horizon_end - p.current_year + 1}年以上"
    return f"{p.runway_years:.1f}年"


def run_out_text(p: Projection) -> str:
    if p.run_out_year is None:
        return f"{wareki(p.horizon_end)}まで不足なし"
    return f"{wareki(p.run_out_year)}に不足"


def balance_path(fig: Figures, p: Projection) -> pd.DataFrame:
    """Year-end balance per 年度 for the chart: `年度`, `和暦`, `残高（億円）`, `区分` (実績 / 見通し).

    実績 covers the 年度 before the current one (gap years carry the balance forward); 見通し starts
    at the last actual point so the two lines join.
    """
    rf = fig.roll_forward
    closing = {int(y): int(b) for y, b in zip(rf["fiscal_year"], rf["closing_yen"], strict=True)}
    rows: list[tuple[int, int, str]] = []
    if closing:
        running = 0
        for year in range(min(closing), p.current_year):
            running = closing.get(year, running)
            rows.append((year, running, "実績"))
        last_actual = rows[-1] if rows else None
        if last_actual is not None:
            rows.append((last_actual[0], last_actual[1], "見通し"))
    for year, end in zip(p.table["fiscal_year"], p.table["closing_yen"], strict=True):
        rows.append((int(year), int(end), "見通し"))
    df = pd.DataFrame(rows, columns=["年度", "残高（円）", "区分"])
    df["和暦"] = [wareki(int(y)) for y in df["年度"]]
    df["残高（億円）"] = oku_yen_series(df["残高（円）"])
    return df


# --- Fund-health signals (as in the national 基金シート) ----------------------------------------


class Level(StrEnum):
    ok = "ok"
    caution = "caution"  # 注意
    alert = "alert"  # 警告


LEVEL_LABEL = {Level.ok: "問題なし", Level.caution: "注意", Level.alert: "警告"}


@dataclass(frozen=True)
class Signal:
    name: str
    value: str
    level: Level
    explanation: str


def _sample_note(fig: Figures, *, today: date) -> str:
    """The part of the plan that sample proposals' later-year costs make up, with its mark."""
    owed = position.owed_from(fig.owed, current_year=fiscal_year_of(today))
    sample = int(owed["sample_reserved_yen"].sum())
    return f"（計画取崩しのうち {format_oku_yen(sample)} は{SAMPLE_MARK}の後年度計画）" if sample else ""


def signals(fig: Figures, *, today: date, stress: StressTest | None = None) -> list[Signal]:
    """The four fund-health signals with a plain-Japanese explanation each. They read the same
    projection as the runway (`project` under `stress`, the base case by default), so a signal never
    says 問題なし while the runway says the money runs out."""
    current = fiscal_year_of(today)
    balance = fig.balance_yen
    p = project(fig, today=today, stress=stress)
    need = round_yen(sum(_committed(fig, today=today).values()) * (1 + p.stress.cost_overrun_pct / 100))
    drawn = fig.drawn
    planned = fig.planned
    out: list[Signal] = []

    # 保有割合 = 基金残高 ÷ 計画済みの必要額
    if need == 0:
        out.append(
            Signal(
                "保有割合",
                "算定なし",
                Level.caution,
                "今年度以降に計画された取崩しがないため算定できません。基金を何に使うかの計画を確認してください。",
            )
        )
    else:
        ratio = balance / need
        if ratio < 1:
            level, verdict = Level.alert, "計画済みの取崩しを賄えません。計画の見直しか財源の確保が必要です。"
        elif p.run_out_year is not None:
            level = Level.caution
            verdict = (
                "計画済みの取崩しは賄えますが、まだ予算のない年度に新規事業を直近ペースで見込むと"
                f"{run_out_text(p)}します（残り年数の目安と同じ見通し）。"
            )
        else:
            level, verdict = Level.ok, "計画済みの取崩しは賄えます。残りが今後の新規事業に充てられる額です。"
        out.append(
            Signal(
                "保有割合",
                f"{ratio:.2f}倍",
                level,
                f"基金残高 {format_oku_yen(balance)} ÷ 今年度以降の計画取崩し {format_oku_yen(need)}。"
                f"1倍未満なら計画分を払いきれません。{verdict}{_sample_note(fig, today=today)}",
            )
        )

    # 乖離率 = (実績 − 計画) ÷ 計画, for the latest past 年度 with a plan
    past = planned[(planned["fiscal_year"] < current) & (planned["planned_yen"] > 0)]
    if past.empty:
        out.append(
            Signal("乖離率", "算定なし", Level.ok, "前年度以前に計画された取崩しがないため算定できません。")
        )
    else:
        row = past.iloc[-1]
        year, plan = int(row["fiscal_year"]), int(row["planned_yen"])
        actual = drawn.get(year, 0)
        rate = (actual - plan) / plan
        level = Level.caution if abs(rate) >= DEVIATION_CAUTION else Level.ok
        sign = "▲" if rate < 0 else "+"
        out.append(
            Signal(
                "乖離率",
                f"{sign}{abs(rate):.1%}",
                level,
                f"{fiscal_label(year)}の取崩し実績 {format_oku_yen(actual)} と計画 {format_oku_yen(plan)} の差を"
                f"計画で割った値です。±{DEVIATION_CAUTION:.0%}以上なら、未記帳、事業の遅れや見積りの"
                "ずれがないか確認してください。",
            )
        )

    # No drawdown in the current 年度
    drawn_now = drawn.get(current, 0)
    plan_now = int(planned.loc[planned["fiscal_year"] == current, "planned_yen"].sum())
    if drawn_now > 0:
        out.append(
            Signal(
                "今年度の取崩し",
                format_oku_yen(drawn_now),
                Level.ok,
                f"{fiscal_label(current)}は取崩しが記帳されています（計画 {format_oku_yen(plan_now)}）。",
            )
        )
    else:
        out.append(
            Signal(
                "今年度の取崩し",
                "なし",
                Level.caution,
                f"{fiscal_label(current)}はまだ取崩しが記帳されていません（計画 {format_oku_yen(plan_now)}）。"
                "基金が使われないまま積み上がっていないか、記帳漏れがないか確認してください。",
            )
        )

    # The current 年度's year-end balance against what the next 年度 draws (the projection's own rows)
    rows = p.table.set_index("fiscal_year")
    after_this_year = int(rows.loc[current, "closing_yen"])
    next_need = (
        int(rows.loc[current + 1, "planned_yen"] + rows.loc[current + 1, "assumed_yen"])
        if current + 1 in rows.index
        else 0
    )
    short = p.run_out_year is not None and p.run_out_year <= current + 1
    out.append(
        Signal(
            "翌年度の必要額",
            "不足" if short else "充足",
            Level.alert if short else Level.ok,
            f"今年度末の残高見込み {format_oku_yen(after_this_year)} と、"
            f"{fiscal_label(current + 1)}の取崩し見込み {format_oku_yen(next_need)} を比べています。"
            + (
                f"{run_out_text(p)}し、不足額は {format_yen(-int(rows.loc[p.run_out_year, 'closing_yen']))} です。"
                if short and p.run_out_year is not None
                else "翌年度の取崩しは残高で賄えます。"
            ),
        )
    )
    return out


# --- Breakdowns for the charts ---------------------------------------------------------------------


def waterfall(fig: Figures, *, fiscal_year: int) -> pd.DataFrame:
    """One 年度's roll-forward as waterfall steps (億円): `項目`, `開始`, `終了`, `金額（千円）`, `種別`.

    A 年度 without postings still shows its opening and closing balance.
    """
    rf = fig.roll_forward
    earlier = rf[rf["fiscal_year"] < fiscal_year]
    row = rf[rf["fiscal_year"] == fiscal_year]
    if row.empty:
        opening = int(earlier["closing_yen"].iloc[-1]) if not earlier.empty else 0
        moves = dict.fromkeys(MOVEMENTS, 0)
    else:
        r = row.iloc[0]
        opening = int(r["opening_yen"])
        moves = {k: int(r[k]) for k in MOVEMENTS}
    steps: list[tuple[str, float, float, int, str]] = [
        ("前年度末残高", 0.0, to_oku_yen(opening), opening, "残高")
    ]
    level = opening
    for name, value in moves.items():
        delta = -value if name == "drawdown_yen" else value
        steps.append(
            (
                ledger.ROLL_FORWARD_LABELS[name],
                to_oku_yen(level),
                to_oku_yen(level + delta),
                delta,
                "増加" if delta >= 0 else "減少",
            )
        )
        level += delta
    steps.append(("年度末残高", 0.0, to_oku_yen(level), level, "残高"))
    df = pd.DataFrame(steps, columns=["項目", "開始", "終了", "金額（円）", "種別"])
    df["金額（千円）"] = sen_yen_series(df["金額（円）"])
    return df


def moved_in(fig: Figures, *, fiscal_year: int) -> bool:
    """Whether anything was posted in the 年度 that changed the balance (a 年度 without postings
    keeps the previous year-end balance)."""
    row = fig.roll_forward[fig.roll_forward["fiscal_year"] == fiscal_year]
    return bool((row[list(MOVEMENTS)] != 0).any(axis=None)) if not row.empty else False
