"""End-to-end in a real browser: a screener scores an assigned proposal and the ranking shows it,
the sample round's mark and the settings (the whole way from a department's submission through
scoring to the ledger: test_new_user_path.py)."""

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    SCREENING_PROJECT,
    open_page,
    screenshot,
    screenshots,
    sign_in,
)

pytestmark = pytest.mark.e2e

WAIT_MS = 30_000  # a shared, busy machine: allow the server time to rerun the page (not a timing check)


def test_screener_scores_a_proposal_and_the_ranking_shows_it(page: Page) -> None:
    sign_in(page, "e2e_screener")
    open_page(page, "審査・採点")
    expect(page.get_by_test_id("stMetric").filter(has_text="採点済み")).to_contain_text(
        "0 / 1 件", timeout=WAIT_MS
    )
    expect(page.get_by_text("4点：多くの県民が利用する（10万人未満）")).to_be_visible(timeout=WAIT_MS)
    screenshot(page, "20_screening_queue")

    page.get_by_role("button", name="採点を保存").click()
    expect(page.get_by_text("「多くの人が利用する」の点数を1〜5の整数で選んでください。")).to_be_visible(
        timeout=WAIT_MS
    )

    for anchor in [
        "4点：多くの県民が利用する（10万人未満）",
        "2点：年に数回の利用",
        "5点：手続そのものが不要・自動になる",
        "4点：県内初の取組",
    ]:
        page.get_by_text(anchor, exact=True).click()
    page.get_by_label("コメント（面倒な手続をデジタル化する）").fill(
        "来庁が不要になり、1件あたり約60分の短縮"
    )
    page.get_by_role("button", name="採点を保存").click()
    expect(page.get_by_text(f"「{SCREENING_PROJECT}」の採点を保存しました（4観点を更新）。")).to_be_visible(
        timeout=WAIT_MS
    )
    expect(page.get_by_test_id("stMetric").filter(has_text="採点済み")).to_contain_text(
        "1 / 1 件", timeout=WAIT_MS
    )
    screenshot(page, "21_screening_scored")

    page.get_by_role("tab", name="結果").click()
    # Weighted total with equal weights: (4 + 2 + 5 + 4) / 4 = 3.75.
    expect(page.get_by_text(f"素点の1位: {SCREENING_PROJECT}（3.75点）")).to_be_visible(timeout=WAIT_MS)
    ranking = page.locator("[data-testid='stDataFrame']:visible").first
    expect(ranking).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("stMetric").filter(has_text="表示中の提案")).to_contain_text(
        "1 件", timeout=WAIT_MS
    )
    screenshots(page, "22_screening_results", at=ranking)
    # On an office laptop the whole ranking fits the page: no column hidden off the right edge.
    page.set_viewport_size({"width": 1366, "height": 768})
    scroller = ranking.locator(".dvn-scroller").first.element_handle()
    page.wait_for_function("el => el.clientWidth > 0 && el.scrollWidth <= el.clientWidth + 1", arg=scroller)
    page.set_viewport_size({"width": 1440, "height": 1800})

    page.get_by_role("tab", name="感度分析").click()
    expect(page.get_by_test_id("stMetric").filter(has_text="安定（区分が変わらない）")).to_contain_text(
        "1 件"
    )
    screenshot(page, "23_screening_sensitivity")


def test_executive_sees_the_sample_round_labelled_as_sample(page: Page) -> None:
    sign_in(page, "e2e_exec")
    open_page(page, "審査・採点")
    page.get_by_label("審査ラウンド").click()
    page.get_by_role("option", name="（サンプル）").click()
    expect(
        page.get_by_text("サンプル: このラウンドの審査担当と採点は動作確認用のサンプルデータです")
    ).to_be_visible()
    expect(page.get_by_role("tab", name="自分の審査")).to_have_count(0)
    screenshot(page, "24_screening_sample_round")


def test_administrator_sees_rubric_versions_and_assignments(page: Page) -> None:
    sign_in(page, "e2e_admin")
    open_page(page, "審査・採点")
    page.get_by_role("tab", name="設定").click()
    expect(page.get_by_role("heading", name="評価基準と重み")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_role("heading", name="審査担当の割当")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_role("button", name="新しい版として保存")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_label("多くの人が利用する（%）").first).to_have_value("25", timeout=WAIT_MS)
    page.get_by_text("新しい審査ラウンドを作る").click()  # offered first on the tab
    expect(page.get_by_label("ラウンド名")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("提案", exact=True).first).to_be_visible(timeout=WAIT_MS)
    screenshot(page, "25_screening_settings")
