"""成果指標: targets versus actuals per indicator and 年度, roll-up by perspective, 横展開, 未報告, entry."""

from functools import partial

import altair as alt
import pandas as pd
import streamlit as st

from fund import auth, clock, kpi, reference, rollout
from fund.auth import Action
from fund.errors import FundError, InputInvalid
from fund.export import record_export
from fund.fiscal import fiscal_label, fiscal_year_of, wareki
from fund.labels import PERSPECTIVE
from fund.models import Role
from pages import _ui


def _num(values: pd.Series) -> list[str]:
    """Numbers for reading: separators, at most one decimal, 「—」 where there is none."""
    out = []
    for v in values:
        if v is None or pd.isna(v):
            out.append("—")
        elif float(v).is_integer():
            out.append(f"{int(v):,}")
        else:
            out.append(f"{float(v):,.1f}")
    return out


def _large(value: float, unit: str) -> str:
    """Headline figures: 万 above ten thousand so that the metric is not cut off."""
    if value >= 100_000:
        return f"{value / 10_000:,.0f}万{unit}"
    return f"{value:,.0f}{unit}"


def _pct(values: pd.Series) -> list[str]:
    return ["—" if v is None or pd.isna(v) else f"{float(v) * 100:.0f}%" for v in values]


actor = _ui.require_actor(Action.view_kpi)
engine = _ui.engine()
today = clock.today_jst()
own_department = actor.department_id if actor.role == Role.department else None
may_enter = auth.can(actor, Action.enter_kpi_actual)

st.title("成果指標")
st.caption(
    "各事業の「目指す県民実感」と業績評価指標について、年度ごとの目標と実績、達成度を示します。"
    + ("（事業担当の方には自部局の事業を表示しています）" if own_department is not None else "")
)
_ui.show_flash()

years, departments = _ui.read(kpi.filter_options, department_id=own_department)
if not years:
    st.info("登録された成果指標はありません。", icon=":material/info:")
    st.stop()

# --- filters ---------------------------------------------------------------------------------------
f1, f2, f3, f4 = st.columns(4)
year_choice = f1.selectbox(
    "年度",
    [None, *years],
    format_func=lambda y: "すべての年度" if y is None else fiscal_label(int(y)),
    key="kpi_year",
)
dept_choice = f2.selectbox(
    "所管部局", [None, *departments], format_func=lambda d: "すべての部局" if d is None else d, key="kpi_dept"
)
persp_choice = f3.selectbox(
    "県民実感の観点",
    [None, *PERSPECTIVE],
    format_func=lambda p: "すべての観点" if p is None else f"{p} {PERSPECTIVE[p]}",
    key="kpi_perspective",
)
status_choice = f4.selectbox(
    "状況",
    [None, *(s.value for s in kpi.KpiStatus)],
    format_func=lambda s: "すべての状況" if s is None else s,
    key="kpi_status",
)
chosen = kpi.KpiFilter(
    department_id=own_department,
    fiscal_year=year_choice,
    department=dept_choice,
    perspective=persp_choice,
    status=status_choice,
)
df = _ui.read(kpi.kpi_frame, today=today, where=chosen, limit=_ui.DISPLAY_LIMIT)

# --- headline ----------------------------------------------------------------------------------------
counts = _ui.read(kpi.status_counts, today=today, where=chosen)
total = sum(counts.values())
cols = st.columns(len(kpi.KpiStatus))
for col, status in zip(cols, kpi.KpiStatus, strict=True):
    col.metric(status.value, f"{counts[status.value]:,}件")
with st.expander("判定のルール", icon=":material/rule:"):
    st.text(kpi.STATUS_RULE)
    st.text(kpi.PATH_RULE)
    st.text("件数は「指標×年度」の数です。「サンプル」は動作確認用の例示データの実績です。")

# Only the open tab runs (switching tabs reruns the page), so each costs only what it shows.
tab_table, tab_trend, tab_rollup, tab_rollout, tab_overdue, tab_entry = st.tabs(
    ["指標一覧", "推移（目標と実績）", "観点別の集計", "横展開", "未報告", "実績の入力"],
    key="kpi_tab",
    on_change="rerun",
)

