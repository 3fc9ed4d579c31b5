"""新規提案 / 下書きの編集: the intake form in six steps; drafts load into it, and a refused save
opens the first step with a message and shows each message under its field on its own step."""

from typing import Any

import streamlit as st

from fund import auth, clock, proposals
from fund.auth import Action, Actor
from fund.errors import FundError, InputInvalid
from fund.fiscal import default_year
from fund.models import Novelty
from fund.money import format_sen_yen
from ui import loaders, session, widgets
from ui.proposals import form_steps
from ui.proposals.form_steps import COST_ROWS, FIELD_KEYS, KPI_ROWS, STEP_KEYS, STEPS, step_of

ERRORS = "pf_errors"
ERROR_VALUES = "pf_error_values"  # what the form held when it was refused
STEP = "pf_step"
MONEY_KEYS = [f"pf_cost{i}_{f}" for i in range(COST_ROWS) for f in ("cost", "fund")] + [
    "pf_national",
    "pf_other",
]
# Every widget of the form with its blank value: a cleared form assigns these (a key merely removed
# would leave the browser showing, and sending back, the old value).
BLANK: dict[str, Any] = {
    **dict.fromkeys(("pf_name", "pf_summary", "pf_purpose", "pf_problem", "pf_novelty_note"), ""),
    **{f"pf_req{n}": False for n in (1, 2, 3)},
    **{f"pf_req{n}_reason": "" for n in (1, 2, 3)},
    **dict.fromkeys(MONEY_KEYS, ""),
    **{f"pf_cost{i}_note": "" for i in range(COST_ROWS)},
    "pf_users": 0,
    "pf_uses": 0.0,
    "pf_procs": 0,
    "pf_minutes": 0.0,
    "pf_novelty": None,
    **{f"pf_kpi{i}_{f}": "" for i in range(KPI_ROWS) for f in ("name", "unit")},
    **{f"pf_kpi{i}_{f}": None for i in range(KPI_ROWS) for f in ("base", "first", "later")},
}
CHOICES = ("pf_dept", "pf_cat", "pf_year")  # set to the first valid choice when the form is drawn


def _errors() -> dict[str, str]:
    """The messages of the last refused save, less those of fields changed since (a rule's refusal
    stays until the next save)."""
    s = st.session_state
    errors: dict[str, str] = s.get(ERRORS, {})
    typed: dict[str, Any] = s.get(ERROR_VALUES, {})
    return {
        field: message
        for field, message in errors.items()
        if all(_value(key) == typed.get(key, BLANK.get(key)) for key in FIELD_KEYS.get(field, ()))
    }


def _value(key: str) -> Any:
    """A widget's value; one not drawn yet holds its blank value."""
    return st.session_state.get(key, BLANK.get(key))


def _yen(key: str) -> int | str:
    return widgets.typed_yen(st.session_state.get(key, ""))


def form_data() -> dict[str, Any]:
    """The form's widgets as service input (千円 → 円 here, once)."""
    s = st.session_state
    year = s.get("pf_year")
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
                "project_cost_yen": _yen(f"pf_cost{i}_cost"),
                "fund_share_yen": _yen(f"pf_cost{i}_fund"),
                "note": s.get(f"pf_cost{i}_note", ""),
            }
            for i in range(COST_ROWS)
        ],
        "national_funds_yen": _yen("pf_national"),
        "other_funds_yen": _yen("pf_other"),
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
    s = st.session_state
    s.update(BLANK)
    for key in [*CHOICES, "pf_id", "pf_version", ERRORS, ERROR_VALUES]:
        s.pop(key, None)
    s[STEP] = 0


