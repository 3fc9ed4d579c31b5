"""最適化: choose whole proposals to maximise the objective within the ceiling; saved as a scenario."""

import pandas as pd
import streamlit as st

from fund import allocation, optimiser, scenario
from fund.auth import Actor
from fund.errors import FundError
from fund.money import YEN_PER_SEN, format_sen_yen, format_sen_yen_series, sen_yen_to_yen
from ui import loaders, session, widgets
from ui.allocations.years import year_picker

RESULT_KEY = "opt_result"
SHARE_COLUMNS = {
    "label": st.column_config.TextColumn("区分", disabled=True, width=420),
    "min_pct": st.column_config.NumberColumn("下限（%）", min_value=0, max_value=100, step=5),
    "max_pct": st.column_config.NumberColumn("上限（%）", min_value=0, max_value=100, step=5),
}
FORCE_COLUMNS = {
    "project": st.column_config.TextColumn("事業名", disabled=True, width=260),
    "department": st.column_config.TextColumn("所管部局", disabled=True, width=110),
    "fund_share_yen": st.column_config.NumberColumn("基金充当額（円）", disabled=True, format="localized"),
    "score": st.column_config.TextColumn("重み付き点", disabled=True, alignment="right"),
    "touchpoints": st.column_config.NumberColumn("接点数/年", disabled=True, format="localized"),
    "force": st.column_config.SelectboxColumn(
        "指定", options=list(optimiser.FORCE_CHOICES.values()), required=True
    ),
    "reason": st.column_config.TextColumn("理由", width=200),
}


def render(actor: Actor) -> None:
    st.caption(
        "提案を丸ごと採択するか否かを選び、上限額の範囲で目的（審査の重み付き合計点、または県民との接点数）を最大にします。"
        "結果はシナリオとして保存され、確認・編集してから配分として登録できます。"
    )
    year = year_picker("opt_year")
    frame = loaders.candidate_frame(actor=actor, fiscal_year=year)
    if frame.empty:
        st.info(
            "この年度には候補となる提案（採択済みで、当初の配分がまだ登録されていないもの）がありません。"
        )
        return
    ceiling = loaders.fund_ceiling(fiscal_year=year)
    room_sen = ceiling.headroom_yen // YEN_PER_SEN  # down to the 千円: the answer must fit
    if room_sen < 1:
        st.info(f"この年度には配分できる余裕額がありません（{allocation.ceiling_breakdown(ceiling)}）。")
        return
    o1, o2, o3 = st.columns(3)
    objective = o1.radio(
        "目的", list(optimiser.OBJECTIVES), format_func=optimiser.OBJECTIVES.__getitem__, key="opt_objective"
    )
    # Keyed by 年度: another 年度 starts again from its own headroom, the most that can be promoted.
    ceiling_sen = o2.number_input(
        "上限額（千円）",
        min_value=1,
        max_value=room_sen,
        step=10_000,
        value=room_sen,
        help=f"既定値・最大値はこの年度の余裕額 {room_sen:,}千円（{allocation.ceiling_breakdown(ceiling)}）",
        key=f"opt_ceiling_{year}",
    )
    floor = o3.number_input(
        "足切り（評価値の下限、0 で指定なし）", min_value=0.0, step=0.5, value=0.0, key="opt_floor"
    )
    st.markdown("**区分ごとの割合（採択額に占める割合、空欄は指定なし）**")
    leafs = loaders.leaf_categories()
    share_table = st.data_editor(
        pd.DataFrame(
            {"category_id": leafs["id"], "label": leafs["label"], "min_pct": None, "max_pct": None}
        ).astype({"min_pct": "Float64", "max_pct": "Float64"}),
        hide_index=True,
        width="stretch",
        key="opt_shares",
        placeholder="指定なし",
        column_order=list(SHARE_COLUMNS),
        column_config=SHARE_COLUMNS,
    )
    st.markdown("**候補と指定（必ず採択・除外には理由が必要です）**")
    force_table = st.data_editor(
        frame[["id", "project", "department", "fund_share_yen", "touchpoints"]].assign(
            # a proposal not yet scored says so (the grid would print 「None」)
            score=[f"{v:.2f}" if pd.notna(v) else "未採点" for v in frame["score"]],
            force=optimiser.FORCE_CHOICES[""],
            reason="",
        ),
        hide_index=True,
        width="stretch",
        key=f"opt_force_{year}",
        column_order=list(FORCE_COLUMNS),
        column_config=FORCE_COLUMNS,
    )
    if objective == "score" and frame["score"].isna().any():
        st.caption("※未採点の提案は評価値 0 として扱います（必ず採択に指定すれば含められます）。")
    existing = loaders.scenario_list(fiscal_year=year)
    run_name = st.text_input(
        "保存するシナリオ名", value=f"最適化案 {len(existing) + 1}", key=f"opt_name_{year}_{len(existing)}"
    )
    if st.button("最適化を実行", icon=":material/auto_awesome:", type="primary", key="opt_run"):
        _run(
            actor,
            year,
            frame,
            objective=objective,
            ceiling_yen=sen_yen_to_yen(int(ceiling_sen)),
            shares=optimiser.shares_from_table(share_table),
            forced=optimiser.forced_from_table(force_table),
            min_value=float(floor) or None,
            name=run_name,
        )
    _last_result()


