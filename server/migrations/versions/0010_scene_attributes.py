"""scene attributes: lead-set key/value pairs on a scene (weather, area, ...), which review
sampling can stratify by

Revision ID: 0010_scene_attributes
Revises: 0009_sampling
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_scene_attributes"
down_revision = "0009_sampling"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scene") as batch:
        batch.add_column(sa.Column("attributes", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("scene") as batch:
        batch.drop_column("attributes")