def load_draft(actor: Actor, proposal_id: int) -> None:
    """Put a stored draft into the widgets (called before they are drawn)."""
    values, version = proposals.proposal_input(session.engine(), actor=actor, proposal_id=proposal_id)
    clear_form()
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
            s[f"pf_cost{i}_cost"] = format_sen_yen(line["project_cost_yen"])
            s[f"pf_cost{i}_fund"] = format_sen_yen(line["fund_share_yen"])
            s[f"pf_cost{i}_note"] = line["note"]
    s["pf_national"] = format_sen_yen(values["national_funds_yen"])
    s["pf_other"] = format_sen_yen(values["other_funds_yen"])
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
    """Button callback: runs before the widgets are drawn again, so the form can be cleared and the
    messages land under their fields. It runs before the page checks the session, so it checks it."""
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
    except FundError as exc:
        s[ERRORS] = exc.field_errors if isinstance(exc, InputInvalid) else {"form": exc.message}
        s[ERROR_VALUES] = {key: _value(key) for keys in STEP_KEYS for key in keys}
        s[STEP] = min((step_of(field, s.get(STEP, 0)) for field in s[ERRORS]), default=0)
        return
    clear_form()
    s.pop("pf_pick", None)
    verb = "提出しました" if submit else "下書きとして保存しました"
    s["pf_saved"] = f"提案番号 {saved.id} を{verb}。"


def _go(step: int) -> None:
    st.session_state[STEP] = step


def _keep_values(step: int) -> None:
    """Streamlit forgets the values of widgets not drawn in a run, and redraws a widget without its
    stored value unless that value was assigned in the run: every value is assigned, except those of
    a step drawn on the run before — an assignment is sent to the browser and would overwrite what the
    user is typing there while this run goes on."""
    s = st.session_state
    typing = set(STEP_KEYS[step]) if s.get("pf_shown_step") == step else set()
    for key in [*BLANK, *CHOICES]:
        if key in s and key not in typing:
            s[key] = s[key]
    s["pf_shown_step"] = step


@st.fragment
def render(actor: Actor, *, departments: dict[int, str]) -> None:
    """The form reruns alone while it is filled in; a save reruns the page (the list shows it)."""
    saved = st.session_state.pop("pf_saved", None)
    if saved:
        widgets.flash(saved)  # shown at the top of the page, over the list that now holds it
        st.rerun()
    years = loaders.proposal_years(today=clock.today_jst())
    if not years:
        st.warning(
            "提案を受け付けている年度がありません。管理者に年度の登録を依頼してください。",
            icon=":material/event_busy:",
        )
        return
    _keep_values(int(st.session_state.get(STEP, 0)))
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
    _error_summary(errors)
    widgets.field_error(errors, "form")  # a rule's refusal, under the summary
    editing = st.session_state.get("pf_id") is not None
    own = auth.department_scope(actor)
    choosable = [own] if own is not None else list(departments)
    if st.session_state.get("pf_year") not in years and not editing:
        st.session_state["pf_year"] = default_year(years, clock.today_jst())
    step = int(
        st.radio(
            "入力の段階",
            range(len(STEPS)),
            format_func=lambda i: f"{i + 1}. {STEPS[i]}",
            horizontal=True,
            key=STEP,
        )
    )
    with st.container(border=True):
        form_steps.draw(
            step, errors, choosable=choosable, departments=departments, years=years, editing=editing
        )
    _buttons(actor, step)


def _error_summary(errors: dict[str, str]) -> None:
    slot = st.empty()  # drawn either way, as a field's message (widgets.field_error)
    if not errors:
        return
    counts: dict[int, int] = {}
    for field in errors:
        if field != "form":
            counts[step_of(field, 0)] = counts.get(step_of(field, 0), 0) + 1
    where = "、".join(f"{STEPS[i]} {n}件" for i, n in sorted(counts.items()))
    slot.error(
        f"入力内容に誤りがあります（{where}）。各段階の項目の下のメッセージを確認してください。"
        if where
        else "保存できませんでした。",
        icon=widgets.ERROR_ICON,
    )


def _buttons(actor: Actor, step: int) -> None:
    last = len(STEPS) - 1
    b1, b2, b3, b4 = st.columns([1, 1, 1, 2])
    b1.button("戻る", icon=":material/arrow_back:", disabled=step == 0, on_click=_go, args=(step - 1,))
    if step < last:
        b2.button("次へ", icon=":material/arrow_forward:", type="primary", on_click=_go, args=(step + 1,))
    b3.button("下書き保存", icon=":material/save:", on_click=on_save, args=(actor, False))
    if step == last and auth.can(actor, Action.submit_proposal):
        b2.button("提出する", type="primary", icon=":material/send:", on_click=on_save, args=(actor, True))
    if step < last:
        b4.caption("提出は「6. 確認」で行います。途中で下書き保存もできます。")
