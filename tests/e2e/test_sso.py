"""Single sign-on end to end against a real OpenID Connect provider: panva's oidc-provider (OpenID
Certified) run with Node on 127.0.0.1, and the app signing in through `st.login`.

The provider's own sign-in form takes any login; the dashboard decides who may enter: a registered
subject signs in with its role, an unknown identity, an e-mail the provider has not verified and a
deactivated user are refused in Japanese, the session survives a reload and a typed URL (the
identity cookie), and signing out ends it."""

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from fund.auth import SYSTEM, create_user, link_oidc_subject, set_user_active
from fund.db import get_engine
from fund.models import Role
from tests.e2e.conftest import ARTIFACTS, free_port, seeded_with_users, serve, wait_for_run

# Its own servers (the provider's and the app's): on the worker of the other own-server walks, one after
# the other — beside them, the load made the long walks and this one miss their waits.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("own_server")]

PROVIDER = Path(__file__).parent / "oidc"
CLIENT_SECRET = "e2e-client-secret-not-for-production"


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (PROVIDER / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("Node and tests/e2e/oidc/node_modules are missing: `make test` installs them (npm ci)")
    return node


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """The identity provider's issuer URL, and the app port its client redirects to."""
    port, app_port = free_port(), free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = (ARTIFACTS / "oidc-provider.log").open("w")
    proc = subprocess.Popen(
        [_node(), "provider.mjs", str(port), f"http://127.0.0.1:{app_port}/oauth2callback"],
        cwd=PROVIDER,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    assert proc.stdout is not None
    ready = proc.stdout.readline()  # blocks until the provider listens (or exits)
    if "ready" not in ready:
        proc.kill()
        raise RuntimeError(f"oidc-provider did not start: see {ARTIFACTS / 'oidc-provider.log'}")
    try:
        yield f"http://127.0.0.1:{port}", app_port
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.fixture(scope="module")
def sso_url(provider: tuple[str, int], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    issuer, app_port = provider
    folder = tmp_path_factory.mktemp("sso")
    url = seeded_with_users(folder / "sso.duckdb")
    engine = get_engine(url)
    for login, role, subject in (
        ("sato_kikaku", Role.executive, "sato.kikaku"),
        ("taishoku", Role.screener, "taishoku"),
        ("kato", Role.screener, "unverified.kato@pref.example.jp"),  # registered by its e-mail
        ("suzuki", Role.screener, "suzuki.zaimu@pref.example.jp"),
    ):
        create_user(engine, actor=SYSTEM, login=login, role=role, password=None, display_name=login)
        link_oidc_subject(engine, actor=SYSTEM, login=login, subject=subject)
    set_user_active(engine, actor=SYSTEM, login="taishoku", active=False, reason="異動")
    secrets = folder / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"\n'
        f'cookie_secret = "{os.urandom(16).hex()}"\n'
        'client_id = "fund-dashboard"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n'
        # A fresh sign-in form each time (the provider does not know Streamlit's select_account).
        'client_kwargs = { prompt = "login" }\n',
        encoding="utf-8",
    )
    with serve(url, log_name="sso-server", port=app_port, options=(f"--secrets.files={secrets}",)) as base:
        yield base


def _sign_in_at_the_provider(page: Page, login: str) -> None:
    page.get_by_role("button", name="組織アカウントでサインイン").click()
    expect(page.locator("input[name=login]")).to_be_visible()  # the provider's own page
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("provider-side-password")
    page.get_by_role("button", name="Sign-in").click()


def _confirm_sign_out_at_the_provider(page: Page) -> None:
    """st.logout ends the provider's session too (RP-initiated logout): its own page asks, then
    returns to the dashboard's sign-in page."""
    page.get_by_role("button", name="Yes, sign me out").click()
    expect(page.get_by_role("button", name="組織アカウントでサインイン")).to_be_visible()


def _fresh(browser: Browser, base: str) -> Page:
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="ja-JP")
    page = ctx.new_page()
    page.set_default_timeout(30_000)
    page.goto(base)
    expect(page.get_by_role("button", name="組織アカウントでサインイン")).to_be_visible()
    return page


def test_a_registered_identity_signs_in_survives_a_reload_and_signs_out(
    browser: Browser, sso_url: str
) -> None:
    page = _fresh(browser, sso_url)
    _sign_in_at_the_provider(page, "sato.kikaku")
    expect(page.get_by_role("heading", name="ホーム")).to_be_visible()
    expect(page.get_by_text("sato_kikaku（幹部）")).to_be_visible()

    page.reload()
    expect(page.get_by_role("heading", name="ホーム")).to_be_visible()
    expect(page.get_by_text("sato_kikaku（幹部）")).to_be_visible()
    page.goto(f"{sso_url}/fund_status")  # a typed URL or a bookmark lands on the page asked for
    expect(page.get_by_role("heading", name="基金の状況")).to_be_visible()
    expect(page.get_by_text("sato_kikaku（幹部）")).to_be_visible()
    wait_for_run(page)
    expect(page.locator("[data-testid='stException']")).to_have_count(0)

    other_desk = _fresh(browser, sso_url)
    _sign_in_at_the_provider(other_desk, "sato.kikaku")
    expect(other_desk.get_by_text("sato_kikaku（幹部）")).to_be_visible()

    page.get_by_role("button", name="サインアウト").click()
    _confirm_sign_out_at_the_provider(page)
    # Signing out ends the session on every desk: the other desk's identity cookie no longer signs in.
    other_desk.reload()
    expect(
        other_desk.get_by_text("ほかの画面でサインアウトしたため、この画面もサインアウトしました。")
    ).to_be_visible()
    expect(other_desk.get_by_text("sato_kikaku（幹部）")).to_have_count(0)
    other_desk.get_by_role("button", name="組織アカウントでサインインし直す").click()
    _confirm_sign_out_at_the_provider(other_desk)
    page.reload()  # the identity cookie is gone: a reload does not sign in again
    expect(page.get_by_role("button", name="組織アカウントでサインイン")).to_be_visible()
    expect(page.get_by_text("sato_kikaku（幹部）")).to_have_count(0)


def test_an_identity_registered_by_its_verified_email_is_bound_on_first_sign_in(
    browser: Browser, sso_url: str
) -> None:
    page = _fresh(browser, sso_url)
    _sign_in_at_the_provider(page, "suzuki.zaimu")
    expect(page.get_by_role("heading", name="ホーム")).to_be_visible()
    expect(page.get_by_text("suzuki（審査担当）")).to_be_visible()


REFUSED = (
    ("stranger", "組織アカウント（stranger@pref.example.jp）はこのダッシュボードに登録されていません。"),
    # registered by this e-mail, but the provider has not verified it: never matched by it
    (
        "unverified.kato",
        "組織アカウント（unverified.kato@pref.example.jp）はこのダッシュボードに登録されていません。",
    ),
    ("taishoku", "この利用者は無効化されています。管理者に確認してください。"),
)


def test_identities_the_dashboard_does_not_admit_are_refused_in_japanese(
    browser: Browser, sso_url: str
) -> None:
    page = _fresh(browser, sso_url)
    for login, message in REFUSED:
        _sign_in_at_the_provider(page, login)
        expect(page.get_by_text(message)).to_be_visible()
        expect(page.get_by_role("heading", name="ホーム")).to_have_count(0)
        expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
        page.get_by_role("button", name="別のアカウントでサインインし直す").click()
        _confirm_sign_out_at_the_provider(page)
