"""Streamlit's own fixed English is said in Japanese (ui/japanese.py): the words a user meets in a
filtered list, under a text field, on a help icon and in the file uploader."""

import re

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


def test_the_date_field_and_its_calendar_speak_japanese(page: Page) -> None:
    """On a Japanese browser (as on the prefecture's PCs) the calendar names months and weekdays in
    Japanese; the words Streamlit fixes in English are replaced."""
    sign_in(page, "e2e_admin")
    open_fresh(page, "基金の状況")
    field = page.get_by_test_id("stDateInput").filter(has_text="記帳日").first
    expect(field.get_by_role("spinbutton", name="月、記帳日")).to_have_attribute("aria-valuetext", "12月")
    field.get_by_role("button", name="日付を選択").click()
    calendar = page.get_by_role("dialog").filter(has=page.get_by_role("grid"))
    expect(calendar.get_by_role("button", name="前の月")).to_be_visible()
    expect(calendar.get_by_role("button", name="次の月")).to_be_visible()
    expect(calendar).to_contain_text("12月")
    expect(calendar.get_by_role("button", name="2026年12月1日火曜日")).to_be_visible()
    words = calendar.evaluate(
        "el => [el.textContent, ...[...el.querySelectorAll('*')].flatMap(e =>"
        " ['aria-label', 'aria-valuetext', 'title'].map(n => e.getAttribute(n) || ''))]"
    )
    # no English left but the names of keys (weekday letters S M T W … included)
    english = [w for w in words if re.search(r"[A-Za-z]", re.sub(r"Enter|Esc", "", w))]
    assert english == []
    page.keyboard.press("Escape")
