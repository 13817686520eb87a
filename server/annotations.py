"""The one write path for annotations: validate, apply, log, commit.

REST routes, the websocket, importers and tests all change tracks, cuboids and
behaviour tags through :func:`apply_ops`, so validation and the edit log can
never be skipped. A batch is atomic: every op is applied or none.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from pointcloud.boxes import count_points_in_boxes
from server.frames import FrameStore
from server.models import BehaviourTag, Cuboid, Edit, Frame, Scene, Track, User
from server.protocol import (
    Ack,
    Conflict,
    CreateOp,
    DeleteOp,
    Event,
    EventOp,
    Missed,
    Ops,
    Problem,
    Reject,
    Snapshot,
    UpdateOp,
)
from server.taxonomy import ObjectClass, Taxonomy
from server.validation import (
    CuboidData,
    Issue,
    TagData,
    TrackData,
    check_attributes,
    cuboid_geometry,
    normalize_yaw,
    parse,
    tag_range,
)

Row = Track | Cuboid | BehaviourTag
MODELS: dict[str, type[Row]] = {"track": Track, "cuboid": Cuboid, "tag": BehaviourTag}
_write_lock = threading.Lock()  # one writer per process: revisions are handed out in order


def state(row: Row) -> dict[str, Any]:
    """The JSON state of an object, as in snapshots, events and the edit log."""
    if isinstance(row, Track):
        return {
            "id": row.id,
            "label": row.label,
            "attributes": row.attributes,
            "revision": row.revision,
        }
    if isinstance(row, Cuboid):
        return {
            "id": row.id,
            "track_id": row.track_id,
            "frame": row.frame_index,
            "center": [row.cx, row.cy, row.cz],
            "size": [row.length, row.width, row.height],
            "yaw": row.yaw,
            "pitch": row.pitch,
            "roll": row.roll,
            "attributes": row.attributes,
            "source": row.source,
            "keyframe": row.keyframe,
            "revision": row.revision,
        }
    return {
        "id": row.id,
        "tag": row.tag,
        "subject": row.subject,
        "track_id": row.track_id,
        "related_track_id": row.related_track_id,
        "first_frame": row.first_frame,
        "last_frame": row.last_frame,
        "attributes": row.attributes,
        "revision": row.revision,
    }


class _Rejected(Exception):
    def __init__(self, reply: Reject | Conflict) -> None:
        self.reply = reply


@dataclass
class _Batch:
    session: Session
    scene: Scene
    taxonomy: Taxonomy
    frames: FrameStore
    user: User
    msg: Ops


Reply = Ack | Reject | Conflict


@dataclass
class Submission:
    """One client batch waiting to be applied."""

    scene_id: int
    user: str
    msg: Ops


def apply_ops(
    engine: Engine,
    scene_id: int,
    user_name: str,
    msg: Ops,
    taxonomy: Taxonomy,
    frames: FrameStore,
) -> tuple[Reply, Event | None]:
    """Apply one batch to a scene and commit. Returns the reply and, if accepted, the event."""
    return apply_group(engine, [Submission(scene_id, user_name, msg)], taxonomy, frames)[0]


def apply_group(
    engine: Engine, subs: list[Submission], taxonomy: Taxonomy, frames: FrameStore
) -> list[tuple[Reply, Event | None]]:
    """Apply batches in order, each atomically (a savepoint), then commit them together.

    One commit (one fsync) for the group: the replies are only valid once this
    returns, and every ``ack`` among them is then on disk. Resending a batch
    with the same ``client_id`` and ``seq`` is acknowledged again
    (``replayed``) and applied once.
    """
    with _write_lock, Session(engine) as session:
        results = [_apply_batch(session, sub, taxonomy, frames) for sub in subs]
        session.commit()
        return results


def _apply_batch(
    session: Session, sub: Submission, taxonomy: Taxonomy, frames: FrameStore
) -> tuple[Reply, Event | None]:
    msg = sub.msg
    done = session.exec(
        select(Edit)
        .where(
            Edit.scene_id == sub.scene_id,
            Edit.client_id == msg.client_id,
            Edit.client_seq == msg.seq,
        )
        .order_by(Edit.revision)  # type: ignore[arg-type]
    ).all()
    if done:
        revisions = {e.object_id: (None if e.op == "delete" else e.revision) for e in done}
        ack = Ack(seq=msg.seq, revision=done[-1].revision, revisions=revisions, replayed=True)
        return ack, None
    scene = session.get(Scene, sub.scene_id)
    if scene is None:
        return Reject(seq=msg.seq, errors=[Problem(code="scene_not_found", message="")]), None
    savepoint = session.begin_nested()
    try:
        batch = _Batch(session, scene, taxonomy, frames, get_user(session, sub.user), msg)
        events, warnings = _apply_all(batch)
        savepoint.commit()
    except _Rejected as rejected:
        savepoint.rollback()
        return rejected.reply, None
    except IntegrityError as exc:
        # Defence in depth: a constraint the rules missed still refuses the batch whole.
        savepoint.rollback()
        problem = Problem(code="constraint_violation", message=str(exc.orig))
        return Reject(seq=msg.seq, errors=[problem]), None
    event = Event(
        revision=scene.revision, user=sub.user, client_id=msg.client_id, seq=msg.seq, ops=events
    )
    revisions = {e.id: (None if e.op == "delete" else e.revision) for e in events}
    ack = Ack(seq=msg.seq, revision=scene.revision, revisions=revisions, warnings=warnings)
    return ack, event


def _apply_all(b: _Batch) -> tuple[list[EventOp], list[Problem]]:
    errors: list[Problem] = []
    warnings: list[Problem] = []
    events: list[EventOp] = []
    for i, op in enumerate(b.msg.ops):
        issues, event = _apply_one(b, op)
        prefix = f"ops.{i}.data"
        errors += [x.problem(prefix) for x in issues if x.severity == "error"]
        warnings += [x.problem(prefix) for x in issues if x.severity == "warning"]
        if event:
            events.append(event)
        if not errors:
            b.session.flush()
    if errors:
        raise _Rejected(Reject(seq=b.msg.seq, errors=errors))
    return events, warnings


def _apply_one(b: _Batch, op: CreateOp | UpdateOp | DeleteOp) -> tuple[list[Issue], EventOp | None]:
    row = cast(Row | None, b.session.get(MODELS[op.kind], op.id))
    if row is not None and row.scene_id != b.scene.id:
        return [Issue("id_taken", "", f"{op.kind} {op.id} belongs to another scene")], None
    if isinstance(op, CreateOp):
        if row is not None:
            return [Issue("already_exists", "", f"{op.kind} {op.id} already exists")], None
        before, data = None, op.data
    else:
        if row is None or row.revision != op.base_revision:
            current = state(row) if row is not None else None
            raise _Rejected(
                Conflict(
                    seq=b.msg.seq,
                    kind=op.kind,
                    id=op.id,
                    base_revision=op.base_revision,
                    current=current,
                )
            )
        before = state(row)
        data = {**_editable(before), **op.data} if isinstance(op, UpdateOp) else {}
    issues = _check_delete(b, row) if isinstance(op, DeleteOp) else _check(b, op.kind, op.id, data)
    if any(x.severity == "error" for x in issues):
        return issues, None
    b.scene.revision += 1
    after = _write(b, op, row, data)
    assert b.scene.id is not None and b.user.id is not None
    b.session.add(
        Edit(
            scene_id=b.scene.id,
            revision=b.scene.revision,
            user_id=b.user.id,
            op=op.op,
            kind=op.kind,
            object_id=op.id,
            before=before,
            after=after,
            warnings=[vars(x) for x in issues],
            client_id=b.msg.client_id,
            client_seq=b.msg.seq,
        )
    )
    return issues, EventOp(op=op.op, kind=op.kind, id=op.id, revision=b.scene.revision, state=after)


def _editable(s: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in s.items() if k not in ("id", "revision")}


def _check(b: _Batch, kind: str, obj_id: str, data: dict[str, Any]) -> list[Issue]:
    if kind == "track":
        track, issues = parse(TrackData, data)
        if not isinstance(track, TrackData):
            return issues
        cls = b.taxonomy.classes.get(track.label)
        if cls is None:
            return [
                Issue("unknown_class", "label", f"class {track.label!r} is not in the taxonomy")
            ]
        return check_attributes(track.attributes, cls.track_attributes)
    if kind == "cuboid":
        cuboid, issues = parse(CuboidData, data)
        return issues if not isinstance(cuboid, CuboidData) else _check_cuboid(b, obj_id, cuboid)
    tag, issues = parse(TagData, data)
    return issues if not isinstance(tag, TagData) else _check_tag(b, tag)


def _check_cuboid(b: _Batch, obj_id: str, c: CuboidData) -> list[Issue]:
    track = b.session.get(Track, c.track_id)
    if track is None or track.scene_id != b.scene.id:
        return [Issue("track_not_found", "track_id", f"track {c.track_id} is not in this scene")]
    frame = b.session.exec(
        select(Frame).where(Frame.scene_id == b.scene.id, Frame.index == c.frame)
    ).first()
    issues = cuboid_geometry(c, frame, b.taxonomy, track.label)
    cls = b.taxonomy.classes.get(track.label)
    if cls is not None and frame is not None and not any(x.severity == "error" for x in issues):
        issues += _enough_points(b, c, frame, cls)
    issues += check_attributes(c.attributes, cls.cuboid_attributes if cls else ())
    other = b.session.exec(
        select(Cuboid.id).where(Cuboid.track_id == c.track_id, Cuboid.frame_index == c.frame)
    ).first()
    if other is not None and other != obj_id:
        issues.append(
            Issue(
                "duplicate_cuboid",
                "frame",
                f"track {c.track_id} already has a cuboid in frame {c.frame}",
            )
        )
    return issues


def _enough_points(b: _Batch, c: CuboidData, frame: Frame, cls: ObjectClass) -> list[Issue]:
    """At least the class's ``min_points`` full-resolution points inside the box."""
    points = b.frames.local_points(b.scene.storage, frame.index)
    offset = (frame.offset_x, frame.offset_y, frame.offset_z)
    box = [*(c.center[i] - offset[i] for i in range(3)), *c.size, c.yaw, c.pitch, c.roll]
    inside = int(count_points_in_boxes(points, [box])[0])
    if inside >= cls.min_points:
        return []
    return [
        Issue(
            "too_few_points",
            "size",
            f"{inside} point(s) inside; a {cls.name} needs at least {cls.min_points}",
            cls.min_points_severity,
        )
    ]


