"""基金の状況 in a real browser: the overview renders, and refused postings leave the balance unchanged.

The server's database is shared by every e2e test, so these tests only post entries that are refused.
"""

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import choose, open_page, screenshot, sign_in

pytestmark = pytest.mark.e2e


def _balance(page: Page) -> Locator:
    return page.get_by_test_id("stMetric").filter(has_text="現在の基金残高")


def _rendered(page: Page) -> None:
    """Wait until the page script has rendered to its last line (the estimate note) and the controls."""
    expect(page.get_by_text("「推計」は資料に記載がなく")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("計画事業が1年遅れる")).to_be_visible()


def _post_form(page: Page) -> Locator:
    """The posting form, once the page has rendered completely."""
    _rendered(page)
    form = page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name="記帳する"))
    expect(form).to_be_visible()
    return form


def test_overview_shows_metrics_charts_and_signals(page: Page) -> None:
    sign_in(page, "e2e_exec")
    open_page(page, "基金の状況")
    expect(_balance(page)).to_contain_text("20億6,000万円")
    expect(page.get_by_test_id("stMetric").filter(has_text="残り年数の目安")).to_contain_text("年")
    expect(page.get_by_text("保有割合：")).to_be_visible()
    expect(page.locator("[data-testid='stVegaLiteChart']").first).to_be_visible()
    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    _rendered(page)
    expect(page.get_by_role("button", name="記帳する")).to_have_count(0)  # read-only for 幹部
    screenshot(page, "20_fund_status_overview")
    # What 推計 and サンプル rest on is in the app, not in a file the user cannot open.
    expect(page.get_by_text("data/README.md")).to_have_count(0)
    page.get_by_role("button", name="前提と出典").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("各事業の事業費の2分の1と仮定しています")).to_be_visible()
    screenshot(page, "22_fund_status_assumptions")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    page.get_by_role("tab", name="年度の増減").click()
    choose(page, page.get_by_role("tabpanel").get_by_role("combobox", name="年度"), "令和6年度（2024年度）")
    expect(page.get_by_text("令和8年度（2026年度）の記帳はまだありません")).to_have_count(0)
    page.get_by_role("heading", name="取崩しの内訳").evaluate("e => e.scrollIntoView({block: 'start'})")
    screenshot(page, "21_fund_status_breakdown")


def test_over_drawdown_is_refused_next_to_the_amount_and_the_balance_is_unchanged(page: Page) -> None:
    sign_in(page, "e2e_admin")
    open_page(page, "基金の状況")
    expect(_balance(page)).to_contain_text("20億6,000万円")
    form = _post_form(page)
    choose(page, form.get_by_role("combobox", name="区分"), "取崩し")
    form.get_by_label("金額（円）").fill("3000000000")
    form.get_by_label("摘要").fill("過大な取崩しの確認")
    form.get_by_label("配分のない取崩しの理由（例外の場合のみ）").fill("配分外の例外の確認")
    form.get_by_role("button", name="記帳する").click()
    error = form.get_by_text("残高不足のため記帳できません。")
    expect(error).to_be_visible()
    expect(error).to_contain_text("不足額は 940,000,000円")
    expect(_balance(page)).to_contain_text("20億6,000万円")
    error.scroll_into_view_if_needed()
    screenshot(page, "22_fund_status_overdraw_refused")


def test_posting_into_a_closed_year_is_refused_and_the_balance_is_unchanged(page: Page) -> None:
    sign_in(page, "e2e_admin")
    open_page(page, "基金の状況")
    expect(_balance(page)).to_contain_text("20億6,000万円")
    _post_form(page)
    # Any day of 2024 falls in 令和5年度 or 令和6年度, both 決算確定 in the seed.
    year_part = page.get_by_role("spinbutton", name="年、記帳日", exact=True)
    year_part.click()
    page.keyboard.type("2024")
    page.keyboard.press("Tab")
    expect(year_part).to_have_attribute("aria-valuenow", "2024")
    form = _post_form(page)
    form.get_by_label("金額（円）").fill("1000")
    form.get_by_label("摘要").fill("決算確定後の記帳の確認")
    form.get_by_label("過去の年度の日付で記帳する理由").fill("記帳漏れの訂正")
    form.get_by_role("button", name="記帳する").click()
    error = form.get_by_text("決算確定済みのため、記帳できません。")
    expect(error).to_be_visible()
    expect(error).to_have_text(
        re.compile(r"令和[56]年度（202[34]年度）は決算確定済みのため、記帳できません。")
    )
    expect(_balance(page)).to_contain_text("20億6,000万円")
    error.scroll_into_view_if_needed()
    screenshot(page, "23_fund_status_closed_year_refused")
