"""End-to-end in a real browser: a department user submits a proposal through the form.

Flows covered here: e2e_health (健康福祉部) opens 事業提案 → 新規提案, first submits an empty form
and sees the Japanese messages at the fields, then fills the form, submits it and finds the
proposal (状態「提出済」) in the 一覧 tab; and downloads the 様式, uploads it with one bad row (nothing
is imported, the error is listed), then without it (imported as 下書き). The project name is unique per run
(`PROPOSAL_PREFIX` + a random suffix), so the test does not depend on the order of other tests.

Screening of a proposal (a screener scores it and the ranking shows it) is covered by
tests/e2e/test_screening_flow.py, whose proposal is prepared through `fund.proposals.save_proposal`
(tests/e2e/conftest.py `prepare_screening`).
"""

import uuid
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from fund import intake
from fund.labels import REQUIREMENT
from tests.e2e.conftest import (
    choose,
    open_page,
    proposal_step,
    rerun_after,
    screenshot,
    screenshots,
    sign_in,
    wait_for_run,
)

pytestmark = pytest.mark.e2e

PROPOSAL_PREFIX = "E2E フォーム提出 健診予約オンライン化事業"


def test_department_user_submits_a_proposal_through_the_form_and_sees_it_in_the_list(page: Page) -> None:
    name = f"{PROPOSAL_PREFIX} {uuid.uuid4().hex[:6]}"
    sign_in(page, "e2e_health")
    open_page(page, "事業提案")
    page.get_by_role("tab", name="新規提案").click()

    # Submitting at once: the first step with a mistake opens, the summary counts every step's.
    page.get_by_text("6. 確認", exact=True).click()
    page.get_by_role("button", name="提出する").click()
    expect(page.get_by_text("事業名を入力してください。")).to_be_visible()
    expect(page.get_by_text("入力内容に誤りがあります（基本情報 4件、充当要件 1件")).to_be_visible()
    screenshots(page, "40_proposal_form_errors")
    form = proposal_step(page, "2. 充当要件")
    expect(page.get_by_text("充当要件①②③のうち、該当するものを1つ以上選んでください。")).to_be_visible()

    form = proposal_step(page, "1. 基本情報")
    form.get_by_role("textbox", name="事業名（必須）").fill(name)
    form.get_by_label("事業概要").fill("市町の健診予約をオンラインで受け付ける共通の仕組みを整える。")
    form.get_by_label("目的", exact=True).fill("受診率の向上と予約業務の削減")
    form.get_by_label("現状・課題").fill("電話予約が平日日中に集中し、つながりにくい。")
    form = proposal_step(page, "2. 充当要件")
    form.get_by_test_id("stCheckbox").get_by_text(REQUIREMENT[1]).click()
    form.get_by_label("要件①の該当理由").fill(
        "健診の予約をスマートフォンで完結させ、電話と来庁の負担をなくす。"
    )
    form = proposal_step(page, "3. 費用計画")
    form.get_by_label("事業費（千円）").nth(0).fill("30000")
    form.get_by_label("基金充当額（千円）").nth(0).fill("20000")
    form.get_by_label("事業費（千円）").nth(1).fill("5000")
    form.get_by_label("備考").nth(1).fill("運用経費")
    form.get_by_label("備考").nth(1).press("Tab")
    # The 千円 amounts are grouped as soon as they are entered: a 1,000× slip shows.
    expect(form.get_by_label("事業費（千円）").nth(0)).to_have_value("30,000")
    expect(form.get_by_label("事業費（千円）").nth(1)).to_have_value("5,000")
    form = proposal_step(page, "4. 県民実感の根拠")
    form.get_by_label("想定利用者数（人）").fill("-40000")  # a slip: refused in Japanese, not by a tooltip
    form.get_by_label("1人あたり利用回数（回/年）").fill("1.5")
    form.get_by_label("デジタル化する手続（件/年）").fill("60000")
    form.get_by_label("1件あたり短縮時間（分）").fill("20")
    form.get_by_label("1件あたり短縮時間（分）").press("Tab")  # commit the number before opening the list
    choose(page, form.get_by_role("combobox", name="新規性"), "県内初")
    form = proposal_step(page, "5. 成果指標")
    form.get_by_label("指標名1").fill("オンライン予約率")
    form.get_by_label("単位").nth(0).fill("%")
    form.get_by_label("初年度目標").nth(0).fill("20")
    form.get_by_label("2年後目標").nth(0).fill("50")
    form.get_by_label("2年後目標").nth(0).press("Tab")
    form = proposal_step(page, "3. 費用計画")
    screenshots(page, "40_proposal_form_costs")
    form = proposal_step(page, "6. 確認")
    expect(page.get_by_role("cell", name="35,000", exact=True)).to_be_visible()  # 事業費 of the five years
    screenshots(page, "40_proposal_form_review")
    page.get_by_role("button", name="提出する").click()
    expect(page.get_by_text("入力内容に誤りがあります（県民実感の根拠 1件）")).to_be_visible()
    expect(
        page.get_by_text("想定利用者数は0人以上10,000,000人以下の整数で入力してください。")
    ).to_be_visible()
    screenshot(page, "40_proposal_form_negative")
    page.get_by_label("想定利用者数（人）").fill("40000")
    page.get_by_label("想定利用者数（人）").press("Tab")
    proposal_step(page, "6. 確認")
    page.get_by_role("button", name="提出する").click()
    expect(page.get_by_text("を提出しました。")).to_be_visible()
    expect(page.get_by_text("入力内容に誤りがあります")).to_have_count(0)
    # The form is blank again for the next proposal, on its first step.
    expect(page.get_by_role("textbox", name="事業名（必須）")).to_have_value("")

    page.get_by_role("tab", name="一覧").click()
    page.get_by_label("事業名・概要で検索").fill(name)
    page.get_by_label("事業名・概要で検索").press("Enter")
    expect(page.get_by_text("1件。県民接点")).to_be_visible()
    expect(page.get_by_text(f"{name}（健康福祉部）")).to_be_visible()
    # While the search reruns, the previous detail may linger: wait for the run to end (stale
    # elements go with it), then for only one detail to remain.
    wait_for_run(page)
    expect(page.get_by_text("状態: 提出済")).to_have_count(1)
    expect(page.get_by_text("状態: 提出済")).to_be_visible()
    expect(page.get_by_test_id("stMetric").filter(has_text="県民接点（回/年）")).to_contain_text("60,000")
    screenshot(page, "41_proposal_submitted_in_list")


