"""quality: errors planted in copies of golden tasks, to score reviewers

Revision ID: 0007_quality
Revises: 0005_taxonomy
Create Date: 2026-12-02 12:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007_quality"
down_revision = "0006_cameras"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plantederror",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("golden_task_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("object_kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("object_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("frame", sa.Integer(), nullable=True),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["golden_task_id"], ["task.id"]),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("plantederror", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plantederror_task_id"), ["task_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("plantederror", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plantederror_task_id"))
    op.drop_table("plantederror")
