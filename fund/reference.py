"""Reference lists for filters and forms: departments, categories, projects, 年度."""

import pandas as pd
from sqlalchemy import Engine

from fund.db import query_df


def departments(engine: Engine) -> pd.DataFrame:
    return query_df(engine, "SELECT id, name FROM department ORDER BY sort_order, id")


def leaf_categories(engine: Engine) -> pd.DataFrame:
    """Categories that projects hang on, with a display label such as '1(1) 生活関連分野…'."""
    df = query_df(
        engine,
        """
        SELECT c.id, c.code, c.name, p.heading AS parent_heading, c.heading
        FROM category c JOIN category p ON p.id = c.parent_id
        ORDER BY c.sort_order
        """,
    )
    df["label"] = [
        f"{ph}{h} {n}" for ph, h, n in zip(df["parent_heading"], df["heading"], df["name"], strict=True)
    ]
    return df


def project_count(engine: Engine, *, department_id: int | None = None) -> int:
    """How many projects there are (in one department), to decide whether a picker can list them."""
    where = "WHERE department_id = :d" if department_id is not None else ""
    df = query_df(
        engine, f"SELECT COUNT(*) AS n FROM project {where}", {"d": department_id} if where else None
    )
    return int(df["n"].iloc[0])


def projects(engine: Engine, *, department_id: int | None = None) -> pd.DataFrame:
    if department_id is None:
        return query_df(engine, "SELECT id, name, department_id FROM project ORDER BY id")
    return query_df(
        engine,
        "SELECT id, name, department_id FROM project WHERE department_id = :d ORDER BY id",
        {"d": department_id},
    )


def fiscal_years(engine: Engine) -> pd.DataFrame:
    return query_df(engine, "SELECT year, closed, annual_cap_yen FROM fiscal_year ORDER BY year")
