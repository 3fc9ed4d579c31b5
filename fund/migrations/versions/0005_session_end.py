"""Sign-out everywhere: the last time each login's sessions were ended on purpose.

A session signed in before that instant stops at its next action (the user signed out on another
desk). New table only; nothing to fill in: no session of an existing database has been ended.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("session_end_id_seq")))
    op.create_table(
        "session_end",
        sa.Column(
            "id", sa.Integer(), server_default=sa.text("nextval('session_end_id_seq')"), nullable=False
        ),
        sa.Column("login", sa.String(length=60), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("login"),
    )


def downgrade() -> None:
    op.drop_table("session_end")
    op.execute(sa.schema.DropSequence(sa.Sequence("session_end_id_seq")))
