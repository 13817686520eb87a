"""edit.batch_digest: tells a resent batch from a reused seq

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("edit") as batch:
        batch.add_column(
            sa.Column("batch_digest", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("edit") as batch:
        batch.drop_column("batch_digest")
