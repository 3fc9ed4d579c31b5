"""A real `streamlit run` on a seeded temporary database, driven by Debian's chromium."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from sqlalchemy import Engine, text

from fund import clock, proposals, reference, screening
from fund.auth import SYSTEM, Actor, create_user
from fund.db import dispose_engines, get_engine
from fund.fiscal import fiscal_label
from fund.labels import REQUIREMENT
from fund.models import Role
from fund.ops.seed import seed
from tests.conftest import ROOT, adopted_copies

CHROMIUM = "/usr/bin/chromium"
# A cold Streamlit run on a busy 2-core host can take longer than Playwright's 5 s default.
expect.set_options(timeout=30_000)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "tests" / "e2e" / "artifacts"
PASSWORD = "e2e-password-2024"
USERS = {
    "e2e_admin": (Role.admin, None),
    "e2e_screener": (Role.screener, None),
    "e2e_exec": (Role.executive, None),
    "e2e_health": (Role.department, "健康福祉部"),
}


SCREENING_PROJECT = "E2E 子育て手続オンライン化事業"
OPTIMISER_YEAR = 2025  # open in the seed whatever the date: adopted proposals without allocations
SCREENING_ROUND = "E2E 当初予算 基金充当事業 審査"


def prepare_screening(engine: Engine) -> None:
    """Before the server starts: a submitted 健康福祉部 proposal for the current 年度, a screening round
    for that 年度 and e2e_screener assigned to it (all through the services)."""
    year = proposals.proposal_years(engine)[0]
    health = int(reference.departments(engine).query("name == '健康福祉部'")["id"].iloc[0])
    category = int(reference.leaf_categories(engine)["id"].iloc[0])
    proposal = proposals.save_proposal(
        engine,
        actor=Actor(login="e2e_health", role=Role.department, department_id=health),
        submit=True,
        data={
            "project_name": SCREENING_PROJECT,
            "department_id": health,
            "category_id": category,
            "fiscal_year": year,
            "meets_req1": True,
            "req1_reason": "子育て関連の申請をオンラインで完結させる",
            "summary": "児童手当などの申請をスマートフォンで完結させる。",
            "purpose": "来庁の負担をなくす。",
            "problem": "平日の来庁が必要で、書類の不備による再来庁も多い。",
            "cost_lines": [
                {"fiscal_year": year, "project_cost_yen": 30_000_000, "fund_share_yen": 20_000_000}
            ],
            "expected_users": 12_000,
            "uses_per_user_per_year": 2,
            "procedures_per_year": 15_000,
            "minutes_saved_per_procedure": 60,
            "novelty": "prefecture_first",
            "kpis": [
                {
                    "name": "オンライン申請件数",
                    "unit": "件",
                    "baseline": 0,
                    "target_first": 5000,
                    "target_later": 15000,
                }
            ],
        },
    )
    created = screening.create_round(engine, actor=SYSTEM, fiscal_year=year, name=SCREENING_ROUND)
    screener = int(screening.reviewers(engine).query("login == 'e2e_screener'")["id"].iloc[0])
    screening.assign_reviewers(
        engine,
        actor=SYSTEM,
        round_id=created.id or 0,
        proposal_ids=[proposal.id or 0],
        reviewer_ids=[screener],
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seeded_with_users(db: Path) -> str:
    """A seeded database at `db` with the e2e users; its URL."""
    url = f"duckdb:///{db}"
    engine = get_engine(url)
    seed(engine)
    for login, (role, dept) in USERS.items():
        create_user(
            engine,
            actor=SYSTEM,
            login=login,
            role=role,
            password=PASSWORD,
            department_name=dept,
            display_name=login,
        )
    return url


@contextmanager
def serve(
    url: str, *, log_name: str = "server", port: int | None = None, options: tuple[str, ...] = ()
) -> Iterator[str]:
    """`streamlit run app.py` on the database at `url` (with further Streamlit `options`); yields its
    base URL once healthy."""
    dispose_engines()  # release the file: the server process opens it
    port = port or free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = (ARTIFACTS / f"{log_name}.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless=true",
            "--server.address=127.0.0.1",
            f"--server.port={port}",
            "--browser.gatherUsageStats=false",
            "--server.fileWatcherType=none",
            *options,
        ],
        cwd=ROOT,
        env={**os.environ, "FUND_DATABASE_URL": url},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early: see {ARTIFACTS / f'{log_name}.log'}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as resp:
                if resp.read() == b"ok":
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("streamlit did not become healthy within 60 s")
        time.sleep(0.3)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


SECOND_SCREENER = "e2e_screener2"


@contextmanager
def walk_server(db: Path, *, round_name: str, log_name: str) -> Iterator[str]:
    """A server of its own for a walk whose decisions cannot be undone: seeded with the e2e users and a
    second 審査担当, the current 年度 open whatever the date, and a screening round of that 年度."""
    url = seeded_with_users(db)
    engine = get_engine(url)
    year = clock.current_fiscal_year()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO fiscal_year (year, closed) SELECT :y, FALSE WHERE :y NOT IN (SELECT year FROM fiscal_year)"
            ),
            {"y": year},
        )
    create_user(
        engine,
        actor=SYSTEM,
        login=SECOND_SCREENER,
        role=Role.screener,
        password=PASSWORD,
        display_name=SECOND_SCREENER,
    )
    screening.create_round(engine, actor=SYSTEM, fiscal_year=year, name=round_name)
    with serve(url, log_name=log_name) as base:
        yield base


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = seeded_with_users(tmp_path_factory.mktemp("e2e") / "e2e.duckdb")
    engine = get_engine(url)
    prepare_screening(engine)
    adopted_copies(engine, year=OPTIMISER_YEAR)  # the optimiser's candidates
    with serve(url) as base:
        yield base


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, app_url: str) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": 1440, "height": 1800}, locale="ja-JP", accept_downloads=True)
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    pg.goto(app_url)
    yield pg
    ctx.close()


def sign_in(page: Page, login: str) -> None:
    page.get_by_label("ログイン名").fill(login)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="サインイン").click()
    # Password hashing and the first run of the home page can take a while on a busy host.
    expect(page.get_by_role("heading", name="ホーム")).to_be_visible(timeout=30_000)


def desk(browser: Browser, url: str, login: str) -> Page:
    """Another user at their own desk (a browser context of its own), signed in."""
    ctx = browser.new_context(viewport={"width": 1440, "height": 1800}, locale="ja-JP", accept_downloads=True)
    page = ctx.new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    page.get_by_label("ログイン名").fill(login)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="サインイン").click()
    # Password hashing and the first run of the home page can take a while on a busy host.
    expect(page.get_by_role("heading", name="ホーム")).to_be_visible(timeout=60_000)
    return page


def open_page(page: Page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()


def open_fresh(page: Page, title: str) -> None:
    """Open a page afresh: another user's change is read again. The link of the page on screen
    does not run it again, so from that page the way is through another one. Each step waits for
    the new page's heading, then for its run to end."""
    nav = page.get_by_test_id("stSidebarNav")
    if page.get_by_role("heading", name=title, exact=True).count():
        other = "ホーム" if title != "ホーム" else "基金の状況"
        nav.get_by_role("link", name=other).click()
        expect(page.get_by_role("heading", name=other, exact=True)).to_be_visible()
    nav.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    wait_for_run(page)


