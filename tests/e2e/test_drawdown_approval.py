"""A drawdown without an allocation in a real browser: the 管理者 registers it (that they cannot
approve it themself is shown by the page's AppTest), a 幹部 at another desk approves it and it is posted; the 管理者 then reverses it, so the
shared database's balance is as before."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import choose, desk, open_fresh, rerun_after, screenshots

pytestmark = pytest.mark.e2e

MEMO = "国の内示前の立替（承認の確認）"


def _pending_section(page: Page) -> None:
    open_fresh(page, "基金の状況")
    expect(page.get_by_role("heading", name="承認待ちの取崩し")).to_be_visible()


def _shots(page: Page, name: str) -> list[Path]:
    return screenshots(page, name, at=page.get_by_role("heading", name="承認待ちの取崩し"))


def test_a_drawdown_without_an_allocation_is_posted_by_a_second_person(
    browser: Browser, app_url: str
) -> None:
    admin = desk(browser, app_url, "e2e_admin")
    executive = desk(browser, app_url, "e2e_exec")

    _pending_section(admin)
    expect(admin.get_by_text("承認待ちの取崩しはありません。")).to_be_visible()
    form = admin.get_by_test_id("stForm").filter(has=admin.get_by_role("button", name="記帳する"))
    choose(admin, form.get_by_role("combobox", name="区分"), "取崩し")
    form.get_by_label("金額（円）").fill("1000000")
    form.get_by_label("摘要").fill(MEMO)
    form.get_by_label("配分のない取崩しの理由（例外の場合のみ）").fill("国の交付決定前の立替")
    rerun_after(admin, form.get_by_role("button", name="記帳する").click)
    expect(admin.get_by_text("配分のない取崩しのため、承認待ち（依頼番号")).to_be_visible()
    expect(admin.get_by_test_id("stDataFrame").filter(has_text=MEMO)).to_be_visible()

    _pending_section(executive)
    expect(executive.get_by_test_id("stDataFrame").filter(has_text=MEMO)).to_be_visible()
    expect(executive.get_by_role("button", name="記帳する")).to_have_count(0)  # 幹部 approve, never post
    for shot in _shots(executive, "50_drawdown_waiting"):
        assert shot.stat().st_size > 0
    rerun_after(executive, executive.get_by_role("button", name="承認する").click)
    done = executive.get_by_text(re.compile(r"依頼番号 \d+ を承認し、台帳番号 \d+ として記帳しました。"))
    expect(done).to_be_visible()
    entry_id = re.search(r"台帳番号 (\d+)", done.inner_text())
    assert entry_id is not None
    expect(executive.get_by_text("承認待ちの取崩しはありません。")).to_be_visible()

    # The 管理者 takes it back out (取消): the shared database's balance is as before.
    open_fresh(admin, "基金の状況")
    reverse = admin.get_by_test_id("stForm").filter(has=admin.get_by_role("button", name="取り消す"))
    reverse.get_by_label("取り消す台帳番号").fill(entry_id.group(1))
    reverse.get_by_label("取消の理由").fill("承認の確認のための記帳")
    rerun_after(admin, reverse.get_by_role("button", name="取り消す").click)
    expect(admin.get_by_text(f"台帳番号 {entry_id.group(1)} を取り消しました")).to_be_visible()