def _check_tag(b: _Batch, t: TagData) -> list[Issue]:
    label = None
    for field in ("track_id", "related_track_id"):
        tid = getattr(t, field)
        track = b.session.get(Track, tid) if tid is not None else None
        if tid is not None and (track is None or track.scene_id != b.scene.id):
            return [Issue("track_not_found", field, f"track {tid} is not in this scene")]
        if field == "track_id" and track is not None:
            label = track.label
    issues = tag_range(t, b.scene.frame_count, b.taxonomy, label)
    if (
        t.subject == "track"
        and t.track_id is not None
        and not any(x.severity == "error" for x in issues)
    ):
        issues += _subject_coverage(b, t)
    return issues


def _subject_coverage(b: _Batch, t: TagData) -> list[Issue]:
    """A warning when the subject track has no cuboid in some frames of the range."""
    frames = set(
        b.session.exec(
            select(Cuboid.frame_index).where(
                Cuboid.track_id == t.track_id,
                Cuboid.frame_index >= t.first_frame,
                Cuboid.frame_index <= t.last_frame,
            )
        ).all()
    )
    missing = [f for f in range(t.first_frame, t.last_frame + 1) if f not in frames]
    if not missing:
        return []
    shown = ", ".join(map(str, missing[:10])) + (" …" if len(missing) > 10 else "")
    return [
        Issue(
            "tag_subject_missing",
            "track_id",
            f"the track has no cuboid in {len(missing)} frame(s) of the range: {shown}",
            "warning",
        )
    ]