def _filled_template(template: Path, rows: list[dict[str, object]], out: Path) -> Path:
    wb = load_workbook(template)
    ws = wb[intake.SHEET]
    for values in rows:
        ws.append([values.get(h) for h in intake.HEADERS])
    wb.save(out)
    return out


def test_department_user_downloads_the_template_and_uploads_it_all_or_nothing(
    page: Page, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:6]
    sign_in(page, "e2e_health")
    open_page(page, "事業提案")
    page.get_by_role("tab", name="一括登録").click()
    expect(page.get_by_role("button", name="様式をダウンロード（xlsx）")).to_be_visible()
    wait_for_run(page)  # the page run has ended: the button holds the file id the server knows
    with page.expect_download() as download:
        page.get_by_role("button", name="様式をダウンロード（xlsx）").click()
    template = tmp_path / "様式.xlsx"
    download.value.save_as(template)
    year = int(load_workbook(template)[intake.SHEET]["D2"].value)
    good = {
        "事業名": f"E2E 一括登録 見守りセンサー事業 {suffix}",
        "所管部局": "健康福祉部",
        "区分": "生活関連分野（健康/医療/介護、教育/子ども、防災、交通）",
        "年度": year,
        "1年度目 事業費（千円）": 12000,
        "1年度目 基金充当額（千円）": 9000,
    }
    bad = good | {"事業名": f"E2E 一括登録 過大充当 {suffix}", "1年度目 基金充当額（千円）": 15000}

    uploader = page.locator("[data-testid='stFileUploader'] input[type='file']")
    # Choosing a file reruns the page once the upload is done; a click before that run would be
    # answered on the old file and then cleared by it.
    rerun_after(
        page,
        lambda: uploader.set_input_files(str(_filled_template(template, [good, bad], tmp_path / "bad.xlsx"))),
    )
    expect(page.get_by_text("bad.xlsx")).to_be_visible()
    wait_for_run(page)
    page.get_by_role("button", name="登録する").click()
    expect(page.get_by_text("誤りが1件あるため、登録していません。")).to_be_visible()
    wait_for_run(page)
    screenshot(page, "42_proposal_upload_errors")

    rerun_after(
        page,
        lambda: uploader.set_input_files(str(_filled_template(template, [good], tmp_path / "good.xlsx"))),
    )
    expect(page.get_by_text("good.xlsx")).to_be_visible()
    wait_for_run(page)
    # The check passes only on a run that already has the new file: after it, no rerun for the
    # upload can land on top of the registration and clear its message.
    page.get_by_role("button", name="内容を確認する").click()
    expect(page.get_by_text("すべての行に誤りはありません。")).to_be_visible()
    wait_for_run(page)
    page.get_by_role("button", name="登録する").click()
    expect(page.get_by_text("1件を下書きとして登録しました。")).to_be_visible()

    page.get_by_role("tab", name="一覧").click()
    page.get_by_label("事業名・概要で検索").fill(suffix)
    page.get_by_label("事業名・概要で検索").press("Enter")
    expect(page.get_by_text("1件。県民接点")).to_be_visible()
    expect(page.get_by_text("状態: 下書き")).to_be_visible()
