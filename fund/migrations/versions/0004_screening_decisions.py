"""Screening decisions that hold: 差戻し and 取下げ, every submitted revision of a proposal, scores tied
to the revision they judged, a round's review rules and its frozen decision (審査結果の確定).

DuckDB can neither widen the CHECK constraint of `proposal.status` nor add or drop columns of a table
that others reference, so what is new lives in new tables: a returned or withdrawn proposal is a
下書き with a `proposal_return` row; a round without a `round_policy` row needs 2 counted reviews and
shows no reviewer names in feedback. Existing rows need nothing: every score judged revision 1, no
proposal is returned and no round is decided.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id(sequence: str) -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), server_default=sa.text(f"nextval('{sequence}')"), nullable=False)


def _kind() -> sa.Enum:
    return sa.Enum(
        "returned", "withdrawn", name="returnkind", native_enum=False, create_constraint=True, length=20
    )


TABLES = ("proposal_revision", "proposal_return", "round_policy", "screening_decision")


def upgrade() -> None:
    op.add_column(
        "review_score", sa.Column("proposal_revision", sa.Integer(), server_default="1", nullable=True)
    )
    for table in TABLES:
        op.execute(sa.schema.CreateSequence(sa.Sequence(f"{table}_id_seq")))
    op.create_table(
        "proposal_revision",
        _id("proposal_revision_id_seq"),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("submitted_by", sa.String(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["proposal_id"], ["proposal.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("proposal_id", "revision"),
    )
    op.create_table(
        "proposal_return",
        _id("proposal_return_id_seq"),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("kind", _kind(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["proposal_id"], ["proposal.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("proposal_id"),
    )
    op.create_table(
        "round_policy",
        _id("round_policy_id_seq"),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("min_reviews", sa.Integer(), nullable=False),
        sa.Column("feedback_names", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["screening_round.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("round_id"),
    )
    op.create_table(
        "screening_decision",
        _id("screening_decision_id_seq"),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("override_reason", sa.String(length=500), nullable=False),
        sa.Column("decided_by", sa.String(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["screening_round.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("round_id"),
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
        op.execute(sa.schema.DropSequence(sa.Sequence(f"{table}_id_seq")))
    op.drop_column("review_score", "proposal_revision")
