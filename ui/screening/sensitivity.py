"""感度分析: which proposals keep their rank band when each weight moves by ±N points."""

import streamlit as st

from fund import screening
from fund.auth import Actor
from fund.errors import FundError
from ui import loaders, session, widgets
from ui.screening.rounds import ChosenRound

BANDS = "上位・中位・下位（3等分）"
FUNDING_LINE = "採択ライン"


def render(actor: Actor, chosen: ChosenRound, *, may_export: bool) -> None:
    st.caption(
        "各観点の重みを1つずつ ±Nポイント動かし（合計が100%になるよう按分し直し）、"
        "どの提案が同じ順位区分にとどまるか（安定）、区分が変わりうるか（境界）を示します。"
    )
    s1, s2, s3 = st.columns(3)
    step = int(s1.slider("重みの変動幅（±ポイント）", 1, 30, 10, key="sens_step", persist_state="page"))
    mode = s2.radio("順位区分", [BANDS, FUNDING_LINE], key="sens_mode", persist_state="page")
    line = s3.number_input(
        "採択ライン（上位○件）",
        1,
        200,
        10,
        key="sens_line",
        disabled=mode != FUNDING_LINE,
        persist_state="page",
    )
    calibrated = st.toggle("補正後の点数で判定する", key="sens_calibrated", persist_state="page")
    funding_line = int(line) if mode == FUNDING_LINE else None
    try:
        sens = screening.sensitivity_of(
            loaders.results(round_id=chosen.round_id),
            weights=chosen.rubric.weights,
            step=step,
            funding_line=funding_line,
            calibrated=calibrated,
        )
    except FundError as exc:
        widgets.show_error(exc)
        return
    if sens.table.empty:
        st.info("全観点の採点がそろった提案がないため、感度分析はまだできません。", icon=":material/info:")
        return
    stable, borderline = screening.robust_counts(sens)
    k1, k2 = st.columns(2)
    k1.metric("安定（区分が変わらない）", f"{stable:,} 件")
    k2.metric("境界（区分が変わりうる）", f"{borderline:,} 件")
    st.dataframe(
        screening.sensitivity_table(sens).head(widgets.DISPLAY_LIMIT),
        hide_index=True,
        width="stretch",
        column_config={"加重合計": st.column_config.NumberColumn(format="%.2f")},
    )
    widgets.limit_notice(len(sens.table))
    engine = session.engine()
    widgets.download_pair(
        lambda fmt: screening.export_sensitivity(
            engine,
            actor=actor,
            round_id=chosen.round_id,
            step=step,
            funding_line=funding_line,
            calibrated=calibrated,
            fmt=fmt,
        ),
        file_stem=chosen.file_stem("感度分析"),
        key="sens_export",
        disabled=not may_export,
    )
    with st.expander("シナリオごとの重み"):
        st.dataframe(sens.scenarios, hide_index=True, width="stretch")
