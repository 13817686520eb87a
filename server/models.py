"""Database tables (SQLModel). docs/schema.md describes them for SQL users.

Annotation objects (tracks, cuboids, behaviour tags) carry client-generated
UUIDs and the scene revision of their last change. They are never edited
outside :mod:`server.annotations`, which also appends every change to
:class:`Edit`, the append-only log from which the current state derives.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKeyConstraint, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

BIG = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit on PostgreSQL (``bigint``), where ``integer`` stops at 2**31 - 1; SQLite's
integers are 64-bit anyway, and only ``INTEGER PRIMARY KEY`` numbers rows by itself."""


def utcnow() -> datetime:
    return datetime.now(UTC)


class User(SQLModel, table=True):
    """A person (or a script's owner). ``role`` is a :class:`server.policy.Role` value."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    role: str = "annotator"
    created_at: datetime = Field(default_factory=utcnow)
    password_hash: str | None = Field(
        default=None, description="argon2id PHC string (pwdlib); None: cannot log in"
    )
    disabled: bool = Field(default=False, description="True: no login, sessions, tokens")


class AuthSession(SQLModel, table=True):
    """A browser session. The cookie holds a random token; only its SHA-256 is stored.

    The session's CSRF token is derived from the cookie token (HMAC), so it is
    not stored either (``server/accounts.py``).
    """

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, index=True, description="SHA-256 hex of the token")
    user_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(description="Absolute expiry, UTC")
    revoked_at: datetime | None = None


class ApiToken(SQLModel, table=True):
    """A token for scripts (``Authorization: Bearer``). Only its SHA-256 is stored."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, index=True, description="SHA-256 hex of the token")
    user_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(description="What the token is for, e.g. 'nightly export'")
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class Project(SQLModel, table=True):
    """A group of scenes labelled under one set of rules."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    created_at: datetime = Field(default_factory=utcnow)


class TaxonomyVersion(SQLModel, table=True):
    """One version of a project's taxonomy: the project's one ``draft`` (edited by
    leads) or a ``published`` one (immutable; ``number`` 1, 2, ...).

    ``body`` is the taxonomy document (server/taxonomy.py); ``changes`` lists the
    migrations from ``base_id`` that publishing applies to existing labels
    (docs/taxonomy.md).
    """

    __table_args__ = (UniqueConstraint("project_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    number: int | None = Field(default=None, description="1, 2, ... once published; None: draft")
    status: str = Field(default="draft", description="draft or published")
    base_id: int | None = Field(
        default=None,
        foreign_key="taxonomyversion.id",
        description="The version it was drafted from",
    )
    body: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    changes: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    changelog: str = ""
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    published_by: int | None = Field(default=None, foreign_key="user.id")
    published_at: datetime | None = None


class Scene(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(default=1, foreign_key="project.id", index=True)
    name: str
    source: str = Field(description="The path the scene was ingested from")
    storage: str = Field(description="Folder under data_dir/frames holding its frames")
    frame_count: int = 0
    point_count: int = Field(default=0, sa_type=BIG)
    created_at: datetime = Field(default_factory=utcnow)
    attributes: dict[str, str] = Field(
        default_factory=dict,
        sa_column=Column(JSON, nullable=False, server_default="{}"),
        description="Lead-set attributes (weather, area, ...): short key -> short value",
    )


class Frame(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("scene_id", "index"),)

    id: int | None = Field(default=None, primary_key=True)
    scene_id: int = Field(foreign_key="scene.id", index=True)
    index: int = Field(description="0-based position in the scene")
    source_file: str
    timestamp: float | None = Field(default=None, description="Seconds")
    pose: list[list[float]] | None = Field(
        default=None, sa_column=Column(JSON), description="4x4 frame-to-world, row-major"
    )
    point_count: int = Field(sa_type=BIG)
    dropped_points: int = Field(default=0, sa_type=BIG)
    offset_x: float
    offset_y: float
    offset_z: float
    min_x: float
    min_y: float
    min_z: float
    max_x: float
    max_y: float
    max_z: float


class FrameCamera(SQLModel, table=True):
    """One camera image of a frame with its calibration (docs/assist.md, Cameras).

    The image file is content-addressed under ``data_dir/images`` by its SHA-256.
    Matrices are row-major; the extrinsic maps the frame's own (lidar) coordinates,
    metres, to the camera frame (x right, y down, z forward).
    """

    __table_args__ = (UniqueConstraint("scene_id", "frame_index", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    scene_id: int = Field(foreign_key="scene.id", index=True)
    frame_index: int = Field(description="0-based index of the frame in the scene")
    name: str = Field(description="The camera's name: image_2, front, ...")
    image: str = Field(description="SHA-256 hex of the stored image file")
    media_type: str = Field(description="image/jpeg or image/png")
    width: int = Field(description="Image width, pixels")
    height: int = Field(description="Image height, pixels")
    intrinsic: list[list[float]] = Field(sa_column=Column(JSON), description="3x3 K, pixels")
    lidar_to_camera: list[list[float]] = Field(
        sa_column=Column(JSON), description="4x4 lidar-to-camera, row-major"
    )
    distortion: list[float] | None = Field(
        default=None, sa_column=Column(JSON), description="Brown-Conrady k1 k2 p1 p2 k3"
    )


class Task(SQLModel, table=True):
    """One scene for one annotator: owns a label set (its tracks, cuboids and tags).

    Several tasks on a scene label it independently; frames and tiles are shared.
    ``revision`` is the revision of the label set's latest accepted edit.
    """

    id: int | None = Field(default=None, primary_key=True)
    scene_id: int = Field(foreign_key="scene.id", index=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    state: str = Field(default="open", description="docs/tasks.md: open, assigned, ...")
    assignee_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    reviewer_id: int | None = Field(default=None, foreign_key="user.id")
    revision: int = Field(default=0, description="Revision of the label set's latest edit")
    taxonomy_version_id: int | None = Field(
        default=None,
        foreign_key="taxonomyversion.id",
        index=True,
        description="The published taxonomy version the label set is validated under",
    )
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class TaskTransition(SQLModel, table=True):
    """One change of a task's state or assignee: who, when, from what to what. Append-only."""

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="user.id", description="None: the server")
    from_state: str | None = None
    to_state: str
    assignee_id: int | None = Field(default=None, foreign_key="user.id")
    note: str = ""
    created_at: datetime = Field(default_factory=utcnow)


