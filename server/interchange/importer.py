"""Import a labelled scene: ingest its points, then apply its labels through the Writer.

The points go through :func:`server.ingest.ingest` like any other scene; the
labels become ``create`` ops applied by :class:`server.annotations.Writer`
in batches of at most 500, so every box is validated and logged like a
manual edit (source ``imported``). An op the validator refuses is dropped
and counted by its error code; warnings are counted and exemplified. Ego
poses and timestamps a format carries are frame metadata, not annotations:
they are written to the frame rows when ingest found none (no
``poses.json``).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pointcloud.io.sequence import list_frames
from server.annotations import Writer
from server.cameras import CameraShot, store_shots
from server.config import Settings
from server.frames import FrameStore
from server.ingest import ingest
from server.interchange.model import AnnotationSet, Box, InterchangeError, Report, frame_key
from server.models import Frame
from server.progress import Progress, no_progress
from server.protocol import Ops
from server.taxonomies import Taxonomies

BATCH_OPS = 500
MAX_EXAMPLES = 20
MAX_DROPS = 1000
_ID_CHARS = re.compile(r"^[A-Za-z0-9_.:-]+$")


@dataclass
class Parsed:
    """A reader's result: the folder of point-cloud frames to ingest and the labels.

    ``files`` lists the frames (in order) when only some of the folder's are the
    scene's; by default every point-cloud file of ``points`` is a frame."""

    points: Path
    labels: AnnotationSet
    report: Report
    files: list[Path] | None = None
    cameras: list[CameraShot] = field(default_factory=list)
    """Camera images of the frames (server/interchange/cameras.py), checked."""


@dataclass
class ImportResult:
    scene_id: int
    name: str
    frames: int
    points: int
    report: Report
    task_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "scene_id": self.scene_id,
            "task_id": self.task_id,
            "name": self.name,
            "frames": self.frames,
            "points": self.points,
            **self.report.to_json(),
        }


def scoped_id(scene_id: int, external: str) -> str:
    """The database id of a format's track id: ``<scene>:<id>`` (ids are global)."""
    candidate = f"{scene_id}:{external}"
    if _ID_CHARS.match(candidate) and len(candidate) <= 64:
        return candidate
    return f"{scene_id}:{uuid.uuid5(uuid.NAMESPACE_URL, external).hex}"


def external_id(scene_id: int, db_id: str) -> str:
    """A track's id in an export: the scene prefix an import added is removed."""
    prefix = f"{scene_id}:"
    return db_id[len(prefix) :] if db_id.startswith(prefix) else db_id


def import_parsed(
    engine: Engine,
    settings: Settings,
    parsed: Parsed,
    *,
    name: str | None = None,
    user: str | None = None,
    writer: Writer | None = None,
    progress: Progress = no_progress,
) -> ImportResult:
    """Create the scene from ``parsed.points`` and apply ``parsed.labels`` to it."""
    report = parsed.report
    files = list_frames(parsed.points) if parsed.files is None else parsed.files
    index_of = {frame_key(f): i for i, f in enumerate(files)}
    result = ingest(
        engine, settings, parsed.points, name=name, progress=progress, files=parsed.files
    )
    scene_id, task_id = result.scene_id, result.task_id
    assert task_id is not None
    _store_poses(engine, scene_id, parsed.labels, index_of)
    shots = [s for s in parsed.cameras if s.key in index_of]
    for shot in shots:
        shot.frame = index_of[shot.key]
    if shots:
        report.counts["camera_images"] = store_shots(engine, settings, scene_id, shots)
    ops = _ops(scene_id, parsed.labels, index_of, report)
    writer = writer or Writer(engine, Taxonomies(engine), FrameStore(settings.frames_dir))
    _apply(writer, task_id, user or settings.default_user, ops, report, progress)
    progress("labels", len(ops), len(ops))
    report.counts["frames"] = result.frames
    return ImportResult(
        scene_id, result.name, result.frames, result.points, report, task_id=task_id
    )


def _store_poses(
    engine: Engine, scene_id: int, labels: AnnotationSet, index_of: dict[str, int]
) -> None:
    wanted = {index_of[f.key]: f for f in labels.frames if f.key in index_of}
    with Session(engine) as session:
        for row in session.exec(select(Frame).where(Frame.scene_id == scene_id)):
            meta = wanted.get(row.index)
            if meta is None:
                continue
            if row.pose is None and meta.pose is not None:
                row.pose = meta.pose
            if row.timestamp is None and meta.timestamp is not None:
                row.timestamp = meta.timestamp
            session.add(row)
        session.commit()


