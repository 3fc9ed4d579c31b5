from datetime import date

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fund.fiscal import (
    allowed_fiscal_years,
    default_year,
    executing_year,
    fiscal_label,
    fiscal_year_of,
    wareki,
)
from fund.money import (
    format_oku_yen,
    format_sen_yen,
    format_yen,
    format_yen_series,
    group_sen_yen_text,
    parse_sen_yen_text,
    to_sen_yen,
)


def test_sen_yen_uses_thousands_separators_and_triangle_for_negatives() -> None:
    assert format_sen_yen(2_271_616_000) == "2,271,616"
    assert format_sen_yen(-1_234_000) == "▲1,234"
    assert format_sen_yen(0) == "0"


def test_sen_yen_rounds_half_away_from_zero() -> None:
    assert to_sen_yen(1_500) == 2
    assert to_sen_yen(1_499) == 1
    assert to_sen_yen(-1_500) == -2


@given(st.integers(min_value=-(10**13), max_value=10**13))
def test_sen_yen_is_within_half_a_thousand_of_the_yen_amount(yen: int) -> None:
    assert abs(to_sen_yen(yen) * 1000 - yen) <= 500


def test_headline_amounts_read_in_oku_and_man_and_hide_no_yen() -> None:
    assert format_oku_yen(2_060_000_000) == "20億6,000万円"
    assert format_oku_yen(4_000_000_000) == "40億円"
    assert format_oku_yen(-150_000_000) == "▲1億5,000万円"
    assert format_oku_yen(3_500_000) == "350万円"  # was 「0.0億円」
    assert format_oku_yen(25_000_000) == "2,500万円"  # was 「0.2億円」
    assert format_oku_yen(2_060_123_456) == "20億6,012万3,456円"
    assert format_oku_yen(100_000_007) == "1億7円"
    assert format_oku_yen(0) == "0円"
    assert format_yen(-5) == "▲5円"


@given(st.integers(min_value=-(10**13), max_value=10**13))
def test_headline_amount_reads_back_to_the_same_yen(yen: int) -> None:
    text = format_oku_yen(yen)
    sign = -1 if text.startswith("▲") else 1
    total, number = 0, ""
    for ch in text.lstrip("▲").replace(",", ""):
        if ch.isdigit():
            number += ch
            continue
        total += int(number or 0) * {"億": 100_000_000, "万": 10_000, "円": 1}[ch]
        number = ""
    assert sign * total == yen


@pytest.mark.parametrize(
    ("day", "year"),
    [
        (date(2024, 4, 1), 2024),
        (date(2025, 3, 31), 2024),
        (date(2024, 12, 31), 2024),
        (date(2024, 1, 5), 2023),
    ],
)
def test_fiscal_year_starts_in_april(day: date, year: int) -> None:
    assert fiscal_year_of(day) == year


def test_april_and_may_postings_may_belong_to_the_previous_year() -> None:
    assert allowed_fiscal_years(date(2025, 5, 31)) == (2025, 2024)
    assert allowed_fiscal_years(date(2025, 6, 1)) == (2025,)


def test_wareki_labels_follow_the_reiwa_era() -> None:
    assert wareki(2024) == "令和6年度"
    assert wareki(2019) == "令和元年度"
    assert wareki(2018) == "平成30年度"
    assert fiscal_label(2024) == "令和6年度（2024年度）"


@pytest.mark.parametrize(
    ("years", "day", "expected"),
    [
        ([2025, 2026, 2027, 2028], date(2026, 12, 3), 2027),  # December: next year's 当初予算
        ([2025, 2026, 2027], date(2027, 3, 31), 2027),  # the last day of 令和8年度
        ([2025, 2026, 2027, 2028], date(2027, 4, 1), 2028),  # the first day of 令和9年度
        ([2025, 2026], date(2026, 12, 3), 2026),  # next year not registered yet: the current one
        ([2030], date(2026, 12, 3), 2030),  # only a later one is open
    ],
)
def test_every_form_opens_on_the_budget_year_or_the_latest_before_it(
    years: list[int], day: date, expected: int
) -> None:
    assert default_year(years, day) == expected


@pytest.mark.parametrize(
    ("years", "day", "expected"),
    [
        ([2025, 2026, 2027], date(2026, 12, 3), 2026),  # December: this year's 補正, not next year's
        ([2025, 2026, 2027], date(2027, 4, 1), 2027),  # the first day of 令和9年度
        ([2025], date(2026, 12, 3), 2025),  # the current one not registered: the latest before it
        ([2030], date(2026, 12, 3), 2030),  # only a later one is open
    ],
)
def test_revisions_and_carry_overs_open_on_the_year_being_executed(
    years: list[int], day: date, expected: int
) -> None:
    assert executing_year(years, day) == expected


@pytest.mark.parametrize(
    ("typed", "yen"),
    [
        ("3000000", 3_000_000_000),
        ("12,000", 12_000_000),
        ("１２，０００", 12_000_000),  # typed with the IME in full width
        (" 500 ", 500_000),
        ("▲500", -500_000),
        ("-5", -5_000),
        ("", 0),
        ("12.5", None),
        ("1万", None),
        ("abc", None),
    ],
)
def test_a_typed_sen_yen_amount_reads_as_yen_or_not_at_all(typed: str, yen: int | None) -> None:
    assert parse_sen_yen_text(typed) == yen


def test_a_typed_sen_yen_amount_is_shown_grouped_and_other_text_is_left_alone() -> None:
    assert group_sen_yen_text("3000000") == "3,000,000"
    assert group_sen_yen_text("１２０００") == "12,000"
    assert group_sen_yen_text("-5") == "▲5"
    assert group_sen_yen_text("12.5") == "12.5"
    assert group_sen_yen_text("") == ""


def test_signed_yen_figures_use_the_triangle_never_a_minus() -> None:
    assert format_yen_series(pd.Series([-2_613_000, 0, 1_234, None], dtype="Int64")) == [
        "▲2,613,000",
        "0",
        "1,234",
        "",
    ]
