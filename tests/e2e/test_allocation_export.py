"""End-to-end: the 年度配分 table fits on screen and its xlsx downloads with the seed's figures."""

import io

import openpyxl
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, PASSWORD, open_page, screenshot, screenshots, wait_for_run

pytestmark = pytest.mark.e2e


def _sign_in(page: Page, login: str) -> None:
    # The first page view of a cold server imports and seeds everything: give it time on a busy machine.
    page.get_by_label("ログイン名").wait_for(timeout=120_000)
    page.get_by_label("ログイン名").fill(login)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="サインイン").click()
    expect(page.get_by_role("heading", name="ホーム")).to_be_visible(timeout=60_000)


def _row(ws: openpyxl.worksheet.worksheet.Worksheet, label: str) -> tuple[object, ...]:
    return next(r for r in ws.iter_rows(values_only=True) if r[0] == label)


def test_executive_downloads_the_allocation_table_as_xlsx(page: Page) -> None:
    _sign_in(page, "e2e_exec")
    open_page(page, "年度配分")
    heading = page.get_by_text("令和6年度（2024年度）当初予算における基金活用事業一覧")
    expect(heading).to_be_visible()
    table = page.get_by_test_id("stTable").first
    expect(table).to_be_visible()
    screenshots(page, "20_allocation_table", at=heading)
    # Amounts read as on paper: right-aligned (the figure ends at the cell's padding), on one line.
    amount = table.get_by_role("cell", name="2,271,616", exact=True).first
    gap, lines = amount.evaluate(
        """td => { const r = document.createRange(); r.selectNodeContents(td.querySelector('p'));
        const text = r.getBoundingClientRect(), cell = td.getBoundingClientRect();
        return [cell.right - text.right, r.getClientRects().length]; }"""
    )
    assert gap < 12 and lines == 1, (gap, lines)
    # Every column fits the page's width (nothing to scroll sideways) and no cell cuts its text:
    # names and 概要 wrap in full, 合計 is the last line on the page.
    widths = table.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert widths[0] <= widths[1] + 1, widths
    cut = table.locator("td, th").evaluate_all(
        "cells => cells.filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.textContent)"
    )
    assert cut == []
    summary = "メタバースを活用した県内企業の紹介・展示を行うイベントの開催"
    expect(table.get_by_text(summary, exact=True)).to_be_visible()
    expect(table.locator("tr").last).to_contain_text("合計 24事業")

    with page.expect_download() as info:
        page.get_by_role("button", name="Excel（xlsx）で保存").click()
    download = info.value
    assert download.suggested_filename == "基金活用事業一覧_2024.xlsx"
    path = ARTIFACTS / "allocation_download.xlsx"
    download.save_as(path)
    ws = openpyxl.load_workbook(io.BytesIO(path.read_bytes())).active
    assert ws["A1"].value == "令和6年度（2024年度）当初予算における基金活用事業一覧"
    assert _row(ws, "9事業計")[3] == 619_616
    assert _row(ws, "11事業計")[3] == 1_097_090
    assert _row(ws, "基盤整備")[3] == 510_994
    assert _row(ws, "デジタル人材の育成・確保")[3] == 38_690
    assert _row(ws, "誰一人取り残されないための取組")[3] == 5_226
    assert _row(ws, "合計 24事業")[3] == 2_271_616


def test_filtered_download_holds_only_what_the_filters_show(page: Page) -> None:
    _sign_in(page, "e2e_exec")
    open_page(page, "年度配分")
    page.get_by_label("所管部局").click()
    page.get_by_role("option", name="警察本部").click()
    expect(page.get_by_test_id("stMetric").filter(has_text="事業数")).to_contain_text("3事業")
    wait_for_run(page)  # the download button of the filtered run, not the one it replaces
    with page.expect_download() as info:
        page.get_by_role("button", name="Excel（xlsx）で保存").click()
    ws = openpyxl.load_workbook(io.BytesIO(info.value.path().read_bytes())).active
    assert _row(ws, "合計 3事業")[3] == 196_788
    assert ws["A2"].value == "絞り込み　所管部局: 警察本部"


def test_screener_runs_the_optimiser_and_sees_the_reasons(page: Page) -> None:
    _sign_in(page, "e2e_screener")
    open_page(page, "年度配分")
    page.get_by_role("tab", name="最適化").click()
    panel = page.get_by_role("tabpanel", name="最適化")
    # the newest 年度 with adopted proposals still without an allocation is chosen by default
    expect(panel.get_by_role("combobox", name="年度")).to_have_value("令和7年度（2025年度）")
    ceiling = panel.get_by_role("spinbutton", name="上限額（千円）")
    ceiling.fill("500000")
    ceiling.press("Enter")
    page.get_by_role("button", name="最適化を実行").click()
    expect(page.get_by_text("採択されなかった提案と理由")).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("stMetric").filter(has_text="使用額 / 上限")).to_be_visible()
    screenshot(page, "21_allocation_optimiser")
    page.get_by_role("tab", name="配分の登録・承認").click()
    expect(page.get_by_text("配分を登録する（登録者とは別の幹部・管理者が承認します）")).to_be_visible()
    screenshot(page, "22_allocation_register")
