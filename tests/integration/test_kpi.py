"""成果指標 services on the seeded database: entry of actuals, scoping, audit, roll-up, 未報告,
横展開 and the review-sheet export. Expected figures are computed here from the CSV files in data/."""

import csv
import io
import json
from datetime import date

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import Engine

from fund import clock, kpi, proposals, reference, rollout
from fund.auth import SYSTEM, Actor
from fund.db import query_df
from fund.errors import InputInvalid, NotFound, PermissionDenied, RuleViolation
from fund.export import record_export
from fund.models import KpiStatus, ProposalStatus, Role
from tests.conftest import ROOT, make_actor, make_proposal, reviewed_by_two

TODAY = date(2026, 11, 22)  # 令和7年度 has ended; 令和8年度 is running
DATA = ROOT / "data"


def _csv(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _dept_id(engine: Engine, name: str) -> int:
    depts = reference.departments(engine)
    return int(depts.loc[depts["name"] == name, "id"].iloc[0])


def _indicator_id(engine: Engine, name: str) -> int:
    df = query_df(engine, "SELECT id FROM kpi_indicator WHERE name = :n", {"n": name})
    return int(df["id"].iloc[0])


def _audit_rows(engine: Engine, action: str) -> list[dict[str, object]]:
    df = query_df(
        engine,
        "SELECT actor, entity_id, before_values, after_values FROM audit_log WHERE action = :a ORDER BY id",
        {"a": action},
    )
    return df.to_dict("records")


def _json(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else json.loads(str(value))


def _health(engine: Engine) -> Actor:
    return make_actor(Role.department, login="health_staff", department_id=_dept_id(engine, "健康福祉部"))


def _entry(engine: Engine, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "indicator_id": _indicator_id(engine, "導入地域数"),
        "fiscal_year": 2025,
        "actual_value": 9,
        "unit": "地域",
        "measured_on": date(2026, 3, 31),
        "source": "健康福祉部 事業実績報告",
    }
    return data | overrides


def _row(engine: Engine, indicator: str, year: int) -> dict[str, object]:
    df = kpi.kpi_frame(engine, actor=SYSTEM, today=TODAY)
    hit = df[(df["indicator"] == indicator) & (df["fiscal_year"] == year)]
    assert len(hit) == 1
    return dict(hit.iloc[0])


# --- entry -------------------------------------------------------------------------------------------


def test_department_staff_enter_an_actual_and_the_status_changes(seeded_engine: Engine) -> None:
    actor = _health(seeded_engine)
    assert _row(seeded_engine, "導入地域数", 2025)["status"] == KpiStatus.not_measured
    kpi.enter_actual(seeded_engine, actor=actor, data=_entry(seeded_engine), today=TODAY)
    row = _row(seeded_engine, "導入地域数", 2025)
    assert row["actual_value"] == 9
    assert row["status"] == KpiStatus.achieved  # 9 on the 2 → 16 path at R7
    assert row["entered_by"] == "health_staff"
    assert not row["is_sample"]


def test_an_entry_is_audited_with_the_values_after(seeded_engine: Engine) -> None:
    kpi.enter_actual(seeded_engine, actor=_health(seeded_engine), data=_entry(seeded_engine), today=TODAY)
    (row,) = _audit_rows(seeded_engine, "kpi_actual.create")
    assert row["actor"] == "health_staff"
    assert row["before_values"] is None
    after = _json(row["after_values"])
    assert (
        after["actual_value"] == 9 and after["fiscal_year"] == 2025 and after["measured_on"] == "2026-03-31"
    )


def test_a_second_entry_for_the_same_year_updates_the_row_and_audits_before_and_after(
    seeded_engine: Engine,
) -> None:
    actor = _health(seeded_engine)
    ind = _indicator_id(seeded_engine, "対象者数")
    count = "SELECT COUNT(*) AS n FROM kpi_actual WHERE indicator_id = :i AND fiscal_year = 2024"
    assert int(query_df(seeded_engine, count, {"i": ind})["n"].iloc[0]) == 1  # the sample actual, 1,050人
    kpi.enter_actual(
        seeded_engine,
        actor=actor,
        data=_entry(
            seeded_engine,
            indicator_id=ind,
            fiscal_year=2024,
            actual_value=1210,
            unit="人",
            measured_on=date(2025, 4, 30),
        ),
        today=TODAY,
    )
    assert int(query_df(seeded_engine, count, {"i": ind})["n"].iloc[0]) == 1
    row = _row(seeded_engine, "対象者数", 2024)
    assert row["actual_value"] == 1210 and row["status"] == KpiStatus.achieved and not row["is_sample"]
    (audit_row,) = _audit_rows(seeded_engine, "kpi_actual.update")
    before = _json(audit_row["before_values"])
    after = _json(audit_row["after_values"])
    assert before["actual_value"] == 1050 and before["is_sample"] is True
    assert after["actual_value"] == 1210 and after["is_sample"] is False


def test_department_staff_cannot_enter_for_another_department(seeded_engine: Engine) -> None:
    before = len(_audit_rows(seeded_engine, "kpi_actual.create"))
    dog = _indicator_id(seeded_engine, "捕獲システムでの野犬捕獲頭数")
    with pytest.raises(PermissionDenied, match="自部局"):
        kpi.enter_actual(
            seeded_engine,
            actor=_health(seeded_engine),
            data=_entry(seeded_engine, indicator_id=dog, unit="頭/年"),
            today=TODAY,
        )
    assert len(_audit_rows(seeded_engine, "kpi_actual.create")) == before
    assert _row(seeded_engine, "捕獲システムでの野犬捕獲頭数", 2025)["status"] == KpiStatus.not_measured


@pytest.mark.parametrize("role", [Role.executive, Role.screener])
def test_executives_and_screeners_cannot_enter_actuals(seeded_engine: Engine, role: Role) -> None:
    with pytest.raises(PermissionDenied, match="成果指標の実績入力"):
        kpi.enter_actual(seeded_engine, actor=make_actor(role), data=_entry(seeded_engine), today=TODAY)


def test_the_administrator_may_enter_for_any_department(seeded_engine: Engine) -> None:
    dog = _indicator_id(seeded_engine, "捕獲システムでの野犬捕獲頭数")
    kpi.enter_actual(
        seeded_engine,
        actor=make_actor(Role.admin),
        data=_entry(seeded_engine, indicator_id=dog, unit="頭/年", actual_value=90),
        today=TODAY,
    )
    assert (
        _row(seeded_engine, "捕獲システムでの野犬捕獲頭数", 2025)["status"] == KpiStatus.achieved
    )  # path 85頭


def _refused(engine: Engine, **overrides: object) -> dict[str, str]:
    with pytest.raises(InputInvalid) as info:
        kpi.enter_actual(engine, actor=_health(engine), data=_entry(engine, **overrides), today=TODAY)
    assert pd.isna(_row(engine, "導入地域数", 2025)["actual_value"])  # nothing saved
    return info.value.field_errors


def test_a_measurement_date_in_the_future_is_refused(seeded_engine: Engine) -> None:
    errors = _refused(seeded_engine, measured_on=date(2026, 11, 23))
    assert "未来の日付" in errors["measured_on"] and "2026年11月23日" in errors["measured_on"]


def test_a_measurement_date_before_the_year_began_is_refused(seeded_engine: Engine) -> None:
    errors = _refused(seeded_engine, measured_on=date(2025, 3, 31))
    assert "2025年04月01日" in errors["measured_on"]


def test_a_unit_other_than_the_indicators_is_refused_naming_the_right_unit(seeded_engine: Engine) -> None:
    errors = _refused(seeded_engine, unit="か所")
    assert "「地域」" in errors["unit"]


def test_an_unregistered_year_is_refused(seeded_engine: Engine) -> None:
    errors = _refused(seeded_engine, fiscal_year=2035, measured_on=date(2026, 1, 5))
    assert "令和17年度" in errors["fiscal_year"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("actual_value", "たくさん"),
        ("actual_value", None),
        ("actual_value", -1),
        ("source", "  "),
        ("source", ""),
    ],
)
def test_missing_or_non_numeric_input_is_refused_at_the_field(
    seeded_engine: Engine, field: str, value: object
) -> None:
    errors = _refused(seeded_engine, **{field: value})
    assert field in errors


def test_an_unknown_indicator_is_not_found(seeded_engine: Engine) -> None:
    with pytest.raises(NotFound):
        kpi.enter_actual(
            seeded_engine,
            actor=make_actor(Role.admin),
            data=_entry(seeded_engine, indicator_id=999_999),
            today=TODAY,
        )


def test_department_staff_are_offered_only_their_own_indicators(seeded_engine: Engine) -> None:
    choices = kpi.entry_choices(seeded_engine, actor=_health(seeded_engine))
    assert set(choices["indicator"]) == {"導入地域数", "対象者数"}
    assert len(kpi.entry_choices(seeded_engine, actor=make_actor(Role.admin))) == len(
        _csv("kpi_indicators.csv")
    )


# --- statuses on the seeded data ------------------------------------------------------------------------


def test_seeded_targets_of_r6_and_r8_are_in_the_frame(seeded_engine: Engine) -> None:
    df = kpi.kpi_frame(seeded_engine, actor=SYSTEM, today=TODAY)
    own = df[~df["target_on_path"]]
    got = {(r.indicator, int(r.fiscal_year)): r.target_value for r in own.itertuples()}
    seeded = _csv("kpi_targets.csv")
    assert len(seeded) == 21 and len(got) >= len(seeded)  # data/kpi_targets.csv has 21 targets
    for t in seeded:
        name = next(i["name"] for i in _csv("kpi_indicators.csv") if i["key"] == t["indicator"])
        assert got[(name, int(t["fiscal_year"]))] == float(t["target_value"])


def test_a_target_year_still_running_is_not_due_and_not_overdue(seeded_engine: Engine) -> None:
    row = _row(seeded_engine, "対象者数", 2026)
    assert row["status"] == KpiStatus.not_due and row["target_value"] == 9600
    late = kpi.overdue_frame(seeded_engine, actor=SYSTEM, today=TODAY)
    assert late[late["fiscal_year"] == 2026].empty


def test_the_overdue_list_holds_every_ended_year_without_an_actual(seeded_engine: Engine) -> None:
    indicators = {i["key"]: i for i in _csv("kpi_indicators.csv")}
    targets: dict[str, list[int]] = {}
    for t in _csv("kpi_targets.csv"):
        targets.setdefault(t["indicator"], []).append(int(t["fiscal_year"]))
    actuals = {(a["indicator"], int(a["fiscal_year"])) for a in _csv("kpi_actuals.csv")}
    expected = set()
    for key, ind in indicators.items():
        first = min(targets[key])
        if ind["baseline_year"]:
            first = min(first, int(ind["baseline_year"]) + 1)
        for year in range(first, max(targets[key]) + 1):
            if date(year + 1, 3, 31) < TODAY and (key, year) not in actuals:
                expected.add((ind["name"], year))
    late = kpi.overdue_frame(seeded_engine, actor=SYSTEM, today=TODAY)
    assert set(zip(late["indicator"], late["fiscal_year"].astype(int), strict=True)) == expected
    assert ("導入地域数", 2025) in expected  # the interim year between the R6 and R8 targets
    assert (late["days_overdue"] > 0).all()


def test_the_overdue_list_of_a_department_holds_only_its_indicators(seeded_engine: Engine) -> None:
    late = kpi.overdue_frame(
        seeded_engine, actor=SYSTEM, department_id=_dept_id(seeded_engine, "健康福祉部"), today=TODAY
    )
    assert set(late["department"]) == {"健康福祉部"}
    assert set(late["indicator"]) == {"導入地域数", "対象者数"}


def test_once_a_year_ends_its_missing_actuals_become_overdue(seeded_engine: Engine) -> None:
    late = kpi.overdue_frame(seeded_engine, actor=SYSTEM, today=date(2027, 4, 1))
    assert ("対象者数", 2026) in set(zip(late["indicator"], late["fiscal_year"].astype(int), strict=True))


def test_lower_is_better_seeded_indicator_is_judged_against_the_baseline_in_r6(seeded_engine: Engine) -> None:
    row = _row(seeded_engine, "周南市内での苦情・目撃数", 2024)
    assert row["target_value"] == 1600 and row["target_on_path"]
    assert row["status"] == KpiStatus.achieved  # sample actual 1,480件 ≤ 1,600件
    assert _row(seeded_engine, "周南市内での苦情・目撃数", 2025)["target_value"] == pytest.approx(1200)


# --- roll-up --------------------------------------------------------------------------------------------


def test_the_portfolio_roll_up_matches_the_seed_files(seeded_engine: Engine) -> None:
    funded = {(a["project"], int(a["fiscal_year"])) for a in _csv("allocations.csv")}
    props = [p for p in _csv("proposals.csv") if (p["project"], int(p["fiscal_year"])) in funded]
    p24 = [p for p in props if p["fiscal_year"] == "2024"]
    users = sum(int(p["expected_users"]) for p in p24)
    touch = sum(int(p["expected_users"]) * float(p["uses_per_user_per_year"]) for p in p24)
    hours = sum(int(p["procedures_per_year"]) * float(p["minutes_saved_per_procedure"]) for p in p24) / 60
    novel = sum(1 for p in p24 if p["novelty"] in ("national_first", "prefecture_first"))

    indicators = {i["key"]: i for i in _csv("kpi_indicators.csv")}
    reach_keys = [
        k for k, i in indicators.items() if "1" in i["perspectives"].split(";") and i["unit"] == "人"
    ]
    reach_target = sum(
        float(t["target_value"])
        for t in _csv("kpi_targets.csv")
        if t["indicator"] in reach_keys and t["fiscal_year"] == "2024"
    )
    reach_actual = sum(
        float(a["actual_value"])
        for a in _csv("kpi_actuals.csv")
        if a["indicator"] in reach_keys and a["fiscal_year"] == "2024"
    )
    projects_with_reach = [indicators[k]["project"] for k in reach_keys]
    assert len(projects_with_reach) == len(set(projects_with_reach))  # one such indicator per project

    by_year = kpi.portfolio_by_year(seeded_engine, today=TODAY)
    r24 = by_year[by_year["fiscal_year"] == 2024].iloc[0]
    assert r24["funded_projects"] == len({p for p, y in funded if y == 2024})
    assert r24["expected_users"] == users
    assert r24["touchpoints"] == pytest.approx(touch)
    assert r24["hours_saved"] == pytest.approx(hours)
    assert r24["novel_projects"] == novel
    assert r24["reach_target"] == pytest.approx(reach_target)
    assert r24["reach_actual"] == pytest.approx(reach_actual)

    per = kpi.perspective_rollup(seeded_engine, fiscal_year=2024, today=TODAY).set_index("perspective")
    assert per.loc[1, "measure_value"] == users
    assert per.loc[2, "measure_value"] == pytest.approx(touch)
    assert per.loc[3, "measure_value"] == pytest.approx(hours)
    assert per.loc[4, "measure_value"] == novel


def test_the_share_of_projects_on_track_counts_projects_with_no_indicator_behind(
    seeded_engine: Engine,
) -> None:
    # R6 actuals in the seed files, judged by hand: a project is behind if any rate < 80%.
    indicators = {i["key"]: i for i in _csv("kpi_indicators.csv")}
    targets = {
        (t["indicator"], int(t["fiscal_year"])): float(t["target_value"]) for t in _csv("kpi_targets.csv")
    }
    behind: dict[str, bool] = {}
    for a in _csv("kpi_actuals.csv"):
        if a["fiscal_year"] != "2024":
            continue
        ind = indicators[a["indicator"]]
        actual = float(a["actual_value"])
        if (a["indicator"], 2024) in targets:
            target = targets[(a["indicator"], 2024)]
        else:  # on the straight line from the baseline to the only target
            (ty, tv) = next((y, v) for (k, y), v in targets.items() if k == a["indicator"])
            by, bv = int(ind["baseline_year"]), float(ind["baseline_value"])
            target = bv + (tv - bv) * (2024 - by) / (ty - by)
        if ind["direction"] == "lower":
            base = float(ind["baseline_value"]) if ind["baseline_value"] else None
            rate = (base - actual) / (base - target) if base and base > target else target / actual
        else:
            rate = actual / target
        behind[ind["project"]] = behind.get(ind["project"], False) or rate < 0.8
    by_year = kpi.portfolio_by_year(seeded_engine, today=TODAY)
    r24 = by_year[by_year["fiscal_year"] == 2024].iloc[0]
    assert r24["projects_judged"] == len(behind)
    assert r24["projects_on_track"] == sum(1 for b in behind.values() if not b)
    assert r24["on_track_share"] == pytest.approx(r24["projects_on_track"] / r24["projects_judged"])


def test_perspective_status_counts_add_up_to_the_indicator_years_evidencing_it(seeded_engine: Engine) -> None:
    df = kpi.kpi_frame(seeded_engine, actor=SYSTEM, today=TODAY)
    per = kpi.perspective_rollup(seeded_engine, today=TODAY).set_index("perspective")
    for p in (1, 2, 3, 4):
        n = sum(1 for ps in df["perspectives"] if p in ps)
        assert sum(int(per.loc[p, s.value]) for s in KpiStatus) == n


# --- 横展開 -------------------------------------------------------------------------------------------


def _project_id(engine: Engine, name: str) -> int:
    projects = reference.projects(engine)
    return int(projects.loc[projects["name"] == name, "id"].iloc[0])


def test_seeded_rollouts_match_the_file_and_sample_rows_are_marked(seeded_engine: Engine) -> None:
    rows = _csv("rollouts.csv")
    df = rollout.rollout_frame(seeded_engine, actor=make_actor(Role.admin))
    assert len(df) == len(rows)
    assert int(df["is_sample"].sum()) == sum(1 for r in rows if r["is_sample"] == "true")
    per_city = rollout.rollout_by_municipality(seeded_engine, actor=make_actor(Role.admin)).set_index(
        "municipality"
    )["projects"]
    assert len(per_city) == 19
    for city in rollout.MUNICIPALITIES:
        assert per_city[city] == len({r["project"] for r in rows if r["target"] == city})
    per_project = rollout.rollout_by_project(seeded_engine, actor=make_actor(Role.admin)).set_index("project")
    for name in {r["project"] for r in rows}:
        assert per_project.loc[name, "rollouts"] == sum(1 for r in rows if r["project"] == name)


def test_department_staff_see_only_their_own_departments_rollouts_in_every_view(
    seeded_engine: Engine,
) -> None:
    health = _health(seeded_engine)
    project = _project_id(seeded_engine, "地域医薬品提供に係るICT活用支援事業")
    rollout.record_rollout(
        seeded_engine,
        actor=health,
        entry=rollout.validate_rollout(
            {"project_id": project, "target": "光市", "fiscal_year": 2025, "note": "拠点を開設"}
        ),
    )
    seeded = _csv("rollouts.csv")
    assert all(r["target"] != "光市" for r in seeded)  # so 光市 counts only the new rollout
    frame = rollout.rollout_frame(seeded_engine, actor=health)
    assert list(frame["project"]) == ["地域医薬品提供に係るICT活用支援事業"]
    assert list(rollout.rollout_by_project(seeded_engine, actor=health)["project"]) == [
        "地域医薬品提供に係るICT活用支援事業"
    ]
    per_city = rollout.rollout_by_municipality(seeded_engine, actor=health).set_index("municipality")[
        "projects"
    ]
    assert per_city["光市"] == 1 and int(per_city.sum()) == 1
    everyone = rollout.rollout_frame(seeded_engine, actor=make_actor(Role.admin))
    assert len(everyone) == len(seeded) + 1


def test_department_staff_record_a_rollout_of_their_project_with_audit(seeded_engine: Engine) -> None:
    project = _project_id(seeded_engine, "地域医薬品提供に係るICT活用支援事業")
    row = rollout.record_rollout(
        seeded_engine,
        actor=_health(seeded_engine),
        entry=rollout.validate_rollout(
            {
                "project_id": project,
                "target": "萩市",
                "fiscal_year": 2025,
                "note": "オンライン服薬指導の拠点を開設",
            }
        ),
    )
    df = rollout.rollout_frame(seeded_engine, actor=make_actor(Role.admin), project_id=project)
    assert list(df["target"]) == ["萩市"] and df["target_kind"].iloc[0] == "市町"
    (audit_row,) = _audit_rows(seeded_engine, "rollout.create")
    assert audit_row["entity_id"] == str(row.id) and audit_row["actor"] == "health_staff"


def test_a_rollout_to_another_department_is_accepted_but_not_to_its_own(seeded_engine: Engine) -> None:
    project = _project_id(seeded_engine, "地域医薬品提供に係るICT活用支援事業")
    actor = _health(seeded_engine)
    rollout.record_rollout(
        seeded_engine,
        actor=actor,
        entry=rollout.validate_rollout({"project_id": project, "target": "教育委員会", "fiscal_year": 2025}),
    )
    with pytest.raises(InputInvalid) as info:
        rollout.record_rollout(
            seeded_engine,
            actor=actor,
            entry=rollout.validate_rollout(
                {"project_id": project, "target": "健康福祉部", "fiscal_year": 2025}
            ),
        )
    assert "所管部局" in info.value.field_errors["target"]


def test_a_rollout_target_outside_the_19_municipalities_and_departments_is_refused(
    seeded_engine: Engine,
) -> None:
    project = _project_id(seeded_engine, "地域医薬品提供に係るICT活用支援事業")
    with pytest.raises(InputInvalid) as info:
        rollout.record_rollout(
            seeded_engine,
            actor=make_actor(Role.admin),
            entry=rollout.validate_rollout({"project_id": project, "target": "広島市", "fiscal_year": 2025}),
        )
    assert "19市町" in info.value.field_errors["target"]


def test_the_same_rollout_twice_is_refused(seeded_engine: Engine) -> None:
    project = _project_id(seeded_engine, "やまぐちデジタル実装推進事業")
    with pytest.raises(RuleViolation, match="既に登録"):
        rollout.record_rollout(
            seeded_engine,
            actor=make_actor(Role.admin),
            entry=rollout.validate_rollout({"project_id": project, "target": "周南市", "fiscal_year": 2023}),
        )


def test_department_staff_cannot_record_rollouts_of_another_department(seeded_engine: Engine) -> None:
    project = _project_id(seeded_engine, "やまぐちデジタル実装推進事業")
    with pytest.raises(PermissionDenied):
        rollout.record_rollout(
            seeded_engine,
            actor=_health(seeded_engine),
            entry=rollout.validate_rollout({"project_id": project, "target": "萩市", "fiscal_year": 2025}),
        )


def test_deleting_a_rollout_needs_a_reason_and_keeps_the_values_in_the_audit(seeded_engine: Engine) -> None:
    admin = make_actor(Role.admin)
    df = rollout.rollout_frame(seeded_engine, actor=make_actor(Role.admin))
    rid = int(df["id"].iloc[0])
    with pytest.raises(InputInvalid):
        rollout.delete_rollout(seeded_engine, actor=admin, rollout_id=rid, reason=" ")
    rollout.delete_rollout(seeded_engine, actor=admin, rollout_id=rid, reason="重複登録")
    assert rid not in set(rollout.rollout_frame(seeded_engine, actor=make_actor(Role.admin))["id"])
    (audit_row,) = _audit_rows(seeded_engine, "rollout.delete")
    assert audit_row["before_values"] is not None


# --- export -------------------------------------------------------------------------------------------


def test_the_review_sheet_has_the_review_columns_in_order(seeded_engine: Engine) -> None:
    sheet = kpi.review_sheet(kpi.kpi_frame(seeded_engine, actor=SYSTEM, today=TODAY))
    assert list(sheet.columns[:10]) == [
        "事業名",
        "所管部局",
        "指標",
        "単位",
        "基準値",
        "基準年度",
        "年度",
        "目標値",
        "実績値",
        "達成度（%）",
    ]
    med = sheet[(sheet["指標"] == "対象者数") & (sheet["年度"] == "令和6年度（2024年度）")].iloc[0]
    assert med["目標値"] == 1200 and med["実績値"] == 1050 and med["達成度（%）"] == 87.5
    assert med["サンプル"] == "サンプル"


def test_the_csv_export_has_a_bom_and_the_xlsx_opens_with_the_same_rows(seeded_engine: Engine) -> None:
    df = kpi.kpi_frame(seeded_engine, actor=SYSTEM, today=TODAY)
    data = kpi.review_sheet_bytes(df, fmt="csv")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == kpi.REVIEW_SHEET_COLUMNS and len(rows) == len(df) + 1
    wb = openpyxl.load_workbook(io.BytesIO(kpi.review_sheet_bytes(df, fmt="xlsx")))
    ws = wb.active
    assert ws is not None
    header = [c.value for c in ws[3]]
    assert header == kpi.REVIEW_SHEET_COLUMNS
    assert ws.max_row == 3 + len(df)


def test_an_export_is_recorded_in_the_audit_log(seeded_engine: Engine) -> None:
    record_export(
        seeded_engine,
        actor=make_actor(Role.executive),
        what="成果指標（xlsx）",
        filters={"年度": 2024},
        rows=3,
    )
    df = query_df(seeded_engine, "SELECT actor, entity FROM audit_log WHERE action = 'export'")
    assert list(df["entity"]) == ["成果指標（xlsx）"]


def test_the_home_headline_counts_only_indicators_with_a_target_for_the_year(seeded_engine: Engine) -> None:
    own = kpi.status_counts(
        seeded_engine, actor=SYSTEM, fiscal_year=2024, today=TODAY, target_years_only=True
    )
    assert sum(own.values()) == sum(1 for t in _csv("kpi_targets.csv") if t["fiscal_year"] == "2024")
    every = kpi.status_counts(seeded_engine, actor=SYSTEM, fiscal_year=2024, today=TODAY)
    assert sum(every.values()) > sum(own.values())  # 野犬 and Y-BASE are judged on the path in R6


def test_department_staff_see_only_their_own_indicators_whatever_they_ask_for(seeded_engine: Engine) -> None:
    health = _health(seeded_engine)
    everyone = kpi.kpi_frame(seeded_engine, actor=SYSTEM, today=TODAY)
    others = sorted(set(everyone["department_id"]) - {health.department_id})
    assert others  # the seed has indicators of other departments
    asked = kpi.KpiFilter(department_id=int(others[0]))
    own = kpi.kpi_frame(seeded_engine, actor=health, today=TODAY, where=asked)
    assert set(own["department"]) == {"健康福祉部"}
    assert len(own) == int((everyone["department"] == "健康福祉部").sum())
    counts = kpi.status_counts(seeded_engine, actor=health, today=TODAY, where=asked)
    assert sum(counts.values()) == len(own)
    assert set(kpi.overdue_frame(seeded_engine, actor=health, today=TODAY)["department"]) <= {"健康福祉部"}
    years, departments = kpi.filter_options(seeded_engine, actor=health)
    assert departments == ["健康福祉部"] and years


def test_a_submitted_proposals_kpis_count_on_the_kpi_page_only_once_it_is_adopted(
    seeded_engine: Engine,
) -> None:
    """A proposal's KPIs are recorded when it is submitted; it promises nothing until it is adopted."""
    year = clock.current_fiscal_year()
    data = make_proposal(
        seeded_engine,
        year,
        project_name="成果指標の対象確認事業",
        kpis=[
            {"name": "対象確認の指標", "unit": "件", "baseline": 0, "target_first": 10, "target_later": 30}
        ],
    )
    department = make_actor(Role.department, department_id=data["department_id"])
    saved = proposals.save_proposal(seeded_engine, actor=department, data=data, submit=True)
    admin = make_actor(Role.admin)

    def seen() -> tuple[bool, bool]:
        listed = kpi.kpi_frame(seeded_engine, actor=admin)
        choices = kpi.entry_choices(seeded_engine, actor=admin)
        return "対象確認の指標" in set(listed["indicator"]), "対象確認の指標" in set(choices["indicator"])

    before = kpi.status_counts(seeded_engine, actor=admin, fiscal_year=year)
    assert seen() == (False, False)
    reviewed_by_two(seeded_engine, saved.id or 0)
    for to in (ProposalStatus.in_review, ProposalStatus.adopted):
        proposals.change_status(seeded_engine, actor=SYSTEM, proposal_id=saved.id or 0, to_status=to)
    assert seen() == (True, True)
    after = kpi.status_counts(seeded_engine, actor=admin, fiscal_year=year)
    assert sum(after.values()) == sum(before.values()) + 1  # its first-year target


def test_a_target_whose_year_the_sources_leave_out_is_marked_on_screen_and_in_the_review_sheet(
    seeded_engine: Engine,
) -> None:
    """data/README.md: the year of 野犬 捕獲 100頭/年 is not printed, 令和8年度 is assumed (推計)."""
    df = kpi.kpi_frame(seeded_engine, actor=make_actor(Role.admin), today=date(2026, 12, 4))
    capture = df[(df["indicator"] == "捕獲システムでの野犬捕獲頭数") & (df["fiscal_year"] == 2026)]
    stated = df[(df["indicator"] == "導入地域数") & (df["fiscal_year"] == 2026)]
    assert kpi.target_kinds(capture["target_on_path"], capture["target_year_is_estimate"]) == [
        "年度目標（目標年度は推計）"
    ]
    assert kpi.target_kinds(stated["target_on_path"], stated["target_year_is_estimate"]) == ["年度目標"]
    sheet = pd.read_csv(io.BytesIO(kpi.review_sheet_bytes(capture, fmt="csv")), encoding="utf-8-sig")
    assert sheet["目標の種類"].tolist() == ["年度目標（目標年度は推計）"]