def wait_for_run(page: Page) -> None:
    """Wait until the server has finished running the page script (Streamlit marks its root)."""
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")


# Counts the page runs that start after it is armed: any change of the root's script state away
# from notRunning, caught from the attribute's old value too, so a short run is not missed.
_ARM_RUN_COUNTER = """() => {
    const app = document.querySelector("[data-testid='stApp']");
    window.__fundRuns = 0;
    if (window.__fundRunObserver) window.__fundRunObserver.disconnect();
    window.__fundRunObserver = new MutationObserver((records) => {
        for (const r of records) {
            const now = app.getAttribute("data-test-script-state");
            if (r.oldValue !== "notRunning" || now !== "notRunning") window.__fundRuns += 1;
        }
    });
    window.__fundRunObserver.observe(app, {attributes: true, attributeOldValue: true,
                                          attributeFilter: ["data-test-script-state"]});
}"""
_RUN_DONE = """() => window.__fundRuns > 0 && document.querySelector("[data-testid='stApp']")
    .getAttribute("data-test-script-state") === 'notRunning'"""


def rerun_after(page: Page, action: Callable[[], object]) -> None:
    """Do `action` (a click that reruns the page) and wait until a run that started after it has
    ended: what the page shows then is the server's answer to it, not the screen it replaces."""
    wait_for_run(page)
    page.evaluate(_ARM_RUN_COUNTER)
    action()
    page.wait_for_function(_RUN_DONE)


