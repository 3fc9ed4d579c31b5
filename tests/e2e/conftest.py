"""A real `streamlit run` on a seeded temporary database, driven by Debian's chromium."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from fund.auth import SYSTEM, create_user
from fund.db import dispose_engines, get_engine
from fund.models import Role
from fund.seed import seed
from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("e2e") / "e2e.duckdb"
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
    dispose_engines()  # release the file: the server process opens it
    port = _free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = (ARTIFACTS / "server.log").open("w")
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
            raise RuntimeError(f"streamlit exited early: see {ARTIFACTS / 'server.log'}")
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
    yield base
    proc.terminate()
    proc.wait(10)
    log.close()


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
    expect(page.get_by_role("heading", name="ホーム")).to_be_visible()


def open_page(page: Page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()


def screenshot(page: Page, name: str) -> Path:
    """Wait for tables and charts to paint, then save a screenshot under tests/e2e/artifacts/."""
    page.wait_for_load_state("networkidle")
    for canvas in page.locator("[data-testid='stDataFrame'] canvas").all()[:3]:
        canvas.wait_for(state="visible")
    page.wait_for_timeout(600)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