def _check_delete(b: _Batch, row: Row | None) -> list[Issue]:
    if isinstance(row, Track):
        used = b.session.exec(select(Cuboid.id).where(Cuboid.track_id == row.id)).first()
        tagged = b.session.exec(
            select(BehaviourTag.id).where(
                (BehaviourTag.track_id == row.id) | (BehaviourTag.related_track_id == row.id)
            )
        ).first()
        if used or tagged:
            return [Issue("track_in_use", "", "delete the track's cuboids and tags first")]
    return []


def _write(
    b: _Batch, op: CreateOp | UpdateOp | DeleteOp, row: Row | None, data: dict[str, Any]
) -> dict[str, Any] | None:
    if isinstance(op, DeleteOp):
        b.session.delete(row)
        return None
    rev, sid = b.scene.revision, b.scene.id
    assert sid is not None
    new: Row
    if op.kind == "track":
        t = TrackData.model_validate(data)
        new = Track(id=op.id, scene_id=sid, label=t.label, attributes=t.attributes, revision=rev)
    elif op.kind == "cuboid":
        c = CuboidData.model_validate(data)
        new = Cuboid(
            id=op.id,
            scene_id=sid,
            track_id=c.track_id,
            frame_index=c.frame,
            cx=c.center[0],
            cy=c.center[1],
            cz=c.center[2],
            length=c.size[0],
            width=c.size[1],
            height=c.size[2],
            yaw=normalize_yaw(c.yaw),
            pitch=c.pitch,
            roll=c.roll,
            attributes=c.attributes,
            source=c.source,
            keyframe=c.keyframe,
            revision=rev,
        )
    else:
        g = TagData.model_validate(data)
        new = BehaviourTag(id=op.id, scene_id=sid, revision=rev, **g.model_dump())
    merged = b.session.merge(new)
    return state(merged)


