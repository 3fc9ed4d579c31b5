"""AppTest: the 成果指標 page shows the seeded targets and the rules, and refuses bad entries at the field."""

import json
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from fund import clock, reference
from fund.auth import SYSTEM
from fund.db import query_df
from fund.models import Role


def _dept(engine: Engine, name: str) -> int:
    d = reference.departments(engine)
    return int(d.loc[d["name"] == name, "id"].iloc[0])


def _indicator(engine: Engine, name: str) -> int:
    return int(query_df(engine, "SELECT id FROM kpi_indicator WHERE name = :n", {"n": name})["id"].iloc[0])


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _open_tab(at: AppTest, name: str) -> AppTest:
    """Switch to a tab of the page (only the open tab runs, as in the browser)."""
    at.session_state["kpi_tab"] = name
    return at.run()


def _table(at: AppTest) -> object:
    return next(
        d.value for d in at.dataframe if "目標の種類" in d.value.columns and "事業名" in d.value.columns
    )


def test_the_page_shows_the_status_counts_and_the_rules(app_as: Callable[..., AppTest]) -> None:
    at = app_as(Role.executive, "pages/kpi.py")
    assert not at.exception
    assert at.title[0].value == "成果指標"
    for label in ("達成", "順調", "遅れ", "未計測", "未到来"):
        assert _metric(at, label).endswith("件")
    texts = " ".join(t.value for t in at.text)
    assert "80%以上100%未満" in texts and "直線で結んだ" in texts


def test_seeded_r6_and_r8_targets_appear_in_the_table_and_the_trend(
    seeded_engine: Engine, app_as: Callable[..., AppTest]
) -> None:
    at = app_as(Role.admin, "pages/kpi.py")
    table = _table(at)
    people = table[table["指標"] == "対象者数"].set_index("年度")["目標値"]
    assert people["令和6年度（2024年度）"] == "1,200" and people["令和8年度（2026年度）"] == "9,600"
    dogs = table[table["指標"] == "周南市内での苦情・目撃数"].set_index("年度")["目標値"]
    assert dogs["令和8年度（2026年度）"] == "800"
    assert dogs["令和7年度（2025年度）"] == "1,200"  # on the straight line from 1,600 to 800

    _open_tab(at, "推移（目標と実績）")
    at.selectbox(key="kpi_indicator").set_value(_indicator(seeded_engine, "対象者数")).run()
    line = next(t.value for t in at.text if t.value.startswith("目標："))
    assert "令和6年度 1,200人" in line and "令和8年度 9,600人" in line
    at.selectbox(key="kpi_indicator").set_value(_indicator(seeded_engine, "周南市内での苦情・目撃数")).run()
    line = next(t.value for t in at.text if t.value.startswith("目標："))
    assert "令和8年度 800件/年" in line and "基準値 令和6年度 1,600件/年" in line and "低いほど良い" in line


def test_the_trend_chart_uses_untruncated_wareki_labels(
    seeded_engine: Engine, app_as: Callable[..., AppTest]
) -> None:
    at = _open_tab(app_as(Role.admin, "pages/kpi.py"), "推移（目標と実績）")
    at.selectbox(key="kpi_indicator").set_value(_indicator(seeded_engine, "導入地域数")).run()
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    trend = next(s for s in specs if "導入地域数" in json.dumps(s, ensure_ascii=False))
    x = trend["encoding"]["x"]
    assert x["axis"]["labelLimit"] == 0 and x["axis"]["labelAngle"] == 0
    assert x["sort"] == ["令和6年度", "令和7年度", "令和8年度"]


def test_filters_narrow_the_table_to_one_status(app_as: Callable[..., AppTest]) -> None:
    at = app_as(Role.admin, "pages/kpi.py")
    at.selectbox(key="kpi_status").set_value("not_measured").run()
    table = _table(at)
    assert len(table) > 0 and set(table["状況"]) == {"未計測"}
    at.selectbox(key="kpi_year").set_value(2026).run()
    assert not at.exception
    assert any("条件に合う指標はありません" in i.value for i in at.info)


