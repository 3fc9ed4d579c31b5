"""事業提案 page: the form's messages appear at their fields, a submission reaches the list, status actions."""

import io
import json
from collections.abc import Callable

import pandas as pd
import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from fund import clock, proposals
from fund.db import query_df
from fund.models import FiscalYear, Role
from tests.conftest import arranged, make_actor, make_proposal
from tests.ui.conftest import press
from ui import widgets

PAGE = "pages/proposals.py"


@pytest.fixture
def health_id(seeded_engine: Engine) -> int:
    fy = clock.current_fiscal_year() + 1
    with arranged(seeded_engine) as session:
        if session.get(FiscalYear, fy) is None:
            session.add(FiscalYear(year=fy))
    return int(query_df(seeded_engine, "SELECT id FROM department WHERE name = '健康福祉部'")["id"].iloc[0])


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def step(at: AppTest, label: str) -> AppTest:
    """Open one step of the form (「3. 費用計画」) as a user clicks it."""
    radio = at.radio(key="pf_step")
    return radio.set_value(next(o for o in range(6) if radio.options[o].endswith(label))).run()


def fill_valid(at: AppTest, name: str) -> AppTest:
    at.text_input(key="pf_name").input(name)
    at.text_area(key="pf_summary").input("健診予約をスマートフォンで完結させる")
    at.text_area(key="pf_purpose").input("受診率の向上")
    at.text_area(key="pf_problem").input("電話予約がつながりにくい")
    at = step(at, "充当要件")
    at.checkbox(key="pf_req1").check()
    at.text_area(key="pf_req1_reason").input("手続をオンラインで完結させる")
    at = step(at, "費用計画")
    at.text_input(key="pf_cost0_cost").input("30,000")
    at.text_input(key="pf_cost0_fund").input("20000")
    at = step(at, "県民実感の根拠")
    at.number_input(key="pf_users").set_value(40000)
    at.number_input(key="pf_uses").set_value(1.5)
    at.selectbox(key="pf_novelty").select_index(2)
    at = step(at, "成果指標")
    at.text_input(key="pf_kpi0_name").input("オンライン予約率")
    at.text_input(key="pf_kpi0_unit").input("%")
    at.number_input(key="pf_kpi0_first").set_value(20.0)
    at.number_input(key="pf_kpi0_later").set_value(50.0)
    return step(at, "確認")


def test_submitting_an_empty_form_opens_the_first_step_with_its_messages_and_counts_the_others(
    app_as: Callable[..., AppTest], health_id: int
) -> None:
    at = step(app_as(Role.department, PAGE, department_id=health_id), "確認")
    assert not at.exception
    at = press(at, "提出する")
    messages = errors(at)
    summary = next(m for m in messages if "入力内容に誤りがあります" in m)
    # 基本情報: 事業名, 事業概要, 目的, 現状・課題; then one each on the steps after it
    assert "（基本情報 4件、充当要件 1件、費用計画 1件、県民実感の根拠 1件、成果指標 1件）" in summary
    assert at.radio(key="pf_step").value == 0  # the first step with a mistake is open
    assert "事業名を入力してください。" in messages
    assert "事業概要を入力してください。" in messages
    assert at.text_area(key="pf_summary").max_chars == 2_000  # the counter shows against the rule's limit
    assert "新規性を選択してください。" not in messages  # on its own step
    at = step(at, "充当要件")
    assert "充当要件①②③のうち、該当するものを1つ以上選んでください。" in errors(at)
    at = step(at, "県民実感の根拠")
    assert "新規性を選択してください。" in errors(at)


def test_a_message_goes_when_its_field_is_corrected_and_the_others_stay_until_the_next_save(
    app_as: Callable[..., AppTest], health_id: int
) -> None:
    at = press(step(app_as(Role.department, PAGE, department_id=health_id), "確認"), "提出する")
    at.text_input(key="pf_name").input("UI確認用の訂正事業").run()
    messages = errors(at)
    assert "事業名を入力してください。" not in messages
    assert "事業概要を入力してください。" in messages
    summary = next(m for m in messages if "入力内容に誤りがあります" in m)
    assert "（基本情報 3件、充当要件 1件、費用計画 1件、県民実感の根拠 1件、成果指標 1件）" in summary
    at = step(at, "県民実感の根拠")
    assert "新規性を選択してください。" in errors(at)  # a step opened later keeps its untouched message
    at.selectbox(key="pf_novelty").select_index(1).run()
    assert "新規性を選択してください。" not in errors(at)


def test_the_confirmation_prints_the_typed_name_as_typed_never_as_markdown(
    app_as: Callable[..., AppTest], health_id: int
) -> None:
    at = fill_valid(
        app_as(Role.department, PAGE, department_id=health_id), "**太字** [x](javascript:alert(1))"
    )
    confirmation = at.table[0].value
    # st.table reads its cells as Markdown: each mark arrives escaped, so the browser prints it
    assert confirmation.loc["事業名", "内容"] == r"\*\*太字\*\* \[x\](javascript\:alert(1))"