class Track(SQLModel, table=True):
    task_id: int = Field(foreign_key="task.id", primary_key=True)
    id: str = Field(primary_key=True, description="Client-generated id, unique in the label set")
    scene_id: int = Field(foreign_key="scene.id", index=True)
    label: str = Field(description="Class from the taxonomy")
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    revision: int


class Cuboid(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("task_id", "track_id", "frame_index"),
        ForeignKeyConstraint(["task_id", "track_id"], ["track.task_id", "track.id"]),
    )

    task_id: int = Field(foreign_key="task.id", primary_key=True)
    id: str = Field(primary_key=True, description="Client-generated id, unique in the label set")
    scene_id: int = Field(foreign_key="scene.id", index=True)
    track_id: str = Field(index=True)
    frame_index: int
    cx: float = Field(description="Centre x, metres, in the frame's coordinates")
    cy: float
    cz: float
    length: float = Field(description="Along the heading, metres")
    width: float
    height: float
    yaw: float = Field(description="Radians about +z, 0 along +x, in (-pi, pi]")
    pitch: float = 0.0
    roll: float = 0.0
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    source: str = Field(default="manual", description="manual/interpolated/pre-label/imported")
    keyframe: bool = True
    revision: int


class BehaviourTag(SQLModel, table=True):
    __table_args__ = (
        ForeignKeyConstraint(["task_id", "track_id"], ["track.task_id", "track.id"]),
        ForeignKeyConstraint(["task_id", "related_track_id"], ["track.task_id", "track.id"]),
    )

    task_id: int = Field(foreign_key="task.id", primary_key=True)
    id: str = Field(primary_key=True, description="Client-generated id, unique in the label set")
    scene_id: int = Field(foreign_key="scene.id", index=True)
    tag: str = Field(description="Tag type from the taxonomy, e.g. cut_in")
    subject: str = Field(description="'track', 'ego' or 'scene'")
    track_id: str | None = None
    related_track_id: str | None = None
    related_ego: bool = Field(default=False, description="The related object is the ego vehicle")
    first_frame: int
    last_frame: int
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    revision: int


