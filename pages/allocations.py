"""年度配分: the published table with downloads, registration and approval, scenarios and the optimiser."""

from functools import partial

import pandas as pd
import streamlit as st

from fund import allocation, allocation_export, optimiser, reference, scenario
from fund.auth import Action, can
from fund.errors import FundError
from fund.fiscal import fiscal_label
from fund.labels import BUDGET_STAGE
from fund.models import AllocationStatus, BudgetStage, Role
from fund.money import format_oku_yen, format_sen_yen, format_yen, sen_yen_to_yen, to_sen_yen
from pages import _ui

actor = _ui.require_actor(Action.view_allocations)
engine = _ui.engine()

st.title("年度配分")
_ui.show_flash()

may_allocate = can(actor, Action.allocate)
may_approve = can(actor, Action.approve_allocation)
may_export = can(actor, Action.export)
fiscal_years = _ui.read(reference.fiscal_years)
years_all = [int(y) for y in fiscal_years["year"]]
open_years = [int(r.year) for r in fiscal_years.itertuples() if not r.closed]

tab_names = ["配分表"]
if may_allocate or may_approve:
    tab_names += ["配分の登録・承認", "シナリオ"]
if may_allocate:
    tab_names.append("最適化")
# Only the open tab runs (switching tabs reruns the page), so a large 年度 costs only what is shown.
tabs = dict(zip(tab_names, st.tabs(tab_names, key="alloc_tab", on_change="rerun"), strict=True))


def _default_year_index() -> int:
    """The newest 年度 with proposals the optimiser could choose (else the first open 年度)."""
    candidate_years = _ui.read(optimiser.proposal_years)
    default_year = candidate_years[-1] if candidate_years else (open_years[0] if open_years else None)
    return years_all.index(default_year) if default_year in years_all else 0


def _year_label(y: int) -> str:
    return fiscal_label(int(y))


def _sen(yen: int | None) -> str:
    return "" if yen is None or pd.isna(yen) else f"{format_sen_yen(int(yen))}千円"


