"""The budget cycle: 補正, 繰越 and 不用額 of an allocation, each a row of its history.

A 繰越's row names the 翌年度 allocation it created (`carried_to_id`), so the allocation table itself
is unchanged. Existing data needs nothing: allocations so far have no history beyond their
registration and approval.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _status() -> sa.Enum:
    return sa.Enum(
        "proposed", "approved", name="allocationstatus", native_enum=False, create_constraint=True, length=20
    )


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("allocation_change_id_seq")))
    op.create_table(
        "allocation_change",
        sa.Column(
            "id", sa.Integer(), server_default=sa.text("nextval('allocation_change_id_seq')"), nullable=False
        ),
        sa.Column("allocation_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "revision",
                "carry_over",
                "lapse",
                name="allocationchangekind",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("fund_delta_yen", sa.BigInteger(), nullable=False),
        sa.Column("cost_delta_yen", sa.BigInteger(), nullable=False),
        sa.Column("status", _status(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("requested_by", sa.String(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("carried_to_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["allocation_id"], ["allocation.id"]),
        sa.ForeignKeyConstraint(["carried_to_id"], ["allocation.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_allocation_change_allocation_id", "allocation_change", ["allocation_id"])


def downgrade() -> None:
    op.drop_index("ix_allocation_change_allocation_id", table_name="allocation_change")
    op.drop_table("allocation_change")
    op.execute(sa.schema.DropSequence(sa.Sequence("allocation_change_id_seq")))