class Edit(SQLModel, table=True):
    """One accepted operation. Append-only; never updated or deleted."""

    __table_args__ = (UniqueConstraint("task_id", "revision"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BIG)
    task_id: int = Field(foreign_key="task.id", index=True)
    scene_id: int = Field(foreign_key="scene.id", index=True)
    revision: int = Field(description="Label-set revision this edit created")
    user_id: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    op: str = Field(description="create/update/delete")
    kind: str = Field(description="track/cuboid/tag")
    object_id: str
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    warnings: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    client_id: str | None = Field(default=None, index=True)
    client_seq: int | None = Field(default=None, sa_type=BIG, description="Up to 2**53 - 1")
    batch_digest: str | None = Field(
        default=None,
        description="Fingerprint of the batch's ops (tells a resend from a reused seq)",
    )
    taxonomy_version_id: int | None = Field(
        default=None,
        foreign_key="taxonomyversion.id",
        description="The taxonomy version the edit was validated under",
    )
    reason: str | None = Field(
        default=None, description="Why the server made it, e.g. 'taxonomy v2: rename Car -> Auto'"
    )


class ReviewIssue(SQLModel, table=True):
    """A reviewer's finding pinned to an object (a box, a track, a tag) or a 3D point.

    ``status``: open -> resolved (by the annotator) -> closed (verified by the
    reviewer), or back to open. docs/tasks.md lists the error types.
    """

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    author_id: int = Field(foreign_key="user.id")
    error_type: str = Field(description="missing_object, loose_fit, wrong_heading, ...")
    comment: str = ""
    status: str = Field(default="open", description="open, resolved or closed")
    object_kind: str | None = Field(default=None, description="cuboid, track or tag; None: a point")
    object_id: str | None = None
    frame: int | None = Field(default=None, description="Frame index of the pin")
    x: float | None = Field(default=None, description="Pinned point, frame coordinates (m)")
    y: float | None = None
    z: float | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ReviewComment(SQLModel, table=True):
    """One message in a review issue's thread (the first is the issue's comment)."""

    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(foreign_key="reviewissue.id", index=True)
    author_id: int = Field(foreign_key="user.id")
    text: str
    created_at: datetime = Field(default_factory=utcnow)


class PlantedError(SQLModel, table=True):
    """An error planted in a copy of a golden task, to score the reviewer who reviews it
    (docs/quality.md, "Evaluators of the evaluators")."""

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True, description="The copy with the error")
    golden_task_id: int = Field(foreign_key="task.id", description="The golden task it copies")
    kind: str = Field(description="moved_box, wrong_class, missing_object or shifted_tag")
    object_kind: str = Field(description="cuboid, track or tag: what was changed or removed")
    object_id: str = Field(description="Its id (the same in the golden task and the copy)")
    frame: int | None = Field(default=None, description="Frame of a moved box")
    detail: str = Field(default="", description="What was done, e.g. 'moved 1.2 m'")
    created_at: datetime = Field(default_factory=utcnow)