# --- 配分表 ------------------------------------------------------------------------------------------
if tabs["配分表"].open:
    with tabs["配分表"]:
        years = _ui.read(allocation.allocation_years)
        if not years:
            st.info(
                "承認済みの配分はまだありません。「配分の登録・承認」から登録し、承認すると表示されます。"
            )
        else:
            f1, f2, f3 = st.columns(3)
            year = f1.selectbox("年度", years, format_func=_year_label, key="alloc_year")
            depts = _ui.read(reference.departments)
            dept_names = dict(zip(depts["id"], depts["name"], strict=True))
            dept = f2.selectbox(
                "所管部局",
                [None, *dept_names],
                format_func=lambda d: "すべて" if d is None else dept_names[d],
                key="alloc_dept",
            )
            cats = _ui.read(allocation.category_choices)
            cat_labels = dict(zip(cats["code"], cats["label"], strict=True))
            cat = f3.selectbox(
                "区分",
                [None, *cat_labels],
                format_func=lambda c: "すべて" if c is None else cat_labels[c],
                key="alloc_cat",
            )
            filters = {"fiscal_year": year, "department_id": dept, "category_code": cat}
            # Totals of the whole table in SQL; only the rows shown are loaded.
            totals = _ui.read(allocation.table_totals, **filters)
            whole = totals[totals["level"] == "all"].iloc[0]
            if int(whole["rows"]) == 0:
                st.info("条件に合う配分はありません。所管部局・区分の絞り込みを外してください。")
            else:
                m1, m2, m3 = st.columns(3)
                m1.metric(
                    "事業数",
                    f"{int(whole['projects'])}事業",
                    help=f"うち新規 {int(whole['new_projects'])}事業（再掲を除く）",
                )
                cost = int(whole["project_cost_yen"])
                fund = int(whole["fund_share_yen"])
                m2.metric("予算額（事業費）", format_oku_yen(cost), help=f"{format_sen_yen(cost)}千円")
                m3.metric(
                    "うち基金充当額",
                    format_oku_yen(fund),
                    help=f"{format_sen_yen(fund)}千円（推計を含む場合は表の備考に印）",
                )

                st.subheader(allocation_export.title_for_stages(year, allocation_export.stages_of(totals)))
                st.caption("（単位：千円）")
                limit = allocation_export.SCREEN_LINES
                head = _ui.read(allocation.allocation_rows, **filters, limit=limit)
                shown, lines = allocation_export.screen_table(head, totals=totals, limit=limit)
                if lines > len(shown):
                    where = (
                        "すべての行は、下の Excel・CSV の保存ボタンで保存できます。"
                        if may_export
                        else "所管部局・区分で絞り込むと、残りの行も表示できます。"
                    )
                    st.info(
                        f"表の先頭 {len(shown):,} 行を表示しています（全 {lines:,} 行）。{where}",
                        icon=":material/table_rows:",
                    )
                st.dataframe(
                    shown,
                    hide_index=True,
                    width="stretch",
                    height=min(36 * (len(shown) + 1) + 4, 900),
                    column_config={
                        # Fixed widths (px) that fit a 1280px-wide screen with the sidebar open.
                        "区分": st.column_config.TextColumn(width=90),
                        "事業名【所管部局】": st.column_config.TextColumn(width=290),
                        "事業概要": st.column_config.TextColumn(width=230),
                        "予算額（千円）": st.column_config.TextColumn(width=105, alignment="right"),
                        "基金充当額（千円）": st.column_config.TextColumn(width=125, alignment="right"),
                        "備考": st.column_config.TextColumn(width=48, alignment="center"),
                    },
                )
                st.caption(
                    "※予算額は主たる区分で計上。(再掲) は他の区分に再掲した事業で、小計・合計には含みません。"
                    "新規はその年度が事業の初年度であることを示します。金額は千円未満を四捨五入し、小計・合計は表示金額の合計です。"
                )
                _ui.estimate_note()

                if may_export:
                    note_parts = []
                    if dept is not None:
                        note_parts.append(f"所管部局: {dept_names[dept]}")
                    if cat is not None:
                        note_parts.append(f"区分: {cat_labels[cat].strip()}")
                    note = "絞り込み　" + "　".join(note_parts) if note_parts else ""
                    d1, d2, d3 = st.columns(3)
                    for column, fmt, encoding, label, icon in (
                        (d1, "xlsx", "utf-8-sig", "Excel（xlsx）で保存", ":material/table_view:"),
                        (d2, "csv", "utf-8-sig", "CSV（UTF-8 BOM付き）で保存", ":material/download:"),
                        (d3, "csv", "cp932", "CSV（Shift_JIS）で保存", ":material/download:"),
                    ):
                        problem = (
                            _ui.read(allocation_export.encoding_problem, **filters, encoding=encoding)
                            if encoding == "cp932"
                            else None
                        )
                        if problem:
                            column.warning(problem, icon=":material/warning:")
                            continue
                        wanted = {**filters, "fmt": fmt, "encoding": encoding}
                        # The file is built when it is fetched, not on every run of the page.
                        column.download_button(
                            label,
                            data=partial(allocation_export.build_bytes, engine, **wanted, filter_note=note),
                            file_name=allocation_export.file_name(
                                fiscal_year=year, fmt=fmt, encoding=encoding
                            ),
                            mime=allocation_export.mime_type(fmt),
                            icon=icon,
                            key=f"dl_{fmt}_{encoding}",
                            on_click=allocation_export.record_download,
                            kwargs={"engine": engine, "actor": actor, "rows": int(whole["rows"]), **wanted},
                        )
                    st.caption(
                        "保存するのは画面の絞り込みどおりの内容（全行）です。保存は監査ログに記録されます。"
                    )


