"""新規提案 / 下書きの編集: the intake form; drafts load into it and messages land under each field."""

from typing import Any

import streamlit as st

from fund import auth, clock, intake, proposals
from fund.auth import Action, Actor
from fund.errors import FundError, InputInvalid
from fund.fiscal import default_year, fiscal_label
from fund.labels import NOVELTY, REQUIREMENT
from fund.models import Novelty
from fund.money import sen_yen_to_yen, to_sen_yen
from ui import loaders, session, widgets

COST_ROWS = intake.COST_YEARS  # 初年度〜5年度目, as in the 様式
KPI_ROWS = proposals.MAX_KPIS
ERRORS = "pf_errors"
KPI_FIELDS = ("name", "unit", "base", "first", "later")
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
    + [f"pf_kpi{i}_{f}" for i in range(KPI_ROWS) for f in KPI_FIELDS]
)


def _errors() -> dict[str, str]:
    errors: dict[str, str] = st.session_state.get(ERRORS, {})
    return errors


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


def load_draft(actor: Actor, proposal_id: int) -> None:
    """Put a stored draft into the widgets (called before they are drawn)."""
    clear_form()
    values, version = proposals.proposal_input(session.engine(), actor=actor, proposal_id=proposal_id)
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


def on_pick_draft(actor: Actor) -> None:
    picked = st.session_state.get("pf_pick")
    if picked is None:
        clear_form()
        return
    try:
        load_draft(actor, int(picked))
    except FundError as exc:
        st.session_state[ERRORS] = {"form": exc.message}