def test_department_staff_see_only_their_department(
    seeded_engine: Engine, app_as: Callable[..., AppTest]
) -> None:
    at = app_as(Role.department, "pages/kpi.py", department_id=_dept(seeded_engine, "健康福祉部"))
    assert not at.exception
    assert set(_table(at)["所管部局"]) == {"健康福祉部"}


def test_executives_see_no_entry_form(app_as: Callable[..., AppTest]) -> None:
    at = _open_tab(app_as(Role.executive, "pages/kpi.py"), "実績の入力")
    assert any("実績を入力できません" in i.value for i in at.info)
    assert not [b for b in at.button if b.label == "実績を保存"]


def _entry_form(seeded_engine: Engine, app_as: Callable[..., AppTest]) -> AppTest:
    at = app_as(Role.department, "pages/kpi.py", department_id=_dept(seeded_engine, "健康福祉部"))
    _open_tab(at, "実績の入力")
    at.selectbox(key="entry_indicator").set_value(_indicator(seeded_engine, "導入地域数")).run()
    return at


def _save(at: AppTest) -> AppTest:
    return next(b for b in at.button if b.label == "実績を保存").click().run()


def test_a_future_measurement_date_is_refused_at_the_field(
    seeded_engine: Engine, app_as: Callable[..., AppTest]
) -> None:
    at = _entry_form(seeded_engine, app_as)
    at.number_input(key="entry_value").set_value(9)
    at.date_input(key="entry_measured_on").set_value(clock.today_jst() + timedelta(days=3))
    at.text_input(key="entry_source").input("健康福祉部 実績報告")
    _save(at)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("未来の日付" in e for e in errors)
    assert "入力内容に誤りがあります。各項目のメッセージを確認してください。" in errors


def test_a_wrong_unit_and_a_missing_source_are_refused_at_their_fields(
    seeded_engine: Engine, app_as: Callable[..., AppTest]
) -> None:
    at = _entry_form(seeded_engine, app_as)
    ind = _indicator(seeded_engine, "導入地域数")
    at.number_input(key="entry_value").set_value(9)
    at.text_input(key=f"entry_unit_{ind}").input("か所")
    at.date_input(key="entry_measured_on").set_value(date(2026, 3, 31))
    _save(at)
    errors = [e.value for e in at.error]
    assert any("この指標の単位は「地域」です" in e for e in errors)
    assert any("出典（実績の根拠資料）を入力してください" in e for e in errors)


def test_a_valid_entry_is_saved_and_the_counts_move(
    seeded_engine: Engine, app_as: Callable[..., AppTest]
) -> None:
    at = _entry_form(seeded_engine, app_as)
    before = int(_metric(at, "未計測").removesuffix("件"))
    assert at.selectbox(key="entry_year").value == 2025  # the first year without an actual is offered
    at.number_input(key="entry_value").set_value(9)
    at.date_input(key="entry_measured_on").set_value(date(2026, 3, 31))
    at.text_input(key="entry_source").input("健康福祉部 実績報告")
    _save(at)
    assert not at.exception
    assert any("実績を保存しました" in s.value for s in at.success)
    assert int(_metric(at, "未計測").removesuffix("件")) == before - 1


def _project(engine: Engine, name: str) -> int:
    p = reference.projects(engine)
    return int(p.loc[p["name"] == name, "id"].iloc[0])


def test_department_staff_record_a_rollout_and_see_it_counted(
    seeded_engine: Engine, app_as: Callable[..., AppTest]
) -> None:
    at = app_as(Role.department, "pages/kpi.py", department_id=_dept(seeded_engine, "健康福祉部"))
    _open_tab(at, "横展開")
    assert _metric(at, "横展開の件数") == "0件"
    at.selectbox(key="rollout_project").set_value(
        _project(seeded_engine, "地域医薬品提供に係るICT活用支援事業")
    )
    at.selectbox(key="rollout_target").set_value("萩市")
    at.selectbox(key="rollout_year").set_value(2025)
    at.text_area(key="rollout_note").input("公民館にオンライン服薬指導の拠点を開設")
    next(b for b in at.button if b.label == "横展開を登録").click().run()
    assert not at.exception
    assert any("萩市への横展開を登録しました" in s.value for s in at.success)
    assert _metric(at, "横展開の件数") == "1件"
    assert _metric(at, "展開先の市町") == "1 / 19市町"


