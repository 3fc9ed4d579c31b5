"""基金台帳 rules: append-only, no overdraw, closed years, reversals, the balance identity."""

import contextlib
import io
import json
import threading
from collections.abc import Callable
from datetime import date

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from fund import allocation, audit, ledger
from fund.auth import Actor
from fund.db import query_df
from fund.errors import InputInvalid, PermissionDenied, RuleViolation
from fund.models import FiscalYear, Role
from tests.conftest import approved_allocation, arranged, make_actor, post_approved, posting


def _open_years(engine: Engine, *years: int) -> None:
    with arranged(engine) as s:
        for y in years:
            s.add(FiscalYear(year=y))


def _post(
    engine: Engine, actor: Actor, kind: str, amount: int, day: date = date(2025, 7, 1), **kw: object
) -> int:
    entry = post_approved(
        engine,
        actor=actor,
        entry=posting(
            {
                "posted_on": day,
                "fiscal_year": kw.pop("fiscal_year", day.year if day.month >= 4 else day.year - 1),
                "kind": kind,
                "amount_yen": amount,
                "memo": kw.pop("memo", "テスト"),
                **kw,
            }
        ),
    )
    assert entry.id is not None
    return entry.id


def test_drawdown_larger_than_balance_is_refused_with_balance_and_shortfall(
    engine: Engine, admin: Actor
) -> None:
    _open_years(engine, 2025)
    _post(engine, admin, "deposit", 1_000_000)
    with pytest.raises(RuleViolation) as exc:
        _post(engine, admin, "drawdown", 1_500_000)
    assert "1,000,000円" in exc.value.message and "500,000円" in exc.value.message
    assert ledger.balance(engine) == 1_000_000
    assert int(query_df(engine, "SELECT COUNT(*) AS n FROM ledger_entry")["n"].iloc[0]) == 1


def test_backdated_drawdown_cannot_overdraw_a_later_date(engine: Engine, admin: Actor) -> None:
    _open_years(engine, 2025)
    _post(engine, admin, "deposit", 1_000, day=date(2025, 6, 1))
    _post(engine, admin, "drawdown", 800, day=date(2025, 9, 1))
    with pytest.raises(RuleViolation):
        _post(engine, admin, "drawdown", 500, day=date(2025, 7, 1))


def test_posting_into_a_closed_year_is_refused(engine: Engine, admin: Actor) -> None:
    _open_years(engine, 2025)
    allocation.close_year(engine, actor=admin, fiscal_year=2025)
    with pytest.raises(RuleViolation, match="決算確定"):
        _post(engine, admin, "deposit", 1_000)


def test_only_an_administrator_posts_or_closes(engine: Engine) -> None:
    _open_years(engine, 2025)
    for role in (Role.department, Role.screener, Role.executive):
        with pytest.raises(PermissionDenied):
            _post(engine, make_actor(role), "deposit", 1_000)
        with pytest.raises(PermissionDenied):
            allocation.close_year(engine, actor=make_actor(role), fiscal_year=2025)


@pytest.mark.parametrize(
    ("field", "data"),
    [
        ("amount_yen", {"amount_yen": 0}),
        ("amount_yen", {"amount_yen": -5}),
        ("amount_yen", {"amount_yen": 10**12 + 1}),
        ("memo", {"memo": "   "}),
        ("fiscal_year", {"fiscal_year": 2023}),
    ],
)
def test_bad_input_is_refused_at_the_field_and_writes_nothing(
    engine: Engine, admin: Actor, field: str, data: dict[str, object]
) -> None:
    _open_years(engine, 2023, 2025)
    base = {
        "posted_on": date(2025, 7, 1),
        "fiscal_year": 2025,
        "kind": "deposit",
        "amount_yen": 1_000,
        "memo": "積立",
    }
    with pytest.raises(InputInvalid) as exc:
        ledger.post_entry(engine, actor=admin, entry=posting(base | data))
    assert field in exc.value.field_errors
    assert int(query_df(engine, "SELECT COUNT(*) AS n FROM ledger_entry")["n"].iloc[0]) == 0


def test_settlement_period_posting_may_go_to_the_previous_year(engine: Engine, admin: Actor) -> None:
    _open_years(engine, 2024, 2025)
    _post(engine, admin, "deposit", 1_000, day=date(2025, 5, 20), fiscal_year=2024)
    rf = ledger.roll_forward(engine, today=date(2025, 5, 20)).set_index("fiscal_year")
    assert rf["deposit_yen"].to_dict() == {2024: 1_000, 2025: 0}  # 令和7年度 listed, with nothing in it


