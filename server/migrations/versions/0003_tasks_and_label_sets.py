"""projects, tasks with their own label sets, task transitions

Every existing scene joins the project "Default" and becomes one task (with
the scene's id, state ``open``) that owns the scene's tracks, cuboids, tags
and edits. Annotation ids become unique per label set (primary key
``(task_id, id)``), so a label set can be copied without new ids.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString
KINDS = ("edit", "behaviourtag", "cuboid", "track")  # children first


def upgrade() -> None:
    op.create_table(
        "project",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", S(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.execute(
        "INSERT INTO project (id, name, created_at) VALUES (1, 'Default', CURRENT_TIMESTAMP)"
    )
    with op.batch_alter_table("scene") as batch:
        batch.add_column(sa.Column("project_id", sa.Integer(), nullable=False, server_default="1"))
        batch.create_foreign_key("fk_scene_project_id_project", "project", ["project_id"], ["id"])
        batch.create_index("ix_scene_project_id", ["project_id"], unique=False)
    _create_task_tables()
    op.execute(
        "INSERT INTO task (id, scene_id, project_id, state, revision, created_at, updated_at) "
        "SELECT id, id, project_id, 'open', revision, created_at, created_at FROM scene"
    )
    with op.batch_alter_table("scene") as batch:
        batch.drop_column("revision")
    _move_annotations()


def _create_task_tables() -> None:
    op.create_table(
        "task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scene_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("state", S(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["assignee_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.ForeignKeyConstraint(["reviewer_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["scene_id"], ["scene.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    for col in ("assignee_id", "project_id", "scene_id"):
        op.create_index(f"ix_task_{col}", "task", [col], unique=False)
    op.create_table(
        "tasktransition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("from_state", S(), nullable=True),
        sa.Column("to_state", S(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("note", S(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["assignee_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_tasktransition_task_id", "tasktransition", ["task_id"], unique=False)
    op.create_table(
        "reviewissue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("error_type", S(), nullable=False),
        sa.Column("comment", S(), nullable=False),
        sa.Column("status", S(), nullable=False),
        sa.Column("object_kind", S(), nullable=True),
        sa.Column("object_id", S(), nullable=True),
        sa.Column("frame", sa.Integer(), nullable=True),
        sa.Column("x", sa.Float(), nullable=True),
        sa.Column("y", sa.Float(), nullable=True),
        sa.Column("z", sa.Float(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reviewissue_task_id", "reviewissue", ["task_id"], unique=False)
    op.create_table(
        "reviewcomment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("text", S(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["issue_id"], ["reviewissue.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reviewcomment_issue_id", "reviewcomment", ["issue_id"], unique=False)


OLD_INDEXES = {
    "edit": ("ix_edit_client_id", "ix_edit_scene_id"),
    "behaviourtag": ("ix_behaviourtag_scene_id",),
    "cuboid": ("ix_cuboid_scene_id", "ix_cuboid_track_id"),
    "track": ("ix_track_scene_id",),
}


def _move_annotations() -> None:
    """Rebuild the annotation tables keyed by (task_id, id); task id = scene id here."""
    for kind in KINDS:
        for index in OLD_INDEXES[kind]:
            op.drop_index(index, table_name=kind)
        op.rename_table(kind, f"{kind}_old")
    _create_annotation_tables()
    op.execute(
        "INSERT INTO track (task_id, id, scene_id, label, attributes, revision) "
        "SELECT scene_id, id, scene_id, label, attributes, revision FROM track_old"
    )
    cuboid_cols = ("id, scene_id, track_id, frame_index, cx, cy, cz, length, width, height, "
                   "yaw, pitch, roll, attributes, source, keyframe, revision")  # fmt: skip
    op.execute(
        f"INSERT INTO cuboid (task_id, {cuboid_cols}) SELECT scene_id, {cuboid_cols} FROM cuboid_old"
    )
    tag_cols = ("id, scene_id, tag, subject, track_id, related_track_id, first_frame, "
                "last_frame, attributes, revision")  # fmt: skip
    op.execute(
        f"INSERT INTO behaviourtag (task_id, {tag_cols}) SELECT scene_id, {tag_cols} "
        "FROM behaviourtag_old"
    )
    edit_cols = ("id, scene_id, revision, user_id, created_at, op, kind, object_id, before, "
                 "after, warnings, client_id, client_seq, batch_digest")  # fmt: skip
    op.execute(
        f"INSERT INTO edit (task_id, {edit_cols}) SELECT scene_id, {edit_cols} FROM edit_old"
    )
    for kind in KINDS:
        op.drop_table(f"{kind}_old")


def _create_annotation_tables() -> None:
    op.create_table(
        "track",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("id", S(), nullable=False),
        sa.Column("scene_id", sa.Integer(), nullable=False),
        sa.Column("label", S(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["scene_id"], ["scene.id"]),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"]),
        sa.PrimaryKeyConstraint("task_id", "id"),
    )
    op.create_index("ix_track_scene_id", "track", ["scene_id"], unique=False)
    op.create_table(
        "cuboid",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("id", S(), nullable=False),
        sa.Column("scene_id", sa.Integer(), nullable=False),
        sa.Column("track_id", S(), nullable=False),
        sa.Column("frame_index", sa.Integer(), nullable=False),
        *[sa.Column(c, sa.Float(), nullable=False)
          for c in ("cx", "cy", "cz", "length", "width", "height", "yaw", "pitch", "roll")],
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("source", S(), nullable=False),
        sa.Column("keyframe", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["scene_id"], ["scene.id"]),
        sa.ForeignKeyConstraint(["task_id", "track_id"], ["track.task_id", "track.id"]),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"]),
        sa.PrimaryKeyConstraint("task_id", "id"),
        sa.UniqueConstraint("task_id", "track_id", "frame_index"),
    )  # fmt: skip
    op.create_index("ix_cuboid_scene_id", "cuboid", ["scene_id"], unique=False)
    op.create_index("ix_cuboid_track_id", "cuboid", ["track_id"], unique=False)
    op.create_table(
        "behaviourtag",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("id", S(), nullable=False),
        sa.Column("scene_id", sa.Integer(), nullable=False),
        sa.Column("tag", S(), nullable=False),
        sa.Column("subject", S(), nullable=False),
        sa.Column("track_id", S(), nullable=True),
        sa.Column("related_track_id", S(), nullable=True),
        sa.Column("first_frame", sa.Integer(), nullable=False),
        sa.Column("last_frame", sa.Integer(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["scene_id"], ["scene.id"]),
        sa.ForeignKeyConstraint(["task_id", "related_track_id"], ["track.task_id", "track.id"]),
        sa.ForeignKeyConstraint(["task_id", "track_id"], ["track.task_id", "track.id"]),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"]),
        sa.PrimaryKeyConstraint("task_id", "id"),
    )
    op.create_index("ix_behaviourtag_scene_id", "behaviourtag", ["scene_id"], unique=False)
    op.create_table(
        "edit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("scene_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("op", S(), nullable=False),
        sa.Column("kind", S(), nullable=False),
        sa.Column("object_id", S(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("warnings", sa.JSON(), nullable=True),
        sa.Column("client_id", S(), nullable=True),
        sa.Column("client_seq", sa.Integer(), nullable=True),
        sa.Column("batch_digest", S(), nullable=True),
        sa.ForeignKeyConstraint(["scene_id"], ["scene.id"]),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id", "revision"),
    )
    for col in ("client_id", "scene_id", "task_id"):
        op.create_index(f"ix_edit_{col}", "edit", [col], unique=False)


def downgrade() -> None:
    raise NotImplementedError("label sets cannot be merged back into scenes")
