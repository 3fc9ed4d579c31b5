"""シナリオ: create, edit, copy, compare and promote allocation scenarios for one 年度."""

import pandas as pd
import streamlit as st

from fund import auth, scenario
from fund.auth import Action, Actor
from fund.money import format_sen_yen, format_sen_yen_series
from ui import loaders, session, widgets
from ui.allocations.years import year_picker

EDITOR_COLUMNS = {
    "included": st.column_config.CheckboxColumn("採択", width=60),
    "project": st.column_config.TextColumn("事業名", disabled=True, width=260),
    "department": st.column_config.TextColumn("所管部局", disabled=True, width=110),
    "category": st.column_config.TextColumn("区分", disabled=True, width=160),
    "score": st.column_config.NumberColumn("重み付き点", disabled=True, format="%.2f", width=80),
    "project_cost_yen": st.column_config.NumberColumn(
        "事業費（円）", format="localized", min_value=0, step=1000, width=130
    ),
    "fund_share_yen": st.column_config.NumberColumn(
        "基金充当額（円）", format="localized", min_value=0, step=1000, width=130
    ),
    "reason": st.column_config.TextColumn("指定・除外理由", disabled=True, width=260),
}
RIGHT = st.column_config.TextColumn(alignment="right")


def render(actor: Actor) -> None:
    year = year_picker("scn_year")
    may_allocate = auth.can(actor, Action.allocate)
    if may_allocate:
        _create(actor, year)
    scenarios = loaders.scenario_list(fiscal_year=year)
    if scenarios.empty:
        st.info("この年度のシナリオはまだありません。作成するか、「最適化」で案を作ってください。")
        return
    st.dataframe(
        pd.DataFrame(
            {
                "番号": scenarios["id"],
                "シナリオ名": scenarios["name"],
                "作成方法": scenarios["origin_label"],
                "採択数": scenarios["included"],
                "候補数": scenarios["candidates"],
                "基金充当額（千円）": format_sen_yen_series(scenarios["fund_share_yen"]),
                "事業費（千円）": format_sen_yen_series(scenarios["project_cost_yen"]),
                "作成者": scenarios["created_by"],
                "配分登録": ["済" if pd.notna(p) else "" for p in scenarios["promoted_at"]],
                "メモ": scenarios["note"],
            }
        ),
        hide_index=True,
        width="stretch",
        column_config={"基金充当額（千円）": RIGHT, "事業費（千円）": RIGHT},
    )
    names = dict(zip(scenarios["id"], scenarios["name"], strict=True))
    ids = [int(i) for i in scenarios["id"]]
    if st.session_state.get("scn_next_pick") in ids:
        st.session_state["scn_pick"] = st.session_state.pop("scn_next_pick")
    if st.session_state.get("scn_pick") not in ids:
        st.session_state["scn_pick"] = ids[0]
    sid = int(st.selectbox("編集するシナリオ", ids, format_func=lambda i: f"{i}: {names[i]}", key="scn_pick"))
    promoted = bool(pd.notna(scenarios.set_index("id").at[sid, "promoted_at"]))
    _edit(actor, sid, promoted=promoted, may_allocate=may_allocate)
    if may_allocate:
        with st.expander("シナリオを複製する", icon=":material/content_copy:"):
            _copy(actor, sid, names[sid])
    st.subheader("2つのシナリオを比較")
    if len(ids) < 2:
        st.info("比較するには同じ年度のシナリオが2つ以上必要です。")
    else:
        _compare(ids, names)


def _create(actor: Actor, year: int) -> None:
    n1, n2 = st.columns([3, 1], vertical_alignment="bottom")
    name = n1.text_input("新しいシナリオ名（その年度の提案をすべて候補として作成）", key="scn_new_name")
    if n2.button("シナリオを作成", icon=":material/add:", key="scn_create"):

        def create() -> int:
            sid = scenario.create_scenario(session.engine(), actor=actor, name=name, fiscal_year=year)
            st.session_state["scn_next_pick"] = sid  # applied before the picker is drawn
            return sid

        widgets.run_action(
            create, f"シナリオ「{name.strip()}」を作成しました。採択に含める提案を選んで保存してください。"
        )