def test_fund_share_above_project_cost_is_shown_under_the_cost_row(
    app_as: Callable[..., AppTest], health_id: int
) -> None:
    at = fill_valid(app_as(Role.department, PAGE, department_id=health_id), "UI確認用の過大充当事業")
    at = step(at, "費用計画")
    at.text_input(key="pf_cost0_fund").input("40000")
    at = press(at, "下書き保存")
    assert at.radio(key="pf_step").value == 2
    assert any("基金充当額（40,000千円）が事業費（30,000千円）を超えています" in m for m in errors(at))


def test_amounts_are_grouped_as_typed_and_a_negative_or_a_word_is_refused_at_its_field(
    app_as: Callable[..., AppTest], health_id: int, seeded_engine: Engine
) -> None:
    at = fill_valid(app_as(Role.department, PAGE, department_id=health_id), "UI確認用の入力誤り事業")
    at = step(at, "費用計画")
    assert at.text_input(key="pf_cost0_fund").value == "20,000"  # typed as 20000
    at.text_input(key="pf_cost1_cost").input("-5000")
    at.text_input(key="pf_national").input("千円")
    at = at.run()
    assert at.text_input(key="pf_cost1_cost").value == "▲5,000"
    at = press(at, "下書き保存")
    messages = errors(at)
    assert any(m.startswith("費用計画の2行目: 事業費は0以上") for m in messages)
    assert any(m.startswith("国庫支出金は0円以上") for m in messages)
    assert not any("below" in m or "range" in m for m in messages)
    saved = query_df(seeded_engine, "SELECT id FROM project WHERE name = 'UI確認用の入力誤り事業'")
    assert saved.empty  # nothing saved


def test_a_valid_submission_appears_in_the_list_and_the_form_is_blank_again(
    app_as: Callable[..., AppTest], health_id: int
) -> None:
    at = fill_valid(
        app_as(Role.department, PAGE, department_id=health_id), "UI確認用のオンライン健診予約事業"
    )
    at = press(at, "提出する")
    assert not at.exception
    assert not errors(at)
    assert any("を提出しました" in s.value for s in at.success)
    listed = at.dataframe[0].value
    row = listed[listed["事業名"] == "UI確認用のオンライン健診予約事業"]
    assert row["状態"].tolist() == ["提出済"]
    assert row["新規"].tolist() == ["新規"]
    assert at.radio(key="pf_step").value == 0
    assert at.text_input(key="pf_name").value == ""
    at = step(at, "充当要件")
    assert at.checkbox(key="pf_req1").value is False  # the ticked box does not stay ticked
    at = step(at, "費用計画")
    assert at.text_input(key="pf_cost0_cost").value == ""


def test_a_saved_draft_can_be_resumed_in_the_form(app_as: Callable[..., AppTest], health_id: int) -> None:
    at = app_as(Role.department, PAGE, department_id=health_id)
    at.text_input(key="pf_name").input("UI確認用の下書き事業")
    at.text_area(key="pf_summary").input("途中まで書いた概要")
    at = step(at, "費用計画")
    at.text_input(key="pf_cost0_cost").input("1234")
    at = press(at, "下書き保存")
    assert any("下書きとして保存しました" in s.value for s in at.success)
    assert at.text_input(key="pf_name").value == ""
    picker = at.selectbox(key="pf_pick")
    draft_id = next(int(o.split(":")[0]) for o in picker.options if "UI確認用の下書き事業" in o)
    at = picker.select(draft_id).run()
    assert at.text_input(key="pf_name").value == "UI確認用の下書き事業"
    assert at.text_area(key="pf_summary").value == "途中まで書いた概要"
    at = step(at, "費用計画")
    assert at.text_input(key="pf_cost0_cost").value == "1,234"


def test_executives_only_see_the_list(app_as: Callable[..., AppTest]) -> None:
    at = app_as(Role.executive, PAGE)
    assert not at.exception
    assert [t.label for t in at.tabs] == ["一覧"]


def test_the_list_shows_name_state_and_both_amounts_within_a_laptops_width(
    app_as: Callable[..., AppTest],
) -> None:
    """At 1366 pixels the main area beside the menu is 904 pixels wide (measured in Chromium): the
    columns a reader needs first fit in it, the further figures follow."""
    at = app_as(Role.executive, PAGE)
    table = at.dataframe[0]
    first = ["番号", "年度", "事業名", "所管部局", "状態", "事業費（千円）", "基金充当額（千円）"]
    assert list(table.proto.column_order)[:7] == first
    assert set(table.proto.column_order) == set(table.value.columns)  # no column is left out
    config = json.loads(table.proto.columns)
    assert sum(config[c]["width"] for c in first) <= 904


