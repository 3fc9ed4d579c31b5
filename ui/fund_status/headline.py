"""The five headline figures: balance, this year's plan, later commitments, runway, share used."""

import streamlit as st

from fund import projection
from fund.fiscal import fiscal_label
from fund.money import format_oku_yen, format_sen_yen, format_yen


def render(status: projection.FundStatus) -> None:
    base = status.projection
    m1, m2, m3, m4, m5 = st.columns(5)
    m1.metric(
        "現在の基金残高",
        format_oku_yen(status.balance_yen),
        help=f"{format_sen_yen(status.balance_yen)}千円（{format_yen(status.balance_yen)}）",
    )
    m2.metric(
        "今年度の取崩し予定",
        format_oku_yen(status.planned_this_year_yen),
        help=f"{fiscal_label(status.current_year)}の計画（承認済み配分＋採択事業の後年度計画）。"
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
