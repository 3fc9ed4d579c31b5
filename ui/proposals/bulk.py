"""一括登録: the xlsx 様式 and the upload; nothing is imported unless every row passes."""

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from fund import auth, clock, intake, uploads
from fund.auth import Action, Actor
from fund.errors import FundError
from fund.labels import PROPOSAL_STATUS
from ui import loaders, session, widgets

TABLE_ROWS = 200  # errors shown as a wrapping table; more go into a scrolling one


def _show(bar: DeltaGenerator, done: float) -> None:
    bar.progress(done, text="各行を確認しています…")


def render(actor: Actor) -> None:
    st.markdown(
        f"様式（Excel）に1行1提案で記入してアップロードします。1行でも誤りがあれば何も登録せず、"
        f"誤りを行と列ごとに一覧表示します。上限 {intake.MAX_ROWS:,}件・{intake.MAX_UPLOAD_BYTES // (1024 * 1024)}MB。"
    )
    engine = session.engine()
    st.download_button(
        "様式をダウンロード（xlsx）",
        data=session.deferred(
            lambda: intake.template_xlsx(engine, years=loaders.proposal_years(today=clock.today_jst()))
        ),
        file_name="事業提案_一括登録様式.xlsx",
        mime=widgets.MIME["xlsx"],
        on_click="ignore",  # a rerun would replace the file's id while the browser fetches it
        icon=":material/download:",
    )
    upload = st.file_uploader(
        f"記入した様式（xlsx または csv、{uploads.MAX_UPLOAD_MB}MBまで）",
        type=["xlsx", "csv"],
        key="bulk_file",
        max_upload_size=uploads.MAX_UPLOAD_MB,
    )
    submit = False
    if auth.can(actor, Action.submit_proposal):
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
            progress=lambda x: _show(bar, x),
        )
    except intake.UploadInvalid as exc:
        bar.empty()
        st.error(
            f"誤りが{len(exc.row_errors)}件あるため、登録していません。直してから再度アップロードしてください。",
            icon=widgets.ERROR_ICON,
        )
        errors = exc.frame()
        if len(errors) <= TABLE_ROWS:
            widgets.table(errors.set_index("行"))  # wraps long messages
        else:
            st.dataframe(errors, hide_index=True, width="stretch")
        return
    except FundError as exc:
        bar.empty()
        widgets.show_error(exc)
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
