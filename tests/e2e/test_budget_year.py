"""One project through a whole 年度 in a real browser: 当初, a 補正 increase, three drawdowns, a 補正
decrease, a 繰越 and 決算, each change registered by one person and approved by another.

Closing a 年度 cannot be undone, so this module runs its own server on its own database. The 要求
(a submitted and adopted proposal) is prepared through the services before the server starts.
"""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import text

from fund import clock, proposals
from fund.auth import SYSTEM
from fund.db import get_engine
from fund.fiscal import fiscal_label
from fund.models import ProposalStatus, Role
from tests.conftest import make_actor, make_proposal, reviewed_by_two
from tests.e2e.conftest import (
    choose,
    desk,
    open_fresh,
    open_tab,
    screenshots,
    seeded_with_users,
    serve,
    wait_for_run,
)

# Runs on its own server: on the same worker as the other such module, one after the other, so
# that two whole-day walks do not share the two cores (their waits are for the server, not time).
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("own_server")]

PROJECT = "E2E 年間サイクル実証事業"
YEAR = clock.current_fiscal_year()
LABEL = fiscal_label(YEAR)


@pytest.fixture(scope="module")
def cycle_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = seeded_with_users(tmp_path_factory.mktemp("cycle") / "cycle.duckdb")
    engine = get_engine(url)
    with engine.begin() as conn:  # the current 年度 and the next one are open whatever the date
        for year in (YEAR, YEAR + 1):
            conn.execute(
                text(
                    "INSERT INTO fiscal_year (year, closed) SELECT :y, FALSE WHERE :y NOT IN (SELECT year FROM fiscal_year)"
                ),
                {"y": year},
            )
    data = make_proposal(
        engine,
        YEAR,
        project_name=PROJECT,
        cost_lines=[
            {"fiscal_year": YEAR, "project_cost_yen": 300_000_000, "fund_share_yen": 200_000_000, "note": ""}
        ],
    )
    department = make_actor(Role.department, login="cycle_dept", department_id=data["department_id"])
    saved = proposals.save_proposal(engine, actor=department, data=data, submit=True)
    reviewed_by_two(engine, saved.id or 0)
    for to in (ProposalStatus.in_review, ProposalStatus.adopted):  # 要求 and 査定
        proposals.change_status(engine, actor=SYSTEM, proposal_id=saved.id or 0, to_status=to)
    with serve(url, log_name="cycle_server") as base:
        yield base


def _tab(page: Page, name: str) -> None:
    open_tab(page, "年度配分", name)


# What each tab prints with the chosen 年度: seeing it proves the run for that 年度 has started.
YEAR_MARK = {"配分の登録・承認": "の基金の余裕額の内訳：", "補正・繰越": "の承認待ちの補正・繰越"}


def _pick_year(page: Page, tab: str, year_label: str = LABEL) -> None:
    choose(page, page.get_by_role("tabpanel").get_by_role("combobox", name="年度"), year_label)
    expect(page.get_by_text(f"{year_label}{YEAR_MARK[tab]}")).to_be_visible()
    wait_for_run(page)


def _pick_containing(page: Page, box: Locator, part: str) -> None:
    """Pick the option whose label contains `part` (labels carry changing figures)."""
    wait_for_run(page)
    box.click()
    page.keyboard.type(part[:20])
    page.get_by_role("option").filter(has_text=part).first.click()


def _yen(value: str) -> int:
    return int(value.replace(",", "").replace("円", ""))


FIELDS = ("balance", "undrawn", "reserved", "pending", "headroom")


def _ceiling_caption(page: Page) -> Locator:
    _tab(page, "配分の登録・承認")
    _pick_year(page, "配分の登録・承認")
    return page.get_by_text(f"{LABEL}の基金の余裕額の内訳：")


def _ceiling(page: Page) -> dict[str, int]:
    """The registration tab's 余裕額 breakdown as figures (yen), before anything has changed."""
    caption = _ceiling_caption(page)
    expect(caption).to_be_visible()
    return dict(zip(FIELDS, (_yen(v) for v in re.findall(r"[\d,]+円", caption.inner_text())), strict=True))