@pytest.mark.usefixtures("seeded_engine")
def test_a_rollout_without_a_year_is_refused_in_japanese(app_as: Callable[..., AppTest]) -> None:
    at = _open_tab(app_as(Role.admin, "pages/kpi.py"), "横展開")
    at.selectbox(key="rollout_target").set_value("萩市")
    next(b for b in at.button if b.label == "横展開を登録").click().run()
    assert any(e.value == "年度を選択してください。" for e in at.error)


def test_downloading_the_kpi_table_is_recorded_with_its_filters(
    seeded_engine: Engine, app_as: Callable[..., AppTest]
) -> None:
    at = app_as(Role.executive, "pages/kpi.py")
    at.selectbox(key="kpi_year").set_value(2024).run()
    button = next(b for b in at.get("download_button") if "Excel" in b.proto.label)
    button.click().run()  # type: ignore[attr-defined]
    df = query_df(seeded_engine, "SELECT actor, entity, after_values FROM audit_log WHERE action = 'export'")
    assert list(df["entity"]) == ["成果指標（xlsx）"]
    after = df["after_values"].iloc[0]
    after = after if isinstance(after, dict) else json.loads(str(after))
    assert after["filters"]["年度"] == 2024


def _many_indicators(engine: Engine, n: int) -> None:
    """n more indicators with a target each (a national-scale programme), kpi_year rebuilt."""
    from sqlalchemy import text

    from fund import kpi

    with engine.begin() as conn:
        project_id = conn.execute(text("SELECT MIN(id) FROM project")).scalar_one()
        start = conn.execute(text("SELECT MAX(id) FROM kpi_indicator")).scalar_one() + 1
        conn.execute(
            text(
                "INSERT INTO kpi_indicator (id, project_id, kind, name, unit, direction, perspectives, source_note)"
                " VALUES (:id, :p, 'outcome', :name, '件', 'higher', '[2]', '')"
            ),
            [{"id": start + i, "p": project_id, "name": f"大量指標{i:05d}"} for i in range(n)],
        )
        conn.execute(
            text("INSERT INTO kpi_target (indicator_id, fiscal_year, target_value) VALUES (:i, 2025, 10)"),
            [{"i": start + i} for i in range(n)],
        )
        kpi.refresh_years(conn)


def test_a_large_programme_shows_a_thousand_rows_and_finds_indicators_by_name(
    app_as: Callable[..., AppTest], seeded_engine: Engine
) -> None:
    from fund import kpi

    _many_indicators(seeded_engine, 2_100)
    total = sum(kpi.status_counts(seeded_engine, actor=SYSTEM).values())
    at = app_as(Role.admin, "pages/kpi.py")
    assert not at.exception
    assert len(_table(at)) == 1_000  # type: ignore[arg-type]
    assert any(f"全 {total:,} 件" in i.value for i in at.info)
    # 実績の入力: too many indicators for one list, so the list follows a search.
    _open_tab(at, "実績の入力")
    at.text_input(key="entry_search").input("大量指標0209").run()
    assert not at.exception
    options = at.selectbox(key="entry_indicator").options
    assert len(options) == 10 and all("大量指標0209" in o for o in options)  # 02090 … 02099


def test_only_the_open_tab_runs(app_as: Callable[..., AppTest]) -> None:
    at = app_as(Role.admin, "pages/kpi.py")
    keys = {w.key for w in at.selectbox}
    assert "kpi_year" in keys and not keys & {"kpi_indicator", "kpi_rollup_year", "entry_indicator"}
    at = _open_tab(at, "観点別の集計")
    keys = {w.key for w in at.selectbox}
    assert "kpi_rollup_year" in keys and "entry_indicator" not in keys
