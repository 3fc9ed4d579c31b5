"""A screening decision that holds, in a real browser: a department submits, a screener returns the
proposal, the department corrects and resubmits it, two screeners score, the 管理者 adopts, an
executive decides the round and the seeded FY2024 round; the 決裁資料 PDF lists the 24 projects with
the hash the audit log holds; later changes are refused; the department reads its outcome.

A decision cannot be undone, so this module runs its own server on its own database."""

import csv
import io
import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from pypdf import PdfReader

from fund import clock
from tests.conftest import ROOT
from tests.e2e.conftest import (
    SECOND_SCREENER,
    assign,
    choose,
    click_tab,
    desk,
    fill_proposal_form,
    open_tab,
    proposal_step,
    rerun_after,
    score,
    screenshot,
    screenshots,
    wait_for_run,
    walk_server,
)

# Runs on its own server: on the same worker as the other such module, one after the other, so
# that two whole-day walks do not share the two cores (their waits are for the server, not time).
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("own_server")]

YEAR = clock.current_fiscal_year()
ROUND = "E2E 確定の通し審査"
SECOND = SECOND_SCREENER
RETURN_REASON = "想定利用者数の根拠を追記してください"
COMMENT = "夜間の相談需要の根拠が示され、利用が見込める"


@pytest.fixture(scope="module")
def decision_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("decision") / "decision.duckdb"
    with walk_server(db, round_name=ROUND, log_name="decision_server") as base:
        yield base


def _pick(page: Page, label: str, name: str) -> None:
    """Choose the option of the `label` box that contains `name` (options start with a number)."""
    box = page.get_by_role("combobox", name=label)
    wait_for_run(page)
    if name in box.input_value():  # already chosen: choosing it again would not rerun the page
        return
    box.click()
    page.keyboard.type(name[-10:])
    rerun_after(page, lambda: page.get_by_role("option", name=re.compile(re.escape(name))).click())


def _decide(page: Page) -> str:
    """Decide the chosen round on 確定; the hash it shows."""
    tab = page.get_by_role("tab", name="確定")
    if tab.get_attribute("aria-selected") != "true":  # clicking the open tab would not rerun
        click_tab(page, tab, reruns=True)
    page.get_by_role("button", name="審査結果を確定する").click()
    expect(page.get_by_text("審査結果を確定しました（ハッシュ")).to_be_visible()
    shown = page.get_by_text(re.compile(r"内容のハッシュ（SHA-256）: [0-9a-f]{64}"))
    expect(shown).to_be_visible()
    return shown.inner_text().split(": ")[1].strip()