def _expect_ceiling(page: Page, start: dict[str, int], **change: int) -> None:
    """The breakdown shows `start` moved by `change` (yen); waits for the run that shows it."""
    f = {k: start[k] + change.get(k, 0) for k in FIELDS}
    assert f["headroom"] == f["balance"] - f["undrawn"] - f["reserved"] - f["pending"]
    expect(_ceiling_caption(page)).to_have_text(
        f"{LABEL}の基金の余裕額の内訳：基金残高 {f['balance']:,}円 − 承認済み配分の未取崩し {f['undrawn']:,}円"
        f" − 後年度負担 {f['reserved']:,}円 − 承認待ち {f['pending']:,}円 ＝ {f['headroom']:,}円"
    )


def _approve(page: Page, tab: str, success: str) -> None:
    _tab(page, tab)
    _pick_year(page, tab)
    page.get_by_role("button", name="承認する").click()
    expect(page.get_by_text(success)).to_be_visible()


def _expect_cycle(page: Page, figures: tuple[str, str, str, str], year_label: str = LABEL) -> None:
    """The 補正・繰越 tab shows these four figures of the project's allocation (千円)."""
    _tab(page, "補正・繰越")
    _pick_year(page, "補正・繰越", year_label)
    expect(page.get_by_role("combobox", name="配分")).to_have_value(re.compile(PROJECT))
    labels = ("基金充当額（補正後）", "取崩し済み", "翌年度へ繰越", "残り（未執行）")
    for label, value in zip(labels, figures, strict=True):
        metric = page.get_by_test_id("stMetric").filter(has_text=f"{label}（千円）")
        expect(metric.get_by_test_id("stMetricValue")).to_have_text(value)


def _revise(page: Page, share: int, cost: int | None, reason: str, *, delta: str) -> None:
    _tab(page, "補正・繰越")
    _pick_year(page, "補正・繰越")
    page.get_by_text("補正を登録する（増額・減額").click()
    form = page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name="補正を登録"))
    form.get_by_label("補正後の基金充当額（円）").fill(str(share))
    if cost is not None:
        form.get_by_label("補正後の事業費（円）").fill(str(cost))
    form.get_by_label("補正の理由（例：9月補正・入札差金）").fill(reason)
    form.get_by_role("button", name="補正を登録").click()
    expect(page.get_by_text(f"の補正（{delta}）を承認待ちとして登録しました。")).to_be_visible()


def _draw(page: Page, amount: int) -> None:
    open_fresh(page, "基金の状況")
    expect(page.get_by_text("「推計」は資料に記載がなく")).to_be_visible()
    form = page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name="記帳する"))
    choose(page, form.get_by_role("combobox", name="年度"), LABEL)
    choose(page, form.get_by_role("combobox", name="区分"), "取崩し")
    _pick_containing(page, form.get_by_role("combobox", name="配分（取崩しの場合）"), PROJECT)
    form.get_by_label("金額（円）").fill(str(amount))
    form.get_by_label("摘要").fill("委託料の支払")
    form.get_by_role("button", name="記帳する").click()
    expect(page.get_by_text("として記帳しました。")).to_be_visible()


def _home_and_fund_status_agree(page: Page, balance: str) -> None:
    """ホーム and 基金の状況 show the same balance and the same runway."""
    open_fresh(page, "ホーム")
    home = page.get_by_test_id("stMetric")
    expect(home.filter(has_text="基金残高").get_by_test_id("stMetricValue")).to_have_text(balance)
    runway = home.filter(has_text="残り年数の目安").get_by_test_id("stMetricValue").inner_text()
    open_fresh(page, "基金の状況")
    status = page.get_by_test_id("stMetric")
    expect(status.filter(has_text="現在の基金残高").get_by_test_id("stMetricValue")).to_have_text(balance)
    expect(status.filter(has_text="残り年数の目安").get_by_test_id("stMetricValue")).to_have_text(runway)


