"""cameras: frames carry camera images with intrinsics, extrinsics and distortion

Revision ID: 0006_cameras
Revises: 0005_taxonomy
Create Date: 2026-12-02 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006_cameras"
down_revision = "0005_taxonomy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "framecamera",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scene_id", sa.Integer(), nullable=False),
        sa.Column("frame_index", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("image", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("media_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("intrinsic", sa.JSON(), nullable=True),
        sa.Column("lidar_to_camera", sa.JSON(), nullable=True),
        sa.Column("distortion", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["scene_id"], ["scene.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scene_id", "frame_index", "name"),
    )
    with op.batch_alter_table("framecamera") as batch:
        batch.create_index(batch.f("ix_framecamera_scene_id"), ["scene_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("framecamera") as batch:
        batch.drop_index(batch.f("ix_framecamera_scene_id"))
    op.drop_table("framecamera")
