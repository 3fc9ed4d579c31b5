"""結果: the ranking raw and calibrated, its filters, headline, counts and export."""

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from fund.auth import Actor
from fund.calibration import calibrated_scores_sql
from fund.db import query_df
from fund.export import record_export, to_csv_bytes, to_xlsx_bytes
from fund.labels import PERSPECTIVE, SAMPLE_MARK
from fund.screening.assignments import _export_round
from fund.screening.rubric import DISAGREEMENT_SD, PERSPECTIVES, latest_weights

RESULT_COLUMNS = [
    "rank",
    "calibrated_rank",
    "proposal_id",
    "project",
    "department",
    "p1",
    "p2",
    "p3",
    "p4",
    "c1",
    "c2",
    "c3",
    "c4",
    "weighted_total",
    "calibrated_total",
    "reviews",
    "max_sd",
    "disagreement",
    "earlier_revision_reviews",
]


def _results_sql() -> str:
    """One row per scored proposal of round `:r`: raw (p1–p4) and calibrated (c1–c4) means per
    perspective, the largest per-perspective sample standard deviation and the reviewers counted.
    Portable SQL (DuckDB and PostgreSQL): the pivot is a conditional aggregate."""
    pivot = ",\n".join(
        f"MAX(CASE WHEN perspective = {p} THEN mean_score END) AS p{p}, "
        f"MAX(CASE WHEN perspective = {p} THEN calibrated_mean END) AS c{p}"
        for p in PERSPECTIVES
    )
    return f"""
        WITH cal AS ({calibrated_scores_sql()}),
        per AS (
            SELECT proposal_id, perspective, AVG(score) AS mean_score, STDDEV_SAMP(score) AS sd,
                   AVG(calibrated) AS calibrated_mean
            FROM cal GROUP BY proposal_id, perspective
        ),
        wide AS (
            SELECT proposal_id, {pivot}, MAX(sd) AS max_sd FROM per GROUP BY proposal_id
        ),
        counted AS (
            SELECT proposal_id, COUNT(DISTINCT reviewer_id) AS reviews FROM cal GROUP BY proposal_id
        ),
        -- reviewers whose scores were given to an earlier version than the one submitted now
        earlier AS (
            SELECT ra.proposal_id, COUNT(DISTINCT ra.reviewer_id) AS earlier_revision_reviews
            FROM review_score s
            JOIN review_assignment ra ON ra.id = s.assignment_id
            JOIN (SELECT proposal_id, MAX(revision) AS revision FROM proposal_revision GROUP BY proposal_id) cur
              ON cur.proposal_id = ra.proposal_id
            WHERE ra.round_id = :r AND NOT ra.recused AND COALESCE(s.proposal_revision, 1) < cur.revision
            GROUP BY ra.proposal_id
        )
        SELECT wide.*, counted.reviews, COALESCE(earlier.earlier_revision_reviews, 0) AS earlier_revision_reviews,
               p.name AS project, d.name AS department
        FROM wide
        JOIN counted ON counted.proposal_id = wide.proposal_id
        LEFT JOIN earlier ON earlier.proposal_id = wide.proposal_id
        JOIN proposal pr ON pr.id = wide.proposal_id
        JOIN project p ON p.id = pr.project_id
        JOIN department d ON d.id = p.department_id
        ORDER BY p.name COLLATE "C", wide.proposal_id
    """


def results(engine: Engine, *, round_id: int) -> pd.DataFrame:
    """Per proposal: mean score per perspective (p1–p4) and calibrated mean (c1–c4), weighted total with the current weights,
    the calibrated total (see `fund.calibration`), reviews counted, the largest per-perspective
    standard deviation and a disagreement flag. Ranked by the raw weighted total.

    Recused reviews never count. A proposal not yet scored on every perspective has no total.
    The aggregation and the pivot run in SQL; totals and ranks are column arithmetic.
    """
    out = query_df(engine, _results_sql(), {"r": round_id})
    if out.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    weights = latest_weights(engine, round_id=round_id)
    for prefix in ("p", "c"):
        for p in PERSPECTIVES:
            out[f"{prefix}{p}"] = out[f"{prefix}{p}"].astype("float64")
    # Weighted total (1–5 scale): Σ weight_i × mean_i / 100; NaN until every perspective is scored.
    out["weighted_total"] = sum(out[f"p{p}"] * weights[p - 1] / 100 for p in PERSPECTIVES)
    out["calibrated_total"] = sum(out[f"c{p}"] * weights[p - 1] / 100 for p in PERSPECTIVES)
    out["max_sd"] = out["max_sd"].astype("float64")
    out["reviews"] = out["reviews"].fillna(0).astype("int64")
    out["earlier_revision_reviews"] = out["earlier_revision_reviews"].astype("int64")
    out["disagreement"] = out["max_sd"].fillna(0) > DISAGREEMENT_SD
    out["rank"] = out["weighted_total"].round(9).rank(ascending=False, method="min").astype("Int64")
    out["calibrated_rank"] = (
        out["calibrated_total"].round(9).rank(ascending=False, method="min").astype("Int64")
    )
    # The statement orders by name (code point order, as Python compares strings) and id; a stable
    # sort on the two ranks keeps that order among ties.
    out = out.sort_values(["rank", "calibrated_rank"], kind="stable", na_position="last").reset_index(
        drop=True
    )
    return out[RESULT_COLUMNS]


@dataclass(frozen=True)
class ResultFilters:
    """What the 結果 tab filters on; the export applies exactly the same filters."""

    departments: tuple[str, ...] = field(default_factory=tuple)
    disagreement_only: bool = False
    search: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "departments": list(self.departments),
            "disagreement_only": self.disagreement_only,
            "search": self.search,
        }


