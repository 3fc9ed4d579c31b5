"""AppTest: the 審査・採点 page for screeners, executives and administrators on the seeded database."""

import io
from collections.abc import Callable

import pandas as pd
import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from fund import auth, screening
from fund.auth import Actor
from fund.db import query_df
from fund.models import Role
from tests.conftest import make_actor
from tests.ui.conftest import press, signed_in_app
from tests.ui.test_safety import BOLD, PAYLOADS, hostile, markdown_texts  # noqa: F401 (fixture)
from ui import widgets

PAGE = "pages/screening.py"


def _button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def _open_tab(at: AppTest, label: str) -> AppTest:
    """Switch to a tab: only the open tab's content runs (as when the user clicks it)."""
    at.session_state["screening_tab"] = label
    return at.run()


@pytest.fixture
def assigned_screener(seeded_engine: Engine, admin: Actor) -> tuple[Actor, int]:
    """A 審査担当 in 総合企画部 assigned to one 警察本部 proposal of the seeded sample round."""
    user = auth.create_user(
        seeded_engine,
        actor=admin,
        login="yamada",
        role=Role.screener,
        password=None,
        display_name="山田",
        department_name="総合企画部",
    )
    round_id = int(screening.rounds(seeded_engine)["id"].iloc[0])
    proposal_id = int(
        screening.round_proposals(seeded_engine, round_id=round_id)
        .query("project == '映像解析等支援システム事業'")["id"]
        .iloc[0]
    )
    screening.assign_reviewers(
        seeded_engine, actor=admin, round_id=round_id, proposal_ids=[proposal_id], reviewer_ids=[user.id or 0]
    )
    assignment = screening.my_queue(
        seeded_engine, actor=make_actor(Role.screener, login="yamada"), round_id=round_id
    )
    return make_actor(Role.screener, login="yamada"), int(assignment["assignment_id"].iloc[0])


def test_executive_sees_results_and_sensitivity_but_no_scoring(app_as: Callable[..., AppTest]) -> None:
    at = app_as(Role.executive, PAGE)
    assert not at.exception
    assert [t.label for t in at.tabs] == ["結果", "感度分析", "確定"]
    assert any("サンプル" in w.value for w in at.warning)
    ranking = at.dataframe[0].value
    assert len(ranking) == 24
    assert {"加重合計（素点）", "加重合計（補正後）", "順位（補正後）"} <= set(ranking.columns)
    assert not [b for b in at.button if b.label == "採点を保存"]


def test_a_screener_without_assignments_sees_an_empty_queue(app_as: Callable[..., AppTest]) -> None:
    at = app_as(Role.screener, PAGE)
    assert not at.exception
    assert [t.label for t in at.tabs] == ["自分の審査", "結果", "感度分析", "設定", "確定"]
    assert any("自分に割り当てられた提案はありません" in i.value for i in at.info)


def test_saving_without_scores_shows_a_japanese_error_per_perspective_then_saves(
    seeded_engine: Engine, assigned_screener: tuple[Actor, int]
) -> None:
    actor, assignment_id = assigned_screener
    at = signed_in_app(actor, PAGE)
    assert not at.exception
    assert at.metric[0].value == "0 / 1 件"
    _button(at, "採点を保存").click().run()
    assert [e.value for e in at.error] == [
        "「多くの人が利用する」の点数を1〜5の整数で選んでください。",
        "「ひとりが頻繁に利用する」の点数を1〜5の整数で選んでください。",
        "「面倒な手続をデジタル化する」の点数を1〜5の整数で選んでください。",
        "「興味・関心を喚起する画期性」の点数を1〜5の整数で選んでください。",
    ]
    assert (
        query_df(
            seeded_engine,
            "SELECT COUNT(*) AS n FROM review_score WHERE assignment_id = :a",
            {"a": assignment_id},
        )["n"].iloc[0]
        == 0
    )
    radio = at.radio(key=f"score_{assignment_id}_1")
    assert radio.options[4] == "5点：県民の大多数が利用しうる（10万人以上）"  # the anchored description
    for p, score in zip((1, 2, 3, 4), (5, 4, 3, 2), strict=True):
        at.radio(key=f"score_{assignment_id}_{p}").set_value(score)
    at.text_area(key=f"comment_{assignment_id}_1").input("県内全域の警察署で利用")
    _button(at, "採点を保存").click().run()
    assert not at.error
    assert at.success[0].value == "「映像解析等支援システム事業」の採点を保存しました（4観点を更新）。"
    assert at.metric[0].value == "1 / 1 件"
    assert screening.assignment_scores(seeded_engine, actor=actor, assignment_id=assignment_id) == {
        1: (5, "県内全域の警察署で利用"),
        2: (4, ""),
        3: (3, ""),
        4: (2, ""),
    }