def get_user(session: Session, name: str) -> User:
    """The user called ``name``, created on first use (until accounts exist)."""
    user = session.exec(select(User).where(User.name == name)).first()
    if user is None:
        user = User(name=name)
        session.add(user)
        session.flush()
    return user


def events_since(engine: Engine, scene_id: int, since: int) -> Missed | None:
    """The accepted batches after revision ``since``, rebuilt from the edit log.

    None when the log cannot answer (``since`` is ahead of the scene: the
    client holds another database's state); the caller sends a snapshot.
    """
    with Session(engine) as session:
        scene = session.get(Scene, scene_id)
        if scene is None or since > scene.revision:
            return None
        rows = session.exec(
            select(Edit, User.name)
            .join(User, User.id == Edit.user_id)  # type: ignore[arg-type]
            .where(Edit.scene_id == scene_id, Edit.revision > since)
            .order_by(Edit.revision)  # type: ignore[arg-type]
        ).all()
        events: list[Event] = []
        for edit, user in rows:
            op = EventOp.model_validate(
                {
                    "op": edit.op,
                    "kind": edit.kind,
                    "id": edit.object_id,
                    "revision": edit.revision,
                    "state": edit.after,
                }
            )
            last = events[-1] if events else None
            if last and (last.client_id, last.seq) == (edit.client_id, edit.client_seq):
                last.ops.append(op)
                last.revision = edit.revision
            else:
                events.append(
                    Event(
                        revision=edit.revision,
                        user=user,
                        client_id=edit.client_id,
                        seq=edit.client_seq,
                        ops=[op],
                    )
                )
        return Missed(since_revision=since, revision=scene.revision, events=events)


def snapshot(engine: Engine, scene_id: int, user_name: str) -> Snapshot:
    """The scene's current annotations and revision."""
    with Session(engine) as session:
        scene = session.get(Scene, scene_id)
        assert scene is not None
        rows = {
            kind: cast(
                list[Row], session.exec(select(model).where(model.scene_id == scene_id)).all()
            )
            for kind, model in MODELS.items()
        }
        return Snapshot(
            scene_id=scene_id,
            revision=scene.revision,
            user=user_name,
            tracks=[state(r) for r in rows["track"]],
            cuboids=[state(r) for r in rows["cuboid"]],
            tags=[state(r) for r in rows["tag"]],
        )
