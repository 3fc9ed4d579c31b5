"""事業提案: the list with filters and the detail, the intake form, and the bulk upload (様式)."""

from typing import Any

import streamlit as st

from fund import clock, intake, proposals, reference
from fund.auth import Action, can
from fund.errors import FundError, InputInvalid
from fund.fiscal import fiscal_label
from fund.labels import NOVELTY, PROPOSAL_STATUS, REQUIREMENT
from fund.models import Novelty, ProposalStatus, Role
from fund.money import format_sen_yen, sen_yen_to_yen, to_sen_yen
from pages import _ui

actor = _ui.require_actor(Action.view_proposals)
engine = _ui.engine()

COST_ROWS = intake.COST_YEARS  # 初年度〜5年度目, as in the 様式
KPI_ROWS = 3
ERRORS = "pf_errors"
FORM_KEYS = (
    ["pf_name", "pf_dept", "pf_cat", "pf_year", "pf_summary", "pf_purpose", "pf_problem"]
    + [f"pf_req{n}" for n in (1, 2, 3)]
    + [f"pf_req{n}_reason" for n in (1, 2, 3)]
    + [
        "pf_national",
        "pf_other",
        "pf_users",
        "pf_uses",
        "pf_procs",
        "pf_minutes",
        "pf_novelty",
        "pf_novelty_note",
    ]
    + [f"pf_cost{i}_{f}" for i in range(COST_ROWS) for f in ("cost", "fund", "note")]
    + [f"pf_kpi{i}_{f}" for i in range(KPI_ROWS) for f in ("name", "unit", "base", "first", "later")]
)

st.title("事業提案")
_ui.show_flash()
if actor.role == Role.department:
    st.caption("事業担当は自部局の提案のみ表示・作成できます。")

depts = _ui.read(reference.departments)
dept_names = dict(zip(depts["id"].astype(int), depts["name"], strict=True))
may_create = can(actor, Action.create_proposal)
tab_names = ["一覧", "新規提案", "一括登録"] if may_create else ["一覧"]
tabs = st.tabs(tab_names)


def field_error(key: str) -> None:
    """The Japanese message for one field, right under it."""
    message = st.session_state.get(ERRORS, {}).get(key)
    if message:
        st.error(message, icon=":material/error:")


# --- 一覧 and 詳細 ------------------------------------------------------------------------------------


