"""taxonomy: versioned taxonomies per project; tasks pinned to a version; edits record
the version they were validated under (and a reason when the server made them);
behaviour tags may relate to the ego vehicle

Every existing project gets version 1, published, holding the default taxonomy
(``server/taxonomy_default.json`` as it is when this migration runs), and every
existing task is pinned to it. Existing edits keep ``taxonomy_version_id`` NULL:
they were validated under the taxonomy constant that version 1 replaces.

Revision ID: 0005_taxonomy
Revises: 0004
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

from server.taxonomy import default_document

revision = "0005_taxonomy"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "taxonomyversion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("base_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.JSON(), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.Column("changelog", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("published_by", sa.Integer(), nullable=True),
        sa.Column("published_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["base_id"], ["taxonomyversion.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.ForeignKeyConstraint(["published_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "number"),
    )
    with op.batch_alter_table("taxonomyversion") as batch:
        batch.create_index(batch.f("ix_taxonomyversion_project_id"), ["project_id"], unique=False)
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("taxonomy_version_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_task_taxonomy_version_id"), ["taxonomy_version_id"])
        batch.create_foreign_key(
            "fk_task_taxonomy_version_id", "taxonomyversion", ["taxonomy_version_id"], ["id"]
        )
    with op.batch_alter_table("edit") as batch:
        batch.add_column(sa.Column("taxonomy_version_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch.create_foreign_key(
            "fk_edit_taxonomy_version_id", "taxonomyversion", ["taxonomy_version_id"], ["id"]
        )
    with op.batch_alter_table("behaviourtag") as batch:
        batch.add_column(
            sa.Column("related_ego", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    _seed_default_versions()


def _seed_default_versions() -> None:
    conn = op.get_bind()
    body = json.dumps(default_document())
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    for (project_id,) in conn.execute(sa.text("SELECT id FROM project")).all():
        conn.execute(
            sa.text(
                "INSERT INTO taxonomyversion (project_id, number, status, body, changes,"
                " changelog, created_at, published_at) VALUES (:p, 1, 'published', :body,"
                " '[]', 'The default AV taxonomy', :now, :now)"
            ),
            {"p": project_id, "body": body, "now": now},
        )
        version_id = conn.execute(
            sa.text("SELECT id FROM taxonomyversion WHERE project_id = :p AND number = 1"),
            {"p": project_id},
        ).scalar()
        conn.execute(
            sa.text("UPDATE task SET taxonomy_version_id = :v WHERE project_id = :p"),
            {"v": version_id, "p": project_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("behaviourtag") as batch:
        batch.drop_column("related_ego")
    with op.batch_alter_table("edit") as batch:
        batch.drop_constraint("fk_edit_taxonomy_version_id", type_="foreignkey")
        batch.drop_column("reason")
        batch.drop_column("taxonomy_version_id")
    with op.batch_alter_table("task") as batch:
        batch.drop_constraint("fk_task_taxonomy_version_id", type_="foreignkey")
        batch.drop_index(batch.f("ix_task_taxonomy_version_id"))
        batch.drop_column("taxonomy_version_id")
    op.drop_table("taxonomyversion")
