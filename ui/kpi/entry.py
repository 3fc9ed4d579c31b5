"""実績の入力: an actual per indicator and 年度, with each field's message under the field."""

from datetime import date

import pandas as pd
import streamlit as st

from fund import auth, kpi
from fund.auth import Action, Actor
from fund.errors import FundError, InputInvalid
from fund.fiscal import fiscal_label
from ui import loaders, session, widgets

ERRORS = "kpi_entry_errors"


def render(actor: Actor, *, today: date) -> None:
    if not auth.can(actor, Action.enter_kpi_actual):
        st.info(
            f"{actor.role_label}の権限では実績を入力できません。実績は所管部局の事業担当が入力します。",
            icon=":material/info:",
        )
        return
    search = None
    if loaders.entry_choice_count(actor=actor) > widgets.PICK_LIMIT:
        search = (
            st.text_input("指標を検索（事業名・指標名の一部）", key="entry_search", max_chars=100).strip()
            or None
        )
        widgets.limit_notice(
            loaders.entry_choice_count(actor=actor, search=search),
            hint="事業名や指標名で検索して絞り込んでください。",
        )
    choices = loaders.entry_choices(actor=actor, search=search, limit=widgets.DISPLAY_LIMIT)
    if choices.empty:
        st.info("実績を入力できる指標がありません。", icon=":material/info:")
        return
    units = dict(zip(choices["indicator_id"], choices["unit"], strict=True))
    labels = dict(
        zip(
            choices["indicator_id"],
            choices["project"] + "：" + choices["indicator"] + "（" + choices["unit"] + "）",
            strict=True,
        )
    )
    indicator = st.selectbox("指標", list(labels), format_func=labels.__getitem__, key="entry_indicator")
    years = [int(y) for y in loaders.fiscal_years()["year"]]
    tracked = loaders.kpi_frame(actor=actor, today=today, where=kpi.KpiFilter(indicator_id=int(indicator)))
    default = kpi.default_entry_year(tracked, years=years, today=today)
    year = st.selectbox("年度", years, index=years.index(default), format_func=fiscal_label, key="entry_year")
    current = tracked[tracked["fiscal_year"] == year]
    if not current.empty and pd.notna(current.iloc[0]["actual_value"]):
        cur = current.iloc[0]
        st.info(
            f"この年度の実績は登録済みです（{cur['actual_value']:,g}、"
            f"{'サンプル、' if cur['is_sample'] else ''}状況 {kpi.status_label(cur['status'])}）。"
            "保存すると上書きされ、変更前後の値が監査ログに残ります。",
            icon=":material/info:",
        )
    errors: dict[str, str] = st.session_state.pop(ERRORS, {})
    widgets.field_error(errors, "fiscal_year")
    with st.form("kpi_entry_form"):
        value = st.number_input(
            "実績値", min_value=None, value=None, step=1.0, format="%g", key="entry_value"
        )
        widgets.field_error(errors, "actual_value")
        unit = st.text_input(
            "単位", value=str(units[indicator]), key=f"entry_unit_{indicator}", max_chars=kpi.UNIT_MAX
        )
        widgets.field_error(errors, "unit")
        measured = st.date_input("測定日", value=today, key="entry_measured_on", format="YYYY/MM/DD")
        widgets.field_error(errors, "measured_on")
        source = st.text_input("出典（根拠資料）", key="entry_source", max_chars=kpi.SOURCE_MAX)
        widgets.field_error(errors, "source")
        submitted = st.form_submit_button("実績を保存", icon=":material/save:", type="primary")
    if submitted:
        data = {
            "indicator_id": indicator,
            "fiscal_year": year,
            "actual_value": value,
            "unit": unit,
            "measured_on": measured,
            "source": source,
        }
        try:
            kpi.enter_actual(session.engine(), actor=actor, data=data, today=today)
        except InputInvalid as exc:
            st.session_state[ERRORS] = exc.field_errors
            st.rerun()
        except FundError as exc:
            widgets.show_error(exc)
        else:
            # The indicator's name is user text: never inside a markdown message.
            widgets.flash(f"{fiscal_label(year)}の実績を保存しました。")
            st.rerun()
    elif errors:
        st.error("入力内容に誤りがあります。各項目のメッセージを確認してください。", icon=widgets.ERROR_ICON)