# --- table -------------------------------------------------------------------------------------------
if tab_table.open:
    with tab_table:
        if df.empty:
            st.info("条件に合う指標はありません。フィルタを変えてください。", icon=":material/info:")
        else:
            view = pd.DataFrame(
                {
                    "事業名": df["project"],
                    "指標": df["indicator"],
                    "年度": [fiscal_label(int(y)) for y in df["fiscal_year"]],
                    "目標値": _num(df["target_value"]),
                    "実績値": _num(df["actual_value"]),
                    "単位": df["unit"],
                    "達成度": _pct(df["achievement_rate"]),
                    "状況": df["status"],
                    "目標の種類": ["経路上の目標" if p else "年度目標" for p in df["target_on_path"]],
                    "基準値": _num(df["baseline_value"]),
                    "所管部局": df["department"],
                    "種別": df["kind_label"],
                    "県民実感の観点": df["perspective_labels"],
                    "実績の出典": [
                        f"{s}（サンプル）" if smp and "サンプル" not in s else s
                        for s, smp in zip(df["source"], df["is_sample"], strict=True)
                    ],
                }
            )
            _ui.limit_notice(total, hint="フィルタで絞り込むか、すべての行はダウンロードしてください。")
            st.dataframe(
                view,
                hide_index=True,
                width="stretch",
                key="kpi_table",
            )
            filters = {
                "年度": year_choice,
                "所管部局": dept_choice or ("自部局" if own_department is not None else None),
                "観点": persp_choice,
                "状況": status_choice,
            }
            if auth.can(actor, Action.export):
                d1, d2 = st.columns(2)
                d1.download_button(
                    "成果指標をExcelで保存（レビューシート形式）",
                    data=partial(kpi.review_sheet_export, engine, where=chosen, today=today, fmt="xlsx"),
                    file_name="成果指標.xlsx",
                    icon=":material/download:",
                    on_click=record_export,
                    args=(engine,),
                    kwargs={"actor": actor, "what": "成果指標（xlsx）", "filters": filters, "rows": total},
                )
                d2.download_button(
                    "成果指標をCSVで保存（BOM付きUTF-8）",
                    data=partial(kpi.review_sheet_export, engine, where=chosen, today=today, fmt="csv"),
                    file_name="成果指標.csv",
                    mime="text/csv",
                    icon=":material/download:",
                    on_click=record_export,
                    args=(engine,),
                    kwargs={"actor": actor, "what": "成果指標（CSV）", "filters": filters, "rows": total},
                )