@pytest.mark.usefixtures("seeded_engine")
def test_a_declared_conflict_needs_a_reason_and_then_blocks_scoring(
    assigned_screener: tuple[Actor, int],
) -> None:
    actor, assignment_id = assigned_screener
    at = signed_in_app(actor, PAGE)
    _button(at, "申し出て除斥する").click().run()
    assert [e.value for e in at.error] == ["利益相反の理由を500文字以内で入力してください。"]
    at.text_area(key=f"conflict_reason_{assignment_id}").input("委託先候補に前職の同僚がいる")
    _button(at, "申し出て除斥する").click().run()
    assert at.success[0].value == "「映像解析等支援システム事業」の審査から除斥しました。"
    assert any("除斥されています（理由: 委託先候補に前職の同僚がいる）" in w.value for w in at.warning)
    assert not [b for b in at.button if b.label == "採点を保存"]
    # Nothing left to score: said in words, not 「0 / 0 件」 under a full progress bar.
    assert "割り当てられた提案 1件 はすべて除斥されているため、採点する提案はありません。" in [
        i.value for i in at.info
    ]
    assert not [m for m in at.metric if m.value == "0 / 0 件"]


def test_results_filters_narrow_the_ranking(app_as: Callable[..., AppTest]) -> None:
    at = app_as(Role.executive, PAGE)
    at.multiselect(key="res_depts").set_value(["警察本部"]).run()
    ranking = at.dataframe[0].value
    assert set(ranking["所管部局"]) == {"警察本部"}
    assert 0 < len(ranking) < 24
    at.text_input(key="res_search").input("該当なしの事業名").run()
    assert any("表示できる採点結果はありません" in i.value for i in at.info)


def test_sensitivity_tab_counts_robust_and_borderline(app_as: Callable[..., AppTest]) -> None:
    at = _open_tab(app_as(Role.executive, PAGE), "感度分析")
    metrics = {m.label: m.value for m in at.metric}
    robust = int(metrics["安定（区分が変わらない）"].split()[0])
    borderline = int(metrics["境界（区分が変わりうる）"].split()[0])
    assert robust + borderline == 24
    at.slider(key="sens_step").set_value(1).run()
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["境界（区分が変わりうる）"].split()[0]) <= borderline


def test_weights_not_summing_to_100_are_refused_on_the_settings_tab(app_as: Callable[..., AppTest]) -> None:
    at = _open_tab(app_as(Role.admin, PAGE), "設定")
    round_id = at.selectbox(key="round").value
    at.number_input(key=f"rubric_w1_{round_id}").set_value(35)
    _button(at, "新しい版として保存").click().run()
    assert [e.value for e in at.error] == ["重みの合計は100%にしてください（現在の合計は110%です）。"]
    at.number_input(key=f"rubric_w2_{round_id}").set_value(15)
    _button(at, "新しい版として保存").click().run()
    # the seeded round is scored: its rubric is fixed unless the 管理者 gives a reason
    assert [e.value for e in at.error] == [
        "採点開始後に評価基準を改める理由を500文字以内で入力してください。"
    ]
    at.text_input(key=f"rubric_reason_{round_id}").input("県議会の指摘で到達範囲を重視する")
    _button(at, "新しい版として保存").click().run()
    assert not at.error
    assert at.success[0].value == "評価基準の第2版を保存しました。"
    assert "重み: 多くの人が利用する 35% / ひとりが頻繁に利用する 15%" in at.caption[0].value


def test_an_administrator_assigns_a_reviewer_and_same_department_is_recused(
    seeded_engine: Engine, app_as: Callable[..., AppTest], admin: Actor
) -> None:
    user = auth.create_user(
        seeded_engine,
        actor=admin,
        login="keisatsu",
        role=Role.screener,
        password=None,
        department_name="警察本部",
    )
    at = _open_tab(app_as(Role.admin, PAGE), "設定")
    round_id = at.selectbox(key="round").value
    proposals = screening.round_proposals(seeded_engine, round_id=round_id)
    police = proposals[proposals["department"] == "警察本部"]["id"].tolist()
    at.multiselect(key="assign_p").set_value(police[:2])
    at.multiselect(key="assign_r").set_value([user.id])
    _button(at, "割り当てる").click().run()
    assert at.success[0].value == "2件を割り当てました（うち自動除斥 2件、割当済みのため省略 0件）。"


