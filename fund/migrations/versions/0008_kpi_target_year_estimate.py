"""A KPI target whose 年度 the sources do not give is marked 推計 (kpi_target.year_is_estimate).

The upgrade marks the three seeded targets whose year the progress report leaves out (data/README.md,
成果指標): 野犬 捕獲頭数 100頭 and Y-BASE 課題解決 500件 (令和8年度 assumed), YSN 100Gbps (令和6年度
assumed). Every other target keeps false: it was stated with its year or entered by a department.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (project, indicator, 年度) as the seed wrote them (data/kpi_indicators.csv, data/kpi_targets.csv)
ASSUMED_YEARS = [
    ("デジタル活用による野犬対策強化事業", "捕獲システムでの野犬捕獲頭数", 2026),
    ("やまぐち情報スーパーネットワーク機能強化事業", "基幹回線の通信容量", 2024),
    ("やまぐちDX加速化事業", "Y-BASEのDXコンサルによる課題解決件数（累計）", 2026),
]


def upgrade() -> None:
    op.add_column(
        "kpi_target",
        sa.Column("year_is_estimate", sa.Boolean(), nullable=False, server_default="false"),
    )
    op.get_bind().execute(
        sa.text(
            "UPDATE kpi_target SET year_is_estimate = TRUE WHERE fiscal_year = :year AND indicator_id IN ("
            " SELECT i.id FROM kpi_indicator i JOIN project p ON p.id = i.project_id"
            " WHERE p.name = :project AND i.name = :indicator)"
        ),
        [{"project": p, "indicator": i, "year": y} for p, i, y in ASSUMED_YEARS],
    )


def downgrade() -> None:
    op.drop_column("kpi_target", "year_is_estimate")