# --- trend chart -------------------------------------------------------------------------------------
if tab_trend.open:
    with tab_trend:
        pool = (
            df
            if not df.empty
            else _ui.read(
                kpi.kpi_frame,
                today=today,
                where=kpi.KpiFilter(department_id=own_department),
                limit=_ui.DISPLAY_LIMIT,
            )
        )
        names = dict(zip(pool["indicator_id"], pool["project"] + "：" + pool["indicator"], strict=True))
        if total > _ui.DISPLAY_LIMIT:
            st.caption("「指標一覧」に表示している指標から選べます。フィルタで絞り込んでください。")
        ind = st.selectbox("指標", list(names), format_func=names.__getitem__, key="kpi_indicator")
        one = _ui.read(kpi.kpi_frame, today=today, where=kpi.KpiFilter(indicator_id=int(ind)))
        head = one.iloc[0]
        unit = str(head["unit"])
        own = one[~one["target_on_path"]]
        st.text(
            "目標："
            + "、".join(f"{wareki(int(r.fiscal_year))} {r.target_value:,.0f}{unit}" for r in own.itertuples())
            + (
                f"（基準値 {wareki(int(head['baseline_year']))} {head['baseline_value']:,.0f}{unit}）"
                if head["baseline_value"] is not None and not pd.isna(head["baseline_value"])
                else ""
            )
            + ("／低いほど良い指標" if head["direction"] == "lower" else "")
        )
        points = [
            {
                "年度": wareki(int(r.fiscal_year)),
                "fy": int(r.fiscal_year),
                "種類": "目標（経路を含む）",
                "値": r.target_value,
            }
            for r in one.itertuples()
            if r.target_value is not None and not pd.isna(r.target_value)
        ] + [
            {
                "年度": wareki(int(r.fiscal_year)),
                "fy": int(r.fiscal_year),
                "種類": "実績",
                "値": r.actual_value,
            }
            for r in one.itertuples()
            if r.actual_value is not None and not pd.isna(r.actual_value)
        ]
        if head["baseline_value"] is not None and not pd.isna(head["baseline_value"]):
            by = int(head["baseline_year"])
            points.append(
                {"年度": wareki(by), "fy": by, "種類": "基準値", "値": float(head["baseline_value"])}
            )
        chart_df = pd.DataFrame(points).sort_values("fy")
        order = chart_df.drop_duplicates("fy")["年度"].tolist()
        chart = (
            alt.Chart(chart_df, title=f"{head['indicator']}（{unit}）")
            .mark_line(point=alt.OverlayMarkDef(size=80))
            .encode(
                x=alt.X("年度:N", sort=order, axis=alt.Axis(labelAngle=0, labelLimit=0, title="年度")),
                y=alt.Y("値:Q", title=unit),
                color=alt.Color(
                    "種類:N",
                    scale=alt.Scale(
                        domain=["目標（経路を含む）", "実績", "基準値"],
                        range=["#9aa5b1", "#2f6db5", "#e07b39"],
                    ),
                    legend=alt.Legend(orient="bottom", title=None, labelLimit=0),
                ),
                strokeDash=alt.condition(
                    alt.datum["種類"] == "目標（経路を含む）", alt.value([6, 4]), alt.value([1, 0])
                ),
                tooltip=["年度", "種類", alt.Tooltip("値:Q", format=",.1f")],
            )
            .properties(height=320)
        )
        st.altair_chart(chart, width="stretch")
        st.dataframe(
            pd.DataFrame(
                {
                    "年度": [fiscal_label(int(y)) for y in one["fiscal_year"]],
                    "目標値": _num(one["target_value"]),
                    "目標の種類": ["経路上の目標" if p else "年度目標" for p in one["target_on_path"]],
                    "実績値": _num(one["actual_value"]),
                    "達成度": _pct(one["achievement_rate"]),
                    "状況": one["status"],
                }
            ),
            hide_index=True,
            width="stretch",
        )
        project_rollouts = rollout.rollout_frame(engine, project_id=int(head["project_id"]))
        st.markdown("**この事業の横展開**")
        if project_rollouts.empty:
            st.info("この事業の横展開はまだ登録されていません。", icon=":material/info:")
        else:
            st.dataframe(
                pd.DataFrame(
                    {
                        "展開先": project_rollouts["target"],
                        "種類": project_rollouts["target_kind"],
                        "年度": [fiscal_label(int(y)) for y in project_rollouts["fiscal_year"]],
                        "内容": project_rollouts["note"],
                        "サンプル": ["サンプル" if s else "" for s in project_rollouts["is_sample"]],
                    }
                ),
                hide_index=True,
                width="stretch",
            )

