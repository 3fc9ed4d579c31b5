"""Streamlit's own fixed English is said in Japanese (ui/japanese.py): the words a user meets in a
filtered list, under a text field, on a help icon and in the file uploader."""

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import open_fresh, sign_in, wait_for_run

pytestmark = pytest.mark.e2e


def test_streamlits_fixed_words_appear_in_japanese(page: Page) -> None:
    sign_in(page, "e2e_health")
    open_fresh(page, "事業提案")
    main = page.get_by_test_id("stMain")
    search = main.get_by_label("事業名・概要で検索")
    search.fill("子育て")
    expect(main.get_by_text("Enterキーで確定")).to_be_visible()
    search.press("Escape")
    # A filter that matches no option: the list says so in Japanese.
    wait_for_run(page)
    main.get_by_label("提案を選択").click()
    page.keyboard.type("該当しない名前zzzz")
    expect(page.get_by_text("該当なし", exact=True)).to_be_visible()
    page.keyboard.press("Escape")
    helps = main.locator("[aria-label$='の説明']")
    expect(helps.first).to_be_attached()
    assert main.locator("[aria-label^='Help']").count() == 0
    main.get_by_role("tab", name="一括登録").click()
    uploader = main.get_by_test_id("stFileUploaderDropzoneInstructions")
    expect(uploader).to_contain_text("1ファイル5MBまで")
    for english in ("No results", "Press Enter", "Drag and drop", "per file", "Choose an option"):
        assert english not in main.inner_text(), english
