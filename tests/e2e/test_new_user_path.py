"""A new user's whole path in a real browser, seen on an office laptop (1366×768) and a desk monitor
(1920×1080): 事業担当 submits a proposal with mistakes, then correctly; two 審査担当 score it; the
管理者 adopts it; a 審査担当 registers its allocation and an 幹部 approves it; the 幹部 saves the
配分表 as Excel; the 管理者 draws on the allocation and reads the 基金台帳. At each step the test
asserts, in both windows, what the user must see there: the message at its field, the figures with
their units and marks, nothing wider than the window.

Adoption and an approved allocation change the fund's figures, so this module runs its own server."""

import csv
import io
import re
import uuid
from collections.abc import Iterator

import openpyxl
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from fund import clock
from fund.fiscal import fiscal_label
from tests.e2e.conftest import (
    SECOND_SCREENER,
    WINDOWS,
    assign,
    choose,
    cut_off,
    desk,
    fill_proposal_form,
    open_tab,
    proposal_step,
    rerun_after,
    score,
    screenshot,
    wait_for_run,
    walk_server,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("own_server")]

YEAR = clock.current_fiscal_year()
LABEL = fiscal_label(YEAR)
SECOND = SECOND_SCREENER


@pytest.fixture(scope="module")
def path_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("path") / "path.duckdb"
    with walk_server(db, round_name="E2E はじめての審査", log_name="path_server") as base:
        yield base


def seen(page: Page, name: str, *shown: Locator) -> None:
    """In both windows: nothing is cut off (tests.e2e.conftest.cut_off), each of `shown` is on screen once the
    first is scrolled to (below the fixed header), and a screenshot `name`_1920 / `name`_1366 is saved.
    Ends in the laptop's window, where the user goes on working."""
    for width, height in reversed(WINDOWS):
        page.set_viewport_size({"width": width, "height": height})
        screenshot(page, f"{name}_{width}", at=shown[0])
        for part in shown:
            expect(part).to_be_in_viewport()
        assert cut_off(page) == [], (name, width)


def _at_desk(browser: Browser, url: str, login: str) -> Page:
    page = desk(browser, url, login)
    page.set_viewport_size({"width": WINDOWS[0][0], "height": WINDOWS[0][1]})
    return page


def _pick(page: Page, box: Locator, part: str, *, in_form: bool = False) -> None:
    """Pick the option whose label contains `part` (labels carry numbers and figures); outside a
    form, wait for the run it starts."""
    wait_for_run(page)
    if part in box.input_value():  # already chosen: choosing it again would not rerun the page
        return
    box.click()
    page.keyboard.type(part[-12:])
    option = page.get_by_role("option").filter(has_text=part).first
    if in_form:
        option.click()
    else:
        rerun_after(page, option.click)