# --- roll-up by perspective -----------------------------------------------------------------------------
if tab_rollup.open:
    with tab_rollup:
        by_year = _ui.read(kpi.portfolio_by_year, today=today)
        funded_years = by_year.loc[by_year["funded_projects"] > 0, "fiscal_year"].tolist()
        rollup_year = year_choice if year_choice is not None else (funded_years[-1] if funded_years else None)
        rollup_year = st.selectbox(
            "集計する年度",
            by_year["fiscal_year"].tolist(),
            index=by_year["fiscal_year"].tolist().index(rollup_year)
            if rollup_year in by_year["fiscal_year"].tolist()
            else 0,
            format_func=lambda y: fiscal_label(int(y)),
            key="kpi_rollup_year",
        )
        row = by_year[by_year["fiscal_year"] == rollup_year].iloc[0]
        m1, m2, m3, m4 = st.columns(4)
        m1.metric(
            "県民への到達（実績）",
            "—"
            if row["reach_actual"] is None or pd.isna(row["reach_actual"])
            else _large(row["reach_actual"], "人"),
            help=f"「多くの人が利用する」観点の指標（単位 人）の実績の合計。目標は {row['reach_target']:,.0f}人。"
            f"事業化された提案の想定利用者数は {row['expected_users']:,}人（提案の根拠数値）。",
        )
        m2.metric(
            "年間の利用回数（想定）",
            _large(row["touchpoints"], "回/年"),
            help=f"事業化された提案の 想定利用者数×1人あたり年間利用回数 の合計（{row['touchpoints']:,.0f}回/年）",
        )
        m3.metric(
            "削減される県民の時間（想定）",
            _large(row["hours_saved"], "時間/年"),
            help=f"事業化された提案の 年間手続件数×1件あたり短縮時間 の合計（{row['hours_saved']:,.0f}時間/年）",
        )
        share = row["on_track_share"]
        m4.metric(
            "順調な事業の割合",
            "—" if share is None or pd.isna(share) else f"{share:.0%}",
            help=f"実績のある事業 {row['projects_judged']}事業のうち、遅れの指標がない事業 {row['projects_on_track']}事業",
        )
        if row["evidence_is_sample"]:
            st.caption("利用回数・削減時間・想定利用者数は提案の根拠数値（サンプル）から計算しています。")
        per = _ui.read(kpi.perspective_rollup, fiscal_year=int(rollup_year), today=today, by_year=by_year)
        st.dataframe(
            pd.DataFrame(
                {
                    "観点": [
                        f"{p} {label}"
                        for p, label in zip(per["perspective"], per["perspective_label"], strict=True)
                    ],
                    "指標数": per["indicators"],
                    "達成": per["達成"],
                    "順調": per["順調"],
                    "遅れ": per["遅れ"],
                    "未計測": per["未計測"],
                    "未到来": per["未到来"],
                    "順調以上の割合": _pct(per["on_track_share"]),
                    "事業全体の量（想定）": per["measure_label"],
                    "値": _num(per["measure_value"].round(0)),
                }
            ),
            hide_index=True,
            width="stretch",
        )
        st.markdown("**年度別の推移**")
        st.dataframe(
            pd.DataFrame(
                {
                    "年度": [fiscal_label(int(y)) for y in by_year["fiscal_year"]],
                    "事業化した事業": by_year["funded_projects"],
                    "到達 目標（人）": _num(by_year["reach_target"].round(0)),
                    "到達 実績（人）": _num(by_year["reach_actual"].round(0)),
                    "想定利用者数（人）": _num(by_year["expected_users"]),
                    "利用回数（回/年）": _num(by_year["touchpoints"].round(0)),
                    "削減時間（時間/年）": _num(by_year["hours_saved"].round(0)),
                    "順調な事業の割合": _pct(by_year["on_track_share"]),
                }
            ),
            hide_index=True,
            width="stretch",
        )

