"""Shared widgets: filters, download pairs, the error-to-message handler, field errors, pickers."""

import re
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler
from streamlit.delta_generator import DeltaGenerator

from fund import auth, reference
from fund.auth import Action, Actor
from fund.errors import FundError, InputInvalid
from fund.money import group_sen_yen_text, parse_sen_yen_text
from ui import loaders, session

T = TypeVar("T")

DISPLAY_LIMIT = 1_000  # rows a table sends to the browser; downloads always hold every row
PICK_LIMIT = 2_000  # options a picker lists; above this a page asks for part of a name or a number
ERROR_ICON = ":material/error:"
# st.table reads every cell as Markdown; these are the marks that would turn a user's text into
# emphasis, a link, code, math, a coloured span or an icon, or (at a line's start) a list or heading.
_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]<>~$&|]|:(?=[A-Za-z]))")
_MARKDOWN_LINE_START = re.compile(r"^(\s*)([#>+\-=])", re.MULTILINE)
_MARKDOWN_LIST_NUMBER = re.compile(r"^(\s*\d+)([.)])", re.MULTILINE)
MIME = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
    "pdf": "application/pdf",
}


def literal(text: str) -> str:
    """Text that Markdown prints exactly as typed."""
    text = _MARKDOWN_INLINE.sub(r"\\\1", text)
    text = _MARKDOWN_LIST_NUMBER.sub(r"\1\\\2", text)
    return _MARKDOWN_LINE_START.sub(r"\1\\\2", text)


def table(
    frame: pd.DataFrame, *, style: Callable[[pd.DataFrame], Styler] | None = None, **options: Any
) -> None:
    """A static table that wraps long text; the cells (users' text) print as typed, never as
    Markdown. Headers and index are the app's own words."""
    shown = frame.map(lambda v: literal(v) if isinstance(v, str) else v)
    st.table(style(shown) if style else shown, **options)


def flash(message: str) -> None:
    """A success message that survives the rerun after a write."""
    st.session_state["flash"] = message


def show_flash() -> None:
    """The message of the last write. Its slot is drawn on every run: a message that came and went
    would move what follows, and a moved tab set is drawn anew on its first tab (a submission on
    新規提案 jumped to 一覧)."""
    slot = st.container()
    message = st.session_state.pop("flash", None)
    if message:
        slot.success(message, icon=":material/check_circle:")


def show_error(exc: FundError) -> None:
    """A refused action as Japanese messages: one per field for invalid input, else the rule's message."""
    if isinstance(exc, InputInvalid):
        for message in exc.field_errors.values():
            st.error(message, icon=ERROR_ICON)
    else:
        st.error(exc.message, icon=ERROR_ICON)


def sen_yen_input(label: str, key: str, *, help: str | None = None) -> str:
    """A 千円 amount typed as text, its digits grouped as soon as it is entered ('3000000' →
    '3,000,000') so that a 1,000× slip shows. A negative or a non-number is refused by the rules in
    Japanese (a number field answers with the browser's English tooltip and saves nothing).
    Read it with `fund.money.parse_sen_yen_text`. Not inside st.form (its change must rerun)."""
    text: str = st.text_input(
        label, key=key, placeholder="例: 12,000", help=help, on_change=_group, args=(key,)
    )
    return text


def typed_yen(text: str) -> int | str:
    """A `sen_yen_input` amount in yen for the rules; text that is not a whole number goes to them as
    it is, and they refuse it at its field in Japanese."""
    yen = parse_sen_yen_text(text)
    return text if yen is None else yen


def _group(key: str) -> None:
    st.session_state[key] = group_sen_yen_text(st.session_state.get(key, ""))


def field_error(errors: Mapping[str, str], name: str) -> None:
    """The Japanese message for one field, drawn right under it (nothing when the field is fine).
    Its slot is drawn either way: a message that goes when the field is corrected must not move the
    widgets after it, or the browser draws them anew and loses what is being typed there."""
    slot = st.empty()
    message = errors.get(name)
    if message:
        slot.error(message, icon=ERROR_ICON)


def run_action(action: Callable[[], T], success: str | Callable[[T], str]) -> None:
    """Run a write; on success flash `success` and rerun, on a refused rule show why in Japanese."""
    try:
        result = action()
    except FundError as exc:
        show_error(exc)
        return
    flash(success if isinstance(success, str) else success(result))
    st.rerun()


