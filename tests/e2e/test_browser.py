"""End-to-end in a real browser: the menu per role, a refused sign-in and the ledger rule (every page as
each role: test_every_page.py)."""

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import choose, open_page, screenshot, sign_in

pytestmark = pytest.mark.e2e


def test_department_user_has_no_admin_or_screening_menu(page: Page) -> None:
    sign_in(page, "e2e_health")
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_role("link", name="事業提案")).to_be_visible()
    expect(nav.get_by_role("link", name="管理")).to_have_count(0)
    expect(nav.get_by_role("link", name="審査・採点")).to_have_count(0)


def test_wrong_password_is_refused_in_japanese(page: Page) -> None:
    page.get_by_label("ログイン名").fill("e2e_exec")
    page.get_by_label("パスワード").fill("not-the-password")
    page.get_by_role("button", name="サインイン").click()
    expect(page.get_by_text("ログイン名またはパスワードが正しくありません。")).to_be_visible()


def test_over_drawdown_is_refused_and_the_balance_is_unchanged(page: Page) -> None:
    sign_in(page, "e2e_admin")
    open_page(page, "基金の状況")
    balance = page.get_by_test_id("stMetric").filter(has_text="現在の基金残高")
    expect(balance).to_contain_text("20億6,000万円")
    form = page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name="記帳する"))
    kind = form.get_by_label("区分")  # the form's own 区分: charts and filters above also carry the label
    choose(page, kind, "取崩し")  # waits for the page run to end: a rerun landing mid-click closes the list
    page.get_by_label("金額（円）").fill("3000000000")
    page.get_by_label("摘要").fill("過大な取崩しの確認")
    page.get_by_label("配分のない取崩しの理由（例外の場合のみ）").fill("配分外の例外の確認")
    page.get_by_role("button", name="記帳する").click()
    expect(page.get_by_text("残高不足のため記帳できません。")).to_be_visible()
    expect(balance).to_contain_text("20億6,000万円")
    screenshot(page, "10_overdraw_refused")
