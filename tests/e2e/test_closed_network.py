"""The closed network (LGWAN): nothing the app serves loads from outside the server, on any page."""

import pytest
from playwright.sync_api import Page, Request, expect

from tests.e2e.conftest import open_fresh, sign_in, wait_for_run

pytestmark = pytest.mark.e2e

PAGES = ("ホーム", "基金の状況", "事業提案", "審査・採点", "年度配分", "成果指標", "管理", "アカウント")


def test_no_page_requests_anything_from_outside_the_server(page: Page, app_url: str) -> None:
    outside: list[str] = []

    def note(request: Request) -> None:
        if not request.url.startswith((app_url, "data:", "blob:")):
            outside.append(request.url)

    page.on("request", note)
    page.reload()  # the sign-in page itself, loaded while listening
    expect(page.get_by_role("button", name="サインイン")).to_be_visible()
    sign_in(page, "e2e_admin")
    for title in PAGES:
        open_fresh(page, title)
        wait_for_run(page)
    assert outside == []
    icon = page.locator("link[rel*='icon']").first.get_attribute("href") or ""
    assert not icon.startswith("http") or icon.startswith(app_url), icon
