"""基金の状況: balance, projection and stress test, health signals, roll-forward, ledger, postings."""

from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from fund import clock, export, ledger, projection, reference
from fund.auth import Action, can
from fund.errors import FundError, InputInvalid
from fund.fiscal import allowed_fiscal_years, fiscal_label, wareki
from fund.labels import LEDGER_KIND
from fund.models import LedgerKind
from fund.money import format_oku_yen, format_sen_yen, format_yen
from pages import _ui

actor = _ui.require_actor(Action.view_fund)
engine = _ui.engine()
today = clock.today_jst()

st.title("基金の状況")
_ui.show_flash()

fig = _ui.read(projection.figures)  # the ledger figures every section starts from, read once
status = projection.fund_status(engine, today=today, fig=fig)
base = status.projection
cur = status.current_year

# --- Headline ------------------------------------------------------------------------------------
m1, m2, m3, m4, m5 = st.columns(5)
m1.metric(
    "現在の基金残高",
    format_oku_yen(status.balance_yen),
    help=f"{format_sen_yen(status.balance_yen)}千円（{format_yen(status.balance_yen)}）",
)
m2.metric(
    "今年度の取崩し予定",
    format_oku_yen(status.planned_this_year_yen),
    help=f"{fiscal_label(cur)}の計画（承認済み配分＋採択事業の後年度計画）。"
    f"記帳済みの取崩し {format_sen_yen(status.drawn_this_year_yen)}千円。",
)
m3.metric(
    "翌年度以降の取崩し予定",
    format_oku_yen(status.committed_future_yen),
    help="翌年度以降に計画済みの取崩し（承認済み配分と、採択・事業化した提案の後年度計画）の合計。"
    f"{format_sen_yen(status.committed_future_yen)}千円。",
)
m4.metric(
    "残り年数の目安",
    projection.runway_text(base),
    help=f"基本ケース（上振れ・遅れ・運用益なし、未予算の年度は直近ペース"
    f" {format_oku_yen(base.recent_pace_yen)}/年 で取り崩す想定）。{projection.run_out_text(base)}。",
)
m5.metric(
    "基金の使用割合",
    f"{status.used_ratio:.1%}",
    help=f"（基金規模 {format_oku_yen(status.fund_size_yen)} − 現在残高）÷ 基金規模",
)

# --- Projection and stress test ------------------------------------------------------------------
st.subheader("見通しとストレステスト")
s1, s2, s3 = st.columns(3)
overrun = s1.slider("事業費の上振れ（%）", 0, 100, 0, step=5, key="stress_overrun")
rate = s2.slider("運用利回り（年%）", 0.0, 3.0, 0.0, step=0.1, format="%.1f", key="stress_rate")
slip = s3.toggle("計画事業が1年遅れる", key="stress_slip")
pace = s3.toggle(
    "新規事業を直近ペースで見込む（推計）",
    value=True,
    key="stress_pace",
    help=f"まだ予算のない年度も、直近2年度の平均 {format_oku_yen(base.recent_pace_yen)} 以上を"
    "新規事業に充てると仮定します。",
)
stressed = projection.project(
    engine,
    today=today,
    stress=projection.StressTest(
        cost_overrun_pct=float(overrun),
        slip_one_year=slip,
        interest_rate_pct=float(rate),
        assume_recent_pace=pace,
    ),
    fig=fig,
)
r1, r2, r3 = st.columns(3)
r1.metric(
    "この条件で不足する年度",
    wareki(stressed.run_out_year) if stressed.run_out_year else "期間内はなし",
    help=projection.run_out_text(stressed),
)
r2.metric("この条件での残り年数", projection.runway_text(stressed))
r3.metric(
    "基本ケースの場合",
    projection.run_out_text(base),
    help="スライダーをすべて初期値にした場合の見通し",
)