def test_a_new_user_walks_from_proposal_to_ledger_at_both_window_sizes(
    browser: Browser, path_url: str
) -> None:
    name = f"E2E はじめて 子育て相談チャット事業 {uuid.uuid4().hex[:6]}"

    # 事業担当: submitting an empty form shows each message at its field, counted per step.
    department = _at_desk(browser, path_url, "e2e_health")
    open_tab(department, "事業提案", tab="新規提案")
    department.get_by_text("6. 確認", exact=True).click()
    department.get_by_role("button", name="提出する").click()
    summary = department.get_by_text("入力内容に誤りがあります（基本情報 4件、充当要件 1件")
    seen(department, "50_path_empty_form", summary, department.get_by_text("事業名を入力してください。"))

    # A 基金充当額 above the 事業費 is refused at the cost plan, with both figures in 千円.
    fill_proposal_form(department, name)
    form = proposal_step(department, "3. 費用計画")
    form.get_by_label("基金充当額（千円）").nth(0).fill("30000")
    form.get_by_label("基金充当額（千円）").nth(0).press("Tab")
    proposal_step(department, "6. 確認")
    department.get_by_role("button", name="提出する").click()
    expect(department.get_by_text("入力内容に誤りがあります（費用計画 1件）")).to_be_visible()
    over = department.get_by_text(
        f"費用計画の1行目（{LABEL}）: 基金充当額（30,000千円）が事業費（20,000千円）を超えています。"
    )
    seen(department, "51_path_share_over_cost", department.get_by_label("基金充当額（千円）").nth(0), over)
    department.get_by_label("基金充当額（千円）").nth(0).fill("10000")
    department.get_by_label("基金充当額（千円）").nth(0).press("Tab")
    expect(over).to_have_count(0)  # the corrected field's message goes at once
    proposal_step(department, "6. 確認")
    expect(department.get_by_role("cell", name="10,000", exact=True).first).to_be_visible()
    department.get_by_role("button", name="提出する").click()
    done = department.get_by_text(re.compile(r"^提案番号 \d+ を提出しました。$"))
    seen(department, "52_path_submitted", done)
    expect(department.get_by_role("textbox", name="事業名（必須）")).to_have_value("")  # a blank form again

    # 管理者 assigns two 審査担当; each scores the four perspectives.
    admin = _at_desk(browser, path_url, "e2e_admin")
    assign(admin, name, ("e2e_screener", SECOND))
    screener = _at_desk(browser, path_url, "e2e_screener")
    score(
        screener,
        name,
        [
            "4点：多くの県民が利用する（10万人未満）",
            "4点：週1回程度の利用",
            "3点：来庁・郵送などの負担が減る",
            "4点：県内初の取組",
        ],
    )
    second = _at_desk(browser, path_url, SECOND)
    score(
        second,
        name,
        [
            "3点：一定の利用者がある（1万人未満）",
            "4点：週1回程度の利用",
            "4点：手続時間が大きく短縮される",
            "4点：県内初の取組",
        ],
    )
    second.context.close()
    open_tab(screener, "審査・採点", tab="結果")
    screener.get_by_label("事業名で絞り込み").fill(name)
    screener.get_by_label("事業名で絞り込み").press("Enter")
    # (3.5 + 4 + 3.5 + 4) / 4 = 3.75 with equal weights.
    seen(screener, "53_path_ranked", screener.get_by_text(f"素点の1位: {name}（3.75点）"))

    # 管理者 adopts it.
    open_tab(admin, "事業提案")
    _pick(admin, admin.get_by_role("combobox", name="提案を選択"), name)
    for to in ("審査中にする", "採択にする"):
        choose(admin, admin.get_by_label("変更後の状態"), to)
        admin.get_by_role("button", name="状態を変更する").click()
        expect(admin.get_by_text("」にしました。")).to_be_visible()
        wait_for_run(admin)

    # 審査担当 registers the allocation in 千円, grouped as typed; an 幹部 approves it.
    open_tab(screener, "年度配分", tab="配分の登録・承認")
    choose(screener, screener.get_by_role("tabpanel").get_by_role("combobox", name="年度"), LABEL)
    wait_for_run(screener)
    screener.get_by_text("配分を登録する（登録者とは別の").click()
    register = screener.get_by_test_id("stExpanderDetails").filter(
        has=screener.get_by_role("button", name="承認待ちとして登録")
    )
    _pick(screener, register.get_by_role("combobox", name="事業"), name)
    register.get_by_label("事業費（千円）").fill("20000")
    register.get_by_label("基金充当額（千円）").fill("10000")
    register.get_by_label("基金充当額（千円）").press("Tab")
    expect(register.get_by_label("事業費（千円）")).to_have_value("20,000")
    expect(register.get_by_label("基金充当額（千円）")).to_have_value("10,000")
    register.get_by_role("button", name="承認待ちとして登録").click()
    seen(screener, "54_path_registered", screener.get_by_text("を承認待ちとして登録しました。"))
    screener.context.close()

    executive = _at_desk(browser, path_url, "e2e_exec")
    open_tab(executive, "年度配分", tab="配分の登録・承認")
    choose(executive, executive.get_by_role("tabpanel").get_by_role("combobox", name="年度"), LABEL)
    wait_for_run(executive)
    expect(executive.get_by_role("combobox", name="対象の配分")).to_have_value(re.compile(re.escape(name)))
    executive.get_by_role("button", name="承認する").click()
    seen(executive, "55_path_approved", executive.get_by_text("を承認しました。"))

    # The 配分表 of the 年度 prints it in 千円; the Excel file holds the same figure.
    open_tab(executive, "年度配分", tab="配分表")
    choose(executive, executive.get_by_role("combobox", name="年度"), LABEL)
    table = executive.get_by_test_id("stTable").first
    row = table.locator("tr").filter(has_text=name)
    expect(row).to_contain_text("20,000")
    expect(row).to_contain_text("10,000")
    seen(executive, "56_path_allocation_table", executive.get_by_text("（単位：千円）"), row)
    with executive.expect_download() as info:
        executive.get_by_role("button", name="Excel（xlsx）で保存").click()
    sheet = openpyxl.load_workbook(io.BytesIO(info.value.path().read_bytes())).active
    cells = [r for r in sheet.iter_rows(values_only=True) if any(name in str(c) for c in r if c)]
    assert len(cells) == 1 and 20_000 in cells[0] and 10_000 in cells[0], cells
    assert any("単位：千円" in str(c) for r in sheet.iter_rows(max_row=4, values_only=True) for c in r if c)
    executive.context.close()

    # 管理者 draws 4,000,000円 on the allocation and reads it in the 基金台帳 (▲ for what leaves).
    open_tab(admin, "基金の状況")
    post = admin.get_by_test_id("stForm").filter(has=admin.get_by_role("button", name="記帳する"))
    choose(admin, post.get_by_role("combobox", name="年度"), LABEL)
    choose(admin, post.get_by_role("combobox", name="区分"), "取崩し")
    _pick(admin, post.get_by_role("combobox", name="配分（取崩しの場合）"), name, in_form=True)
    post.get_by_label("金額（円）").fill("4000000")
    post.get_by_label("摘要").fill("委託料の支払（第1回）")
    post.get_by_role("button", name="記帳する").click()
    expect(admin.get_by_text("として記帳しました。")).to_be_visible()
    expect(post.get_by_label("金額（円）")).to_have_value("")  # blank: the same entry cannot go twice
    _pick(admin, admin.get_by_role("combobox", name="事業", exact=True), name)
    count = admin.get_by_text("1件（新しい順）。金額は取崩し・取消を ▲ で表示しています。")
    seen(admin, "57_path_ledger", admin.get_by_role("heading", name="基金台帳"), count)
    with admin.expect_download() as fetched:  # the 基金台帳's CSV: the last of the page's CSV buttons
        admin.get_by_role("button", name="CSVで保存").last.click()
    rows = list(csv.DictReader(io.StringIO(fetched.value.path().read_text(encoding="utf-8-sig"))))
    assert [(r["事業名"], r["金額（円）"], r["摘要"]) for r in rows] == [
        (name, "-4000000", "委託料の支払（第1回）")
    ]
    admin.context.close()
    department.context.close()
