"""The 千円 rule has three forms (scalar, pandas column, SQL); they must give the same figures."""

from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from fund import money
from fund.errors import InputInvalid

YEN = st.integers(-(10**13), 10**13)  # ±10兆円: far beyond any fund figure, inside float precision
HALVES = st.integers(-(10**9), 10**9).map(lambda k: k * 1_000 + 500)  # exactly half a 千円


def _reference_sen(yen: int) -> int:
    """千円 half away from zero, by decimal arithmetic (independent of the code under test)."""
    return int((Decimal(yen) / 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@given(yen=st.one_of(YEN, HALVES))
def test_the_scalar_rule_rounds_half_away_from_zero(yen: int) -> None:
    assert money.to_sen_yen(yen) == _reference_sen(yen)


@given(values=st.lists(st.one_of(YEN, HALVES), min_size=1, max_size=40))
def test_the_column_form_agrees_with_the_scalar_rule(values: list[int]) -> None:
    column = money.sen_yen_series(pd.Series(values, dtype="int64"))
    assert column.tolist() == [_reference_sen(v) for v in values]


def test_the_column_form_keeps_a_missing_value_missing() -> None:
    column = money.sen_yen_series(pd.Series([1_500, None], dtype="Int64"))
    assert column.iloc[0] == 2 and pd.isna(column.iloc[1])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.one_of(YEN, HALVES), min_size=1, max_size=20))
def test_the_sql_form_agrees_with_the_scalar_rule_on_this_engine(engine: Engine, values: list[int]) -> None:
    rows = " UNION ALL ".join(f"SELECT {i} AS n, CAST(:v{i} AS BIGINT) AS v" for i in range(len(values)))
    sql = f"SELECT n, CAST({money.sen_yen_sql('v')} AS BIGINT) AS sen FROM ({rows}) AS t ORDER BY n"
    with engine.connect() as conn:
        got = [int(r.sen) for r in conn.execute(text(sql), {f"v{i}": v for i, v in enumerate(values)})]
    assert got == [_reference_sen(v) for v in values]


@given(amount=st.floats(-1e12, 1e12, allow_nan=False))
def test_computed_amounts_round_half_away_from_zero_to_whole_yen(amount: float) -> None:
    expected = int(Decimal(amount).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert money.round_yen(amount) == expected


def test_half_a_yen_rounds_away_from_zero_not_to_even() -> None:
    assert [money.round_yen(x) for x in (0.5, 1.5, 2.5, -2.5)] == [1, 2, 3, -3]


def test_amount_text_is_parsed_with_separators() -> None:
    assert money.parse_yen(" 1,000,000 ", field="amount_yen") == 1_000_000
    assert money.parse_yen("-5000", field="amount_yen") == -5_000


@pytest.mark.parametrize("bad", ["1e6", "百万", "", "1.5"])
def test_amount_text_that_is_not_whole_yen_is_refused_at_its_field(bad: str) -> None:
    with pytest.raises(InputInvalid) as exc:
        money.parse_yen(bad, field="amount_yen")
    assert list(exc.value.field_errors) == ["amount_yen"]