def test_a_screener_moves_a_submitted_proposal_into_review(
    app_as: Callable[..., AppTest], health_id: int, seeded_engine: Engine
) -> None:
    year = clock.current_fiscal_year() + 1
    lines = [{"fiscal_year": year, "project_cost_yen": 10_000_000, "fund_share_yen": 5_000_000, "note": ""}]
    saved = proposals.save_proposal(
        seeded_engine,
        actor=make_actor(Role.department, department_id=health_id),
        data=make_proposal(
            seeded_engine,
            year,
            project_name="UI確認用の審査対象事業",
            department_id=health_id,
            cost_lines=lines,
            novelty="expansion",
            kpis=[{"name": "利用者数", "unit": "人", "target_first": 1, "target_later": 2}],
        ),
        submit=True,
    )
    at = app_as(Role.screener, PAGE)
    at.selectbox(key="prop_detail").select(saved.id).run()
    assert not at.exception
    assert [m.label for m in at.metric][:3] == [
        "県民接点（回/年）",
        "削減時間（時間/年）",
        "1,000接点あたり基金充当額",
    ]
    at = press(at, "状態を変更する")
    assert any("「審査中」にしました" in s.value for s in at.success)
    timeline = at.dataframe[-1].value
    assert timeline["変更後"].tolist() == ["下書き", "提出済", "審査中"]


def test_a_long_list_shows_its_first_rows_says_so_and_the_download_has_every_row(
    app_as: Callable[..., AppTest], seeded_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(widgets, "DISPLAY_LIMIT", 5)
    monkeypatch.setattr(proposals, "LARGE_EXPORT_ROWS", 5)
    executive = make_actor(Role.executive)
    total = proposals.proposal_count(seeded_engine, actor=executive)
    assert total > 5
    at = app_as(Role.executive, PAGE)
    assert not at.exception
    assert len(at.dataframe[0].value) == 5
    assert f"先頭 5 件を表示しています（全 {total:,} 件）。すべての行はダウンロードしてください。" in [
        i.value for i in at.info
    ]
    assert any(c.value.startswith(f"{total:,}件。") for c in at.caption)
    assert [b.label for b in at.download_button] == ["Excelで保存", "CSVで保存"]
    assert any("Excelでの保存には時間がかかります" in c.value for c in at.caption)
    csv = proposals.export_proposals(seeded_engine, actor=executive, fmt="csv")
    assert len(pd.read_csv(io.BytesIO(csv), encoding="utf-8-sig")) == total


def test_a_short_list_shows_every_row_without_a_notice(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    at = app_as(Role.executive, PAGE)
    total = proposals.proposal_count(seeded_engine, actor=make_actor(Role.executive))
    assert len(at.dataframe[0].value) == total
    assert not [i for i in at.info if "件を表示しています" in i.value]
    assert not [c for c in at.caption if "Excelでの保存には時間がかかります" in c.value]


def test_a_screener_returns_a_proposal_and_the_department_sees_why(
    app_as: Callable[..., AppTest], health_id: int, seeded_engine: Engine
) -> None:
    year = clock.current_fiscal_year() + 1
    saved = proposals.save_proposal(
        seeded_engine,
        actor=make_actor(Role.department, department_id=health_id),
        data=make_proposal(seeded_engine, year, project_name="差戻し確認用の事業", department_id=health_id),
        submit=True,
    )
    at = app_as(Role.screener, PAGE)
    at.selectbox(key="prop_detail").select(saved.id).run()
    at = press(at, "実行する")  # no reason yet
    assert [e.value for e in at.error] == ["差戻しの理由を1,000文字以内で入力してください。"]
    at.text_area(key=f"ret_reason_{saved.id}").input("利用者数の根拠資料を添付してください")
    at = press(at, "実行する")
    assert any(f"提案番号 {saved.id} を差し戻しました" in s.value for s in at.success)

    dept = app_as(Role.department, PAGE, department_id=health_id)
    dept.selectbox(key="prop_detail").select(saved.id).run()
    assert "差戻し：利用者数の根拠資料を添付してください" in [w.value for w in dept.warning]
    assert "取下げ" in dept.radio(key=f"ret_kind_{saved.id}").options


def test_the_department_sees_the_outcome_and_anonymous_feedback_after_the_decision(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    from fund import screening

    police = int(query_df(seeded_engine, "SELECT id FROM department WHERE name = '警察本部'")["id"].iloc[0])
    pid = int(
        query_df(
            seeded_engine,
            "SELECT pr.id FROM proposal pr JOIN project p ON p.id = pr.project_id"
            " WHERE p.name = '映像解析等支援システム事業' AND pr.fiscal_year = 2024",
        )["id"].iloc[0]
    )
    at = app_as(Role.department, PAGE, department_id=police)
    at.selectbox(key="prop_detail").select(pid).run()
    assert not [m for m in at.metric if m.label == "順位（素点）"]  # nothing before the decision
    round_id = int(screening.rounds(seeded_engine)["id"].iloc[0])
    screening.decide_round(seeded_engine, actor=make_actor(Role.executive), round_id=round_id)
    at = app_as(Role.department, PAGE, department_id=police)
    at.selectbox(key="prop_detail").select(pid).run()
    shown = {m.label: m.value for m in at.metric}
    assert shown["決定"] == "事業化"
    assert shown["順位（素点）"] == "1位 / 24件"
    comments = next(t.value for t in at.table if "コメント" in t.value.columns)
    assert set(comments["審査担当"]) == {"審査担当A", "審査担当B", "審査担当C"}
    assert not at.exception