def show_list() -> None:
    years = _ui.read(reference.fiscal_years)["year"].tolist()
    f1, f2, f3, f4 = st.columns([1, 1, 1, 2])
    year = f1.selectbox(
        "年度",
        [None, *reversed(years)],
        format_func=lambda y: "すべて" if y is None else fiscal_label(int(y)),
        key="prop_year",
    )
    status = f2.selectbox(
        "状態",
        [None, *ProposalStatus],
        format_func=lambda s: "すべて" if s is None else PROPOSAL_STATUS[s],
        key="prop_status",
    )
    department = None
    if actor.role != Role.department:
        department = f3.selectbox(
            "所管部局",
            [None, *dept_names],
            format_func=lambda d: "すべて" if d is None else dept_names[d],
            key="prop_dept",
        )
    search = f4.text_input("事業名・概要で検索", key="prop_search")

    filters = {"fiscal_year": year, "status": status, "department_id": department, "search": search or None}
    df = _ui.read(proposals.proposal_frame, actor=actor, **filters, limit=_ui.DISPLAY_LIMIT)
    if df.empty:
        st.info("条件に合う提案はありません。", icon=":material/info:")
        return

    st.dataframe(
        proposals.proposal_table(df),
        hide_index=True,
        width="stretch",
        column_config={
            c: st.column_config.NumberColumn(format="localized") for c in proposals.PROPOSAL_TABLE_NUMBERS
        },
    )
    total = len(df)
    if total >= _ui.DISPLAY_LIMIT:
        total = _ui.read(proposals.proposal_count, actor=actor, **filters)
    _ui.limit_notice(total)
    st.caption(
        f"{total:,}件。県民接点 = 想定利用者数 × 1人あたり年間利用回数、削減時間 = 年間手続件数 × 1件あたり短縮時間。"
        "「サンプル」は動作確認用の例示値です。"
    )
    d1, d2, _ = st.columns([1, 1, 4])
    for column, fmt, label, mime in (
        (d1, "xlsx", "Excelで保存", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (d2, "csv", "CSVで保存", "text/csv"),
    ):
        column.download_button(
            label,
            data=lambda fmt=fmt: proposals.export_proposals(engine, actor=actor, **filters, fmt=fmt),
            file_name=f"事業提案一覧.{fmt}",
            mime=mime,
            on_click="ignore",
            icon=":material/download:",
            disabled=not can(actor, Action.export),
            key=f"prop_export_{fmt}",
        )
    if total > proposals.LARGE_EXPORT_ROWS:
        st.caption(
            f"{proposals.LARGE_EXPORT_ROWS:,}件を超えるため、Excelでの保存には時間がかかります（数十秒）。CSVの方が速く保存できます。"
        )

    st.subheader("提案の詳細")
    names = dict(zip(df["id"].astype(int), df["project"], strict=True))
    choice = st.selectbox(
        "提案を選択", list(names), format_func=lambda i: f"{i}: {names[i]}", key="prop_detail"
    )
    show_detail(int(choice))


def show_detail(proposal_id: int) -> None:
    try:
        d = _ui.read(proposals.proposal_detail, actor=actor, proposal_id=proposal_id)
    except FundError as exc:
        _ui.show_error(exc)
        return
    st.text(f"{d.project}（{d.department}）")
    st.caption(
        f"{fiscal_label(d.fiscal_year)}・{d.category}・状態: {d.status_label}"
        + ("・新規" if d.is_new else "")
        + ("・根拠データはサンプル" if d.is_sample else "")
    )
    st.markdown("**県民実感の根拠（試算）**")
    e1, e2, e3 = st.columns(3)
    touch, hours, per = (
        d.evidence["touchpoints"],
        d.evidence["hours_saved"],
        d.evidence["yen_per_1000_touchpoints"],
    )
    e1.metric("県民接点（回/年）", f"{touch or 0:,.0f}", help="想定利用者数 × 1人あたり年間利用回数")
    e2.metric("削減時間（時間/年）", f"{hours or 0:,.0f}", help="年間手続件数 × 1件あたり短縮時間")
    e3.metric(
        "1,000接点あたり基金充当額",
        "—" if per is None else f"{per:,.0f}円",
        help="基金充当額 ÷ 県民接点 × 1,000",
    )
    m = st.columns(4)
    for col, (label, yen) in zip(m, d.money.items(), strict=True):
        col.metric(f"{label}（千円）", format_sen_yen(yen))
    with st.expander("提案内容", expanded=False):
        for label, text in d.texts.items():
            st.markdown(f"**{label}**")
            st.text(text or "（未記入）")
        st.markdown("**充当要件**")
        if d.requirements:
            for req, why in d.requirements:
                st.text(f"{req}\n  該当理由: {why or '（未記入）'}")
        else:
            st.text("（未選択）")
        st.markdown("**根拠の入力値**")
        st.text("　".join(f"{k}: {v}" for k, v in d.evidence_inputs.items()))
        st.text(f"新規性: {d.novelty or '（未選択）'}　{d.novelty_note}")
    st.markdown("**費用計画（運用経費を含む）**")
    if d.cost_lines.empty:
        st.info("費用計画は未入力です。", icon=":material/info:")
    else:
        st.dataframe(
            d.cost_lines,
            hide_index=True,
            width="stretch",
            column_config={
                c: st.column_config.NumberColumn(format="localized")
                for c in ["事業費（千円）", "基金充当額（千円）"]
            },
        )
    st.markdown("**成果指標（KPI）**")
    if d.kpis.empty:
        st.info("成果指標は未入力です。", icon=":material/info:")
    else:
        st.dataframe(d.kpis, hide_index=True, width="stretch")
    st.markdown("**経過**")
    st.dataframe(_ui.read(proposals.timeline, proposal_id=proposal_id), hide_index=True, width="stretch")
    if d.status == ProposalStatus.draft and may_create:
        st.caption("下書きの編集は「新規提案」タブで、編集する下書きを選んで行えます。")
    show_actions(d)


def show_actions(d: proposals.ProposalDetail) -> None:
    if not d.transitions:
        return
    st.markdown("**状態の変更**")
    options = {o.to_status: o for o in d.transitions}
    a1, a2 = st.columns([1, 2])
    to = a1.selectbox(
        "変更後の状態", list(options), format_func=lambda s: options[s].label, key=f"act_to_{d.id}"
    )
    chosen = options[to]
    reason = a2.text_area(
        "理由" + ("（必須）" if chosen.reason_required else "（任意）"),
        key=f"act_reason_{d.id}",
        height=80,
        help="不採択と、通常の流れ以外の変更（例外）には理由が必要です。経過と監査記録に残ります。",
    )
    if chosen.is_override:
        st.warning("通常の流れ以外の変更です。理由とともに監査記録に残ります。", icon=":material/warning:")
    if st.button("状態を変更する", key=f"act_go_{d.id}", icon=":material/swap_horiz:"):
        try:
            proposals.change_status(
                engine, actor=actor, proposal_id=d.id, to_status=to, reason=reason, version=d.version
            )
        except FundError as exc:
            _ui.show_error(exc)
        else:
            _ui.flash(f"提案番号 {d.id} を「{PROPOSAL_STATUS[to]}」にしました。")
            st.rerun()


# --- 新規提案 / 下書きの編集 --------------------------------------------------------------------------------


def form_data() -> dict[str, Any]:
    """The form's widgets as service input (千円 → 円 here, once)."""
    s = st.session_state
    year = s.get("pf_year")

    def yen(key: str) -> int:
        value = s.get(key)
        return 0 if value is None else sen_yen_to_yen(int(value))

    return {
        "project_name": s.get("pf_name", ""),
        "department_id": s.get("pf_dept"),
        "category_id": s.get("pf_cat"),
        "fiscal_year": year,
        **{f"meets_req{n}": bool(s.get(f"pf_req{n}")) for n in (1, 2, 3)},
        **{f"req{n}_reason": s.get(f"pf_req{n}_reason", "") for n in (1, 2, 3)},
        "summary": s.get("pf_summary", ""),
        "purpose": s.get("pf_purpose", ""),
        "problem": s.get("pf_problem", ""),
        "cost_lines": [
            {
                "fiscal_year": (year or 0) + i,
                "project_cost_yen": yen(f"pf_cost{i}_cost"),
                "fund_share_yen": yen(f"pf_cost{i}_fund"),
                "note": s.get(f"pf_cost{i}_note", ""),
            }
            for i in range(COST_ROWS)
        ],
        "national_funds_yen": yen("pf_national"),
        "other_funds_yen": yen("pf_other"),
        "expected_users": s.get("pf_users") or 0,
        "uses_per_user_per_year": s.get("pf_uses") or 0.0,
        "procedures_per_year": s.get("pf_procs") or 0,
        "minutes_saved_per_procedure": s.get("pf_minutes") or 0.0,
        "novelty": s.get("pf_novelty"),
        "novelty_note": s.get("pf_novelty_note", ""),
        "kpis": [
            {
                "name": s.get(f"pf_kpi{i}_name", ""),
                "unit": s.get(f"pf_kpi{i}_unit", ""),
                "baseline": s.get(f"pf_kpi{i}_base"),
                "target_first": s.get(f"pf_kpi{i}_first"),
                "target_later": s.get(f"pf_kpi{i}_later"),
            }
            for i in range(KPI_ROWS)
        ],
    }


def clear_form() -> None:
    for key in [*FORM_KEYS, "pf_id", "pf_version", ERRORS]:
        st.session_state.pop(key, None)


def load_draft(proposal_id: int) -> None:
    """Put a stored draft into the widgets (called before they are drawn)."""
    clear_form()
    values, version = proposals.proposal_input(engine, actor=actor, proposal_id=proposal_id)
    s = st.session_state
    s["pf_id"], s["pf_version"] = proposal_id, version
    s["pf_name"], s["pf_dept"], s["pf_cat"] = (
        values["project_name"],
        values["department_id"],
        values["category_id"],
    )
    s["pf_year"] = values["fiscal_year"]
    for n in (1, 2, 3):
        s[f"pf_req{n}"] = values[f"meets_req{n}"]
        s[f"pf_req{n}_reason"] = values[f"req{n}_reason"]
    s["pf_summary"], s["pf_purpose"], s["pf_problem"] = (
        values["summary"],
        values["purpose"],
        values["problem"],
    )
    for line in values["cost_lines"]:
        i = line["fiscal_year"] - values["fiscal_year"]
        if 0 <= i < COST_ROWS:
            s[f"pf_cost{i}_cost"] = to_sen_yen(line["project_cost_yen"])
            s[f"pf_cost{i}_fund"] = to_sen_yen(line["fund_share_yen"])
            s[f"pf_cost{i}_note"] = line["note"]
    s["pf_national"] = to_sen_yen(values["national_funds_yen"])
    s["pf_other"] = to_sen_yen(values["other_funds_yen"])
    s["pf_users"] = values["expected_users"]
    s["pf_uses"] = float(values["uses_per_user_per_year"])
    s["pf_procs"] = values["procedures_per_year"]
    s["pf_minutes"] = float(values["minutes_saved_per_procedure"])
    s["pf_novelty"] = Novelty(values["novelty"]) if values["novelty"] else None
    s["pf_novelty_note"] = values["novelty_note"]
    for i, k in enumerate(values["kpis"][:KPI_ROWS]):
        s[f"pf_kpi{i}_name"], s[f"pf_kpi{i}_unit"] = k.get("name", ""), k.get("unit", "")
        s[f"pf_kpi{i}_base"], s[f"pf_kpi{i}_first"] = k.get("baseline"), k.get("target_first")
        s[f"pf_kpi{i}_later"] = k.get("target_later")


def on_pick_draft() -> None:
    picked = st.session_state.get("pf_pick")
    if picked is None:
        clear_form()
    else:
        try:
            load_draft(int(picked))
        except FundError as exc:
            st.session_state[ERRORS] = {"form": exc.message}


def on_save(submit: bool) -> None:
    """Form callback: runs before the widgets are drawn again, so messages land under their fields."""
    s = st.session_state
    try:
        saved = proposals.save_proposal(
            engine,
            actor=actor,
            data=form_data(),
            proposal_id=s.get("pf_id"),
            version=s.get("pf_version"),
            submit=submit,
        )
    except InputInvalid as exc:
        s[ERRORS] = exc.field_errors
        return
    except FundError as exc:
        s[ERRORS] = {"form": exc.message}
        return
    clear_form()
    s.pop("pf_pick", None)
    verb = "提出しました" if submit else "下書きとして保存しました"
    _ui.flash(f"提案番号 {saved.id} を{verb}。")


def show_form() -> None:
    years = _ui.read(proposals.proposal_years, today=clock.today_jst())
    if not years:
        st.warning(
            "提案を受け付けている年度がありません。管理者に年度の登録を依頼してください。",
            icon=":material/event_busy:",
        )
        return
    drafts = _ui.read(proposals.editable_drafts, actor=actor)
    labels = dict(zip(drafts["id"].astype(int), drafts["label"], strict=True))
    st.selectbox(
        "編集する下書き",
        [None, *labels],
        format_func=lambda i: "新しい提案を作成" if i is None else labels[i],
        key="pf_pick",
        on_change=on_pick_draft,
        help="保存した下書きを選ぶと、続きから編集できます。",
    )
    errors: dict[str, str] = st.session_state.get(ERRORS, {})
    if errors:
        st.error(
            f"入力内容に誤りがあります（{len(errors)}件）。各項目の下のメッセージを確認してください。",
            icon=":material/error:",
        )
        field_error("form")
    editing = st.session_state.get("pf_id") is not None
    if editing:
        st.caption("事業名・所管部局・区分は下書きの保存後は変更できません。")

    own = [actor.department_id] if actor.role == Role.department and actor.department_id else list(dept_names)
    cats = _ui.read(reference.leaf_categories)
    cat_labels = dict(zip(cats["id"].astype(int), cats["label"], strict=True))
    if st.session_state.get("pf_year") not in years and not editing:
        st.session_state["pf_year"] = years[min(1, len(years) - 1)]

    with st.form("proposal_form", enter_to_submit=False):
        st.markdown("**基本情報**")
        b1, b2 = st.columns([2, 1])
        with b1:
            st.text_input(
                "事業名（必須）",
                key="pf_name",
                max_chars=120,
                disabled=editing,
                help="既存事業と同じ名称なら既存事業に紐付き、新しい名称なら新規事業として登録されます。",
            )
            field_error("project_name")
        with b2:
            st.selectbox(
                "所管部局（必須）",
                own,
                format_func=lambda d: dept_names.get(d, ""),
                key="pf_dept",
                disabled=editing,
            )
            field_error("department_id")
        b3, b4 = st.columns([2, 1])
        with b3:
            st.selectbox(
                "区分（新規事業のみ）",
                list(cat_labels),
                format_func=lambda c: cat_labels[c],
                key="pf_cat",
                disabled=editing,
            )
            field_error("category_id")
        with b4:
            year_options = (
                years if st.session_state.get("pf_year") in years else [st.session_state["pf_year"], *years]
            )
            st.selectbox("提案年度（必須）", year_options, format_func=fiscal_label, key="pf_year")
            field_error("fiscal_year")

        st.markdown("**充当要件（1つ以上）**")
        for n in (1, 2, 3):
            st.checkbox(REQUIREMENT[n], key=f"pf_req{n}")
            st.text_area(f"要件{'①②③'[n - 1]}の該当理由", key=f"pf_req{n}_reason", height=68)
            field_error(f"req{n}_reason")
        field_error("requirements")

        st.markdown("**事業の内容**")
        st.text_area("事業概要", key="pf_summary", height=80)
        field_error("summary")
        t1, t2 = st.columns(2)
        with t1:
            st.text_area("目的", key="pf_purpose", height=100)
            field_error("purpose")
        with t2:
            st.text_area("現状・課題", key="pf_problem", height=100)
            field_error("problem")

        st.markdown(
            "**費用計画（千円）** 1年度目が提案年度です。基金を充当しない運用経費の年度も記入してください。"
        )
        for i in range(COST_ROWS):
            c0, c1, c2, c3 = st.columns([1, 2, 2, 3])
            c0.text(f"{i + 1}年度目")
            c1.number_input("事業費（千円）", min_value=0, step=1000, key=f"pf_cost{i}_cost")
            c2.number_input("基金充当額（千円）", min_value=0, step=1000, key=f"pf_cost{i}_fund")
            c3.text_input("備考", key=f"pf_cost{i}_note", placeholder="例: 運用経費" if i else "")
            field_error(f"cost_lines.{i}")
        field_error("cost_lines")
        f1, f2 = st.columns(2)
        with f1:
            st.number_input("国庫支出金（千円・1年度目）", min_value=0, step=1000, key="pf_national")
            field_error("national_funds_yen")
        with f2:
            st.number_input("その他財源（千円・1年度目）", min_value=0, step=1000, key="pf_other")
            field_error("other_funds_yen")

        st.markdown("**県民実感の根拠**")
        g1, g2, g3, g4 = st.columns(4)
        with g1:
            st.number_input("想定利用者数（人）", min_value=0, step=100, key="pf_users")
            field_error("expected_users")
        with g2:
            st.number_input("1人あたり利用回数（回/年）", min_value=0.0, step=1.0, key="pf_uses")
            field_error("uses_per_user_per_year")
        with g3:
            st.number_input("デジタル化する手続（件/年）", min_value=0, step=100, key="pf_procs")
            field_error("procedures_per_year")
        with g4:
            st.number_input("1件あたり短縮時間（分）", min_value=0.0, step=5.0, key="pf_minutes")
            field_error("minutes_saved_per_procedure")
        n1, n2 = st.columns([1, 2])
        with n1:
            st.selectbox(
                "新規性",
                [None, *Novelty],
                format_func=lambda v: "選択してください" if v is None else NOVELTY[v],
                key="pf_novelty",
            )
            field_error("novelty")
        with n2:
            st.text_input("新規性の補足", key="pf_novelty_note")
            field_error("novelty_note")

        st.markdown("**成果指標（KPI）** 初年度（提案年度）と2年後の目標値")
        for i in range(KPI_ROWS):
            k1, k2, k3, k4, k5 = st.columns([3, 1, 1, 1, 1])
            k1.text_input(f"指標名{i + 1}", key=f"pf_kpi{i}_name")
            k2.text_input("単位", key=f"pf_kpi{i}_unit", placeholder="人、%、件")
            k3.number_input("基準値", key=f"pf_kpi{i}_base", value=None)
            k4.number_input("初年度目標", key=f"pf_kpi{i}_first", value=None)
            k5.number_input("2年後目標", key=f"pf_kpi{i}_later", value=None)
            field_error(f"kpis.{i}")
        field_error("kpis")

        s1, s2, _ = st.columns([1, 1, 3])
        s1.form_submit_button(
            "下書き保存", icon=":material/save:", on_click=on_save, kwargs={"submit": False}
        )
        if can(actor, Action.submit_proposal):
            s2.form_submit_button(
                "提出する", type="primary", icon=":material/send:", on_click=on_save, kwargs={"submit": True}
            )


# --- 一括登録 ----------------------------------------------------------------------------------------------


def show_bulk() -> None:
    st.markdown(
        f"様式（Excel）に1行1提案で記入してアップロードします。1行でも誤りがあれば何も登録せず、"
        f"誤りを行と列ごとに一覧表示します。上限 {intake.MAX_ROWS:,}件・{intake.MAX_UPLOAD_BYTES // (1024 * 1024)}MB。"
    )
    st.download_button(
        "様式をダウンロード（xlsx）",
        data=lambda: intake.template_xlsx(
            engine, years=_ui.read(proposals.proposal_years, today=clock.today_jst())
        ),
        file_name="事業提案_一括登録様式.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        icon=":material/download:",
    )
    upload = st.file_uploader("記入した様式（xlsx または csv）", type=["xlsx", "csv"], key="bulk_file")
    submit = False
    if can(actor, Action.submit_proposal):
        submit = (
            st.radio("登録後の状態", ["下書き", "提出済"], horizontal=True, key="bulk_status") == "提出済"
        )
    u1, u2, _ = st.columns([1, 1, 3])
    check = u1.button("内容を確認する", icon=":material/rule:", disabled=upload is None)
    go = u2.button("登録する", type="primary", icon=":material/upload:", disabled=upload is None)
    if upload is None or not (check or go):
        return
    bar = st.progress(0.0, text="各行を確認しています…")
    try:
        result = intake.import_upload(
            engine,
            actor=actor,
            filename=upload.name,
            content=upload.getvalue(),
            submit=submit,
            dry_run=check,
            progress=lambda x: bar.progress(x, text="各行を確認しています…"),
        )
    except intake.UploadInvalid as exc:
        bar.empty()
        st.error(
            f"誤りが{len(exc.row_errors)}件あるため、登録していません。直してから再度アップロードしてください。",
            icon=":material/error:",
        )
        errors = exc.frame()
        if len(errors) <= 200:
            st.table(errors.set_index("行"))  # wraps long messages; plain text, never markdown
        else:
            st.dataframe(errors, hide_index=True, width="stretch")
        return
    except FundError as exc:
        bar.empty()
        _ui.show_error(exc)
        return
    bar.empty()
    if result.dry_run:
        st.success(
            "すべての行に誤りはありません。「登録する」で登録できます。", icon=":material/check_circle:"
        )
    else:
        st.success(
            f"{result.count}件を{PROPOSAL_STATUS[result.status]}として登録しました。",
            icon=":material/check_circle:",
        )


with tabs[0]:
    show_list()
if may_create:
    with tabs[1]:
        show_form()
    with tabs[2]:
        show_bulk()
