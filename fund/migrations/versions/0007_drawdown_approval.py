"""A second approval for drawdowns: requests waiting for it, and the administrator's threshold.

New tables only, both empty: no drawdown of an existing database waits, and no threshold is set
(then only drawdowns without an allocation need the second approval).

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id(sequence: str) -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), server_default=sa.text(f"nextval('{sequence}')"), nullable=False)


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("drawdown_request_id_seq")))
    op.create_table(
        "drawdown_request",
        _id("drawdown_request_id_seq"),
        sa.Column("posted_on", sa.Date(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("amount_yen", sa.BigInteger(), nullable=False),
        sa.Column("memo", sa.String(), nullable=False),
        sa.Column("allocation_id", sa.Integer(), nullable=True),
        sa.Column("unallocated_reason", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("needs_approval_because", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "rejected",
                name="requeststatus",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("requested_by", sa.String(length=60), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=60), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(), nullable=False),
        sa.Column("ledger_entry_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["allocation_id"], ["allocation.id"]),
        sa.ForeignKeyConstraint(["ledger_entry_id"], ["ledger_entry.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute(sa.schema.CreateSequence(sa.Sequence("drawdown_policy_id_seq")))
    op.create_table(
        "drawdown_policy",
        _id("drawdown_policy_id_seq"),
        sa.Column("threshold_yen", sa.BigInteger(), nullable=True),
        sa.Column("set_by", sa.String(length=60), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("drawdown_policy")
    op.execute(sa.schema.DropSequence(sa.Sequence("drawdown_policy_id_seq")))
    op.drop_table("drawdown_request")
    op.execute(sa.schema.DropSequence(sa.Sequence("drawdown_request_id_seq")))