def _edit(actor: Actor, sid: int, *, promoted: bool, may_allocate: bool) -> None:
    items = loaders.scenario_items(scenario_id=sid)
    if items.empty:
        st.info("このシナリオには候補がありません。")
        return
    view = items[list(EDITOR_COLUMNS) + ["item_id"]].assign(score=items["score"].round(2))
    edited = st.data_editor(
        view,
        hide_index=True,
        width="stretch",
        disabled=not may_allocate or promoted,
        key=f"scn_editor_{sid}",
        column_order=list(EDITOR_COLUMNS),
        column_config=EDITOR_COLUMNS,
    )
    chosen = edited[edited["included"]]
    st.caption(
        f"採択 {len(chosen)}件　基金充当額 {format_sen_yen(int(chosen['fund_share_yen'].sum()))}千円　"
        f"事業費 {format_sen_yen(int(chosen['project_cost_yen'].sum()))}千円（保存前の値）"
    )
    if promoted:
        st.info("このシナリオは配分として登録済みのため編集できません。複製してから編集してください。")
        return
    if not may_allocate:
        return
    engine = session.engine()
    e1, e2 = st.columns(2)
    if e1.button("変更を保存", icon=":material/save:", key="scn_save"):
        widgets.run_action(
            lambda: scenario.update_items(
                engine, actor=actor, scenario_id=sid, changes=scenario.changes_from_edit(view, edited)
            ),
            lambda n: f"{n}件の変更を保存しました。" if n else "変更はありません。",
        )
    with e2.popover("配分として登録（承認待ち）", icon=":material/publish:"):
        st.write(
            "採択に含めた提案を承認待ちの配分として登録します。承認は登録者とは別の幹部・管理者が行います。"
        )
        if st.button("登録する", type="primary", key="scn_promote"):
            widgets.run_action(
                lambda: scenario.promote(engine, actor=actor, scenario_id=sid),
                lambda new_ids: f"{len(new_ids)}件を承認待ちの配分として登録しました（配分の登録・承認）。",
            )


def _copy(actor: Actor, sid: int, name: str) -> None:
    copy_name = st.text_input("複製後の名前", value=f"{name}（複製）", key="scn_copy_name")
    if st.button("複製", key="scn_copy"):

        def copy() -> int:
            new_id = scenario.copy_scenario(session.engine(), actor=actor, scenario_id=sid, name=copy_name)
            st.session_state["scn_next_pick"] = new_id  # applied before the picker is drawn
            return new_id

        widgets.run_action(copy, f"「{copy_name.strip()}」として複製しました。")


def _compare(ids: list[int], names: dict[int, str]) -> None:
    x1, x2 = st.columns(2)

    def label(i: int) -> str:
        return f"{i}: {names[i]}"

    a_id = x1.selectbox("比較元（A）", ids, index=min(1, len(ids) - 1), format_func=label, key="cmp_a")
    b_id = x2.selectbox("比較先（B）", ids, index=0, format_func=label, key="cmp_b")
    cmp = loaders.scenario_compare(a_id=a_id, b_id=b_id)
    ta, tb = cmp.totals.loc["a"], cmp.totals.loc["b"]
    y1, y2, y3 = st.columns(3)
    y1.metric(
        "採択数（B）",
        f"{int(tb['projects'])}件",
        delta=f"{int(tb['projects'] - ta['projects']):+d}件 （Aとの差）",
    )
    y2.metric(
        "基金充当額（B）",
        f"{format_sen_yen(int(tb['fund_share_yen']))}千円",
        delta=f"{format_sen_yen(int(tb['fund_share_yen'] - ta['fund_share_yen']))}千円",
    )
    y3.metric("重み付き点の合計（B）", f"{tb['score']:.2f}", delta=f"{tb['score'] - ta['score']:+.2f}")
    changed = cmp.rows[cmp.rows["change"] != "変更なし"]
    if changed.empty:
        st.info("採択する提案と金額に違いはありません。")
        return
    sen_columns = ("A 基金充当額（千円）", "B 基金充当額（千円）", "差（千円）")
    st.dataframe(
        pd.DataFrame(
            {
                "違い": changed["change"],
                "事業名": changed["project"],
                "所管部局": changed["department"],
                sen_columns[0]: format_sen_yen_series(changed["a_fund_share_yen"]),
                sen_columns[1]: format_sen_yen_series(changed["b_fund_share_yen"]),
                sen_columns[2]: format_sen_yen_series(changed["difference_yen"]),
            }
        ),
        hide_index=True,
        width="stretch",
        column_config=dict.fromkeys(sen_columns, RIGHT),
    )
