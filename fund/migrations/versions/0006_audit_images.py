"""A keyed audit chain that covers the data: after-images, and an HMAC in place of the plain hash.

New table audit_image (filled by the upgrade itself with a baseline image of every watched row,
on its own audit row). The existing chain is checked once more with the unkeyed formula of earlier
releases and then re-hashed with the key from FUND_AUDIT_KEY or the key file (made here when there is
none yet): from now on no one without the key can recompute it.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from fund import audit, keys
from fund.models import AuditLog

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOG = sa.table(
    "audit_log",
    sa.column("id", sa.Integer),
    sa.column("occurred_at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String),
    sa.column("action", sa.String),
    sa.column("entity", sa.String),
    sa.column("entity_id", sa.String),
    sa.column("before_values", sa.JSON),
    sa.column("after_values", sa.JSON),
    sa.column("reason", sa.String),
    sa.column("prev_hash", sa.String),
    sa.column("row_hash", sa.String),
)


def _rechain(check: Callable[[AuditLog], str], make: Callable[[AuditLog], str]) -> None:
    """Check every row with `check`, then link and hash it again with `make`, in id order."""
    conn = op.get_bind()
    updates = []
    prev_old = prev_new = ""
    for values in conn.execute(sa.select(_LOG).order_by(_LOG.c.id)).mappings():
        row = AuditLog(**values)
        if row.prev_hash != prev_old or check(row) != row.row_hash:
            raise RuntimeError(f"監査ログの連鎖が番号 {row.id} で途切れています。更新を中止しました。")
        prev_old = row.row_hash
        row.prev_hash = prev_new
        prev_new = make(row)
        updates.append({"row_id": row.id, "p": row.prev_hash, "h": prev_new})
    if updates:
        conn.execute(
            sa.text("UPDATE audit_log SET prev_hash = :p, row_hash = :h WHERE id = :row_id"), updates
        )


def upgrade() -> None:
    key = keys.secret("audit", create=True)
    _rechain(audit.legacy_row_hash, lambda row: audit.row_hash(row, [], key))
    op.execute(sa.schema.CreateSequence(sa.Sequence("audit_image_id_seq")))
    op.create_table(
        "audit_image",
        sa.Column(
            "id", sa.Integer(), server_default=sa.text("nextval('audit_image_id_seq')"), nullable=False
        ),
        sa.Column("audit_id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=60), nullable=False),
        sa.Column("row_id", sa.String(length=60), nullable=False),
        sa.Column("image", sa.JSON(), nullable=True),
        sa.Column("image_hash", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    key = keys.secret("audit", create=False)
    carried: dict[int, list[str]] = {}
    for audit_id, image_hash in op.get_bind().execute(
        sa.text("SELECT audit_id, image_hash FROM audit_image")
    ):
        carried.setdefault(audit_id, []).append(image_hash)
    _rechain(lambda row: audit.row_hash(row, carried.get(row.id or 0, []), key), audit.legacy_row_hash)
    op.drop_table("audit_image")
    op.execute(sa.schema.DropSequence(sa.Sequence("audit_image_id_seq")))