def on_save(actor: Actor, submit: bool) -> None:
    """Form callback: runs before the widgets are drawn again, so messages land under their fields.
    It runs before the page checks the session, so it checks it itself."""
    if session.current_actor() is None:
        return
    s = st.session_state
    try:
        saved = proposals.save_proposal(
            session.engine(),
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
    widgets.flash(f"提案番号 {saved.id} を{verb}。")


def render(actor: Actor, *, departments: dict[int, str]) -> None:
    years = loaders.proposal_years(today=clock.today_jst())
    if not years:
        st.warning(
            "提案を受け付けている年度がありません。管理者に年度の登録を依頼してください。",
            icon=":material/event_busy:",
        )
        return
    drafts = loaders.editable_drafts(actor=actor)
    labels = dict(zip(drafts["id"].astype(int), drafts["label"], strict=True))
    st.selectbox(
        "編集する下書き",
        [None, *labels],
        format_func=lambda i: "新しい提案を作成" if i is None else labels[i],
        key="pf_pick",
        on_change=on_pick_draft,
        args=(actor,),
        help="保存した下書きを選ぶと、続きから編集できます。",
    )
    errors = _errors()
    if errors:
        st.error(
            f"入力内容に誤りがあります（{len(errors)}件）。各項目の下のメッセージを確認してください。",
            icon=widgets.ERROR_ICON,
        )
        widgets.field_error(errors, "form")
    editing = st.session_state.get("pf_id") is not None
    if editing:
        st.caption("事業名・所管部局・区分は下書きの保存後は変更できません。")
    own = auth.department_scope(actor)
    choosable = [own] if own is not None else list(departments)
    cats = loaders.leaf_categories()
    cat_labels = dict(zip(cats["id"].astype(int), cats["label"], strict=True))
    if st.session_state.get("pf_year") not in years and not editing:
        st.session_state["pf_year"] = default_year(years, clock.today_jst())

    with st.form("proposal_form", enter_to_submit=False):
        _basics(errors, choosable, departments, cat_labels, years, editing=editing)
        _contents(errors)
        _money(errors)
        _evidence(errors)
        _kpis(errors)
        s1, s2, _ = st.columns([1, 1, 3])
        s1.form_submit_button("下書き保存", icon=":material/save:", on_click=on_save, args=(actor, False))
        if auth.can(actor, Action.submit_proposal):
            s2.form_submit_button(
                "提出する", type="primary", icon=":material/send:", on_click=on_save, args=(actor, True)
            )


def _basics(
    errors: dict[str, str],
    choosable: list[int],
    departments: dict[int, str],
    cat_labels: dict[int, str],
    years: list[int],
    *,
    editing: bool,
) -> None:
    st.markdown("**基本情報**")
    b1, b2 = st.columns([2, 1])
    with b1:
        st.text_input(
            "事業名（必須）",
            key="pf_name",
            max_chars=proposals.NAME_MAX,
            disabled=editing,
            help="既存事業と同じ名称なら既存事業に紐付き、新しい名称なら新規事業として登録されます。",
        )
        widgets.field_error(errors, "project_name")
    with b2:
        st.selectbox(
            "所管部局（必須）",
            choosable,
            format_func=lambda d: departments.get(d, ""),
            key="pf_dept",
            disabled=editing,
        )
        widgets.field_error(errors, "department_id")
    b3, b4 = st.columns([2, 1])
    with b3:
        st.selectbox(
            "区分（新規事業のみ）",
            list(cat_labels),
            format_func=cat_labels.__getitem__,
            key="pf_cat",
            disabled=editing,
        )
        widgets.field_error(errors, "category_id")
    with b4:
        chosen = st.session_state.get("pf_year")
        options = years if chosen in years else [chosen, *years]
        st.selectbox("提案年度（必須）", options, format_func=fiscal_label, key="pf_year")
        widgets.field_error(errors, "fiscal_year")
    st.markdown("**充当要件（1つ以上）**")
    for n in (1, 2, 3):
        st.checkbox(REQUIREMENT[n], key=f"pf_req{n}")
        st.text_area(f"要件{'①②③'[n - 1]}の該当理由", key=f"pf_req{n}_reason", height=68)
        widgets.field_error(errors, f"req{n}_reason")
    widgets.field_error(errors, "requirements")


def _contents(errors: dict[str, str]) -> None:
    st.markdown("**事業の内容**")
    st.text_area("事業概要", key="pf_summary", height=80)
    widgets.field_error(errors, "summary")
    t1, t2 = st.columns(2)
    with t1:
        st.text_area("目的", key="pf_purpose", height=100)
        widgets.field_error(errors, "purpose")
    with t2:
        st.text_area("現状・課題", key="pf_problem", height=100)
        widgets.field_error(errors, "problem")


def _money(errors: dict[str, str]) -> None:
    st.markdown(
        "**費用計画（千円）** 1年度目が提案年度です。基金を充当しない運用経費の年度も記入してください。"
    )
    for i in range(COST_ROWS):
        c0, c1, c2, c3 = st.columns([1, 2, 2, 3])
        c0.text(f"{i + 1}年度目")
        c1.number_input("事業費（千円）", min_value=0, step=1000, key=f"pf_cost{i}_cost")
        c2.number_input("基金充当額（千円）", min_value=0, step=1000, key=f"pf_cost{i}_fund")
        c3.text_input("備考", key=f"pf_cost{i}_note", placeholder="例: 運用経費" if i else "")
        widgets.field_error(errors, f"cost_lines.{i}")
    widgets.field_error(errors, "cost_lines")
    f1, f2 = st.columns(2)
    with f1:
        st.number_input("国庫支出金（千円・1年度目）", min_value=0, step=1000, key="pf_national")
        widgets.field_error(errors, "national_funds_yen")
    with f2:
        st.number_input("その他財源（千円・1年度目）", min_value=0, step=1000, key="pf_other")
        widgets.field_error(errors, "other_funds_yen")


def _evidence(errors: dict[str, str]) -> None:
    st.markdown("**県民実感の根拠**")
    fields = (
        ("想定利用者数（人）", "pf_users", 0, 100, "expected_users"),
        ("1人あたり利用回数（回/年）", "pf_uses", 0.0, 1.0, "uses_per_user_per_year"),
        ("デジタル化する手続（件/年）", "pf_procs", 0, 100, "procedures_per_year"),
        ("1件あたり短縮時間（分）", "pf_minutes", 0.0, 5.0, "minutes_saved_per_procedure"),
    )
    for column, (label, key, low, step, field) in zip(st.columns(4), fields, strict=True):
        with column:
            st.number_input(label, min_value=low, step=step, key=key)
            widgets.field_error(errors, field)
    n1, n2 = st.columns([1, 2])
    with n1:
        st.selectbox(
            "新規性",
            [None, *Novelty],
            format_func=lambda v: "選択してください" if v is None else NOVELTY[v],
            key="pf_novelty",
        )
        widgets.field_error(errors, "novelty")
    with n2:
        st.text_input("新規性の補足", key="pf_novelty_note")
        widgets.field_error(errors, "novelty_note")


def _kpis(errors: dict[str, str]) -> None:
    st.markdown("**成果指標（KPI）** 初年度（提案年度）と2年後の目標値")
    for i in range(KPI_ROWS):
        k1, k2, k3, k4, k5 = st.columns([3, 1, 1, 1, 1])
        k1.text_input(f"指標名{i + 1}", key=f"pf_kpi{i}_name")
        k2.text_input("単位", key=f"pf_kpi{i}_unit", placeholder="人、%、件")
        k3.number_input("基準値", key=f"pf_kpi{i}_base", value=None)
        k4.number_input("初年度目標", key=f"pf_kpi{i}_first", value=None)
        k5.number_input("2年後目標", key=f"pf_kpi{i}_later", value=None)
        widgets.field_error(errors, f"kpis.{i}")
    widgets.field_error(errors, "kpis")
