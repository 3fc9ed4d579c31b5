"""確定: close the round with its frozen snapshot and hash, and see what changed since the year's
previous decision."""

import streamlit as st

from fund import auth, clock, screening
from fund.auth import Action, Actor
from fund.labels import PERSPECTIVE, PROPOSAL_STATUS
from fund.models import ProposalStatus
from ui import loaders, session, widgets
from ui.screening import policy
from ui.screening.rounds import ChosenRound


def render(actor: Actor, chosen: ChosenRound) -> None:
    decided = loaders.decision(round_id=chosen.round_id)
    if decided is None:
        _open_round(actor, chosen)
        return
    snap = decided.snapshot
    st.success(
        f"{clock.in_japan(decided.decided_at):%Y年%m月%d日 %H:%M} に確定しました（確定者: {decided.decided_by}）。"
        "このラウンドの採点・重み・割当・提案の状態（事業化を除く）は変更できません。",
        icon=":material/verified:",
    )
    st.text(f"内容のハッシュ（SHA-256）: {decided.content_hash}")
    st.caption(
        "ハッシュは確定時の内容全体（順位、重み、すべての採点とコメント、決定と理由）から計算し、監査ログにも記録しています。"
        + (
            ""
            if screening.verify(decided)
            else " 保存されている内容がハッシュと一致しません。管理者に連絡してください。"
        )
    )
    widgets.download_pair(
        lambda fmt: screening.export_appendix(
            session.engine(), actor=actor, round_id=chosen.round_id, fmt=fmt
        ),
        file_stem=chosen.file_stem("決裁資料"),
        key=f"appendix_{chosen.round_id}",
        disabled=not auth.can(actor, Action.export),
        labels=("決裁資料（PDF）", "決裁資料（Excel）"),
        formats=("pdf", "xlsx"),
        widths=(2, 2, 3),
    )
    st.caption(
        "決裁資料は確定時の内容から作成し、各ページの下に内容のハッシュとページ番号を印字します。出力は監査ログに記録されます。"
    )
    if decided.override_reason:
        st.warning(
            f"未採点の割当を残したまま確定しました（理由: {decided.override_reason}）。",
            icon=":material/warning:",
        )
    m1, m2, m3 = st.columns(3)
    m1.metric("対象の提案", f"{len(snap['decisions']):,} 件")
    m2.metric("採点（集計対象）", f"{len(snap['scores']):,} 件")
    m3.metric("採択に必要な審査数", f"{snap['policy']['min_reviews']} 件以上")
    st.caption(
        f"確定時の重み（評価基準 第{snap['rubric']['version']}版）: "
        + " / ".join(f"{PERSPECTIVE[p]} {w}%" for p, w in enumerate(snap["rubric"]["weights"], start=1))
    )
    st.dataframe(
        [
            {
                "事業名": d["project"],
                "所管部局": d["department"],
                "決定": d["decision"],
                "理由": d["reason"],
            }
            for d in snap["decisions"]
        ],
        hide_index=True,
        width="stretch",
    )
    before = loaders.previous_decision(round_id=chosen.round_id)
    if before is not None:
        st.subheader("前回の確定からの変化")
        st.caption(
            f"比較の相手: {before.snapshot['round']['title']}（{clock.in_japan(before.decided_at):%Y年%m月%d日}確定）"
        )
        diff = screening.differences(before.snapshot, snap)
        if diff.empty:
            st.info("前回の確定から変化はありません。", icon=":material/info:")
        else:
            st.dataframe(diff, hide_index=True, width="stretch")


def _open_round(actor: Actor, chosen: ChosenRound) -> None:
    st.info("このラウンドの審査結果はまだ確定していません。", icon=":material/info:")
    policy.render(actor, chosen)
    missing = loaders.unscored(round_id=chosen.round_id)
    if not missing.empty:
        st.warning(f"採点が終わっていない割当が {len(missing):,} 件あります。", icon=":material/warning:")
        st.dataframe(
            missing.rename(columns={"project": "事業名", "reviewer": "審査担当", "scored": "採点済み観点数"}),
            hide_index=True,
            width="stretch",
        )
    if not auth.can(actor, Action.decide_round):
        st.caption("確定は幹部または管理者が行います。")
        return
    reason = ""
    if not missing.empty and auth.can(actor, Action.screening_exception):
        reason = st.text_input(
            "未採点のまま確定する理由（管理者）", key=f"decide_reason_{chosen.round_id}", max_chars=500
        )
    st.caption(
        "確定すると、順位・重み・すべての採点とコメント・各提案の決定（"
        + "・".join(
            PROPOSAL_STATUS[s]
            for s in (ProposalStatus.adopted, ProposalStatus.rejected, ProposalStatus.on_hold)
        )
        + "など）と理由を記録し、以後このラウンドは変更できなくなります。"
    )
    if st.button(
        "審査結果を確定する", key=f"decide_{chosen.round_id}", icon=":material/gavel:", type="primary"
    ):
        widgets.run_action(
            lambda: screening.decide_round(
                session.engine(), actor=actor, round_id=chosen.round_id, override_reason=reason
            ),
            lambda row: f"審査結果を確定しました（ハッシュ {row.content_hash[:12]}…）。",
        )
