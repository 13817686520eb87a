"""sampling: review sampling policies, sampling decisions and lots, golden tasks and
their blind copies in annotators' queues, consensus groups

Revision ID: 0009_sampling
Revises: 0008_postgres_bigint
Create Date: 2026-12-02 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0009_sampling"
down_revision = "0008_postgres_bigint"
branch_labels = None
depends_on = None

TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "reviewpolicy",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("first_n", sa.Integer(), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("stratify", TEXT(), nullable=False),
        sa.Column("strata", sa.JSON(), nullable=True),
        sa.Column("mode", TEXT(), nullable=False),
        sa.Column("lot_size", sa.Integer(), nullable=False),
        sa.Column("aql", sa.Float(), nullable=False),
        sa.Column("ltpd", sa.Float(), nullable=False),
        sa.Column("golden_rate", sa.Float(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.ForeignKeyConstraint(["updated_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("project_id"),
    )
    op.create_table(
        "reviewlot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("state", TEXT(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sample_size", sa.Integer(), nullable=False),
        sa.Column("acceptance_number", sa.Integer(), nullable=False),
        sa.Column("aql", sa.Float(), nullable=False),
        sa.Column("ltpd", sa.Float(), nullable=False),
        sa.Column("defects", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("closed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reviewlot_project_id", "reviewlot", ["project_id"])
    op.create_table(
        "reviewsample",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=True),
        sa.Column("decision", TEXT(), nullable=False),
        sa.Column("reason", TEXT(), nullable=False),
        sa.Column("rate", sa.Float(), nullable=True),
        sa.Column("draw", sa.Float(), nullable=True),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"]),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.ForeignKeyConstraint(["annotator_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["lot_id"], ["reviewlot.id"]),
        sa.PrimaryKeyConstraint("task_id"),
    )
    for column in ("project_id", "annotator_id", "lot_id"):
        op.create_index(f"ix_reviewsample_{column}", "reviewsample", [column])
    op.create_table(
        "goldentask",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("marked_by", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"]),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.ForeignKeyConstraint(["marked_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("task_id"),
    )
    op.create_index("ix_goldentask_project_id", "goldentask", ["project_id"])
    op.create_table(
        "goldenrun",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("golden_task_id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("scored_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("boxes", sa.Integer(), nullable=True),
        sa.Column("gold_boxes", sa.Integer(), nullable=True),
        sa.Column("f1", sa.Float(), nullable=True),
        sa.Column("mean_iou", sa.Float(), nullable=True),
        sa.Column("class_accuracy", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"]),
        sa.ForeignKeyConstraint(["golden_task_id"], ["task.id"]),
        sa.ForeignKeyConstraint(["annotator_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("task_id"),
    )
    op.create_index("ix_goldenrun_golden_task_id", "goldenrun", ["golden_task_id"])
    op.create_index("ix_goldenrun_annotator_id", "goldenrun", ["annotator_id"])
    op.create_table(
        "consensusgroup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scene_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("reference_task_id", sa.Integer(), nullable=True),
        sa.Column("promoted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["scene_id"], ["scene.id"]),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["reference_task_id"], ["task.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_consensusgroup_scene_id", "consensusgroup", ["scene_id"])
    op.create_index("ix_consensusgroup_project_id", "consensusgroup", ["project_id"])
    op.create_table(
        "consensustask",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"]),
        sa.ForeignKeyConstraint(["group_id"], ["consensusgroup.id"]),
        sa.ForeignKeyConstraint(["annotator_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("task_id"),
    )
    op.create_index("ix_consensustask_group_id", "consensustask", ["group_id"])


def downgrade() -> None:
    op.drop_table("consensustask")
    op.drop_table("consensusgroup")
    op.drop_table("goldenrun")
    op.drop_table("goldentask")
    op.drop_table("reviewsample")
    op.drop_table("reviewlot")
    op.drop_table("reviewpolicy")
