"""Reference lists for filters and forms: departments, categories, projects, 年度."""

from typing import Any

import pandas as pd
from sqlalchemy import Engine

from fund.auth import Actor, department_scope
from fund.db import query_df
from fund.models import ProposalStatus
from fund.settings import DATA_DIR

ASSUMPTIONS = DATA_DIR / "assumptions.ja.md"
SEED_ACTOR = "seed"  # who the seed's rows were written by: their figures follow the seed's assumptions


def assumptions_text() -> str:
    """What the seed assumes where the sources are silent (推計) and what is sample data (サンプル),
    in Japanese for users; data/README.md says the same for maintainers."""
    return ASSUMPTIONS.read_text(encoding="utf-8")


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


def _visible_projects(department_id: int | None, viewer: Actor | None) -> tuple[str, dict[str, Any]]:
    """WHERE clause and parameters: the projects of `department_id` (all when None) that the viewer
    may know of. A department user does not learn another department's projects that exist only as
    its 下書き (not yet submitted, allocated or drawn)."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if department_id is not None:
        where.append("p.department_id = :d")
        params["d"] = department_id
    scope = department_scope(viewer) if viewer is not None else None
    if scope is not None:
        where.append(
            "(p.department_id = :own"
            " OR EXISTS (SELECT 1 FROM proposal pr WHERE pr.project_id = p.id AND pr.status <> :draft)"
            " OR EXISTS (SELECT 1 FROM allocation a WHERE a.project_id = p.id)"
            " OR NOT EXISTS (SELECT 1 FROM proposal pr WHERE pr.project_id = p.id))"
        )
        params["own"] = scope
        params["draft"] = ProposalStatus.draft.value
    return ("WHERE " + " AND ".join(where)) if where else "", params


def project_count(engine: Engine, *, department_id: int | None = None, viewer: Actor | None = None) -> int:
    """How many projects there are (in one department), to decide whether a picker can list them."""
    where, params = _visible_projects(department_id, viewer)
    df = query_df(engine, f"SELECT COUNT(*) AS n FROM project p {where}", params)
    return int(df["n"].iloc[0])


def projects(
    engine: Engine, *, department_id: int | None = None, viewer: Actor | None = None
) -> pd.DataFrame:
    """id, name and department of the projects the viewer may know of (see `_visible_projects`)."""
    where, params = _visible_projects(department_id, viewer)
    return query_df(
        engine, f"SELECT p.id, p.name, p.department_id FROM project p {where} ORDER BY p.id", params
    )


def fiscal_years(engine: Engine) -> pd.DataFrame:
    return query_df(engine, "SELECT year, closed, annual_cap_yen FROM fiscal_year ORDER BY year")
