"""Every page and each of its tabs as each role, on an office laptop (1366×768) and a desk monitor (1920×1080): it opens
with its real figures and no error, says nothing in English — neither in its text nor in what a
screen reader or a tooltip says — and is no wider than the window. The screenshots are kept under
tests/e2e/artifacts/ to be looked at."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import TABS_RERUN, WINDOWS, click_tab, cut_off, desk, open_fresh, screenshot

pytestmark = pytest.mark.e2e

# The menu of each role, in its order: what each may open (fund/auth.py).
MENUS = {
    "e2e_admin": [
        "ホーム",
        "基金の状況",
        "事業提案",
        "審査・採点",
        "年度配分",
        "成果指標",
        "管理",
        "アカウント",
    ],
    "e2e_screener": ["ホーム", "基金の状況", "事業提案", "審査・採点", "年度配分", "成果指標", "アカウント"],
    "e2e_exec": ["ホーム", "基金の状況", "事業提案", "審査・採点", "年度配分", "成果指標", "アカウント"],
    "e2e_health": ["ホーム", "基金の状況", "事業提案", "年度配分", "成果指標", "アカウント"],
}
# A figure each page shows from the seed (nothing there would mean an empty or broken page).
FIGURES = {
    "ホーム": "20億6,000万円",
    "基金の状況": "20億6,000万円",
    "事業提案": "件。県民接点",
    "審査・採点": "審査ラウンド",
    "年度配分": "（単位：千円）",
    "成果指標": "成果指標",
    "管理": "利用者",
    "アカウント": "パスワード",
}
# The pages whose first tab set divides the page: each of its tabs is opened too.
TABBED = {"事業提案", "審査・採点", "年度配分", "成果指標", "管理"}
# Latin words that are the documents' and the users' own: file formats, codes and names the
# prefecture writes this way.
ALLOWED = {
    "Excel",
    "Parquet",
    "xlsx",
    "csv",
    "Shift_JIS",
    "UTF",
    "BOM",
    "SHA",
    "PDF",
    "CSV",
    "KPI",
    "ID",
    "DX",
}

# Every visible text, and every label a screen reader reads or a tooltip shows.
_WORDS = """() => {
    const out = [];
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walk.nextNode()) {
        const el = walk.currentNode.parentElement;
        // an icon's ligature name (「home」) is drawn as a picture: a screen reader reads its label;
        // code is what an administrator types as is (a command, a file name, a server path)
        const icon = el && el.closest('script, style, code, [aria-hidden="true"], [role="img"], [data-testid="stIconMaterial"]');
        if (el && !icon && el.checkVisibility()) out.push(walk.currentNode.textContent);
    }
    const names = ['aria-label', 'aria-roledescription', 'aria-valuetext', 'title', 'placeholder'];
    for (const el of document.querySelectorAll(names.map(n => `[${n}]`).join(',')))
        for (const n of names) if (el.getAttribute(n)) out.push(el.getAttribute(n));
    return out.join('\\n');
}"""


def english(page: Page) -> list[str]:
    """Latin words with a lower-case letter that are not the users' own (acronyms pass)."""
    said = re.sub(r"e2e_\w+", "", page.evaluate(_WORDS))  # the test users' login names
    words = re.findall(r"[A-Za-z][A-Za-z_]+", said)
    return sorted({w for w in words if w not in ALLOWED and not w.isupper()})


@pytest.mark.parametrize("login", list(MENUS))
def test_every_page_of_each_role_opens_in_japanese_and_fits_both_windows(
    browser: Browser, app_url: str, login: str
) -> None:
    page = desk(browser, app_url, login)
    links = page.get_by_test_id("stSidebarNav").get_by_role("link")
    names = links.evaluate_all(  # each link's words, without its icon's ligature name
        "ls => ls.map(l => [...l.querySelectorAll('span')].filter(s => !s.closest('[data-testid=stIconMaterial]')"
        " && !s.querySelector('span')).map(s => s.textContent).join(''))"
    )
    assert names == MENUS[login]
    for number, title in enumerate(MENUS[login], start=1):
        open_fresh(page, title)
        expect(page.get_by_text(FIGURES[title]).first).to_be_visible()
        _check(page, f"60_{login}_{number:02d}_{title}")
        if title not in TABBED:
            continue
        tabs = page.get_by_test_id("stMain").get_by_test_id("stTabs").first.get_by_role("tab")
        for tab_number, tab in enumerate(tabs.all()[1:], start=2):
            name = tab.inner_text()
            click_tab(page, tab, reruns=title in TABS_RERUN)
            _check(page, f"60_{login}_{number:02d}_{title}_{tab_number}_{name}")
    page.context.close()


def _check(page: Page, name: str) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)
    for width, height in WINDOWS:
        page.set_viewport_size({"width": width, "height": height})
        screenshot(page, f"{name}_{width}")
        assert cut_off(page) == [], (name, width)
        assert english(page) == [], (name, width)