# --- 横展開 ------------------------------------------------------------------------------------------
if tab_rollout.open:
    with tab_rollout:
        ro = rollout.rollout_frame(engine, department_id=own_department)
        r1, r2, r3 = st.columns(3)
        r1.metric("横展開の件数", f"{len(ro):,}件")
        r2.metric(
            "展開先の市町",
            f"{ro.loc[ro['target_kind'] == rollout.MUNICIPALITY, 'target'].nunique()} / 19市町",
        )
        r3.metric("展開した事業", f"{ro['project_id'].nunique():,}事業")
        if ro.empty:
            st.info("横展開はまだ登録されていません。", icon=":material/info:")
        else:
            left, right = st.columns([3, 2])
            with left:
                st.markdown("**事業別**")
                per_project = rollout.rollout_by_project(engine)
                if own_department is not None:
                    per_project = per_project[per_project["project"].isin(ro["project"])]
                st.dataframe(
                    per_project.rename(
                        columns={
                            "project": "事業名",
                            "department": "所管部局",
                            "rollouts": "件数",
                            "municipalities": "市町数",
                            "departments": "部局数",
                        }
                    ),
                    hide_index=True,
                    width="stretch",
                )
            with right:
                st.markdown("**市町別（展開された事業数）**")
                per_city = rollout.rollout_by_municipality(engine)
                st.altair_chart(
                    alt.Chart(per_city)
                    .mark_bar(color="#2f6db5")
                    .encode(
                        y=alt.Y(
                            "municipality:N",
                            sort=list(rollout.MUNICIPALITIES),
                            title=None,
                            axis=alt.Axis(labelLimit=0, labelOverlap=False),
                        ),
                        x=alt.X("projects:Q", title="事業数", axis=alt.Axis(tickMinStep=1)),
                        tooltip=[
                            alt.Tooltip("municipality:N", title="市町"),
                            alt.Tooltip("projects:Q", title="事業数"),
                        ],
                    )
                    .properties(height=24 * len(rollout.MUNICIPALITIES)),
                    width="stretch",
                )
            st.dataframe(
                pd.DataFrame(
                    {
                        "事業名": ro["project"],
                        "所管部局": ro["department"],
                        "展開先": ro["target"],
                        "種類": ro["target_kind"],
                        "年度": [fiscal_label(int(y)) for y in ro["fiscal_year"]],
                        "内容": ro["note"],
                        "サンプル": ["サンプル" if s else "" for s in ro["is_sample"]],
                    }
                ),
                hide_index=True,
                width="stretch",
            )
        if may_enter:
            with st.form("rollout_form", clear_on_submit=True):
                st.markdown("**横展開を登録する**")
                rp = _ui.project_picker("事業", key="rollout_project", department_id=own_department)
                rt = st.selectbox("展開先（市町または部局）", rollout.targets(engine), key="rollout_target")
                ry = st.selectbox(
                    "年度",
                    reference.fiscal_years(engine)["year"].tolist(),
                    index=None,
                    format_func=lambda y: fiscal_label(int(y)),
                    key="rollout_year",
                )
                rn = st.text_area("内容（何を展開したか）", key="rollout_note", max_chars=500)
                if st.form_submit_button("横展開を登録", icon=":material/add:"):
                    try:
                        rollout.record_rollout(
                            engine,
                            actor=actor,
                            data={"project_id": rp, "target": rt, "fiscal_year": ry, "note": rn},
                        )
                    except FundError as exc:
                        _ui.show_error(exc)
                    else:
                        _ui.flash(f"{rt}への横展開を登録しました。")
                        st.rerun()
            if not ro.empty:
                with st.expander("登録した横展開を取り消す", icon=":material/delete:"):
                    by_rollout = ro.set_index("id")
                    rid = st.selectbox(
                        "取り消す横展開",
                        by_rollout.index.tolist(),
                        format_func=lambda i: (
                            f"{by_rollout.loc[i, 'project']} → {by_rollout.loc[i, 'target']}"
                            f"（{wareki(int(by_rollout.loc[i, 'fiscal_year']))}）"
                        ),
                        key="rollout_delete_id",
                    )
                    reason = st.text_input("取消の理由", key="rollout_delete_reason", max_chars=200)
                    if st.button("取り消す", key="rollout_delete", icon=":material/delete:"):
                        try:
                            rollout.delete_rollout(engine, actor=actor, rollout_id=int(rid), reason=reason)
                        except FundError as exc:
                            _ui.show_error(exc)
                        else:
                            _ui.flash("横展開の登録を取り消しました（監査ログに記録しました）。")
                            st.rerun()

# --- 未報告 ------------------------------------------------------------------------------------------
if tab_overdue.open:
    with tab_overdue:
        overdue = _ui.read(kpi.status_counts, today=today, where=kpi.KpiFilter(department_id=own_department))[
            kpi.KpiStatus.not_measured.value
        ]
        late = _ui.read(kpi.overdue_frame, department_id=own_department, today=today, limit=_ui.DISPLAY_LIMIT)
        st.caption("年度が終わったのに実績が入力されていない指標です。所管部局に報告を依頼してください。")
        if late.empty:
            st.success("未報告の指標はありません。", icon=":material/check_circle:")
        else:
            st.metric("未報告", f"{overdue:,}件")
            _ui.limit_notice(overdue, hint="古い年度から順に表示しています。")
            st.dataframe(
                pd.DataFrame(
                    {
                        "所管部局": late["department"],
                        "事業名": late["project"],
                        "指標": late["indicator"],
                        "単位": late["unit"],
                        "年度": [fiscal_label(int(y)) for y in late["fiscal_year"]],
                        "目標値": _num(late["target_value"]),
                        "年度終了日": [d.isoformat() for d in late["year_end"]],
                        "経過日数": late["days_overdue"],
                    }
                ),
                hide_index=True,
                width="stretch",
            )