# --- 配分の登録・承認 ---------------------------------------------------------------------------------------
if "配分の登録・承認" in tabs and tabs["配分の登録・承認"].open:
    with tabs["配分の登録・承認"]:
        if not open_years:
            st.info("決算確定前の年度がありません。管理画面で年度を登録してください。")
        else:
            ryear = st.selectbox("年度", open_years, format_func=_year_label, key="reg_year")
            ceiling = _ui.read(allocation.fund_ceiling, fiscal_year=ryear)
            c1, c2, c3, c4 = st.columns(4)
            c1.metric(
                "基金からの上限",
                format_oku_yen(ceiling.fund_ceiling_yen),
                help=(
                    f"基金残高 {format_yen(ceiling.balance_yen)} ＋ 当年度の取崩し済み {format_yen(ceiling.drawn_this_year_yen)}"
                    f" − 他年度の承認済み未取崩し {format_yen(ceiling.committed_other_years_yen)}"
                    f" ＝ {format_yen(ceiling.fund_ceiling_yen)}"
                ),
            )
            c2.metric(
                "年間上限額（管理者設定）",
                "設定なし" if ceiling.annual_cap_yen is None else format_oku_yen(ceiling.annual_cap_yen),
                help=None if ceiling.annual_cap_yen is None else format_yen(ceiling.annual_cap_yen),
            )
            c3.metric(
                "登録済みの基金充当額",
                format_oku_yen(ceiling.year_total_yen),
                help=f"承認済み {format_yen(ceiling.approved_total_yen)}、承認待ちを含め {format_yen(ceiling.year_total_yen)}",
            )
            c4.metric("残り", format_oku_yen(ceiling.headroom_yen), help=format_yen(ceiling.headroom_yen))

            if may_allocate:
                with st.expander(
                    "配分を登録する（登録者とは別の幹部・管理者が承認します）", icon=":material/add:"
                ):
                    leafs = _ui.read(reference.leaf_categories)
                    leaf_labels = dict(zip(leafs["id"], leafs["label"], strict=True))
                    with st.form("propose_form", clear_on_submit=False):
                        project_id = _ui.project_picker("事業", key="reg_project")
                        a1, a2 = st.columns(2)
                        stage = a1.selectbox(
                            "予算の段階",
                            list(BudgetStage),
                            format_func=lambda s: BUDGET_STAGE[s],
                            key="reg_stage",
                        )
                        category_id = a2.selectbox(
                            "区分",
                            [None, *leaf_labels],
                            format_func=lambda c: "事業の主たる区分" if c is None else leaf_labels[c],
                            key="reg_category",
                        )
                        b1, b2 = st.columns(2)
                        cost_in = b1.number_input(
                            "事業費（円）", min_value=0, step=1_000, value=0, key="reg_cost"
                        )
                        share_in = b2.number_input(
                            "基金充当額（円）", min_value=0, step=1_000, value=0, key="reg_share"
                        )
                        if st.form_submit_button(
                            "承認待ちとして登録", icon=":material/send:", type="primary"
                        ):
                            try:
                                row = allocation.propose_allocation(
                                    engine,
                                    actor=actor,
                                    data={
                                        "project_id": project_id,
                                        "fiscal_year": ryear,
                                        "budget_stage": stage,
                                        "category_id": category_id,
                                        "project_cost_yen": int(cost_in),
                                        "fund_share_yen": int(share_in),
                                    },
                                )
                                _ui.flash(
                                    f"配分番号 {row.id} を承認待ちとして登録しました。別の幹部・管理者の承認が必要です。"
                                )
                                st.rerun()
                            except FundError as exc:
                                _ui.show_error(exc)

            pending = _ui.read(
                allocation.allocation_frame, fiscal_year=ryear, status=AllocationStatus.proposed
            )
            st.subheader("承認待ちの配分")
            if pending.empty:
                st.info("承認待ちの配分はありません。")
            else:
                st.dataframe(
                    pd.DataFrame(
                        {
                            "配分番号": pending["id"],
                            "事業名": pending["project"],
                            "所管部局": pending["department"],
                            "段階": pending["stage_label"],
                            "区分": pending["category"],
                            "事業費（千円）": [format_sen_yen(int(v)) for v in pending["project_cost_yen"]],
                            "基金充当額（千円）": [format_sen_yen(int(v)) for v in pending["fund_share_yen"]],
                            "登録者": pending["proposed_by"],
                        }
                    ),
                    hide_index=True,
                    width="stretch",
                    column_config={
                        "事業費（千円）": st.column_config.TextColumn(alignment="right"),
                        "基金充当額（千円）": st.column_config.TextColumn(alignment="right"),
                    },
                )
                labels = {
                    int(
                        r.id
                    ): f"{r.id}: {r.project}（{format_sen_yen(int(r.fund_share_yen))}千円、登録 {r.proposed_by}）"
                    for r in pending.itertuples()
                }
                chosen = st.selectbox(
                    "対象の配分", list(labels), format_func=lambda i: labels[i], key="pending_pick"
                )
                p1, p2 = st.columns([1, 2])
                if may_approve and p1.button(
                    "承認する", icon=":material/check_circle:", type="primary", key="approve_btn"
                ):
                    try:
                        allocation.approve_allocation(engine, actor=actor, allocation_id=chosen)
                        _ui.flash(f"配分番号 {chosen} を承認しました。基金の予定取崩しに反映されます。")
                        st.rerun()
                    except FundError as exc:
                        _ui.show_error(exc)
                with p2.popover("差戻し・取下げ", icon=":material/undo:"):
                    reason = st.text_input("理由", key="withdraw_reason")
                    if st.button("差戻す", key="withdraw_btn"):
                        try:
                            allocation.withdraw_allocation(
                                engine, actor=actor, allocation_id=chosen, reason=reason
                            )
                            _ui.flash(f"配分番号 {chosen} を差し戻しました。")
                            st.rerun()
                        except FundError as exc:
                            _ui.show_error(exc)

            if may_allocate:
                with st.expander(
                    "再掲を登録する（金額なしで他の区分にも掲載）", icon=":material/playlist_add:"
                ):
                    year_allocs = _ui.read(allocation.allocation_frame, fiscal_year=ryear)
                    if year_allocs.empty:
                        st.info("この年度の配分がまだないため、再掲できません。")
                    else:
                        leafs = _ui.read(reference.leaf_categories)
                        leaf_labels = dict(zip(leafs["id"], leafs["label"], strict=True))
                        projects = _ui.read(reference.projects)
                        alloc_projects = projects[projects["name"].isin(year_allocs["project"])]
                        pn = dict(
                            zip(alloc_projects["id"].tolist(), alloc_projects["name"].tolist(), strict=True)
                        )
                        r1, r2 = st.columns(2)
                        rp = r1.selectbox("事業", list(pn), format_func=lambda p: pn[p], key="rel_project")
                        rc = r2.selectbox(
                            "再掲する区分",
                            list(leaf_labels),
                            format_func=lambda c: leaf_labels[c],
                            key="rel_cat",
                        )
                        if st.button("再掲を登録", key="rel_btn"):
                            try:
                                allocation.add_relisting(
                                    engine,
                                    actor=actor,
                                    project_id=int(rp),
                                    fiscal_year=ryear,
                                    category_id=int(rc),
                                )
                                _ui.flash("再掲を登録しました。")
                                st.rerun()
                            except FundError as exc:
                                _ui.show_error(exc)

            if actor.role == Role.admin:
                with st.expander("年間上限額を設定する（管理者）", icon=":material/lock:"):
                    current = ceiling.annual_cap_yen
                    cap_sen = st.number_input(
                        "年間上限額（千円）",
                        min_value=0,
                        step=1_000,
                        value=0 if current is None else to_sen_yen(current),
                        key="cap_sen",
                    )
                    cap_reason = st.text_input("理由（監査ログに記録）", key="cap_reason")
                    k1, k2 = st.columns(2)
                    if k1.button("上限額を設定", key="cap_set"):
                        try:
                            allocation.set_annual_cap(
                                engine,
                                actor=actor,
                                fiscal_year=ryear,
                                cap_yen=sen_yen_to_yen(int(cap_sen)) or None,
                                reason=cap_reason,
                            )
                            _ui.flash(
                                f"{fiscal_label(ryear)}の年間上限額を {format_sen_yen(sen_yen_to_yen(int(cap_sen)))}千円 に設定しました。"
                            )
                            st.rerun()
                        except FundError as exc:
                            _ui.show_error(exc)
                    if k2.button("上限額を解除", key="cap_clear", disabled=current is None):
                        try:
                            allocation.set_annual_cap(
                                engine, actor=actor, fiscal_year=ryear, cap_yen=None, reason=cap_reason
                            )
                            _ui.flash(f"{fiscal_label(ryear)}の年間上限額を解除しました。")
                            st.rerun()
                        except FundError as exc:
                            _ui.show_error(exc)