def test_a_returned_corrected_proposal_is_scored_decided_filed_and_fed_back(
    browser: Browser, decision_url: str
) -> None:
    name = f"E2E 確定 子育て相談チャット事業 {uuid.uuid4().hex[:6]}"

    department = desk(browser, decision_url, "e2e_health")
    open_tab(department, "事業提案", tab="新規提案")
    fill_proposal_form(department, name)
    department.get_by_role("button", name="提出する").click()
    expect(department.get_by_text("を提出しました。")).to_be_visible()

    screener = desk(browser, decision_url, "e2e_screener")
    open_tab(screener, "事業提案")
    _pick(screener, "提案を選択", name)
    screener.get_by_label("理由（必須）").fill(RETURN_REASON)
    screener.get_by_role("button", name="実行する").click()
    expect(screener.get_by_text("を差し戻しました。")).to_be_visible()

    open_tab(department, "事業提案")
    _pick(department, "提案を選択", name)
    expect(department.get_by_text(f"差戻し：{RETURN_REASON}")).to_be_visible()
    department.get_by_role("tab", name="新規提案").click()
    _pick(department, "編集する下書き", name)
    expect(department.get_by_role("textbox", name="事業名（必須）")).to_have_value(name)
    department.get_by_label("事業概要").fill(
        "子育て相談のチャット窓口を県内共通で開設する（夜間の相談実績から利用者数を見直し）。"
    )
    department.get_by_label("事業概要").press("Tab")
    form = proposal_step(department, "4. 県民実感の根拠")
    form.get_by_label("想定利用者数（人）").fill("9000")
    form.get_by_label("想定利用者数（人）").press("Tab")
    proposal_step(department, "6. 確認")
    department.get_by_role("button", name="提出する").click()
    expect(department.get_by_text("を提出しました。")).to_be_visible()

    admin = desk(browser, decision_url, "e2e_admin")
    assign(admin, name, ("e2e_screener", SECOND))

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
    second = desk(browser, decision_url, SECOND)
    score(
        second,
        name,
        [
            "3点：一定の利用者がある（1万人未満）",
            "4点：週1回程度の利用",
            "4点：手続時間が大きく短縮される",
            "4点：県内初の取組",
        ],
        comment=COMMENT,
    )

    open_tab(admin, "事業提案")
    _pick(admin, "提案を選択", name)
    for to in ("審査中にする", "採択にする"):
        choose(admin, admin.get_by_label("変更後の状態"), to)
        admin.get_by_role("button", name="状態を変更する").click()
        expect(admin.get_by_text("」にしました。")).to_be_visible()
        wait_for_run(admin)

    executive = desk(browser, decision_url, "e2e_exec")
    open_tab(executive, "審査・採点")
    round_hash = _decide(executive)
    expect(executive.get_by_test_id("stMetric").filter(has_text="対象の提案")).to_contain_text("1 件")

    executive.get_by_label("審査ラウンド").click()
    rerun_after(executive, lambda: executive.get_by_role("option", name=re.compile("（サンプル）")).click())
    seeded_hash = _decide(executive)
    expect(executive.get_by_test_id("stMetric").filter(has_text="対象の提案")).to_contain_text("24 件")
    screenshots(executive, "41_screening_decided")
    with executive.expect_download() as fetched:
        executive.get_by_role("button", name="決裁資料（PDF）").click()
    reader = PdfReader(fetched.value.path())
    pages = [p.extract_text() for p in reader.pages]
    whole = "".join("".join(pages).split())
    with (ROOT / "data" / "allocations.csv").open(encoding="utf-8") as fh:
        fy2024 = {r["project"] for r in csv.DictReader(fh) if r["fiscal_year"] == "2024"}
    assert len(fy2024) == 24
    assert [p for p in fy2024 if "".join(p.split()) not in whole] == []
    assert all(seeded_hash in page for page in pages)

    open_tab(admin, "管理", tab="監査ログ")
    choose(admin, admin.get_by_label("操作"), "審査結果の確定")
    wait_for_run(admin)
    admin.get_by_role("button", name="CSV を準備").click()
    with admin.expect_download() as log:
        admin.get_by_role("button", name="監査ログ（csv）をダウンロード").click()
    audit_text = log.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(audit_text)))
    assert len(rows) == 2
    assert seeded_hash in audit_text and round_hash in audit_text

    # After the decision nothing in the round changes: no scoring, no new weights.
    open_tab(screener, "審査・採点")
    expect(screener.get_by_text("確定したため、採点は変更できません。")).to_be_visible()
    expect(screener.get_by_role("button", name="採点を保存")).to_have_count(0)
    open_tab(admin, "審査・採点", tab="設定")
    rubric = admin.get_by_test_id("stForm").filter(has=admin.get_by_role("button", name="新しい版として保存"))
    rubric.get_by_label("多くの人が利用する（%）").fill("40")
    rubric.get_by_label("ひとりが頻繁に利用する（%）").fill("10")
    admin.get_by_role("button", name="新しい版として保存").click()
    expect(admin.get_by_text("確定済みのため、変更できません")).to_be_visible()

    open_tab(department, "事業提案")
    _pick(department, "提案を選択", name)
    expect(department.get_by_test_id("stMetric").filter(has_text="決定")).to_contain_text("採択")
    expect(department.get_by_test_id("stMetric").filter(has_text="順位（素点）")).to_contain_text("1位 / 1件")
    # (3.5 + 4 + 3.5 + 4) / 4 with equal weights.
    expect(department.get_by_test_id("stMetric").filter(has_text="加重合計")).to_contain_text("3.75点")
    expect(department.get_by_role("cell", name=COMMENT)).to_be_visible()
    expect(department.get_by_role("cell", name="審査担当B", exact=True)).to_have_count(
        4
    )  # one per perspective
    expect(department.get_by_text(SECOND)).to_have_count(0)  # no reviewer's name reaches the department
    department.get_by_role("cell", name=COMMENT).scroll_into_view_if_needed()
    screenshot(department, "42_proposal_feedback")
    for open_desk in (department, screener, second, admin, executive):
        open_desk.context.close()