def test_one_project_through_a_whole_year_in_the_browser(browser: Browser, cycle_url: str) -> None:
    screener = desk(browser, cycle_url, "e2e_screener")
    executive = desk(browser, cycle_url, "e2e_exec")
    admin = desk(browser, cycle_url, "e2e_admin")
    start = _ceiling(screener)
    assert start["pending"] == 0

    # 当初: the screener registers the 査定 amount; awaiting approval, it already counts
    screener.get_by_text("配分を登録する（登録者とは別の").click()
    form = screener.get_by_test_id("stExpanderDetails").filter(
        has=screener.get_by_role("button", name="承認待ちとして登録")
    )
    choose(screener, form.get_by_role("combobox", name="事業"), PROJECT)
    form.get_by_label("事業費（千円）").fill("300000")
    form.get_by_label("基金充当額（千円）").fill("200000")
    form.get_by_label("基金充当額（千円）").press("Tab")
    expect(form.get_by_label("事業費（千円）")).to_have_value("300,000")  # 3億円: the 千円 figure, grouped
    expect(form.get_by_label("基金充当額（千円）")).to_have_value("200,000")
    form.get_by_role("button", name="承認待ちとして登録").click()
    expect(screener.get_by_text("を承認待ちとして登録しました。")).to_be_visible()
    _expect_ceiling(screener, start, pending=200_000_000, headroom=-200_000_000)
    _approve(executive, "配分の登録・承認", "を承認しました。")
    _expect_ceiling(executive, start, undrawn=200_000_000, headroom=-200_000_000)

    # 補正 increase: counted while it waits, moved into the allocation once approved
    _revise(screener, 260_000_000, 360_000_000, "9月補正：対象市町の追加", delta="60,000,000円")
    _expect_ceiling(screener, start, undrawn=200_000_000, pending=60_000_000, headroom=-260_000_000)
    _approve(executive, "補正・繰越", "を承認しました。余裕額と見通しに反映されます。")
    _expect_ceiling(executive, start, undrawn=260_000_000, headroom=-260_000_000)
    _expect_cycle(executive, ("260,000", "0", "0", "260,000"))
    screenshots(executive, "30_budget_year_revised")

    # 執行: three drawdowns against the allocation; the balance falls, the headroom does not
    for amount in (80_000_000, 70_000_000, 50_000_000):
        _draw(admin, amount)
    _expect_ceiling(admin, start, balance=-200_000_000, undrawn=60_000_000, headroom=-260_000_000)
    _expect_cycle(admin, ("260,000", "200,000", "0", "60,000"))
    assert start["balance"] == 2_060_000_000  # the seed's balance
    _home_and_fund_status_agree(admin, "18億6,000万円")

    # 補正 decrease: frees 20,000,000円, but only once approved
    _revise(screener, 240_000_000, None, "入札差金", delta="▲20,000,000円")
    _expect_ceiling(screener, start, balance=-200_000_000, undrawn=60_000_000, headroom=-260_000_000)
    _approve(executive, "補正・繰越", "を承認しました。余裕額と見通しに反映されます。")
    _expect_ceiling(executive, start, balance=-200_000_000, undrawn=40_000_000, headroom=-240_000_000)

    # 繰越: 30,000,000円 into the 翌年度 with its reason; still owed, so the headroom stays
    _tab(screener, "補正・繰越")
    _pick_year(screener, "補正・繰越")
    screener.get_by_text("へ繰り越す（未執行額の一部").click()
    carry = screener.get_by_test_id("stForm").filter(has=screener.get_by_role("button", name="繰越を登録"))
    carry.get_by_role("spinbutton", name="繰越額（円）").fill("30000000")
    carry.get_by_label("繰越の理由（例：資材納期の遅れ）").fill("資材納期の遅れ（明許繰越）")
    carry.get_by_role("button", name="繰越を登録").click()
    expect(screener.get_by_text("の繰越 30,000,000円 を承認待ちとして登録しました。")).to_be_visible()
    _approve(executive, "補正・繰越", "を承認しました。余裕額と見通しに反映されます。")
    _expect_cycle(executive, ("240,000", "200,000", "30,000", "10,000"))
    _expect_ceiling(executive, start, balance=-200_000_000, undrawn=40_000_000, headroom=-240_000_000)
    _tab(executive, "補正・繰越")
    _pick_year(executive, "補正・繰越")
    executive.get_by_text("この配分の履歴").scroll_into_view_if_needed()
    screenshots(executive, "31_budget_year_history")

    # 決算: the last 10,000,000円 becomes 不用額; the carried part waits in the 翌年度
    open_fresh(admin, "基金の状況")
    expect(admin.get_by_text("「推計」は資料に記載がなく")).to_be_visible()
    close = admin.get_by_test_id("stForm").filter(has=admin.get_by_role("button", name="決算確定する"))
    choose(admin, close.get_by_role("combobox", name="決算確定する年度"), LABEL)
    close.get_by_text("確定すると、この年度には記帳できなくなります").click()
    close.get_by_role("button", name="決算確定する").click()
    expect(admin.get_by_text(f"{LABEL}を決算確定しました。不用額 1件 10,000,000円")).to_be_visible()
    _expect_cycle(admin, ("30,000", "0", "0", "30,000"), fiscal_label(YEAR + 1))
    for page in (screener, executive, admin):
        page.context.close()
