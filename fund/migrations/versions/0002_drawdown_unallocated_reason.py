"""A drawdown belongs to an allocation; one without it carries the reason (管理者's exception).

Drawdowns recorded before this revision without an allocation get a reason saying so, so every
drawdown is either linked or explained.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE_THIS_RELEASE = "配分に紐付けずに記帳された取崩し（版0002より前の記帳）"


def upgrade() -> None:
    op.add_column("ledger_entry", sa.Column("unallocated_reason", sa.String(length=200), nullable=True))
    op.execute(
        sa.text(
            "UPDATE ledger_entry SET unallocated_reason = :reason WHERE kind = :drawdown AND allocation_id IS NULL"
        ).bindparams(reason=BEFORE_THIS_RELEASE, drawdown="drawdown")  # the code as 0001 stored it
    )


def downgrade() -> None:
    op.drop_column("ledger_entry", "unallocated_reason")