def test_the_roll_forward_lists_every_year_up_to_the_current_one(engine: Engine, admin: Actor) -> None:
    _open_years(engine, 2023, 2024, 2025)
    _post(engine, admin, "deposit", 5_000, day=date(2023, 7, 1))
    _post(engine, admin, "interest", 7, day=date(2025, 7, 1))
    rf = ledger.roll_forward(engine, today=date(2026, 12, 2))
    assert rf[ledger.ROLL_FORWARD_COLUMNS].values.tolist() == [
        [2023, 0, 5_000, 0, 0, 0, 5_000],
        [2024, 5_000, 0, 0, 0, 0, 5_000],
        [2025, 5_000, 0, 7, 0, 0, 5_007],
        [2026, 5_007, 0, 0, 0, 0, 5_007],
    ]


def test_reversal_cancels_the_entry_and_cannot_be_repeated(engine: Engine, admin: Actor) -> None:
    _open_years(engine, 2025)
    _post(engine, admin, "deposit", 10_000)
    wrong = _post(engine, admin, "drawdown", 3_000)
    rev = ledger.reverse_entry(
        engine, actor=admin, entry_id=wrong, posted_on=date(2025, 7, 2), reason="金額誤り"
    )
    assert ledger.balance(engine) == 10_000
    assert int(ledger.roll_forward(engine)["drawdown_yen"].iloc[0]) == 0
    with pytest.raises(RuleViolation, match="既に"):
        ledger.reverse_entry(engine, actor=admin, entry_id=wrong, posted_on=date(2025, 7, 3), reason="再度")
    assert rev.id is not None
    with pytest.raises(RuleViolation):
        ledger.reverse_entry(
            engine, actor=admin, entry_id=rev.id, posted_on=date(2025, 7, 3), reason="取消の取消"
        )


def test_every_posting_writes_an_audit_row_and_the_chain_verifies(engine: Engine, admin: Actor) -> None:
    _open_years(engine, 2025)
    _post(engine, admin, "deposit", 10_000)
    _post(engine, admin, "interest", 12)
    actions = list(query_df(engine, "SELECT action FROM audit_log ORDER BY id")["action"])
    assert actions == ["seed", "ledger.post", "ledger.post"]  # the test's 年度, then the two postings
    assert audit.verify_chain(engine) is None


def test_tampering_with_the_audit_log_is_detected(engine: Engine, admin: Actor) -> None:
    _open_years(engine, 2025)
    _post(engine, admin, "deposit", 10_000)
    _post(engine, admin, "deposit", 20_000)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE audit_log SET actor = 'someone_else' WHERE id = (SELECT MIN(id) FROM audit_log)"
        )
    first = int(query_df(engine, "SELECT MIN(id) AS i FROM audit_log")["i"].iloc[0])
    assert audit.verify_chain(engine) == first


