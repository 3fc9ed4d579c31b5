"""The six steps of the proposal form, as in the 様式: 基本情報 → 充当要件 → 費用計画 → 県民実感の根拠
→ 成果指標 → 確認. Each field's message is drawn under it; long texts count their characters."""

from collections.abc import Callable

import pandas as pd
import streamlit as st

from fund import intake, proposals
from fund.fiscal import fiscal_label
from fund.labels import NOVELTY, REQUIREMENT
from fund.models import Novelty
from fund.money import format_sen_yen, parse_sen_yen_text
from ui import loaders, widgets

STEPS = ("基本情報", "充当要件", "費用計画", "県民実感の根拠", "成果指標", "確認")
COST_ROWS = intake.COST_YEARS  # 初年度〜5年度目, as in the 様式
KPI_ROWS = proposals.MAX_KPIS
# The widgets each step draws (the 確認 step draws none).
STEP_KEYS: tuple[tuple[str, ...], ...] = (
    ("pf_name", "pf_dept", "pf_cat", "pf_year", "pf_summary", "pf_purpose", "pf_problem"),
    tuple(f"pf_req{n}{part}" for n in (1, 2, 3) for part in ("", "_reason")),
    (
        *(f"pf_cost{i}_{f}" for i in range(COST_ROWS) for f in ("cost", "fund", "note")),
        "pf_national",
        "pf_other",
    ),
    ("pf_users", "pf_uses", "pf_procs", "pf_minutes", "pf_novelty", "pf_novelty_note"),
    tuple(f"pf_kpi{i}_{f}" for i in range(KPI_ROWS) for f in ("name", "unit", "base", "first", "later")),
    (),
)
_COST_KEYS = STEP_KEYS[2][:-2]
_KPI_KEYS = STEP_KEYS[4]
# The widgets whose values a service field is read from: a message stays until one of them changes.
FIELD_KEYS: dict[str, tuple[str, ...]] = {
    "project_name": ("pf_name",),
    "department_id": ("pf_dept",),
    "category_id": ("pf_cat",),
    "fiscal_year": ("pf_year",),
    "summary": ("pf_summary",),
    "purpose": ("pf_purpose",),
    "problem": ("pf_problem",),
    "requirements": ("pf_req1", "pf_req2", "pf_req3"),
    **{f"req{n}_reason": (f"pf_req{n}_reason", f"pf_req{n}") for n in (1, 2, 3)},
    "cost_lines": _COST_KEYS,
    **{
        f"cost_lines.{i}": tuple(k for k in _COST_KEYS if k.startswith(f"pf_cost{i}_"))
        for i in range(COST_ROWS)
    },
    "national_funds_yen": ("pf_national",),
    "other_funds_yen": ("pf_other", "pf_national", *_COST_KEYS),
    "expected_users": ("pf_users",),
    "uses_per_user_per_year": ("pf_uses",),
    "procedures_per_year": ("pf_procs",),
    "minutes_saved_per_procedure": ("pf_minutes",),
    "novelty": ("pf_novelty",),
    "novelty_note": ("pf_novelty_note", "pf_novelty"),
    "kpis": _KPI_KEYS,
    **{f"kpis.{i}": tuple(k for k in _KPI_KEYS if k.startswith(f"pf_kpi{i}_")) for i in range(KPI_ROWS)},
}


def step_of(field: str, default: int) -> int:
    """The step that holds a service field ('cost_lines.2' → 費用計画); `default` for the whole form."""
    keys = FIELD_KEYS.get(field) or FIELD_KEYS.get(field.split(".")[0])
    return next(i for i, step in enumerate(STEP_KEYS) if keys[0] in step) if keys else default


def draw(
    step: int,
    errors: dict[str, str],
    *,
    choosable: list[int],
    departments: dict[int, str],
    years: list[int],
    editing: bool,
) -> None:
    steps: tuple[Callable[[], None], ...] = (
        lambda: _basics(errors, choosable, departments, years, editing=editing),
        lambda: _requirements(errors),
        lambda: _money(errors),
        lambda: _evidence(errors),
        lambda: _kpis(errors),
        lambda: _review(departments),
    )
    steps[step]()


def _text_area(
    label: str, key: str, limit: int, errors: dict[str, str], field: str, height: int = 100
) -> None:
    """A long text with its character counter (max_chars) and its message."""
    st.text_area(label, key=key, height=height, max_chars=limit)
    widgets.field_error(errors, field)


def _basics(
    errors: dict[str, str],
    choosable: list[int],
    departments: dict[int, str],
    years: list[int],
    *,
    editing: bool,
) -> None:
    if editing:
        st.caption("事業名・所管部局・区分は下書きの保存後は変更できません。")
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
    cats = loaders.leaf_categories()
    cat_labels = dict(zip(cats["id"].astype(int), cats["label"], strict=True))
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
    _text_area("事業概要", "pf_summary", proposals.TEXT_MAX, errors, "summary", height=80)
    t1, t2 = st.columns(2)
    with t1:
        _text_area("目的", "pf_purpose", proposals.TEXT_MAX, errors, "purpose")
    with t2:
        _text_area("現状・課題", "pf_problem", proposals.TEXT_MAX, errors, "problem")


