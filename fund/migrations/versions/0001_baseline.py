"""Baseline: the schema of release 0.1.0, the last one made before migrations existed.

Frozen: it spells every type out in SQLAlchemy's own terms, so later model changes never alter it.

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# In creation order: every table after the tables it refers to.
TABLES = (
    "audit_log",
    "category",
    "department",
    "fiscal_year",
    "kpi_year",
    "scenario",
    "screening_round",
    "app_user",
    "project",
    "rubric_version",
    "proposal",
    "relisting",
    "rollout",
    "allocation",
    "kpi_indicator",
    "proposal_cost_line",
    "proposal_event",
    "review_assignment",
    "scenario_item",
    "kpi_actual",
    "kpi_target",
    "ledger_entry",
    "review_score",
)
SEQUENCES = (
    "allocation_id_seq",
    "app_user_id_seq",
    "audit_log_id_seq",
    "category_id_seq",
    "department_id_seq",
    "kpi_actual_id_seq",
    "kpi_indicator_id_seq",
    "kpi_target_id_seq",
    "ledger_entry_id_seq",
    "project_id_seq",
    "proposal_cost_line_id_seq",
    "proposal_event_id_seq",
    "proposal_id_seq",
    "relisting_id_seq",
    "review_assignment_id_seq",
    "review_score_id_seq",
    "rollout_id_seq",
    "rubric_version_id_seq",
    "scenario_id_seq",
    "scenario_item_id_seq",
    "screening_round_id_seq",
)


def upgrade() -> None:
    # Ids come from named sequences (DuckDB has no SERIAL; PostgreSQL accepts the same DDL).
    for name in SEQUENCES:
        op.execute(sa.schema.CreateSequence(sa.Sequence(name)))
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), server_default=sa.text("nextval('audit_log_id_seq')"), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("entity", sa.String(length=60), nullable=False),
        sa.Column("entity_id", sa.String(length=60), nullable=True),
        sa.Column("before_values", sa.JSON(), nullable=True),
        sa.Column("after_values", sa.JSON(), nullable=True),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("prev_hash", sa.String(), nullable=False),
        sa.Column("row_hash", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "category",
        sa.Column("id", sa.Integer(), server_default=sa.text("nextval('category_id_seq')"), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("heading", sa.String(length=10), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["category.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "department",
        sa.Column("id", sa.Integer(), server_default=sa.text("nextval('department_id_seq')"), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "fiscal_year",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(), nullable=True),
        sa.Column("annual_cap_yen", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("year"),
    )
    op.create_table(
        "kpi_year",
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(), nullable=False),
        sa.Column("direction", sa.String(), nullable=False),
        sa.Column("perspectives_text", sa.String(), nullable=False),
        sa.Column("target_value", sa.Double(), nullable=True),
        sa.Column("target_on_path", sa.Boolean(), nullable=False),
        sa.Column("actual_value", sa.Double(), nullable=True),
        sa.Column("achievement_rate", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("indicator_id", "fiscal_year"),
    )
    op.create_index("ix_kpi_year_year", "kpi_year", ["fiscal_year"], unique=False)
    op.create_table(
        "scenario",
        sa.Column("id", sa.Integer(), server_default=sa.text("nextval('scenario_id_seq')"), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("based_on_id", sa.Integer(), nullable=True),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("objective", sa.String(length=20), nullable=False),
        sa.Column("ceiling_yen", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("promoted_by", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["based_on_id"],
            ["scenario.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "screening_round",
        sa.Column(
            "id", sa.Integer(), server_default=sa.text("nextval('screening_round_id_seq')"), nullable=False
        ),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("is_sample", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), server_default=sa.text("nextval('app_user_id_seq')"), nullable=False),
        sa.Column("login", sa.String(length=60), nullable=False),
        sa.Column("display_name", sa.String(length=60), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "department",
                "screener",
                "executive",
                "admin",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("password_hash", sa.String(), nullable=True),
        sa.Column("oidc_subject", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("is_sample", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("login"),
    )
    op.create_table(
        "project",
        sa.Column("id", sa.Integer(), server_default=sa.text("nextval('project_id_seq')"), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("summary", sa.String(), nullable=False),
        sa.Column("first_fiscal_year", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "rubric_version",
        sa.Column(
            "id", sa.Integer(), server_default=sa.text("nextval('rubric_version_id_seq')"), nullable=False
        ),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("weights", sa.JSON(), nullable=False),
        sa.Column("anchors", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["screening_round.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "proposal",
        sa.Column("id", sa.Integer(), server_default=sa.text("nextval('proposal_id_seq')"), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "submitted",
                "in_review",
                "adopted",
                "rejected",
                "on_hold",
                "funded",
                name="proposalstatus",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("summary", sa.String(), nullable=False),
        sa.Column("purpose", sa.String(), nullable=False),
        sa.Column("problem", sa.String(), nullable=False),
        sa.Column("meets_req1", sa.Boolean(), nullable=False),
        sa.Column("meets_req2", sa.Boolean(), nullable=False),
        sa.Column("meets_req3", sa.Boolean(), nullable=False),
        sa.Column("req1_reason", sa.String(), nullable=False),
        sa.Column("req2_reason", sa.String(), nullable=False),
        sa.Column("req3_reason", sa.String(), nullable=False),
        sa.Column("project_cost_yen", sa.BigInteger(), nullable=False),
        sa.Column("fund_share_yen", sa.BigInteger(), nullable=False),
        sa.Column("national_funds_yen", sa.BigInteger(), nullable=False),
        sa.Column("other_funds_yen", sa.BigInteger(), nullable=False),
        sa.Column("expected_users", sa.BigInteger(), nullable=False),
        sa.Column("uses_per_user_per_year", sa.Float(), nullable=False),
        sa.Column("procedures_per_year", sa.BigInteger(), nullable=False),
        sa.Column("minutes_saved_per_procedure", sa.Float(), nullable=False),
        sa.Column(
            "novelty",
            sa.Enum(
                "national_first",
                "prefecture_first",
                "proven_elsewhere",
                "expansion",
                name="novelty",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column("novelty_note", sa.String(), nullable=False),
        sa.Column("is_sample", sa.Boolean(), nullable=False),
        sa.Column("kpis", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "relisting",
        sa.Column("id", sa.Integer(), server_default=sa.text("nextval('relisting_id_seq')"), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "fiscal_year", "category_id"),
    )
    op.create_table(
        "rollout",
        sa.Column("id", sa.Integer(), server_default=sa.text("nextval('rollout_id_seq')"), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=120), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("is_sample", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "allocation",
        sa.Column("id", sa.Integer(), server_default=sa.text("nextval('allocation_id_seq')"), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=True),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column(
            "budget_stage",
            sa.Enum(
                "initial",
                "supplementary",
                "emergency",
                name="budgetstage",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("project_cost_yen", sa.BigInteger(), nullable=False),
        sa.Column("fund_share_yen", sa.BigInteger(), nullable=False),
        sa.Column("fund_share_is_estimate", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "proposed",
                "approved",
                name="allocationstatus",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("proposed_by", sa.String(), nullable=False),
        sa.Column("approved_by", sa.String(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposal.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "kpi_indicator",
        sa.Column(
            "id", sa.Integer(), server_default=sa.text("nextval('kpi_indicator_id_seq')"), nullable=False
        ),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "output",
                "outcome",
                "citizen_feel",
                name="kpikind",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("baseline_value", sa.Float(), nullable=True),
        sa.Column("baseline_year", sa.Integer(), nullable=True),
        sa.Column(
            "direction",
            sa.Enum(
                "higher", "lower", name="direction", native_enum=False, create_constraint=True, length=20
            ),
            nullable=False,
        ),
        sa.Column("perspectives", sa.JSON(), nullable=False),
        sa.Column("source_note", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposal.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "proposal_cost_line",
        sa.Column(
            "id", sa.Integer(), server_default=sa.text("nextval('proposal_cost_line_id_seq')"), nullable=False
        ),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("project_cost_yen", sa.BigInteger(), nullable=False),
        sa.Column("fund_share_yen", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposal.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("proposal_id", "fiscal_year"),
    )
    op.create_table(
        "proposal_event",
        sa.Column(
            "id", sa.Integer(), server_default=sa.text("nextval('proposal_event_id_seq')"), nullable=False
        ),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(), nullable=True),
        sa.Column("to_status", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposal.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "review_assignment",
        sa.Column(
            "id", sa.Integer(), server_default=sa.text("nextval('review_assignment_id_seq')"), nullable=False
        ),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("recused", sa.Boolean(), nullable=False),
        sa.Column("recusal_reason", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposal.id"],
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["app_user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["screening_round.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("round_id", "proposal_id", "reviewer_id"),
    )
    op.create_table(
        "scenario_item",
        sa.Column(
            "id", sa.Integer(), server_default=sa.text("nextval('scenario_item_id_seq')"), nullable=False
        ),
        sa.Column("scenario_id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=True),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("project_cost_yen", sa.BigInteger(), nullable=False),
        sa.Column("fund_share_yen", sa.BigInteger(), nullable=False),
        sa.Column("included", sa.Boolean(), nullable=False),
        sa.Column("forced", sa.String(length=3), nullable=False),
        sa.Column("force_reason", sa.String(), nullable=False),
        sa.Column("exclusion_reason", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposal.id"],
        ),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["scenario.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "kpi_actual",
        sa.Column("id", sa.Integer(), server_default=sa.text("nextval('kpi_actual_id_seq')"), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("actual_value", sa.Float(), nullable=False),
        sa.Column("measured_on", sa.Date(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("is_sample", sa.Boolean(), nullable=False),
        sa.Column("entered_by", sa.String(), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["kpi_indicator.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("indicator_id", "fiscal_year"),
    )
    op.create_table(
        "kpi_target",
        sa.Column("id", sa.Integer(), server_default=sa.text("nextval('kpi_target_id_seq')"), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("target_value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["kpi_indicator.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("indicator_id", "fiscal_year"),
    )
    op.create_table(
        "ledger_entry",
        sa.Column(
            "id", sa.Integer(), server_default=sa.text("nextval('ledger_entry_id_seq')"), nullable=False
        ),
        sa.Column("posted_on", sa.Date(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "deposit",
                "interest",
                "drawdown",
                "refund",
                "reversal",
                name="ledgerkind",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("amount_yen", sa.BigInteger(), nullable=False),
        sa.Column("memo", sa.String(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("allocation_id", sa.Integer(), nullable=True),
        sa.Column("reverses_entry_id", sa.Integer(), nullable=True),
        sa.Column("is_estimate", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["allocation.id"],
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
        ),
        sa.ForeignKeyConstraint(
            ["reverses_entry_id"],
            ["ledger_entry.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "review_score",
        sa.Column(
            "id", sa.Integer(), server_default=sa.text("nextval('review_score_id_seq')"), nullable=False
        ),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("perspective", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(), nullable=False),
        sa.Column("rubric_version_id", sa.Integer(), nullable=False),
        sa.Column("is_sample", sa.Boolean(), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["review_assignment.id"],
        ),
        sa.ForeignKeyConstraint(
            ["rubric_version_id"],
            ["rubric_version.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("assignment_id", "perspective"),
    )


def downgrade() -> None:
    """Back to an empty database (for development; in production go back by restoring a backup)."""
    op.drop_index("ix_kpi_year_year", table_name="kpi_year")
    for table in reversed(TABLES):  # children before parents
        op.drop_table(table)
    for name in SEQUENCES:
        op.execute(sa.schema.DropSequence(sa.Sequence(name)))
