"""Pre-label a task's scene with the CPU pipeline and write the boxes through the one write path.

Each pre-label is a cuboid with ``source = "pre-label"``, ``keyframe = false``
and the reserved attribute ``prelabel = {confidence, model, accepted_by}``
(docs/assist.md); its track is a new track of the detected class. Accepting
one later is an ordinary edit that sets ``accepted_by`` to the editor's own
name (the writer refuses any other name).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pointcloud.prelabel import Detection, detect, link_tracks
from server.annotations import Writer
from server.errors import ApiError
from server.interchange.importer import _apply
from server.interchange.model import Report
from server.models import Frame, Scene, Task
from server.priors import class_priors
from server.validation import PRELABEL

MODEL = "pointlabel-cpu-1"
"""The name pre-labels of the built-in CPU pipeline carry in ``prelabel.model``."""


@dataclass
class PrelabelResult:
    """What a pre-label run wrote: counts, and boxes the writer refused by code."""

    task_id: int
    frames: int
    boxes: int
    tracks: int
    dropped: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "frames": self.frames, "boxes": self.boxes,
                "tracks": self.tracks, "dropped": self.dropped}  # fmt: skip


def detect_frames(
    writer: Writer, storage: str, frames: Sequence[Frame], *, min_score: float = 0.0
) -> list[list[Detection]]:
    """The CPU pipeline's detections of each frame (absolute coordinates), linked into tracks."""
    priors = class_priors()
    found = []
    for f in frames:
        local = writer.frames.local_points(storage, f.index).astype(np.float64)
        offset = np.array([f.offset_x, f.offset_y, f.offset_z])
        dets = detect(local + offset, priors)
        found.append([d for d in dets if d.score >= min_score])
    times = [f.timestamp for f in frames]
    dts = None
    if len(frames) > 1 and all(t is not None for t in times):
        dts = [max(float(b) - float(a), 1e-3) for a, b in zip(times, times[1:], strict=False)]  # type: ignore[arg-type]
    return link_tracks(found, dts)


def prelabel_ops(
    engine: Engine,
    writer: Writer,
    task_id: int,
    *,
    frames: Sequence[int] | None = None,
    min_score: float = 0.0,
) -> tuple[list[dict[str, Any]], int]:
    """The create ops (tracks, then their pre-label cuboids) of the CPU pipeline's boxes for the
    task's scene (or only ``frames``), and how many frames were run. Raises ApiError
    ``task_not_found`` for an unknown task."""
    with Session(engine) as session:
        task = session.get(Task, task_id)
        if task is None:
            raise ApiError(404, "task_not_found", f"task {task_id} does not exist")
        scene = session.get(Scene, task.scene_id)
        assert scene is not None
        query = select(Frame).where(Frame.scene_id == scene.id).order_by(Frame.index)  # type: ignore[arg-type]
        rows = [f for f in session.exec(query).all() if frames is None or f.index in frames]
    linked = detect_frames(writer, scene.storage, rows, min_score=min_score)
    tracks: list[dict[str, Any]] = []
    boxes: list[dict[str, Any]] = []
    track_ids: dict[int, str] = {}
    for frame, dets in zip(rows, linked, strict=True):
        for d in dets:
            if d.track not in track_ids:
                track_ids[d.track] = uuid.uuid4().hex
                data = {"label": d.label, "attributes": {}}
                tracks.append(
                    {"op": "create", "kind": "track", "id": track_ids[d.track], "data": data}
                )
            boxes.append(_box_op(track_ids[d.track], frame.index, d))
    return tracks + boxes, len(rows)


def prelabel_task(
    engine: Engine,
    writer: Writer,
    task_id: int,
    user: str,
    *,
    frames: Sequence[int] | None = None,
    min_score: float = 0.0,
) -> PrelabelResult:
    """Run the CPU pipeline over the task's scene (or only ``frames``) and write pre-labels.

    Ops (:func:`prelabel_ops`) go through ``writer`` as a trusted server
    batch in ``user``'s name; a box the writer refuses (too few points for
    its class, ...) is dropped and counted by error code.
    """
    ops, count = prelabel_ops(engine, writer, task_id, frames=frames, min_score=min_score)
    report = Report()
    if ops:
        _apply(writer, task_id, user, ops, report)
    return PrelabelResult(
        task_id, count, report.counts.get("cuboids", 0), report.counts.get("tracks", 0),
        dict(report.dropped),
    )  # fmt: skip


def _box_op(track_id: str, frame: int, d: Detection) -> dict[str, Any]:
    cx, cy, cz, length, width, height, yaw = d.box
    data = {
        "track_id": track_id, "frame": frame, "center": [cx, cy, cz],
        "size": [length, width, height], "yaw": yaw, "source": "pre-label", "keyframe": False,
        "attributes": {PRELABEL: {"confidence": round(d.score, 3), "model": MODEL,
                                  "accepted_by": None}},
    }  # fmt: skip
    return {"op": "create", "kind": "cuboid", "id": uuid.uuid4().hex, "data": data}