path = projection.balance_path(engine, stressed, fig=fig)
order = list(dict.fromkeys(path["和暦"]))
balance_chart = (
    alt.Chart(path, title="基金残高の推移（年度末、億円）")
    .mark_line(point=True)
    .encode(
        x=alt.X("和暦:N", sort=order, title="年度", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("残高（億円）:Q", title="残高（億円）"),
        color=alt.Color(
            "区分:N", title="", scale=alt.Scale(domain=["実績", "見通し"], range=["#1f4e79", "#c55a11"])
        ),
        strokeDash=alt.StrokeDash(
            "区分:N", scale=alt.Scale(domain=["実績", "見通し"], range=[[1, 0], [6, 4]]), legend=None
        ),
        tooltip=["和暦", "区分", alt.Tooltip("残高（億円）:Q", format=",.1f")],
    )
)
zero = alt.Chart(pd.DataFrame({"y": [0]})).mark_rule(color="#b00020").encode(y="y:Q")
st.altair_chart(balance_chart + zero, width="stretch")
st.caption(
    "実線は記帳済みの実績、破線は見通しです。見通しは承認済み配分と採択事業の後年度計画"
    "（サンプル・推計を含む）から計算しています。"
)
st.dataframe(projection.projection_display(stressed), hide_index=True, width="stretch")

# --- Health signals ------------------------------------------------------------------------------
st.subheader("基金の健全性")
_ICON = {
    projection.Level.ok: ":material/check_circle:",
    projection.Level.caution: ":material/warning:",
    projection.Level.alert: ":material/error:",
}
for col, sig in zip(st.columns(2) * 2, projection.signals(engine, today=today, fig=fig), strict=True):
    with col:
        text = f"{sig.name}：{sig.value}（{projection.LEVEL_LABEL[sig.level]}）  \n{sig.explanation}"
        if sig.level == projection.Level.ok:
            st.success(text, icon=_ICON[sig.level])
        else:
            st.warning(text, icon=_ICON[sig.level])

# --- Where the money went ----------------------------------------------------------------------------
st.subheader("取崩しの内訳")
t1, t2, t3 = st.tabs(["区分別", "所管部局別", "年度の増減"])
for tab, by, column in ((t1, "category", "区分"), (t2, "department", "所管部局")):
    frame = _ui.read(ledger.drawdowns_by, by=by)
    with tab:
        if frame.empty:
            st.info("取崩しの記帳はまだありません。", icon=":material/info:")
            continue
        st.altair_chart(
            alt.Chart(frame, title=f"年度別・{column}別の取崩し（億円）")
            .mark_bar()
            .encode(
                x=alt.X(
                    "和暦:N",
                    sort=list(dict.fromkeys(frame["和暦"])),
                    title="年度",
                    axis=alt.Axis(labelAngle=0),
                ),
                y=alt.Y("sum(取崩し（億円）):Q", title="取崩し（億円）"),
                color=alt.Color(
                    f"{column}:N", title=column, legend=alt.Legend(orient="bottom", columns=3, labelLimit=320)
                ),
                tooltip=["和暦", column, alt.Tooltip("取崩し（億円）:Q", format=",.2f")],
            ),
            width="stretch",
        )
years = _ui.read(reference.fiscal_years)
year_list = [int(y) for y in years["year"]]
with t3:
    wf_year = st.selectbox(
        "年度",
        year_list,
        index=year_list.index(cur) if cur in year_list else len(year_list) - 1,
        format_func=fiscal_label,
        key="waterfall_year",
    )
    wf = projection.waterfall(engine, fiscal_year=int(wf_year), fig=fig)
    st.altair_chart(
        alt.Chart(wf, title=f"{wareki(int(wf_year))}の増減（億円）")
        .mark_bar()
        .encode(
            x=alt.X("項目:N", sort=list(wf["項目"]), title="", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("開始:Q", title="残高（億円）"),
            y2="終了:Q",
            color=alt.Color(
                "種別:N",
                title="",
                scale=alt.Scale(domain=["残高", "増加", "減少"], range=["#1f4e79", "#2e7d32", "#c62828"]),
            ),
            tooltip=["項目", alt.Tooltip("金額（千円）:Q", format=",")],
        ),
        width="stretch",
    )
    if (wf["金額（円）"].iloc[1:-1] == 0).all():
        st.info(
            f"{fiscal_label(int(wf_year))}の記帳はまだありません。残高は前年度末のままです。",
            icon=":material/info:",
        )


def _ledger_bytes(filters: dict[str, Any], fmt: str) -> bytes:
    return ledger.ledger_export_bytes(engine, fmt=fmt, filters=filters)


def _record(what: str, filters: dict[str, Any], rows: int) -> None:
    """Audit a download (runs when the button is clicked)."""
    export.record_export(engine, actor=actor, what=what, filters=filters, rows=rows)


def _downloads(
    data: Callable[[str], bytes], *, what: str, rows: int, filters: dict[str, Any], key: str
) -> None:
    """Excel and CSV buttons; `data(fmt)` builds the file only when it is fetched."""
    b1, b2, _ = st.columns([1, 1, 2])
    for col, fmt, label in ((b1, "xlsx", "Excelで保存"), (b2, "csv", "CSVで保存")):
        col.download_button(
            label,
            data=partial(data, fmt),
            file_name=f"{what}.{fmt}",
            mime="text/csv" if fmt == "csv" else None,
            icon=":material/download:",
            on_click=_record,
            args=(what, filters | {"形式": fmt}, rows),
            key=f"{key}_{fmt}",
            disabled=rows == 0,
        )


# --- Roll-forward --------------------------------------------------------------------------------
st.subheader("年度別増減（単位：千円）")
rf = ledger.roll_forward_export(engine, rf=fig.roll_forward)
if rf.empty:
    st.info("記帳はまだありません。", icon=":material/info:")
else:
    table = pd.DataFrame({"年度": rf["和暦"]})
    for name in ledger.ROLL_FORWARD_COLUMNS[1:]:
        table[f"{name}（千円）"] = [format_sen_yen(int(v)) for v in rf[name]]
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption(
        "年度末残高 = 前年度末残高 + 積立 + 運用益 + 返還等 − 取崩し。取消（逆仕訳）は元の区分から差し引いています。"
    )
    _downloads(
        lambda fmt: ledger.export_bytes(
            rf, fmt=fmt, sheet_name="基金_年度別増減", title="基金の年度別増減（単位：千円）", sen_yen=True
        ),
        what="基金_年度別増減",
        rows=len(rf),
        filters={},
        key="dl_rollforward",
    )

# --- Ledger --------------------------------------------------------------------------------------
st.subheader("基金台帳")
depts = _ui.read(reference.departments)
dept_names = dict(zip(depts["id"], depts["name"], strict=True))
f1, f2, f3, f4 = st.columns(4)
year_choice = f1.selectbox(
    "年度",
    [None, *year_list],
    format_func=lambda y: "すべて" if y is None else fiscal_label(int(y)),
    key="ledger_year",
)
kind_choice = f2.selectbox(
    "区分",
    [None, *LedgerKind],
    format_func=lambda k: "すべて" if k is None else LEDGER_KIND[k],
    key="ledger_kind",
)
dept_choice = f3.selectbox(
    "所管部局",
    [None, *dept_names],
    format_func=lambda d: "すべて" if d is None else dept_names[d],
    key="ledger_dept",
)
project_total = _ui.read(reference.project_count, department_id=dept_choice)
project_names: dict[int, str] = {}
project_choice = None
project_search = None
if project_total <= _ui.PICK_LIMIT:
    projects = _ui.read(reference.projects, department_id=dept_choice)
    project_names = dict(zip(projects["id"], projects["name"], strict=True))
    project_choice = f4.selectbox(
        "事業",
        [None, *project_names],
        format_func=lambda p: "すべて" if p is None else project_names[p],
        key="ledger_project",
    )
else:  # too many to list: match part of the name instead
    project_search = (
        f4.text_input(
            "事業名（一部）",
            key="ledger_project_search",
            max_chars=100,
            help=f"事業が {project_total:,}件あるため、名称の一部で絞り込みます。",
        ).strip()
        or None
    )
ledger_filters = {
    "fiscal_year": year_choice,
    "kind": kind_choice,
    "department_id": dept_choice,
    "project_id": project_choice,
    "project_name": project_search,
}
total = _ui.read(ledger.ledger_count, **ledger_filters)
entries = _ui.read(ledger.ledger_export, **ledger_filters, limit=_ui.DISPLAY_LIMIT)
if entries.empty:
    st.info("条件に合う記帳はありません。", icon=":material/info:")
else:
    st.dataframe(
        entries,
        hide_index=True,
        width="stretch",
        column_config={
            "金額（円）": st.column_config.NumberColumn(format="localized"),
            "年度": st.column_config.NumberColumn(format="plain"),
            "取消対象": st.column_config.NumberColumn(format="plain"),
        },
    )
    st.caption(f"{total:,}件（新しい順）。金額は取崩し・取消を負の値で表示しています。")
    _ui.limit_notice(total)
_downloads(
    partial(_ledger_bytes, ledger_filters),
    what="基金台帳",
    rows=total,
    filters={
        "年度": year_choice,
        "区分": kind_choice.value if kind_choice else None,
        "所管部局": dept_names.get(dept_choice) if dept_choice else None,
        "事業": project_names.get(project_choice) if project_choice else project_search,
    },
    key="dl_ledger",
)

# --- Postings (管理者) ----------------------------------------------------------------------------
if can(actor, Action.post_ledger):
    st.subheader("記帳（管理者）")
    with st.columns(2)[0]:  # outside the form: the 年度 choices follow the date at once
        posted_on = st.date_input("記帳日", value=today, key="post_date", format="YYYY/MM/DD")
        date_slot = st.empty()
    with st.form("ledger_post", clear_on_submit=False):
        p1, p2 = st.columns(2)
        year_options = allowed_fiscal_years(posted_on) if isinstance(posted_on, date) else ()
        with p1:
            fiscal_year = st.selectbox(
                "年度",
                list(year_options) or year_list,
                format_func=lambda y: fiscal_label(int(y)),
                key="post_year",
            )
            year_slot = st.empty()
        with p2:
            kind = st.selectbox(
                "区分",
                [k for k in LedgerKind if k != LedgerKind.reversal],
                format_func=lambda k: LEDGER_KIND[k],
                key="post_kind",
            )
            kind_slot = st.empty()
        amount = st.text_input("金額（円）", key="post_amount", placeholder="例: 1000000")
        amount_slot = st.empty()
        memo = st.text_input("摘要", key="post_memo")
        memo_slot = st.empty()
        project_id = _ui.project_picker("事業（取崩しの場合）", key="post_project", optional=True)
        project_slot = st.empty()
        submitted = st.form_submit_button("記帳する", type="primary")
        form_slot = st.empty()
    if submitted:
        slots = {
            "posted_on": date_slot,
            "fiscal_year": year_slot,
            "kind": kind_slot,
            "amount_yen": amount_slot,
            "memo": memo_slot,
            "project_id": project_slot,
        }
        raw = amount.replace(",", "").strip()
        try:
            if not raw.lstrip("-").isdigit():
                raise InputInvalid({"amount_yen": "金額は半角数字（円単位の整数）で入力してください。"})
            entry = ledger.post_entry(
                engine,
                actor=actor,
                data={
                    "posted_on": posted_on,
                    "fiscal_year": fiscal_year,
                    "kind": kind,
                    "amount_yen": int(raw),
                    "memo": memo,
                    "project_id": project_id,
                },
            )
        except FundError as exc:
            for field, message in ledger.form_errors(exc).items():
                slots.get(field, form_slot).error(message, icon=":material/error:")
        else:
            _ui.flash(f"台帳番号 {entry.id} として記帳しました。")
            st.rerun()

    st.subheader("取消（逆仕訳）")
    with st.form("ledger_reverse"):
        q1, q2 = st.columns(2)
        with q1:
            target = st.number_input("取り消す台帳番号", min_value=1, step=1, value=None, key="reverse_id")
            target_slot = st.empty()
        with q2:
            reverse_on = st.date_input("取消の記帳日", value=today, key="reverse_date", format="YYYY/MM/DD")
            reverse_date_slot = st.empty()
        reason = st.text_input("取消の理由", key="reverse_reason")
        reason_slot = st.empty()
        reversed_ = st.form_submit_button("取り消す")
    if reversed_:
        try:
            if target is None:
                raise InputInvalid({"entry_id": "取り消す台帳番号を入力してください。"})
            rev = ledger.reverse_entry(
                engine, actor=actor, entry_id=int(target), posted_on=reverse_on, reason=reason
            )
        except FundError as exc:
            for field, message in ledger.form_errors(exc).items():
                slot = {"reason": reason_slot, "fiscal_year": reverse_date_slot}.get(field, target_slot)
                slot.error(message, icon=":material/error:")
        else:
            _ui.flash(f"台帳番号 {int(target)} を取り消しました（取消の台帳番号 {rev.id}）。")
            st.rerun()

if can(actor, Action.close_year):
    st.subheader("決算確定（管理者）")
    open_years = [int(y) for y, closed in zip(years["year"], years["closed"], strict=True) if not closed]
    if not open_years:
        st.info("決算確定できる年度はありません。", icon=":material/info:")
    else:
        with st.form("close_year"):
            close_target = st.selectbox(
                "決算確定する年度", open_years, format_func=fiscal_label, key="close_year_pick"
            )
            confirm = st.checkbox(
                "確定すると、この年度には記帳できなくなります（取り消せません）。", key="close_confirm"
            )
            close_clicked = st.form_submit_button("決算確定する")
            close_slot = st.empty()
        if close_clicked:
            if not confirm:
                close_slot.error("確認のチェックを入れてください。", icon=":material/error:")
            else:
                try:
                    ledger.close_year(engine, actor=actor, fiscal_year=int(close_target))
                except FundError as exc:
                    close_slot.error(exc.message, icon=":material/error:")
                else:
                    _ui.flash(f"{fiscal_label(int(close_target))}を決算確定しました。")
                    st.rerun()
else:
    st.caption("記帳・取消・決算確定は管理者のみが行えます。")
_ui.estimate_note()
