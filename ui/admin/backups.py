"""バックアップ: a consistent copy of the whole database, with progress."""

import streamlit as st

from fund.auth import Actor
from fund.errors import FundError
from fund.ops import backup
from ui import session, widgets


def render(actor: Actor) -> None:
    st.write("データベース全体の一貫したコピー（Parquet 形式と目録 `manifest.json`）を作成します。")
    st.markdown(f"保存先: `{backup.backup_root()}`")  # a server path: shown as typed, in code
    if st.button("今すぐバックアップ", type="primary", icon=":material/backup:", key="backup_now"):
        with st.status("バックアップを作成しています…", expanded=True) as box:
            bar = st.progress(0.0)

            def show(step: str, done: int, total: int) -> None:
                bar.progress(min(done / max(total, 1), 1.0), text=step)

            try:
                out_dir, manifest = backup.backup_now(session.engine(), actor=actor, progress=show)
            except FundError as exc:
                box.update(label="バックアップに失敗しました", state="error")
                widgets.show_error(exc)
            else:
                rows = sum(manifest.tables.values())
                box.update(label="バックアップを作成しました", state="complete")
                st.success(
                    f"{out_dir.name} に {len(manifest.tables)}表・{rows:,}行を保存しました。",
                    icon=":material/check_circle:",
                )
    st.caption("復元はサーバーで `fund restore フォルダ` を実行します（README の「セキュリティと運用」）。")