def optional_select(
    label: str,
    options: Sequence[T],
    *,
    key: str,
    format_func: Callable[[T], str] = str,
    all_label: str = "すべて",
    where: DeltaGenerator | None = None,
    keep_on_other_tabs: bool = False,
) -> T | None:
    """A filter whose first choice 「すべて」 (or `all_label`) means no filter (None).
    `keep_on_other_tabs` keeps the choice while another tab of the page is open."""
    box = where if where is not None else st
    choice: T | None = box.selectbox(
        label,
        [None, *options],
        format_func=lambda v: all_label if v is None else format_func(v),
        key=key,
        persist_state="page" if keep_on_other_tabs else None,
    )
    return choice


def download_pair(
    build: Callable[[str], bytes],
    *,
    file_stem: str,
    key: str,
    on_download: Callable[[str], None] | None = None,
    disabled: bool = False,
    labels: tuple[str, str] = ("Excelで保存", "CSVで保存"),
    widths: Sequence[int] = (1, 1, 4),
    formats: tuple[str, str] = ("xlsx", "csv"),
) -> None:
    """Two download buttons, Excel and CSV unless `formats` says otherwise. `build(fmt)` makes the
    file only when it is fetched; `on_download(fmt)` records the download when the service that
    builds it does not audit it itself."""
    columns = st.columns(list(widths))
    for column, fmt, label in zip(columns, formats, labels, strict=False):
        column.download_button(
            label,
            data=session.deferred(partial(build, fmt)),
            file_name=f"{file_stem}.{fmt}",
            mime=MIME[fmt],
            on_click="ignore" if on_download is None else session.when_signed_in(on_download),
            args=None if on_download is None else (fmt,),
            icon=":material/download:",
            disabled=disabled,
            key=f"{key}_{fmt}",
        )


def limit_notice(
    total: int, *, limit: int | None = None, hint: str = "すべての行はダウンロードしてください。"
) -> None:
    """Say that a table shows only its first `limit` (default DISPLAY_LIMIT) of `total` rows."""
    limit = DISPLAY_LIMIT if limit is None else limit
    if total > limit:
        st.info(f"先頭 {limit:,} 件を表示しています（全 {total:,} 件）。{hint}", icon=":material/table_rows:")


def estimate_note() -> None:
    """What 推計 and サンプル mean, with the assumptions themselves one click away (in the app: a
    file name is nothing a user can open)."""
    c1, c2 = st.columns([5, 1], vertical_alignment="center")
    c1.caption(
        ":material/info: 「推計」は資料に記載がなく前提を置いた値、「サンプル」は動作確認用の例示データです。"
    )
    if c2.button("前提と出典", icon=":material/menu_book:", key="estimate_note", type="tertiary"):
        _assumptions()


@st.dialog("前提と出典", width="large")
def _assumptions() -> None:
    st.markdown(reference.assumptions_text())  # the project's own text, not user input


def project_picker(
    label: str, *, key: str, department_id: int | None = None, optional: bool = False
) -> int | None:
    """A project chosen from a list, or typed as its number when there are more than PICK_LIMIT
    (the service checks that the number exists). `optional` offers 「指定なし」 (None)."""
    total = loaders.project_count(department_id=department_id)
    if total <= PICK_LIMIT:
        projects = loaders.projects(department_id=department_id)
        names = dict(zip(projects["id"], projects["name"], strict=True))
        options: list[int | None] = [None, *names] if optional else list(names)
        picked: int | None = st.selectbox(
            label, options, format_func=lambda p: "指定なし" if p is None else names[p], key=key
        )
        return picked
    number = st.number_input(
        label.replace("事業", "事業番号", 1),
        min_value=1,
        step=1,
        value=None,
        key=f"{key}_id",
        help=f"事業が {total:,}件あるため番号で指定します（事業提案の一覧に表示）。",
    )
    return None if number is None else int(number)


def approve_or_withdraw(
    actor: Actor,
    *,
    approve: Callable[[], object],
    withdraw: Callable[[str], object],
    approved: str | Callable[[Any], str],
    withdrawn: str,
    keys: tuple[str, str, str],
    approving: Action = Action.approve_allocation,
) -> None:
    """The 承認する button (for whoever may do `approving`) and the 差戻し・取下げ popover with its
    reason, for what awaits approval. `keys`: the approve button, the reason field, the withdraw button."""
    approve_key, reason_key, withdraw_key = keys
    p1, p2 = st.columns([1, 2])
    if auth.can(actor, approving) and p1.button(
        "承認する", icon=":material/check_circle:", type="primary", key=approve_key
    ):
        run_action(approve, approved)
    with p2.popover("差戻し・取下げ", icon=":material/undo:"):
        reason = st.text_input("理由", key=reason_key)
        if st.button("差戻す", key=withdraw_key):
            run_action(lambda: withdraw(reason), withdrawn)