# --- シナリオ ---------------------------------------------------------------------------------------------
if "シナリオ" in tabs and tabs["シナリオ"].open:
    with tabs["シナリオ"]:
        syear = st.selectbox(
            "年度", years_all, index=_default_year_index(), format_func=_year_label, key="scn_year"
        )
        if may_allocate:
            n1, n2 = st.columns([3, 1], vertical_alignment="bottom")
            new_name = n1.text_input(
                "新しいシナリオ名（その年度の提案をすべて候補として作成）", key="scn_new_name"
            )
            if n2.button("シナリオを作成", icon=":material/add:", key="scn_create"):
                try:
                    sid = scenario.create_scenario(engine, actor=actor, name=new_name, fiscal_year=syear)
                    st.session_state["scn_next_pick"] = sid
                    _ui.flash(
                        f"シナリオ「{new_name.strip()}」を作成しました。採択に含める提案を選んで保存してください。"
                    )
                    st.rerun()
                except FundError as exc:
                    _ui.show_error(exc)
        scenarios = _ui.read(scenario.scenario_list, fiscal_year=syear)
        if scenarios.empty:
            st.info("この年度のシナリオはまだありません。作成するか、「最適化」で案を作ってください。")
        else:
            st.dataframe(
                pd.DataFrame(
                    {
                        "番号": scenarios["id"],
                        "シナリオ名": scenarios["name"],
                        "作成方法": scenarios["origin_label"],
                        "採択数": scenarios["included"],
                        "候補数": scenarios["candidates"],
                        "基金充当額（千円）": [format_sen_yen(int(v)) for v in scenarios["fund_share_yen"]],
                        "事業費（千円）": [format_sen_yen(int(v)) for v in scenarios["project_cost_yen"]],
                        "作成者": scenarios["created_by"],
                        "配分登録": ["済" if pd.notna(p) else "" for p in scenarios["promoted_at"]],
                        "メモ": scenarios["note"],
                    }
                ),
                hide_index=True,
                width="stretch",
                column_config={
                    "基金充当額（千円）": st.column_config.TextColumn(alignment="right"),
                    "事業費（千円）": st.column_config.TextColumn(alignment="right"),
                },
            )
            names = dict(zip(scenarios["id"], scenarios["name"], strict=True))
            ids = [int(i) for i in scenarios["id"]]
            if st.session_state.get("scn_next_pick") in ids:
                st.session_state["scn_pick"] = st.session_state.pop("scn_next_pick")
            if st.session_state.get("scn_pick") not in ids:
                st.session_state["scn_pick"] = ids[0]
            sid = st.selectbox(
                "編集するシナリオ", ids, format_func=lambda i: f"{i}: {names[i]}", key="scn_pick"
            )
            items = _ui.read(scenario.scenario_items, scenario_id=sid)
            promoted = bool(pd.notna(scenarios.set_index("id").at[sid, "promoted_at"]))
            if items.empty:
                st.info("このシナリオには候補がありません。")
            else:
                view = pd.DataFrame(
                    {
                        "item_id": items["item_id"],
                        "included": items["included"],
                        "project": items["project"],
                        "department": items["department"],
                        "category": items["category"],
                        "score": items["score"].round(2),
                        "project_cost_yen": items["project_cost_yen"],
                        "fund_share_yen": items["fund_share_yen"],
                        "reason": [
                            f"{'必ず採択' if f == 'in' else '除外指定' if f == 'out' else ''}{('：' + r) if f else ''}"
                            or e
                            for f, r, e in zip(
                                items["forced"], items["force_reason"], items["exclusion_reason"], strict=True
                            )
                        ],
                    }
                )
                edited = st.data_editor(
                    view,
                    hide_index=True,
                    width="stretch",
                    disabled=not may_allocate or promoted,
                    key=f"scn_editor_{sid}",
                    column_order=[
                        "included",
                        "project",
                        "department",
                        "category",
                        "score",
                        "project_cost_yen",
                        "fund_share_yen",
                        "reason",
                    ],
                    column_config={
                        "included": st.column_config.CheckboxColumn("採択", width=60),
                        "project": st.column_config.TextColumn("事業名", disabled=True, width=260),
                        "department": st.column_config.TextColumn("所管部局", disabled=True, width=110),
                        "category": st.column_config.TextColumn("区分", disabled=True, width=160),
                        "score": st.column_config.NumberColumn(
                            "重み付き点", disabled=True, format="%.2f", width=80
                        ),
                        "project_cost_yen": st.column_config.NumberColumn(
                            "事業費（円）", format="localized", min_value=0, step=1000, width=130
                        ),
                        "fund_share_yen": st.column_config.NumberColumn(
                            "基金充当額（円）", format="localized", min_value=0, step=1000, width=130
                        ),
                        "reason": st.column_config.TextColumn("指定・除外理由", disabled=True, width=260),
                    },
                )
                totals = edited[edited["included"]]
                st.caption(
                    f"採択 {len(totals)}件　基金充当額 {format_sen_yen(int(totals['fund_share_yen'].sum()))}千円　"
                    f"事業費 {format_sen_yen(int(totals['project_cost_yen'].sum()))}千円（保存前の値）"
                )
                if promoted:
                    st.info(
                        "このシナリオは配分として登録済みのため編集できません。複製してから編集してください。"
                    )
                elif may_allocate:
                    e1, e2 = st.columns(2)
                    if e1.button("変更を保存", icon=":material/save:", key="scn_save"):
                        try:
                            n = scenario.update_items(
                                engine,
                                actor=actor,
                                scenario_id=sid,
                                changes=scenario.changes_from_edit(view, edited),
                            )
                            _ui.flash(f"{n}件の変更を保存しました。" if n else "変更はありません。")
                            st.rerun()
                        except FundError as exc:
                            _ui.show_error(exc)
                    with e2.popover("配分として登録（承認待ち）", icon=":material/publish:"):
                        st.write(
                            "採択に含めた提案を承認待ちの配分として登録します。承認は登録者とは別の幹部・管理者が行います。"
                        )
                        if st.button("登録する", type="primary", key="scn_promote"):
                            try:
                                new_ids = scenario.promote(engine, actor=actor, scenario_id=sid)
                                _ui.flash(
                                    f"{len(new_ids)}件を承認待ちの配分として登録しました（配分の登録・承認）。"
                                )
                                st.rerun()
                            except FundError as exc:
                                _ui.show_error(exc)

            if may_allocate:
                with st.expander("シナリオを複製する", icon=":material/content_copy:"):
                    copy_name = st.text_input(
                        "複製後の名前", value=f"{names[sid]}（複製）", key="scn_copy_name"
                    )
                    if st.button("複製", key="scn_copy"):
                        try:
                            new_id = scenario.copy_scenario(
                                engine, actor=actor, scenario_id=sid, name=copy_name
                            )
                            st.session_state["scn_next_pick"] = new_id  # applied before the picker is drawn
                            _ui.flash(f"「{copy_name.strip()}」として複製しました。")
                            st.rerun()
                        except FundError as exc:
                            _ui.show_error(exc)

            st.subheader("2つのシナリオを比較")
            if len(ids) < 2:
                st.info("比較するには同じ年度のシナリオが2つ以上必要です。")
            else:
                x1, x2 = st.columns(2)
                a_id = x1.selectbox(
                    "比較元（A）",
                    ids,
                    index=min(1, len(ids) - 1),
                    format_func=lambda i: f"{i}: {names[i]}",
                    key="cmp_a",
                )
                b_id = x2.selectbox(
                    "比較先（B）", ids, index=0, format_func=lambda i: f"{i}: {names[i]}", key="cmp_b"
                )
                cmp = _ui.read(scenario.compare, a_id=a_id, b_id=b_id)
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
                y3.metric(
                    "重み付き点の合計（B）", f"{tb['score']:.2f}", delta=f"{tb['score'] - ta['score']:+.2f}"
                )
                changed = cmp.rows[cmp.rows["change"] != "変更なし"]
                if changed.empty:
                    st.info("採択する提案と金額に違いはありません。")
                else:
                    st.dataframe(
                        pd.DataFrame(
                            {
                                "違い": changed["change"],
                                "事業名": changed["project"],
                                "所管部局": changed["department"],
                                "A 基金充当額（千円）": [
                                    _sen(v).removesuffix("千円") for v in changed["a_fund_share_yen"]
                                ],
                                "B 基金充当額（千円）": [
                                    _sen(v).removesuffix("千円") for v in changed["b_fund_share_yen"]
                                ],
                                "差（千円）": [format_sen_yen(int(v)) for v in changed["difference_yen"]],
                            }
                        ),
                        hide_index=True,
                        width="stretch",
                        column_config={
                            c: st.column_config.TextColumn(alignment="right")
                            for c in ("A 基金充当額（千円）", "B 基金充当額（千円）", "差（千円）")
                        },
                    )