# Pages whose tabs are chosen on the server: only the open tab runs, so a click reruns the page.
TABS_RERUN = {"審査・採点", "年度配分", "成果指標"}


def open_tab(page: Page, title: str, tab: str | None = None) -> None:
    """Open a page afresh (another user's change is read again) and, if given, one of its tabs."""
    open_fresh(page, title)
    if tab is None or page.get_by_role("tab", name=tab).get_attribute("aria-selected") == "true":
        return
    click_tab(page, page.get_by_role("tab", name=tab), reruns=title in TABS_RERUN)


def click_tab(page: Page, tab: Locator, *, reruns: bool) -> None:
    """Open a tab; where tabs rerun the page, wait until the server has drawn the tab's panel (only the
    open panel is visible, and a closed tab's panel is emptied by the run that closed it) and its
    run has ended. Waiting for the drawn panel, not for a change of the root's run state, holds when
    a busy host redraws the root and its observer is lost."""
    wait_for_run(page)
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    if reruns:
        panel = page.get_by_role("tabpanel").last  # nested tabs: the innermost open one is last
        expect(panel.locator("[data-testid='stElementContainer']:visible").first).to_be_visible()
        wait_for_run(page)


def assign(page: Page, name: str, logins: tuple[str, ...]) -> None:
    """On 審査・採点 → 設定, assign the 健康福祉部 proposal `name` to the 審査担当 `logins`."""
    open_tab(page, "審査・採点", tab="設定")
    choose(page, page.get_by_label("提案", exact=True), f"{name}（健康福祉部）")
    page.keyboard.press("Escape")
    for login in logins:
        choose(page, page.get_by_label("審査担当", exact=True), login)
        page.keyboard.press("Escape")
    wait_for_run(page)  # the last choice reruns the page: a click during that run would be lost
    page.get_by_role("button", name="割り当てる").click()
    expect(page.get_by_text(f"{len(logins)}件を割り当てました（うち自動除斥 0件")).to_be_visible()


def score(page: Page, name: str, anchors: list[str], comment: str = "") -> None:
    """Score the 健康福祉部 proposal `name` on the four perspectives (the anchors' texts) and save."""
    open_tab(page, "審査・採点")
    choose(page, page.get_by_label("採点する提案"), f"{name}（健康福祉部）")
    form = page.get_by_test_id("stForm").filter(has_text=f"採点する提案: {name}（健康福祉部）")
    expect(form).to_be_visible()
    wait_for_run(page)
    for anchor in anchors:
        form.get_by_text(anchor, exact=True).click()
    if comment:
        form.get_by_label("コメント（多くの人が利用する）").fill(comment)
    form.get_by_role("button", name="採点を保存").click()
    expect(page.get_by_text(f"「{name}」の採点を保存しました（4観点を更新）。")).to_be_visible()


def choose(page: Page, box: Locator, option: str) -> None:
    """Pick `option` in a selectbox or multiselect: typing filters the list (only the first options
    are drawn) and opens it even when the click only focused the box. Waits for the page run to end
    first: a rerun that lands mid-click would close the list."""
    wait_for_run(page)
    if box.input_value() == option:  # typing into a box that shows its choice would filter out every option
        return
    box.click()
    # Type into the focused box through the keyboard: once the list is open, the rest of the page
    # (a form's submit button included) leaves the accessibility tree, so `box` may not resolve again.
    page.keyboard.type(option[:20])
    page.get_by_role("option", name=option, exact=True).click()


def proposal_step(page: Page, label: str) -> Page:
    """Open one step of 新規提案 (「3. 費用計画」); returns once that step is drawn (only one step's
    fields are on the page at a time)."""
    step = page.get_by_test_id("stRadio").filter(has_text="1. 基本情報")
    step.get_by_text(label, exact=True).click()
    expect(page.get_by_text(STEP_MARKS[label], exact=False).first).to_be_visible()
    return page


# A text that only each step draws: the test waits for it before filling the step's fields.
STEP_MARKS = {
    "1. 基本情報": "事業名（必須）",
    "2. 充当要件": "該当する要件を選び、その理由を記入してください。",
    "3. 費用計画": "1年度目が提案年度です。",
    "4. 県民実感の根拠": "審査の4つの観点の根拠になります。",
    "5. 成果指標": "初年度（提案年度）と2年後の目標値",
    "6. 確認": "内容を確かめて提出してください。",
}


