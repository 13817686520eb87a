"""Database tables (SQLModel). docs/schema.md describes them for SQL users.

Annotation objects (tracks, cuboids, behaviour tags) carry client-generated
UUIDs and the scene revision of their last change. They are never edited
outside :mod:`server.annotations`, which also appends every change to
:class:`Edit`, the append-only log from which the current state derives.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel


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


class Scene(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str
    source: str = Field(description="The path the scene was ingested from")
    storage: str = Field(description="Folder under data_dir/frames holding its frames")
    revision: int = Field(default=0, description="Revision of the latest accepted edit")
    frame_count: int = 0
    point_count: int = 0
    created_at: datetime = Field(default_factory=utcnow)


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
    point_count: int
    dropped_points: int = 0
    offset_x: float
    offset_y: float
    offset_z: float
    min_x: float
    min_y: float
    min_z: float
    max_x: float
    max_y: float
    max_z: float


class Track(SQLModel, table=True):
    id: str = Field(primary_key=True, description="Client-generated UUID")
    scene_id: int = Field(foreign_key="scene.id", index=True)
    label: str = Field(description="Class from the taxonomy")
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    revision: int


class Cuboid(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("track_id", "frame_index"),)

    id: str = Field(primary_key=True, description="Client-generated UUID")
    scene_id: int = Field(foreign_key="scene.id", index=True)
    track_id: str = Field(foreign_key="track.id", index=True)
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
    id: str = Field(primary_key=True, description="Client-generated UUID")
    scene_id: int = Field(foreign_key="scene.id", index=True)
    tag: str = Field(description="Tag type from the taxonomy, e.g. cut_in")
    subject: str = Field(description="'track', 'ego' or 'scene'")
    track_id: str | None = Field(default=None, foreign_key="track.id")
    related_track_id: str | None = Field(default=None, foreign_key="track.id")
    first_frame: int
    last_frame: int
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    revision: int


class Edit(SQLModel, table=True):
    """One accepted operation. Append-only; never updated or deleted."""

    __table_args__ = (UniqueConstraint("scene_id", "revision"),)

    id: int | None = Field(default=None, primary_key=True)
    scene_id: int = Field(foreign_key="scene.id", index=True)
    revision: int = Field(description="Scene revision this edit created")
    user_id: int = Field(foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    op: str = Field(description="create/update/delete")
    kind: str = Field(description="track/cuboid/tag")
    object_id: str
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    warnings: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    client_id: str | None = Field(default=None, index=True)
    client_seq: int | None = None