def test_two_threads_drawing_the_last_yen_leave_exactly_one_drawdown(engine: Engine, admin: Actor) -> None:
    _open_years(engine, 2025)
    _post(engine, admin, "deposit", 1_000)
    results: list[str] = []
    barrier = threading.Barrier(2)

    def draw() -> None:
        barrier.wait()
        try:
            _post(engine, admin, "drawdown", 1_000)
            results.append("ok")
        except RuleViolation:
            results.append("refused")

    threads = [threading.Thread(target=draw) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok", "refused"]
    assert ledger.balance(engine) == 0


entries = st.lists(
    st.tuples(
        st.sampled_from(["deposit", "interest", "drawdown", "refund"]),
        st.integers(1, 10**9),
        st.integers(0, 3),
    ),
    max_size=25,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=entries)
def test_roll_forward_identity_holds_for_random_ledgers(
    fresh_engine: Callable[[], Engine], entries: list[tuple[str, int, int]]
) -> None:
    from fund.db import dispose_engines

    engine = fresh_engine()  # DuckDB here, PostgreSQL in tests/postgres
    admin = make_actor(Role.admin)
    _open_years(engine, 2023, 2024, 2025, 2026)
    for kind, amount, year_offset in entries:
        with contextlib.suppress(RuleViolation):  # an overdraw is refused; the identity must still hold
            _post(engine, admin, kind, amount, day=date(2023 + year_offset, 7, 1))  # none after today
    rf = ledger.roll_forward(engine)
    previous = 0
    for r in rf.itertuples(index=False):
        assert r[1] == previous
        assert r[6] == r[1] + r[2] + r[3] + r[5] - r[4]
        assert r[6] >= 0
        previous = r[6]
    assert previous == ledger.balance(engine)
    dispose_engines()


# --- Drawdowns belong to an allocation; the ledger records what has happened -----------------------

FY = 2026  # 令和8年度: open in the seed


def _drawdown(allocation_id: int | None, amount: int, **fields: object) -> ledger.LedgerEntryCreate:
    return ledger.validate_entry(
        {
            "posted_on": date(2026, 7, 1),
            "fiscal_year": FY,
            "kind": "drawdown",
            "amount_yen": amount,
            "memo": "委託料の支払",
            "allocation_id": allocation_id,
            **fields,
        },
        today=date(2026, 12, 2),
    )


def _rows(engine: Engine) -> int:
    return int(query_df(engine, "SELECT COUNT(*) AS n FROM ledger_entry")["n"].iloc[0])


def test_a_drawdown_through_its_allocation_is_counted_once(seeded_engine: Engine, admin: Actor) -> None:
    """The double count: an approved 400,000,000円 drawn in full leaves every headroom where it was."""
    alloc = approved_allocation(seeded_engine, "やまぐちデジタル実装推進事業", 400_000_000)
    this_year = allocation.fund_ceiling(seeded_engine, fiscal_year=FY)
    next_year = allocation.fund_ceiling(seeded_engine, fiscal_year=FY + 1)
    entry = ledger.post_entry(seeded_engine, actor=admin, entry=_drawdown(alloc, 400_000_000))
    assert entry.allocation_id == alloc and entry.project_id is not None and entry.unallocated_reason is None
    assert ledger.balance(seeded_engine) == 2_060_000_000 - 400_000_000
    after = allocation.fund_ceiling(seeded_engine, fiscal_year=FY)
    assert after.headroom_yen == this_year.headroom_yen
    assert allocation.fund_ceiling(seeded_engine, fiscal_year=FY + 1).headroom_yen == next_year.headroom_yen
    owed = allocation.owed_by_year(seeded_engine).set_index("fiscal_year")
    assert FY not in owed.index or owed.loc[FY, "undrawn_yen"] == 0


def test_a_drawdown_larger_than_what_is_left_of_its_allocation_is_refused_with_the_figures(
    seeded_engine: Engine, admin: Actor
) -> None:
    alloc = approved_allocation(seeded_engine, "やまぐちデジタル実装推進事業", 10_000_000)
    ledger.post_entry(seeded_engine, actor=admin, entry=_drawdown(alloc, 7_000_000))
    rows = _rows(seeded_engine)
    with pytest.raises(ledger.LedgerRefused) as exc:
        ledger.post_entry(seeded_engine, actor=admin, entry=_drawdown(alloc, 3_000_001))
    assert exc.value.field == "amount_yen"
    assert exc.value.message == (
        f"配分番号 {alloc} の残りは 3,000,000円（基金充当額 10,000,000円 − 取崩し済み 7,000,000円）です。"
        "今回の 3,000,001円 は 1円 超過します。"
    )
    assert _rows(seeded_engine) == rows
    ledger.post_entry(seeded_engine, actor=admin, entry=_drawdown(alloc, 3_000_000))  # exactly what is left


def test_a_drawdown_on_a_pending_other_years_or_other_projects_allocation_is_refused(
    seeded_engine: Engine, admin: Actor
) -> None:
    later = approved_allocation(seeded_engine, "やまぐちデジタル実装推進事業", 10_000_000, year=FY + 1)
    mine = approved_allocation(seeded_engine, "スマート社会デザインプロジェクト推進事業", 10_000_000)
    other_project = int(
        query_df(seeded_engine, "SELECT id FROM project WHERE name = 'やまぐちデジタル実装推進事業'")[
            "id"
        ].iloc[0]
    )
    pending = allocation.propose_allocation(
        seeded_engine,
        actor=make_actor(Role.screener),
        allocation=allocation.validate_allocation(
            {
                "project_id": other_project,
                "fiscal_year": FY,
                "project_cost_yen": 2_000,
                "fund_share_yen": 1_000,
            }
        ),
    )
    rows = _rows(seeded_engine)
    cases = {
        later: f"配分番号 {later} は令和9年度（2027年度）の配分です。",
        mine: f"配分番号 {mine} は別の事業の配分です。",
        pending.id: f"配分番号 {pending.id} は承認待ちです。",
        999_999: "配分番号 999999 の配分は登録されていません。",
    }
    for alloc, message in cases.items():
        extra = {"project_id": other_project} if alloc == mine else {}
        with pytest.raises((ledger.LedgerRefused, InputInvalid)) as exc:
            ledger.post_entry(seeded_engine, actor=admin, entry=_drawdown(alloc, 1_000, **extra))
        assert message in str(ledger.form_errors(exc.value).get("allocation_id")), alloc
    assert _rows(seeded_engine) == rows


def test_a_drawdown_without_an_allocation_needs_the_exceptions_reason(
    seeded_engine: Engine, admin: Actor
) -> None:
    with pytest.raises(InputInvalid) as exc:
        _drawdown(None, 1_000)
    assert exc.value.field_errors == {
        "allocation_id": "取崩しは配分（配分番号）に紐付けて記帳してください。"
        "配分のない取崩しは、例外としてその理由を入力してください。"
    }
    entry = post_approved(
        seeded_engine,
        actor=admin,
        entry=_drawdown(None, 1_000, unallocated_reason="  国の交付決定前の立替  "),
    )
    assert entry.unallocated_reason == "国の交付決定前の立替" and entry.allocation_id is None


def test_a_posting_dated_after_today_is_refused_at_the_date(seeded_engine: Engine) -> None:
    with pytest.raises(InputInvalid) as exc:
        ledger.validate_entry(
            {
                "posted_on": date(2027, 2, 1),
                "fiscal_year": FY,
                "kind": "deposit",
                "amount_yen": 1,
                "memo": "積立",
            },
            today=date(2026, 12, 2),
        )
    assert exc.value.field_errors["posted_on"].startswith(
        "記帳日 2027年02月01日 は今日（2026年12月02日）より後です。"
    )


def test_a_posting_dated_in_a_past_year_needs_a_reason_kept_in_the_audit_log(
    seeded_engine: Engine, admin: Actor
) -> None:
    data = {
        "posted_on": date(2026, 3, 31),
        "fiscal_year": 2025,
        "kind": "interest",
        "amount_yen": 10,
        "memo": "利息",
    }
    with pytest.raises(InputInvalid) as exc:
        ledger.validate_entry(data, today=date(2026, 12, 2))
    assert "reason" in exc.value.field_errors and "令和7年度" in exc.value.field_errors["reason"]
    entry = ledger.post_entry(
        seeded_engine,
        actor=admin,
        entry=ledger.validate_entry(data | {"reason": "通帳の記帳漏れ"}, today=date(2026, 12, 2)),
        today=date(2026, 12, 2),
    )
    reasons = query_df(
        seeded_engine,
        "SELECT reason FROM audit_log WHERE entity = 'ledger_entry' AND entity_id = :i",
        {"i": str(entry.id)},
    )["reason"]
    assert reasons.tolist() == ["通帳の記帳漏れ"]
    # The same day during 出納整理期間 is no back-dating: booking to the previous 年度 needs no reason.
    ledger.validate_entry(data | {"posted_on": date(2026, 4, 30)}, today=date(2026, 4, 30))


def test_the_command_line_posts_a_drawdown_against_its_allocation_and_lists_what_is_left(
    seeded_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    from fund.ops.cli import main

    alloc = approved_allocation(seeded_engine, "やまぐちデジタル実装推進事業", 10_000_000)
    argv = ["ledger", "post", "--kind", "drawdown", "--date", "2026-07-01", "--memo", "委託料"]
    assert main([*argv, "--amount-yen", "2500000", "--allocation", str(alloc)]) == 0
    assert capsys.readouterr().out.startswith("台帳番号 ")
    assert main([*argv, "--amount-yen", "7500001", "--allocation", str(alloc)]) == 2
    assert "残りは 7,500,000円" in capsys.readouterr().err
    assert main([*argv, "--amount-yen", "1"]) == 2
    assert "配分（配分番号）に紐付けて" in capsys.readouterr().err
    assert main(["allocation", "list", "--year", str(FY), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    project = int(
        query_df(seeded_engine, "SELECT project_id FROM allocation WHERE id = :a", {"a": alloc})[
            "project_id"
        ].iloc[0]
    )
    assert listed == [
        {
            "id": alloc,
            "project_id": project,
            "fiscal_year": FY,
            "stage": "initial",
            "status": "approved",
            "fund_yen": 10_000_000,
            "drawn_yen": 2_500_000,
        }
    ]


def test_the_roll_forward_csv_names_its_unit_in_every_amount_header(seeded_engine: Engine) -> None:
    """CSV keeps exact yen and says so; the screen and the xlsx are in 千円 and say that."""
    rf = ledger.roll_forward_export(ledger.roll_forward(seeded_engine))
    csv = ledger.export_bytes(rf, fmt="csv", sheet_name="基金_年度別増減", title="年度別増減", sen_yen=True)
    df = pd.read_csv(io.BytesIO(csv), encoding="utf-8-sig")
    assert list(df.columns) == [
        "年度", "和暦", "前年度末残高（円）", "積立（円）", "運用益（円）", "取崩し（円）", "返還等（円）", "年度末残高（円）",
        "推計",
    ]  # fmt: skip
    assert int(df["年度末残高（円）"].iloc[-1]) == 2_060_000_000


def test_the_roll_forward_marks_each_year_that_holds_an_estimated_posting(seeded_engine: Engine) -> None:
    """Every seeded posting is 推計 (data/ledger.csv: 令和4〜6年度); later 年度 hold none."""
    rf = ledger.roll_forward_export(ledger.roll_forward(seeded_engine))
    marks = dict(zip(rf["年度"], rf["推計"], strict=True))
    assert {y: marks[y] for y in (2022, 2023, 2024)} == dict.fromkeys((2022, 2023, 2024), "推計を含む")
    assert {marks[y] for y in marks if y >= 2025} == {""}