def filter_results(df: pd.DataFrame, filters: ResultFilters) -> pd.DataFrame:
    out = df
    if filters.departments:
        out = out[out["department"].isin(list(filters.departments))]
    if filters.disagreement_only:
        out = out[out["disagreement"].astype(bool)]
    if filters.search.strip():
        out = out[out["project"].str.contains(filters.search.strip(), regex=False)]
    return out.reset_index(drop=True)


RESULT_TABLE_COLUMNS = [
    "順位（素点）",
    "順位（補正後）",
    "事業名",
    "所管部局",
    *[PERSPECTIVE[p] for p in PERSPECTIVES],
    "加重合計（素点）",
    "加重合計（補正後）",
    "審査数",
    "最大ばらつき（標準偏差）",
    "評価が割れている",
    "修正前の版への審査数",
]


def results_table(df: pd.DataFrame) -> pd.DataFrame:
    """The ranking with Japanese headers, scores rounded to 2 decimals: the screen and the export."""
    out = pd.DataFrame(
        {
            "順位（素点）": df["rank"],
            "順位（補正後）": df["calibrated_rank"],
            "事業名": df["project"],
            "所管部局": df["department"],
            **{PERSPECTIVE[p]: df[f"p{p}"].astype("float64").round(2) for p in PERSPECTIVES},
            "加重合計（素点）": df["weighted_total"].astype("float64").round(2),
            "加重合計（補正後）": df["calibrated_total"].astype("float64").round(2),
            "審査数": df["reviews"],
            "最大ばらつき（標準偏差）": df["max_sd"].astype("float64").round(2),
            "評価が割れている": df["disagreement"].astype(bool),
            "修正前の版への審査数": df["earlier_revision_reviews"],
        },
        columns=RESULT_TABLE_COLUMNS,
    )
    return out.reset_index(drop=True)


def filtered_results_table(engine: Engine, *, round_id: int, filters: ResultFilters) -> pd.DataFrame:
    """`results` → `filter_results` → `results_table`: what the 結果 tab shows."""
    return results_table(filter_results(results(engine, round_id=round_id), filters))


def export_results(engine: Engine, *, actor: Actor, round_id: int, filters: ResultFilters, fmt: str) -> bytes:
    """The ranking exactly as filtered on screen, as xlsx or CSV (UTF-8 with BOM); audited.

    Raises PermissionDenied, NotFound, RuleViolation (unknown format).
    """
    title, is_sample = _export_round(engine, actor=actor, round_id=round_id, fmt=fmt)
    table = filtered_results_table(engine, round_id=round_id, filters=filters)
    # In a file the check box is a word (Excel shows TRUE/FALSE), and a sample round's every row
    # says so: a CSV has no title to carry the mark.
    table["評価が割れている"] = table["評価が割れている"].map({True: "割れている", False: ""}).astype(object)
    if is_sample:
        table["データ"] = SAMPLE_MARK
    weights = latest_weights(engine, round_id=round_id)
    if fmt == "xlsx":
        data = to_xlsx_bytes(
            table,
            sheet_name="審査結果",
            title=f"{title} 審査結果"
            + ("（サンプルデータ）" if is_sample and "サンプル" not in title else "")
            + "　重み: "
            + " / ".join(f"{PERSPECTIVE[p]} {weights[p - 1]}%" for p in PERSPECTIVES),
        )
    else:
        data = to_csv_bytes(table)
    record_export(
        engine,
        actor=actor,
        what=f"screening_results.{fmt}",
        filters={"round_id": round_id, **filters.as_dict()},
        rows=len(table),
    )
    return data


def perspective_scores_long(df: pd.DataFrame) -> pd.DataFrame:
    """One row per proposal × perspective (事業名, 観点, 平均点, 順位) for the chart of scores by perspective."""
    columns = ["事業名", "観点", "観点番号", "平均点", "順位"]
    if df.empty:
        return pd.DataFrame(columns=columns)
    n = len(df)
    k = len(PERSPECTIVES)
    numbers = list(PERSPECTIVES) * n
    return pd.DataFrame(
        {
            "事業名": df["project"].to_numpy().repeat(k),
            "観点": [PERSPECTIVE[p] for p in numbers],
            "観点番号": numbers,
            "平均点": df[[f"p{p}" for p in PERSPECTIVES]].astype("float64").to_numpy().reshape(-1),
            "順位": df["rank"].to_numpy().repeat(k),
        },
        columns=columns,
    )


def ranking_headline(df: pd.DataFrame) -> str:
    """One line for busy readers: who leads on the raw and on the calibrated total (from `results`)."""
    if df.empty:
        return ""

    def leader(rank_col: str, total_col: str) -> str:
        top = df[df[rank_col] == df[rank_col].min()].sort_values("project")
        others = f" ほか{len(top) - 1}件" if len(top) > 1 else ""
        return f"{top['project'].iloc[0]}{others}（{float(top[total_col].iloc[0]):.2f}点）"

    return f"素点の1位: {leader('rank', 'weighted_total')}　補正後の1位: {leader('calibrated_rank', 'calibrated_total')}"


@dataclass(frozen=True)
class RankingSummary:
    """The counts above the ranking (from `results`, as filtered)."""

    proposals: int
    disagreements: int  # proposals whose reviewers disagree (see DISAGREEMENT_SD)
    rank_changes: int  # proposals whose rank differs between the raw and the calibrated total


def ranking_summary(df: pd.DataFrame) -> RankingSummary:
    return RankingSummary(
        proposals=len(df),
        disagreements=int(df["disagreement"].astype(bool).sum()),
        rank_changes=int((df["rank"] != df["calibrated_rank"]).sum()),
    )