# --- 最適化 -----------------------------------------------------------------------------------------------
if "最適化" in tabs and tabs["最適化"].open:
    with tabs["最適化"]:
        st.caption(
            "提案を丸ごと採択するか否かを選び、上限額の範囲で目的（審査の重み付き合計点、または県民との接点数）を最大にします。"
            "結果はシナリオとして保存され、確認・編集してから配分として登録できます。"
        )
        oyear = st.selectbox(
            "年度", years_all, index=_default_year_index(), format_func=_year_label, key="opt_year"
        )
        frame = _ui.read(optimiser.candidate_frame, actor=actor, fiscal_year=oyear)
        if frame.empty:
            st.info("この年度には候補となる提案（提出済み以降、不採択を除く）がありません。")
        else:
            ceiling = _ui.read(allocation.fund_ceiling, fiscal_year=oyear)
            o1, o2, o3 = st.columns(3)
            objective = o1.radio(
                "目的",
                list(optimiser.OBJECTIVES),
                format_func=lambda o: optimiser.OBJECTIVES[o],
                key="opt_objective",
            )
            ceiling_sen = o2.number_input(
                "上限額（千円）",
                min_value=1,
                step=10_000,
                value=max(1, to_sen_yen(ceiling.ceiling_yen)),
                help=f"既定値はこの年度の上限 {format_sen_yen(ceiling.ceiling_yen)}千円（基金残高と他年度の承認済み未取崩し、年間上限額から計算）",
                key="opt_ceiling",
            )
            floor = o3.number_input(
                "足切り（評価値の下限、0 で指定なし）", min_value=0.0, step=0.5, value=0.0, key="opt_floor"
            )
            st.markdown("**区分ごとの割合（採択額に占める割合、空欄は指定なし）**")
            leafs = _ui.read(reference.leaf_categories)
            share_table = st.data_editor(
                pd.DataFrame(
                    {
                        "category_id": leafs["id"],
                        "label": leafs["label"],
                        "min_pct": [None] * len(leafs),
                        "max_pct": [None] * len(leafs),
                    }
                ).astype({"min_pct": "Float64", "max_pct": "Float64"}),
                hide_index=True,
                width="stretch",
                key="opt_shares",
                placeholder="指定なし",
                column_order=["label", "min_pct", "max_pct"],
                column_config={
                    "label": st.column_config.TextColumn("区分", disabled=True, width=420),
                    "min_pct": st.column_config.NumberColumn("下限（%）", min_value=0, max_value=100, step=5),
                    "max_pct": st.column_config.NumberColumn("上限（%）", min_value=0, max_value=100, step=5),
                },
            )
            st.markdown("**候補と指定（必ず採択・除外には理由が必要です）**")
            force_table = st.data_editor(
                pd.DataFrame(
                    {
                        "id": frame["id"],
                        "project": frame["project"],
                        "department": frame["department"],
                        "fund_share_yen": frame["fund_share_yen"],
                        "score": frame["score"].round(2),
                        "touchpoints": frame["touchpoints"],
                        "force": [optimiser.FORCE_CHOICES[""]] * len(frame),
                        "reason": [""] * len(frame),
                    }
                ),
                hide_index=True,
                width="stretch",
                key=f"opt_force_{oyear}",
                column_order=[
                    "project",
                    "department",
                    "fund_share_yen",
                    "score",
                    "touchpoints",
                    "force",
                    "reason",
                ],
                column_config={
                    "project": st.column_config.TextColumn("事業名", disabled=True, width=260),
                    "department": st.column_config.TextColumn("所管部局", disabled=True, width=110),
                    "fund_share_yen": st.column_config.NumberColumn(
                        "基金充当額（円）", disabled=True, format="localized"
                    ),
                    "score": st.column_config.NumberColumn("重み付き点", disabled=True, format="%.2f"),
                    "touchpoints": st.column_config.NumberColumn(
                        "接点数/年", disabled=True, format="localized"
                    ),
                    "force": st.column_config.SelectboxColumn(
                        "指定", options=list(optimiser.FORCE_CHOICES.values()), required=True
                    ),
                    "reason": st.column_config.TextColumn("理由", width=200),
                },
            )
            if objective == "score" and frame["score"].isna().any():
                st.caption("※未採点の提案は評価値 0 として扱います（必ず採択に指定すれば含められます）。")
            existing = _ui.read(scenario.scenario_list, fiscal_year=oyear)
            run_name = st.text_input(
                "保存するシナリオ名",
                value=f"最適化案 {len(existing) + 1}",
                key=f"opt_name_{oyear}_{len(existing)}",
            )
            if st.button("最適化を実行", icon=":material/auto_awesome:", type="primary", key="opt_run"):
                with st.status("最適化を実行しています…", expanded=True) as status:
                    try:
                        st.write("候補と条件を確認しています。")
                        cands = optimiser.candidates_from(
                            frame, objective=objective, forced=optimiser.forced_from_table(force_table)
                        )
                        st.write(f"{len(cands)}件の提案から組合せを探しています（HiGHS）。")
                        result = optimiser.optimise(
                            cands,
                            objective=objective,
                            ceiling_yen=sen_yen_to_yen(int(ceiling_sen)),
                            shares=optimiser.shares_from_table(share_table),
                            min_value=float(floor) or None,
                        )
                        st.write("結果をシナリオとして保存しています。")
                        sid = scenario.save_optimised(
                            engine,
                            actor=actor,
                            name=run_name,
                            fiscal_year=oyear,
                            candidates=cands,
                            result=result,
                            parameters={
                                "ceiling_yen": result.ceiling_yen,
                                "min_value": float(floor) or None,
                                "shares": [s.__dict__ for s in optimiser.shares_from_table(share_table)],
                            },
                        )
                        st.session_state["opt_result"] = {
                            "scenario_id": sid,
                            "objective": optimiser.OBJECTIVES[objective],
                            "value": result.objective_value,
                            "used": result.budget_used_yen,
                            "ceiling": result.ceiling_yen,
                            "chosen": len(result.chosen),
                            "optimal": result.proven_optimal,
                            "seconds": result.seconds,
                        }
                        status.update(
                            label=f"完了（{result.seconds:.2f}秒）", state="complete", expanded=False
                        )
                    except FundError as exc:
                        status.update(label="最適化できませんでした", state="error", expanded=True)
                        _ui.show_error(exc)
            last = st.session_state.get("opt_result")
            if last:
                r1, r2, r3 = st.columns(3)
                value_text = (
                    f"{last['value']:,.2f}点"
                    if last["objective"].startswith("重み")
                    else f"{last['value']:,.0f}回/年"
                )
                r1.metric(f"目的値（{last['objective']}）", value_text)
                r2.metric(
                    "使用額 / 上限",
                    f"{format_sen_yen(last['used'])}千円",
                    help=f"上限 {format_sen_yen(last['ceiling'])}千円（使用率 {last['used'] / last['ceiling']:.1%}）",
                )
                r3.metric(
                    "採択数", f"{last['chosen']}件", help="最適解" if last["optimal"] else "時間内の最良解"
                )
                items = _ui.read(scenario.scenario_items, scenario_id=last["scenario_id"])
                st.caption(
                    f"シナリオ番号 {last['scenario_id']} として保存しました（「シナリオ」で比較・編集・配分登録）。"
                )
                out = items[~items["included"]]
                if out.empty:
                    st.success("すべての提案が採択されました。")
                else:
                    st.markdown("**採択されなかった提案と理由**")
                    st.dataframe(
                        pd.DataFrame(
                            {
                                "事業名": out["project"],
                                "所管部局": out["department"],
                                "基金充当額（千円）": [format_sen_yen(int(v)) for v in out["fund_share_yen"]],
                                "理由": out["exclusion_reason"],
                            }
                        ),
                        hide_index=True,
                        width="stretch",
                        column_config={"基金充当額（千円）": st.column_config.TextColumn(alignment="right")},
                    )
