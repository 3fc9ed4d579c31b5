"""The screening round the page works on, and the form that opens a new one."""

from dataclasses import dataclass

import streamlit as st

from fund import clock, screening
from fund.auth import Actor
from fund.fiscal import default_year, fiscal_label
from fund.labels import PERSPECTIVE
from ui import loaders, session, widgets


@dataclass(frozen=True)
class ChosenRound:
    round_id: int
    fiscal_year: int
    rubric: screening.Rubric

    def file_stem(self, what: str) -> str:
        return f"{what}_{self.fiscal_year}年度_{self.round_id}"


def pick() -> ChosenRound | None:
    """The round picker with its sample warning and rubric line; None when there is no round."""
    rounds = loaders.rounds()
    if rounds.empty:
        return None
    by_id = rounds.set_index("id")
    round_id = int(
        st.selectbox(
            "審査ラウンド",
            rounds["id"].tolist(),
            format_func=lambda i: screening.round_label(
                int(by_id.loc[i, "fiscal_year"]), str(by_id.loc[i, "name"])
            ),
            key="round",
        )
    )
    row = by_id.loc[round_id]
    if bool(row["is_sample"]):
        st.warning(
            "サンプル: このラウンドの審査担当と採点は動作確認用のサンプルデータです（実際の審査結果ではありません）。",
            icon=":material/science:",
        )
    rubric = loaders.current_rubric(round_id=round_id)
    st.caption(
        f"評価基準 第{rubric.version}版　重み: "
        + " / ".join(f"{PERSPECTIVE[p]} {rubric.weights[p - 1]}%" for p in screening.PERSPECTIVES)
    )
    return ChosenRound(round_id=round_id, fiscal_year=int(row["fiscal_year"]), rubric=rubric)


def new_round_form(actor: Actor) -> None:
    """新しい審査ラウンド: 年度, name and the first rubric's weights (default equal)."""
    years_df = loaders.fiscal_years()
    years = years_df["year"].tolist()
    open_years = years_df.loc[~years_df["closed"].astype(bool), "year"].tolist()
    default = years.index(default_year(open_years, clock.today_jst())) if open_years else len(years) - 1
    with st.form("new_round"):
        c1, c2 = st.columns([1, 2])
        year = c1.selectbox("年度", years, index=default, format_func=fiscal_label, key="new_round_year")
        name = c2.text_input("ラウンド名", key="new_round_name", placeholder="例: 当初予算 基金充当事業 審査")
        cols = st.columns(4)
        weights = [
            int(cols[p - 1].number_input(f"{PERSPECTIVE[p]}（%）", 0, 100, 25, key=f"new_round_w{p}"))
            for p in screening.PERSPECTIVES
        ]
        if st.form_submit_button("ラウンドを作成", icon=":material/add:"):
            widgets.run_action(
                lambda: screening.create_round(
                    session.engine(), actor=actor, fiscal_year=int(year), name=name, weights=weights
                ),
                lambda created: f"審査ラウンド「{created.name}」を作成しました。",
            )