# --- entry ---------------------------------------------------------------------------------------------
if tab_entry.open:
    with tab_entry:
        if not may_enter:
            st.info(
                f"{actor.role_label}の権限では実績を入力できません。実績は所管部局の事業担当が入力します。",
                icon=":material/info:",
            )
        else:
            search = None
            if _ui.read(kpi.entry_choice_count, actor=actor) > _ui.PICK_LIMIT:
                search = (
                    st.text_input(
                        "指標を検索（事業名・指標名の一部）", key="entry_search", max_chars=100
                    ).strip()
                    or None
                )
                _ui.limit_notice(
                    _ui.read(kpi.entry_choice_count, actor=actor, search=search),
                    hint="事業名や指標名で検索して絞り込んでください。",
                )
            choices = _ui.read(kpi.entry_choices, actor=actor, search=search, limit=_ui.DISPLAY_LIMIT)
            if choices.empty:
                st.info("実績を入力できる指標がありません。", icon=":material/info:")
            else:
                by_id = choices.set_index("indicator_id")
                labels = dict(
                    zip(
                        choices["indicator_id"],
                        choices["project"] + "：" + choices["indicator"] + "（" + choices["unit"] + "）",
                        strict=True,
                    )
                )
                e_ind = st.selectbox(
                    "指標", list(labels), format_func=labels.__getitem__, key="entry_indicator"
                )
                all_years = reference.fiscal_years(engine)["year"].tolist()
                open_years = [y for y in all_years if y <= fiscal_year_of(today)]
                tracked = _ui.read(kpi.kpi_frame, today=today, where=kpi.KpiFilter(indicator_id=int(e_ind)))
                missing = tracked[tracked["status"] == kpi.KpiStatus.not_measured.value][
                    "fiscal_year"
                ].tolist()
                default_year = missing[0] if missing else (open_years[-1] if open_years else all_years[0])
                e_year = st.selectbox(
                    "年度",
                    all_years,
                    index=all_years.index(default_year),
                    format_func=lambda y: fiscal_label(int(y)),
                    key="entry_year",
                )
                current = tracked[tracked["fiscal_year"] == e_year]
                if (
                    not current.empty
                    and current.iloc[0]["actual_value"] is not None
                    and not pd.isna(current.iloc[0]["actual_value"])
                ):
                    cur = current.iloc[0]
                    st.info(
                        f"この年度の実績は登録済みです（{cur['actual_value']:,g}、"
                        f"{'サンプル、' if cur['is_sample'] else ''}状況 {cur['status']}）。"
                        "保存すると上書きされ、変更前後の値が監査ログに残ります。",
                        icon=":material/info:",
                    )
                errors: dict[str, str] = st.session_state.pop("kpi_entry_errors", {})

                def field_error(name: str) -> None:
                    if name in errors:
                        st.error(errors[name], icon=":material/error:")

                field_error("fiscal_year")
                with st.form("kpi_entry_form"):
                    value = st.number_input(
                        "実績値", min_value=None, value=None, step=1.0, format="%g", key="entry_value"
                    )
                    field_error("actual_value")
                    unit_in = st.text_input(
                        "単位", value=str(by_id.loc[e_ind, "unit"]), key=f"entry_unit_{e_ind}", max_chars=20
                    )
                    field_error("unit")
                    measured = st.date_input(
                        "測定日", value=today, key="entry_measured_on", format="YYYY/MM/DD"
                    )
                    field_error("measured_on")
                    source = st.text_input("出典（根拠資料）", key="entry_source", max_chars=200)
                    field_error("source")
                    submitted = st.form_submit_button("実績を保存", icon=":material/save:", type="primary")
                if submitted:
                    try:
                        kpi.enter_actual(
                            engine,
                            actor=actor,
                            data={
                                "indicator_id": e_ind,
                                "fiscal_year": e_year,
                                "actual_value": value,
                                "unit": unit_in,
                                "measured_on": measured,
                                "source": source,
                            },
                            today=today,
                        )
                    except InputInvalid as exc:
                        st.session_state["kpi_entry_errors"] = exc.field_errors
                        st.rerun()
                    except FundError as exc:
                        _ui.show_error(exc)
                    else:
                        # The indicator's name is user text: never inside a markdown message.
                        _ui.flash(f"{fiscal_label(int(e_year))}の実績を保存しました。")
                        st.rerun()
                elif errors:
                    st.error(
                        "入力内容に誤りがあります。各項目のメッセージを確認してください。",
                        icon=":material/error:",
                    )
