"""In a real browser: 健康福祉部 staff enter a missing actual and see its status change."""

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import open_page, screenshot, sign_in

pytestmark = pytest.mark.e2e


def _metric(page: Page, label: str) -> Locator:
    return page.get_by_test_id("stMetric").filter(has_text=label).first


def _count(metric: Locator) -> int:
    text = metric.get_by_test_id("stMetricValue").inner_text()
    match = re.search(r"(\d+)件", text)
    assert match, text
    return int(match.group(1))


def test_department_staff_enter_a_missing_actual_and_the_status_changes(page: Page) -> None:
    page.set_default_timeout(90_000)  # the first render after the server starts can be slow on a busy machine
    sign_in(page, "e2e_health")
    open_page(page, "成果指標")
    expect(page.get_by_text("自部局の事業を表示しています")).to_be_visible()
    expect(page.get_by_role("tab", name="実績の入力")).to_be_visible()  # the whole page has rendered
    expect(page.get_by_test_id("stMetric").filter(has_text="未計測")).to_have_count(1)
    not_measured = _count(_metric(page, "未計測"))
    achieved = _count(_metric(page, "達成"))
    assert not_measured >= 1
    table_panel = page.get_by_role("tabpanel", name="指標一覧")
    expect(table_panel.get_by_test_id("stDataFrame")).to_be_visible()
    expect(table_panel.get_by_role("button", name="成果指標をCSVで保存（BOM付きUTF-8）")).to_be_visible()
    screenshot(page, "20_kpi_department_view")

    page.get_by_role("tab", name="推移（目標と実績）").click()
    expect(page.get_by_text("目標：令和6年度 2地域、令和8年度 16地域")).to_be_visible()
    expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible()
    screenshot(page, "21_kpi_trend")

    page.get_by_role("tab", name="実績の入力").click()
    panel = page.get_by_role("tabpanel", name="実績の入力")
    # The form offers the first 年度 without an actual: 令和7年度, on the 2 → 16地域 path (9地域).
    expect(panel.get_by_role("combobox", name="年度")).to_have_value("令和7年度（2025年度）")
    panel.get_by_label("実績値").fill("9")
    panel.get_by_label("出典（根拠資料）").fill("健康福祉部 令和7年度 事業実績報告")
    screenshot(page, "22_kpi_entry_form")
    panel.get_by_role("button", name="実績を保存").click()

    expect(page.get_by_text("実績を保存しました")).to_be_visible(timeout=60_000)
    expect(_metric(page, "未計測")).to_contain_text(f"{not_measured - 1}件", timeout=60_000)
    expect(_metric(page, "達成")).to_contain_text(f"{achieved + 1}件")
    expect(page.get_by_test_id("stMetric").filter(has_text="未計測")).to_have_count(1)  # rerun finished
    page.get_by_role("tab", name="推移（目標と実績）").click()
    screenshot(page, "23_kpi_after_entry")


def test_executives_read_the_roll_up_the_rollouts_and_the_overdue_list(page: Page) -> None:
    page.set_default_timeout(90_000)
    sign_in(page, "e2e_exec")
    open_page(page, "成果指標")
    page.get_by_role("tab", name="観点別の集計").click()
    panel = page.get_by_role("tabpanel", name="観点別の集計")
    expect(panel.get_by_test_id("stMetric").filter(has_text="順調な事業の割合")).to_be_visible()
    expect(panel.get_by_test_id("stDataFrame")).to_have_count(2)
    expect(panel.get_by_text("年度別の推移")).to_be_visible()
    screenshot(page, "24_kpi_rollup")
    page.get_by_role("tab", name="横展開").click()
    panel = page.get_by_role("tabpanel", name="横展開")
    expect(panel.get_by_test_id("stMetric").filter(has_text="展開先の市町")).to_contain_text("/ 19市町")
    expect(panel.get_by_test_id("stVegaLiteChart")).to_be_visible()
    screenshot(page, "25_kpi_rollouts")
    page.get_by_role("tab", name="未報告").click()
    expect(page.get_by_text("年度が終わったのに実績が入力されていない指標です。")).to_be_visible()
    screenshot(page, "26_kpi_overdue")