def test_only_the_open_tab_runs_and_its_filters_survive_a_tab_switch(app_as: Callable[..., AppTest]) -> None:
    at = app_as(Role.executive, PAGE)
    labels = {m.label for m in at.metric}
    assert "表示中の提案" in labels and "安定（区分が変わらない）" not in labels
    at.text_input(key="res_search").input("デジタル").run()
    narrowed = len(at.dataframe[0].value)
    assert 0 < narrowed < 24
    _open_tab(at, "感度分析")
    labels = {m.label for m in at.metric}
    assert "安定（区分が変わらない）" in labels and "表示中の提案" not in labels
    _open_tab(at, "結果")
    assert at.text_input(key="res_search").value == "デジタル"
    assert len(at.dataframe[0].value) == narrowed


def test_a_long_ranking_shows_its_first_rows_says_so_and_the_download_has_every_row(
    seeded_engine: Engine, app_as: Callable[..., AppTest], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(widgets, "DISPLAY_LIMIT", 10)
    at = app_as(Role.executive, PAGE)
    assert not at.exception
    ranking = at.dataframe[0].value
    assert len(ranking) == 10
    assert list(ranking["順位（素点）"]) == sorted(ranking["順位（素点）"])
    notices = [i.value for i in at.info]
    assert "先頭 10 件を表示しています（全 24 件）。すべての行はダウンロードしてください。" in notices
    assert {m.label: m.value for m in at.metric}["表示中の提案"] == "24 件"
    round_id = at.selectbox(key="round").value
    csv = screening.export_results(
        seeded_engine,
        actor=make_actor(Role.executive),
        round_id=round_id,
        filters=screening.ResultFilters(),
        fmt="csv",
    )
    assert len(pd.read_csv(io.BytesIO(csv), encoding="utf-8-sig")) == 24
    assert [b.label for b in at.download_button] == ["Excelで保存", "CSVで保存"]

    _open_tab(at, "感度分析")
    assert len(at.dataframe[0].value) == 10
    assert "先頭 10 件を表示しています（全 24 件）。すべての行はダウンロードしてください。" in [
        i.value for i in at.info
    ]
    assert [b.label for b in at.download_button] == ["Excelで保存", "CSVで保存"]


def test_a_short_ranking_shows_every_row_without_a_notice(app_as: Callable[..., AppTest]) -> None:
    at = app_as(Role.executive, PAGE)
    assert len(at.dataframe[0].value) == 24
    assert not [i for i in at.info if "件を表示しています" in i.value]


def test_the_settings_tab_narrows_the_proposals_to_assign_and_lists_assignments(
    seeded_engine: Engine, admin: Actor, app_as: Callable[..., AppTest], monkeypatch: pytest.MonkeyPatch
) -> None:
    auth.create_user(seeded_engine, actor=admin, login="kimura", role=Role.screener, password=None)
    monkeypatch.setattr(widgets, "DISPLAY_LIMIT", 5)
    at = _open_tab(app_as(Role.admin, PAGE), "設定")
    assert not at.exception
    assert len(at.multiselect(key="assign_p").options) == 5
    assert any(i.value.startswith("先頭 5 件を表示しています") for i in at.info)
    at.selectbox(key="assign_dept").set_value("警察本部").run()
    options = at.multiselect(key="assign_p").options
    assert options and all("（警察本部）" in o for o in options)
    assignments = at.dataframe[1].value
    assert len(assignments) == 5 and list(assignments.columns)[:3] == ["事業名", "所管部局", "審査担当"]
    at.text_input(key="assign_search").input("該当なしの事業名").run()
    assert "絞り込み条件に合う提案はありません。" in [i.value for i in at.info]


@pytest.mark.usefixtures("hostile")
def test_no_tab_renders_user_text_as_markdown() -> None:
    at = signed_in_app(Actor(login="test_admin", role=Role.admin, display_name=BOLD), PAGE)
    for name in ("自分の審査", "結果", "感度分析", "設定"):
        _open_tab(at, name)
        assert not at.exception
        leaked = [t for t in markdown_texts(at) for p in PAYLOADS if p in t]
        assert leaked == []


def test_an_executive_decides_the_round_on_the_decision_tab_and_it_is_frozen(
    seeded_engine: Engine, app_as: Callable[..., AppTest]
) -> None:
    at = _open_tab(app_as(Role.executive, PAGE), "確定")
    assert any("まだ確定していません" in i.value for i in at.info)
    _button(at, "審査結果を確定する").click().run()
    stored = query_df(seeded_engine, "SELECT content_hash FROM screening_decision")["content_hash"].tolist()
    assert len(stored) == 1 and len(stored[0]) == 64
    at = _open_tab(at, "確定")
    assert f"内容のハッシュ（SHA-256）: {stored[0]}" in [t.value for t in at.text]
    assert {m.label: m.value for m in at.metric}["対象の提案"] == "24 件"
    assert not [b for b in at.button if b.label == "審査結果を確定する"]


def test_a_screener_sees_the_decision_tab_but_cannot_decide(app_as: Callable[..., AppTest]) -> None:
    at = _open_tab(app_as(Role.screener, PAGE), "確定")
    assert "確定は幹部または管理者が行います。" in [c.value for c in at.caption]
    assert not at.exception


def _decided(seeded_engine: Engine) -> int:
    round_id = int(screening.rounds(seeded_engine)["id"].iloc[0])
    screening.decide_round(seeded_engine, actor=make_actor(Role.executive), round_id=round_id)
    return round_id


def test_the_decision_tab_offers_the_appendix_as_pdf_and_excel(
    seeded_engine: Engine, app_as: Callable[..., AppTest]
) -> None:
    """The files are built when the browser fetches them (the browser test opens the PDF)."""
    round_id = _decided(seeded_engine)
    at = _open_tab(app_as(Role.executive, PAGE), "確定")
    assert [b.label for b in at.download_button] == ["決裁資料（PDF）", "決裁資料（Excel）"]
    assert not at.download_button(key=f"appendix_{round_id}_pdf").disabled
    assert not at.exception


def test_screeners_read_the_reviewers_comments_beside_the_results(
    seeded_engine: Engine, app_as: Callable[..., AppTest]
) -> None:
    round_id = int(screening.rounds(seeded_engine)["id"].iloc[0])
    at = _open_tab(app_as(Role.screener, PAGE), "結果")
    box = at.selectbox(key=f"res_comments_{round_id}")
    first = query_df(
        seeded_engine,
        "SELECT pr.id FROM proposal pr JOIN project p ON p.id = pr.project_id"
        " WHERE p.name = '映像解析等支援システム事業' AND pr.fiscal_year = 2024",
    )
    at = box.select(int(first["id"].iloc[0])).run()
    table = next(t.value for t in at.table if "コメント" in t.value.columns)
    assert len(table) == 12  # three sample screeners × four perspectives
    assert set(table["審査担当"]) == set(
        query_df(seeded_engine, "SELECT display_name FROM app_user WHERE login LIKE 'sample_screener_%'")[
            "display_name"
        ]
    )


def test_the_manager_sets_the_review_rules_with_a_reason(
    seeded_engine: Engine, app_as: Callable[..., AppTest]
) -> None:
    at = _open_tab(app_as(Role.admin, PAGE), "確定")
    assert "審査ルール: 採択に必要な審査数 2件以上・部局へのフィードバックに審査担当の氏名を表示しない" in [
        c.value for c in at.caption
    ]
    at.number_input[0].set_value(3)
    at = press(at, "審査ルールを保存する")
    assert [e.value for e in at.error] == ["審査ルールを変える理由を500文字以内で入力してください。"]
    at.text_input[0].input("重点審査のため")
    at = press(at, "審査ルールを保存する")
    at = _open_tab(at, "確定")
    assert "審査ルール: 採択に必要な審査数 3件以上・部局へのフィードバックに審査担当の氏名を表示しない" in [
        c.value for c in at.caption
    ]
    screener = _open_tab(app_as(Role.screener, PAGE), "確定")
    assert not [b for b in screener.button if b.label == "審査ルールを保存する"]


def test_a_new_round_is_offered_first_on_the_settings_tab(app_as: Callable[..., AppTest]) -> None:
    at = _open_tab(app_as(Role.admin, PAGE), "設定")
    assert at.expander[0].label == "新しい審査ラウンドを作る"
    assert at.selectbox(key="new_round_year") in at.expander[0].selectbox
