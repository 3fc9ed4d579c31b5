"""End-to-end: the 管理 page (users, audit log, chain check) and the アカウント page in a real browser."""

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PASSWORD, open_page, screenshot, sign_in, wait_for_run

pytestmark = pytest.mark.e2e


def test_the_administrator_checks_the_audit_chain_and_filters_the_log(page: Page) -> None:
    sign_in(page, "e2e_admin")
    open_page(page, "管理")
    expect(page.get_by_text("利用者の追加")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    expect(page.get_by_label("役割", exact=True)).to_be_visible()
    expect(page.get_by_text("現在:")).to_be_visible()
    screenshot(page, "30_admin_users")
    page.get_by_role("tab", name="監査ログ").click()
    page.get_by_role("button", name="監査ログとデータを検証する").click()
    expect(page.get_by_text("と現在のデータは一致しています")).to_be_visible()
    panel = page.get_by_role("tabpanel", name="監査ログ")
    page.get_by_label("利用者（一部で検索）").fill("e2e_admin")
    page.get_by_label("利用者（一部で検索）").press("Enter")
    wait_for_run(page)
    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    # The administrator's own sign-in is in the default period: a table, not the empty state.
    expect(panel.get_by_test_id("stDataFrame").last).to_be_visible()
    expect(page.get_by_text("条件に合う記録はありません")).to_have_count(0)
    screenshot(page, "31_admin_audit_log")
    page.get_by_label("利用者（一部で検索）").fill("nobody-at-all")
    page.get_by_label("利用者（一部で検索）").press("Enter")
    expect(page.get_by_text("条件に合う記録はありません")).to_be_visible()


def test_every_user_has_an_account_page_and_signs_out(page: Page) -> None:
    sign_in(page, "e2e_exec")
    open_page(page, "アカウント")
    expect(page.get_by_text("パスワードの変更")).to_be_visible()
    screenshot(page, "32_account")
    page.get_by_role("button", name="サインアウト").click()
    expect(page.get_by_label("ログイン名")).to_be_visible()


def test_a_reload_or_a_bookmark_asks_to_sign_in_and_then_opens_the_page_asked_for(
    page: Page, app_url: str
) -> None:
    sign_in(page, "e2e_exec")
    open_page(page, "成果指標")
    page.reload()  # the session lives in the tab's connection: a reload asks to sign in again
    expect(page.get_by_label("ログイン名")).to_be_visible()
    expect(page.get_by_text("Page not found")).to_have_count(0)
    page.goto(f"{app_url}/allocations")  # a bookmark
    expect(page.get_by_label("ログイン名")).to_be_visible()
    expect(page.get_by_text("Page not found")).to_have_count(0)
    page.get_by_label("ログイン名").fill("e2e_exec")
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="サインイン").click()
    expect(page.get_by_role("heading", name="年度配分", exact=True)).to_be_visible()