class ReviewPolicy(SQLModel, table=True):
    """A project's review sampling policy (docs/quality.md, "Review sampling"). No row:
    every submitted task is reviewed."""

    project_id: int = Field(foreign_key="project.id", primary_key=True)
    first_n: int = Field(default=0, description="Each annotator's first N tasks: all reviewed")
    rate: float = Field(default=1.0, description="Share of later tasks reviewed, 0..1")
    seed: int = Field(default=0, description="Seed of the reproducible draws")
    stratify: str = Field(default="none", description="none, class or scene")
    strata: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON))
    mode: str = Field(default="rate", description="rate (per task) or aql (lots)")
    lot_size: int = Field(default=20, description="Tasks per lot (mode aql)")
    aql: float = Field(default=0.04, description="Acceptable quality level, fraction")
    ltpd: float = Field(default=0.15, description="Lot tolerance percent defective, fraction")
    golden_rate: float = Field(default=0.0, description="Share of takes given a golden copy")
    updated_by: int | None = Field(default=None, foreign_key="user.id")
    updated_at: datetime = Field(default_factory=utcnow)


class ReviewSample(SQLModel, table=True):
    """The sampling decision on a task's first submission."""

    task_id: int = Field(foreign_key="task.id", primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    annotator_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    decision: str = Field(description="sampled, not_sampled or held (waits for its lot)")
    reason: str = Field(default="", description="e.g. 'first 5 tasks', 'draw 0.31 >= 0.25'")
    rate: float | None = Field(default=None, description="The rate the draw was held against")
    draw: float | None = Field(default=None, description="The task's uniform draw in [0, 1)")
    lot_id: int | None = Field(default=None, foreign_key="reviewlot.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ReviewLot(SQLModel, table=True):
    """A lot of submitted tasks judged by one acceptance sampling plan (mode aql)."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    state: str = Field(default="open", description="open, inspecting, accepted or rejected")
    size: int = Field(description="Tasks in the lot")
    sample_size: int = Field(default=0, description="n: tasks reviewed")
    acceptance_number: int = Field(default=0, description="c: most rejections accepted")
    aql: float
    ltpd: float
    defects: int = Field(default=0, description="Sampled tasks rejected at their first review")
    created_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None


class GoldenTask(SQLModel, table=True):
    """A task a lead marked golden: its label set is the reference for golden copies."""

    task_id: int = Field(foreign_key="task.id", primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    marked_by: int | None = Field(default=None, foreign_key="user.id")
    active: bool = Field(default=True, description="False: no new copies are handed out")
    created_at: datetime = Field(default_factory=utcnow)


class GoldenRun(SQLModel, table=True):
    """A blind copy of a golden task in an annotator's queue, and its score against gold."""

    task_id: int = Field(foreign_key="task.id", primary_key=True)
    golden_task_id: int = Field(foreign_key="task.id", index=True)
    annotator_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    scored_at: datetime | None = None
    boxes: int | None = Field(default=None, description="Boxes in the annotator's label set")
    gold_boxes: int | None = Field(default=None, description="Boxes in the golden label set")
    f1: float | None = Field(default=None, description="F1 at 3D IoU 0.5, class-blind")
    mean_iou: float | None = Field(default=None, description="Mean 3D IoU of matched pairs")
    class_accuracy: float | None = Field(default=None, description="Matched pairs, same class")


class ConsensusGroup(SQLModel, table=True):
    """A scene sent to k annotators as k tasks, for consensus (docs/quality.md)."""

    id: int | None = Field(default=None, primary_key=True)
    scene_id: int = Field(foreign_key="scene.id", index=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    reference_task_id: int | None = Field(
        default=None, foreign_key="task.id", description="The task the consensus was promoted to"
    )
    promoted_at: datetime | None = None


class ConsensusTask(SQLModel, table=True):
    """One of a consensus group's k tasks."""

    task_id: int = Field(foreign_key="task.id", primary_key=True)
    group_id: int = Field(foreign_key="consensusgroup.id", index=True)
    annotator_id: int = Field(foreign_key="user.id")