def _requirements(errors: dict[str, str]) -> None:
    st.markdown("**充当要件（1つ以上）** 該当する要件を選び、その理由を記入してください。")
    widgets.field_error(errors, "requirements")
    for n in (1, 2, 3):
        st.checkbox(REQUIREMENT[n], key=f"pf_req{n}")
        _text_area(
            f"要件{'①②③'[n - 1]}の該当理由",
            f"pf_req{n}_reason",
            proposals.REASON_MAX,
            errors,
            f"req{n}_reason",
            68,
        )


def _money(errors: dict[str, str]) -> None:
    st.markdown(
        "**費用計画（千円）** 1年度目が提案年度です。基金を充当しない運用経費の年度も記入してください。"
    )
    for i in range(COST_ROWS):
        c0, c1, c2, c3 = st.columns([1, 2, 2, 3])
        c0.text(f"{i + 1}年度目")
        with c1:
            widgets.sen_yen_input("事業費（千円）", f"pf_cost{i}_cost")
        with c2:
            widgets.sen_yen_input("基金充当額（千円）", f"pf_cost{i}_fund")
        c3.text_input("備考", key=f"pf_cost{i}_note", placeholder="例: 運用経費" if i else "")
        widgets.field_error(errors, f"cost_lines.{i}")
    widgets.field_error(errors, "cost_lines")
    f1, f2 = st.columns(2)
    with f1:
        widgets.sen_yen_input("国庫支出金（千円・1年度目）", "pf_national")
        widgets.field_error(errors, "national_funds_yen")
    with f2:
        widgets.sen_yen_input("その他財源（千円・1年度目）", "pf_other")
        widgets.field_error(errors, "other_funds_yen")


def _evidence(errors: dict[str, str]) -> None:
    st.markdown("**県民実感の根拠** 審査の4つの観点の根拠になります。")
    fields = (
        ("想定利用者数（人）", "pf_users", 100, "expected_users"),
        ("1人あたり利用回数（回/年）", "pf_uses", 1.0, "uses_per_user_per_year"),
        ("デジタル化する手続（件/年）", "pf_procs", 100, "procedures_per_year"),
        ("1件あたり短縮時間（分）", "pf_minutes", 5.0, "minutes_saved_per_procedure"),
    )
    for column, (label, key, step, field) in zip(st.columns(4), fields, strict=True):
        with column:
            # No min_value: the browser's English range tooltip would refuse silently; the rules say it in Japanese.
            st.number_input(label, step=step, key=key)
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
        st.text_input("新規性の補足", key="pf_novelty_note", max_chars=proposals.NOTE_MAX)
        widgets.field_error(errors, "novelty_note")


def _kpis(errors: dict[str, str]) -> None:
    st.markdown("**成果指標（KPI）** 初年度（提案年度）と2年後の目標値")
    widgets.field_error(errors, "kpis")
    for i in range(KPI_ROWS):
        k1, k2, k3, k4, k5 = st.columns([3, 1, 1, 1, 1])
        k1.text_input(f"指標名{i + 1}", key=f"pf_kpi{i}_name")
        k2.text_input("単位", key=f"pf_kpi{i}_unit", placeholder="人、%、件")
        k3.number_input("基準値", key=f"pf_kpi{i}_base", value=None)
        k4.number_input("初年度目標", key=f"pf_kpi{i}_first", value=None)
        k5.number_input("2年後目標", key=f"pf_kpi{i}_later", value=None)
        widgets.field_error(errors, f"kpis.{i}")


def _review(departments: dict[int, str]) -> None:
    """What will be submitted, on one screen (user text shown as text, never as markdown)."""
    s = st.session_state
    year = s.get("pf_year")
    costs = [parse_sen_yen_text(s.get(f"pf_cost{i}_cost", "")) for i in range(COST_ROWS)]
    shares = [parse_sen_yen_text(s.get(f"pf_cost{i}_fund", "")) for i in range(COST_ROWS)]
    requirements = [REQUIREMENT[n] for n in (1, 2, 3) if s.get(f"pf_req{n}")]
    kpis = [s.get(f"pf_kpi{i}_name", "") for i in range(KPI_ROWS) if s.get(f"pf_kpi{i}_name", "")]
    novelty = s.get("pf_novelty")
    rows = {
        "事業名": s.get("pf_name", "") or "（未入力）",
        "所管部局": departments.get(s.get("pf_dept") or 0, ""),
        "提案年度": fiscal_label(year) if year else "",
        "充当要件": "、".join(requirements) or "（未選択）",
        "事業費（5年度分、千円）": _total(costs),
        "基金充当額（5年度分、千円）": _total(shares),
        "想定利用者数（人）": f"{int(s.get('pf_users') or 0):,}",
        "新規性": NOVELTY[novelty] if novelty else "（未選択）",
        "成果指標": "、".join(kpis) or "（未入力）",
    }
    st.markdown("**確認** 内容を確かめて提出してください。直す項目は上の段階を選んで戻れます。")
    widgets.table(pd.DataFrame({"内容": list(rows.values())}, index=pd.Index(list(rows), name="項目")))


def _total(amounts: list[int | None]) -> str:
    if any(a is None for a in amounts):
        return "数字でない金額があります（費用計画を確認してください）"
    return format_sen_yen(sum(a or 0 for a in amounts))
