"""End-to-end in a real browser: a screener scores an assigned proposal and the ranking shows it,
and the whole way from a department's submission through assignment and scoring to the ranking."""

import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    SCREENING_PROJECT,
    choose,
    desk,
    fill_proposal_form,
    open_page,
    rerun_after,
    screenshot,
    screenshots,
    sign_in,
    wait_for_run,
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


def test_department_submits_screener_scores_and_the_ranking_shows_it(
    page: Page, browser: Browser, app_url: str
) -> None:
    """The whole way: 事業担当 submits through the form, 管理者 assigns, 審査担当 scores, ranking."""
    name = f"E2E 審査通し 子育て相談チャット事業 {uuid.uuid4().hex[:6]}"
    sign_in(page, "e2e_health")
    open_page(page, "事業提案")
    page.get_by_role("tab", name="新規提案").click()
    fill_proposal_form(page, name)
    page.get_by_role("button", name="提出する").click()
    expect(page.get_by_text("を提出しました。")).to_be_visible(timeout=WAIT_MS)

    admin = desk(browser, app_url, "e2e_admin")
    open_page(admin, "審査・採点")
    admin.get_by_role("tab", name="設定").click()
    choose(admin, admin.get_by_label("提案", exact=True), f"{name}（健康福祉部）")
    admin.keyboard.press("Escape")
    choose(admin, admin.get_by_label("審査担当", exact=True), "e2e_screener")
    admin.keyboard.press("Escape")
    admin.get_by_role("button", name="割り当てる").click()
    expect(
        admin.get_by_text("1件を割り当てました（うち自動除斥 0件、割当済みのため省略 0件）。")
    ).to_be_visible(timeout=WAIT_MS)
    admin.context.close()

    screener = desk(browser, app_url, "e2e_screener")
    open_page(screener, "審査・採点")
    choose(screener, screener.get_by_label("採点する提案"), f"{name}（健康福祉部）")
    # The form that names this proposal, not the previously selected one's still on screen.
    scoring = screener.get_by_test_id("stForm").filter(has_text=f"採点する提案: {name}（健康福祉部）")
    expect(scoring).to_be_visible(timeout=WAIT_MS)
    expect(screener.get_by_text("状態: 未完了（0/4観点）")).to_be_visible(timeout=WAIT_MS)
    wait_for_run(screener)
    for anchor in [
        "3点：一定の利用者がある（1万人未満）",
        "4点：週1回程度の利用",
        "4点：手続時間が大きく短縮される",
        "5点：全国初・先進的な取組",
    ]:
        scoring.get_by_text(anchor, exact=True).click()
    scoring.get_by_role("button", name="採点を保存").click()
    expect(screener.get_by_text(f"「{name}」の採点を保存しました（4観点を更新）。")).to_be_visible(
        timeout=WAIT_MS
    )

    # The tab reruns the page: a click while the save's run is still going can be lost.
    rerun_after(screener, lambda: screener.get_by_role("tab", name="結果").click())
    screener.get_by_label("事業名で絞り込み").fill(name)
    screener.get_by_label("事業名で絞り込み").press("Enter")
    # (3 + 4 + 4 + 5) / 4 = 4.00 with equal weights.
    expect(screener.get_by_text(f"素点の1位: {name}（4.00点）")).to_be_visible(timeout=WAIT_MS)
    screenshot(screener, "26_screening_submit_score_rank")
    screener.context.close()