def _ops(
    scene_id: int, labels: AnnotationSet, index_of: dict[str, int], report: Report
) -> list[dict[str, Any]]:
    """Create ops for tracks, then boxes, then tags; items without a frame are dropped."""
    scene_frame = [index_of.get(f.key) for f in labels.frames]
    missing = [f.key for f in labels.frames if f.key not in index_of]
    if missing:
        report.notes.append(f"labels for frames without a point cloud: {', '.join(missing[:10])}")
    ops: list[dict[str, Any]] = []
    for t in labels.tracks:
        data: dict[str, Any] = {"label": t.label, "attributes": t.attributes}
        ops.append({"op": "create", "kind": "track", "id": scoped_id(scene_id, t.id), "data": data})
    for b in labels.boxes:
        frame = scene_frame[b.frame]
        if frame is None:
            report.drop("box_without_point_cloud")
            continue
        ops.append(_box_op(scene_id, b, frame))
    for g in labels.tags:
        first, last = scene_frame[g.first_frame], scene_frame[g.last_frame]
        if first is None or last is None:
            report.drop("tag_without_point_cloud")
            continue
        tag_data = {
            "tag": g.tag, "subject": g.subject, "first_frame": first, "last_frame": last,
            "track_id": None if g.track_id is None else scoped_id(scene_id, g.track_id),
            "related_track_id": (
                None if g.related_track_id is None else scoped_id(scene_id, g.related_track_id)
            ),
            "attributes": g.attributes,
            **({"related_ego": True} if g.related_ego else {}),
        }  # fmt: skip
        ops.append({"op": "create", "kind": "tag", "id": uuid.uuid4().hex, "data": tag_data})
    return ops


def _box_op(scene_id: int, b: Box, frame: int) -> dict[str, Any]:
    data = {
        "track_id": scoped_id(scene_id, b.track_id), "frame": frame,
        "center": list(b.center), "size": list(b.size), "yaw": b.yaw, "pitch": b.pitch,
        "roll": b.roll, "attributes": b.attributes, "source": "imported", "keyframe": b.keyframe,
    }  # fmt: skip
    return {"op": "create", "kind": "cuboid", "id": uuid.uuid4().hex, "data": data}


def _apply(
    writer: Writer,
    task_id: int,
    user: str,
    ops: list[dict[str, Any]],
    report: Report,
    progress: Progress = no_progress,
) -> None:
    """Apply ``ops`` in batches; a refused op is dropped (counted by code) and the rest retried."""
    client = f"import-{uuid.uuid4().hex[:16]}"
    seq = 0
    for start in range(0, len(ops), BATCH_OPS):
        progress("labels", start, len(ops))
        pending = ops[start : start + BATCH_OPS]
        while pending:
            msg = Ops.model_validate(
                {"type": "ops", "seq": seq, "client_id": client, "ops": pending}
            )
            seq += 1
            reply, _ = writer.apply(task_id, user, msg, trusted=True)
            if reply.type == "ack":
                for w in reply.warnings:
                    _warn(report, w.code, w.path, w.message, pending)
                for op in pending:
                    report.counts[op["kind"] + "s"] += 1
                break
            if reply.type == "conflict":
                raise InterchangeError(f"conflict on {reply.kind} {reply.id} while importing")
            bad: dict[int, tuple[str, str]] = {}
            for e in reply.errors:
                parts = e.path.split(".")
                if len(parts) > 1 and parts[0] == "ops" and parts[1].isdigit():
                    bad.setdefault(int(parts[1]), (e.code, e.message))
            if not bad:
                raise InterchangeError(f"import refused: {reply.errors[0].message}")
            for i, (code, message) in bad.items():
                report.drop(f"{pending[i]['kind']}:{code}")
                _example(report, code, pending[i], message)
                if len(report.drops) < MAX_DROPS:
                    report.drops.append(_where(code, pending[i], message))
            pending = [op for i, op in enumerate(pending) if i not in bad]


def _warn(report: Report, code: str, path: str, message: str, ops: list[dict[str, Any]]) -> None:
    report.warnings[code] += 1
    parts = path.split(".")
    op = ops[int(parts[1])] if len(parts) > 1 and parts[1].isdigit() else {}
    _example(report, code, op, message)


def _example(report: Report, code: str, op: dict[str, Any], message: str) -> None:
    if len(report.examples) < MAX_EXAMPLES:
        report.examples.append(_where(code, op, message))


def _where(code: str, op: dict[str, Any], message: str) -> dict[str, str]:
    """An op's code, the validator's message, and which object and frame it was."""
    data = op.get("data", {})
    where = {"code": code, "message": message, "kind": op.get("kind", ""), "id": op.get("id", "")}
    if "track_id" in data and data["track_id"]:
        where["track_id"] = str(data["track_id"])
    if "frame" in data:
        where["frame"] = str(data["frame"])
    return where