def _run(
    actor: Actor,
    year: int,
    frame: pd.DataFrame,
    *,
    objective: str,
    ceiling_yen: int,
    shares: list[optimiser.CategoryShare],
    forced: dict[int, tuple[str, str]],
    min_value: float | None,
    name: str,
) -> None:
    with st.status("最適化を実行しています…", expanded=True) as status:
        try:
            st.write("候補と条件を確認しています。")
            cands = optimiser.candidates_from(frame, objective=objective, forced=forced)
            st.write(f"{len(cands)}件の提案から組合せを探しています（HiGHS）。")
            result = optimiser.optimise(
                cands, objective=objective, ceiling_yen=ceiling_yen, shares=shares, min_value=min_value
            )
            st.write("結果をシナリオとして保存しています。")
            sid = scenario.save_optimised(
                session.engine(),
                actor=actor,
                name=name,
                fiscal_year=year,
                candidates=cands,
                result=result,
                parameters={
                    "ceiling_yen": result.ceiling_yen,
                    "min_value": min_value,
                    "shares": [s.__dict__ for s in shares],
                },
            )
        except FundError as exc:
            status.update(label="最適化できませんでした", state="error", expanded=True)
            widgets.show_error(exc)
            return
        st.session_state[RESULT_KEY] = {
            "scenario_id": sid,
            "objective": objective,
            "value": result.objective_value,
            "used": result.budget_used_yen,
            "ceiling": result.ceiling_yen,
            "chosen": len(result.chosen),
            "optimal": result.proven_optimal,
        }
        status.update(label=f"完了（{result.seconds:.2f}秒）", state="complete", expanded=False)


def _last_result() -> None:
    last = st.session_state.get(RESULT_KEY)
    if not last:
        return
    r1, r2, r3 = st.columns(3)
    r1.metric(
        f"目的値（{optimiser.OBJECTIVES[last['objective']]}）",
        optimiser.objective_value_text(last["objective"], last["value"]),
    )
    r2.metric(
        "使用額 / 上限",
        f"{format_sen_yen(last['used'])}千円",
        help=f"上限 {format_sen_yen(last['ceiling'])}千円（使用率 {last['used'] / last['ceiling']:.1%}）",
    )
    r3.metric("採択数", f"{last['chosen']}件", help="最適解" if last["optimal"] else "時間内の最良解")
    items = loaders.scenario_items(scenario_id=last["scenario_id"])
    st.caption(
        f"シナリオ番号 {last['scenario_id']} として保存しました（「シナリオ」で比較・編集・配分登録）。"
    )
    out = items[~items["included"]]
    if out.empty:
        st.success("すべての提案が採択されました。")
        return
    st.markdown("**採択されなかった提案と理由**")
    st.dataframe(
        pd.DataFrame(
            {
                "事業名": out["project"],
                "所管部局": out["department"],
                "基金充当額（千円）": format_sen_yen_series(out["fund_share_yen"]),
                "理由": out["exclusion_reason"],
            }
        ),
        hide_index=True,
        width="stretch",
        column_config={"基金充当額（千円）": st.column_config.TextColumn(alignment="right")},
    )