def fill_proposal_form(page: Page, name: str) -> None:
    """Fill 新規提案 step by step with a complete proposal named `name` for the current 年度, and open
    「6. 確認」 (not submitted)."""
    form = proposal_step(page, "1. 基本情報")
    form.get_by_role("textbox", name="事業名（必須）").fill(name)
    # The current 年度: the one the screening round prepared in conftest covers.
    choose(page, form.get_by_label("提案年度（必須）"), fiscal_label(clock.current_fiscal_year()))
    form.get_by_label("事業概要").fill("子育て相談のチャット窓口を県内共通で開設する。")
    form.get_by_label("目的", exact=True).fill("相談のしやすさの向上")
    form.get_by_label("現状・課題").fill("電話相談は平日日中のみで、つながりにくい。")
    form = proposal_step(page, "2. 充当要件")
    form.get_by_test_id("stCheckbox").get_by_text(REQUIREMENT[1]).click()
    form.get_by_label("要件①の該当理由").fill("子育ての相談を夜間もチャットで受け付ける。")
    form = proposal_step(page, "3. 費用計画")
    form.get_by_label("事業費（千円）").nth(0).fill("20000")
    form.get_by_label("基金充当額（千円）").nth(0).fill("10000")
    form.get_by_label("基金充当額（千円）").nth(0).press("Tab")
    expect(form.get_by_label("基金充当額（千円）").nth(0)).to_have_value("10,000")
    form = proposal_step(page, "4. 県民実感の根拠")
    form.get_by_label("想定利用者数（人）").fill("8000")
    form.get_by_label("1人あたり利用回数（回/年）").fill("3")
    form.get_by_label("1人あたり利用回数（回/年）").press("Tab")
    choose(page, form.get_by_label("新規性", exact=True), "県内初")
    form = proposal_step(page, "5. 成果指標")
    form.get_by_label("指標名1").fill("チャット相談件数")
    form.get_by_label("単位").nth(0).fill("件")
    form.get_by_label("初年度目標").nth(0).fill("3000")
    form.get_by_label("2年後目標").nth(0).fill("9000")
    form.get_by_label("2年後目標").nth(0).press("Tab")
    form = proposal_step(page, "6. 確認")
    expect(form.get_by_text(name)).to_be_visible()


WINDOWS = ((1366, 768), (1920, 1080))  # an office laptop and a desk monitor

# What the window cuts off: the page wider than the window (a sideways scroll), and a metric's
# label or figure ended with 「…」 because its column is too narrow.
_CUT_OFF = """() => {
    const main = document.querySelector("[data-testid='stMain']");
    const out = main.scrollWidth > main.clientWidth ? [`page ${main.scrollWidth} > ${main.clientWidth}`] : [];
    for (const el of document.querySelectorAll("[data-testid='stMetric'] *"))
        if (el.scrollWidth > el.clientWidth + 1) out.push(el.textContent);
    return out;
}"""


def cut_off(page: Page) -> list[str]:
    """What the window cuts off on the page as shown (nothing, when it fits)."""
    return list(page.evaluate(_CUT_OFF))


def screenshots(page: Page, name: str, *, at: Locator | None = None) -> list[Path]:
    """`name`_1366 and `name`_1920: the page at both window sizes, scrolled to `at` if given; then
    back to the tests' own size."""
    paths = []
    for width, height in WINDOWS:
        page.set_viewport_size({"width": width, "height": height})
        paths.append(screenshot(page, f"{name}_{width}", at=at))
    page.set_viewport_size({"width": 1440, "height": 1800})
    return paths


def screenshot(page: Page, name: str, *, at: Locator | None = None) -> Path:
    """Wait for the run to end, fonts, tables and charts (vega canvases) to paint, scroll to `at` if
    given, then save a screenshot under tests/e2e/artifacts/."""
    wait_for_run(page)
    page.wait_for_load_state("networkidle")
    page.evaluate("document.fonts.ready.then(() => true)")
    for canvas in page.locator("[data-testid='stDataFrame'] canvas").all()[:3]:
        canvas.wait_for(state="visible")
    for chart in page.locator("[data-testid='stVegaLiteChart']:visible").all()[:3]:
        chart.locator("canvas, svg").first.wait_for(state="visible")
    if at is not None:
        # below Streamlit's fixed header bar
        at.evaluate("e => { e.style.scrollMarginTop = '72px'; e.scrollIntoView({block: 'start'}) }")
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
