"""Evaluators of the evaluators (docs/quality.md): reviewers scored on errors planted in
copies of a golden task, and the rule-based behaviour detector (``pointcloud/behaviours.py``)
scored against a golden task's tags.

Planting copies the golden task's label set into a new task on the same scene, through the
one write path, with four errors: a box moved 1-1.5 m, a track given a wrong class, a track
left out (a missing object) and a tag range shifted by 5 frames. The copy waits in the
review queue as a submitted task of the golden task's annotator, like any other; a planted error counts as
*caught* when the reviewer pins an issue on the changed object (on its track, for a box or
a class; on the tag or its track, for a tag), or, for the missing object, at a point
within 2.5 m of one of its boxes in that frame.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Collection
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pointcloud.behaviours import detect_behaviours, score_detector
from pointcloud.matching import LabelSet
from pointcloud.temporal import TagSet
from server.annotations import Writer
from server.errors import ApiError
from server.models import (
    BehaviourTag,
    Cuboid,
    Frame,
    PlantedError,
    ReviewIssue,
    Task,
    TaskTransition,
    Track,
    User,
)
from server.protocol import Ops
from server.state import user_id
from server.tasks import APPROVED, IN_REVIEW, SUBMITTED

KINDS = ("moved_box", "wrong_class", "missing_object", "shifted_tag")
CATCH_RADIUS_M = 2.5
"""A point issue this close (metres, horizontal) to a missing object's box catches it."""


class GoldenError(ApiError):
    """The golden task cannot be planted: too few tracks, no tag."""

    def __init__(self, message: str) -> None:
        super().__init__(422, "golden_unusable", message)


def _snapshot(
    session: Session, task_id: int
) -> tuple[list[Track], list[Cuboid], list[BehaviourTag]]:
    tracks = list(
        session.exec(select(Track).where(Track.task_id == task_id).order_by(col(Track.id)))
    )
    boxes = list(
        session.exec(select(Cuboid).where(Cuboid.task_id == task_id).order_by(col(Cuboid.id)))
    )
    tags = list(
        session.exec(
            select(BehaviourTag)
            .where(BehaviourTag.task_id == task_id)
            .order_by(col(BehaviourTag.id))
        )
    )
    return tracks, boxes, tags


def plant(engine: Engine, writer: Writer, golden_id: int, actor: str, *, seed: int = 0) -> int:
    """A copy of the golden task with the four planted errors, submitted in the golden
    task's annotator's name (an imported one has none: then ``actor``'s) so that it enters
    the review queue like any task (blind); the copy's edits are ``actor``'s (the lead who
    plants). Copies stay out of the defect-rate charts. Returns its id. Raises ``GoldenError`` when the golden task has fewer than 3 tracks
    with boxes or no tag on a track."""
    rng = np.random.default_rng(seed)
    with Session(engine) as session:
        golden = session.get(Task, golden_id)
        assert golden is not None
        tracks, boxes, tags = _snapshot(session, golden_id)
        frames = len(session.exec(select(Frame.id).where(Frame.scene_id == golden.scene_id)).all())
    tagged = {t.track_id for t in tags} | {t.related_track_id for t in tags}
    boxed = sorted({b.track_id for b in boxes})
    free = [t for t in boxed if t not in tagged]
    track_tags = [t for t in tags if t.track_id]
    if len(free) < 3 or not track_tags:
        raise GoldenError(
            "a golden task needs 3 or more boxed tracks without tags and a tag on a track"
        )
    moved_track, wrong_track, missing_track = (str(x) for x in rng.choice(free, 3, replace=False))
    moved = [b for b in boxes if b.track_id == moved_track][0]
    shifted = track_tags[int(rng.integers(len(track_tags)))]
    angle, dist = rng.uniform(0, 2 * math.pi), rng.uniform(1.0, 1.5)
    label_of = {t.id: t.label for t in tracks}
    wrong_label = "Truck" if label_of[wrong_track] != "Truck" else "Car"
    shift = 5 if shifted.last_frame + 5 < frames else -min(5, shifted.first_frame)
    ops = _copy_ops(tracks, boxes, tags, missing_track,
                    {moved.id: (dist * math.cos(angle), dist * math.sin(angle))},
                    {wrong_track: wrong_label}, {shifted.id: shift})  # fmt: skip
    with Session(engine) as session:
        assignee = golden.assignee_id or user_id(session.connection(), actor)
        task = Task(scene_id=golden.scene_id, project_id=golden.project_id, state=SUBMITTED,
                    assignee_id=assignee, taxonomy_version_id=golden.taxonomy_version_id)  # fmt: skip
        session.add(task)
        session.flush()
        assert task.id is not None
        session.add(TaskTransition(task_id=task.id, user_id=None, from_state=None, to_state=SUBMITTED,
                                   note="a copy of a golden task for review"))  # fmt: skip
        planted = [
            ("moved_box", "cuboid", moved.id, moved.frame_index, f"moved {dist:.2f} m"),
            ("wrong_class", "track", wrong_track, None, f"{label_of[wrong_track]} -> {wrong_label}"),
            ("missing_object", "track", missing_track, None, "left out with its boxes"),
            ("shifted_tag", "tag", shifted.id, None, f"{shifted.tag} shifted {shift:+d} frames"),
        ]  # fmt: skip
        for kind, okind, oid, frame, detail in planted:
            session.add(PlantedError(task_id=task.id, golden_task_id=golden_id, kind=kind,
                                     object_kind=okind, object_id=oid, frame=frame, detail=detail))  # fmt: skip
        session.commit()
        task_id = task.id
    msg = Ops.model_validate(
        {"type": "ops", "seq": 0, "client_id": f"golden-{uuid.uuid4().hex[:12]}", "ops": ops}
    )
    reply, _ = writer.apply(task_id, actor, msg, trusted=True)
    if reply.type != "ack":  # nothing of the copy stays
        with Session(engine) as session:
            for model in (PlantedError, TaskTransition):
                for row in session.exec(select(model).where(model.task_id == task_id)):
                    session.delete(row)
            session.flush()
            session.delete(session.get(Task, task_id))
            session.commit()
        raise GoldenError(f"the golden labels could not be copied: {reply.model_dump_json()[:200]}")
    return task_id


def _copy_ops(
    tracks: list[Track],
    boxes: list[Cuboid],
    tags: list[BehaviourTag],
    missing: str,
    moves: dict[str, tuple[float, float]],
    labels: dict[str, str],
    shifts: dict[str, int],
) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = [
        {"op": "create", "kind": "track", "id": t.id,
         "data": {"label": labels.get(t.id, t.label), "attributes": t.attributes}}
        for t in tracks if t.id != missing
    ]  # fmt: skip
    for b in boxes:
        if b.track_id == missing:
            continue
        dx, dy = moves.get(b.id, (0.0, 0.0))
        ops.append({"op": "create", "kind": "cuboid", "id": b.id, "data": {
            "track_id": b.track_id, "frame": b.frame_index, "center": [b.cx + dx, b.cy + dy, b.cz],
            "size": [b.length, b.width, b.height], "yaw": b.yaw, "pitch": b.pitch, "roll": b.roll,
            "attributes": b.attributes, "source": b.source, "keyframe": b.keyframe}})  # fmt: skip
    for g in tags:
        s = shifts.get(g.id, 0)
        ops.append({"op": "create", "kind": "tag", "id": g.id, "data": {
            "tag": g.tag, "subject": g.subject, "track_id": g.track_id,
            "related_track_id": g.related_track_id, "related_ego": g.related_ego,
            "first_frame": g.first_frame + s, "last_frame": g.last_frame + s,
            "attributes": g.attributes}})  # fmt: skip
    return ops


def _caught(p: PlantedError, issues: list[ReviewIssue], golden_boxes: dict[tuple[str, int], Cuboid],
            box_track: dict[str, str], tag_track: dict[str, str | None]) -> bool:  # fmt: skip
    track = {"cuboid": box_track.get(p.object_id), "track": p.object_id,
             "tag": tag_track.get(p.object_id)}[p.object_kind]  # fmt: skip
    for i in issues:
        on = i.object_id if i.object_kind != "cuboid" else box_track.get(i.object_id or "")
        if i.object_kind == "tag":
            on = tag_track.get(i.object_id or "") or i.object_id
        if i.object_kind and (i.object_id == p.object_id or (track is not None and on == track)):
            return True
        if p.kind == "missing_object" and i.object_kind is None and i.frame is not None:
            box = golden_boxes.get((p.object_id, i.frame))
            if box is not None and i.x is not None and i.y is not None:
                if math.hypot(i.x - box.cx, i.y - box.cy) <= CATCH_RADIUS_M:
                    return True
    return False


def catch_rates(session: Session, *, copies: Collection[int] | None = None) -> dict[str, Any]:
    """Per reviewer and error kind: planted errors in copies they reviewed (the copy left
    ``submitted``), and how many they caught; with every planted error as a row. ``copies``:
    only those copies (task ids; default every one)."""
    query = select(PlantedError).order_by(col(PlantedError.id))
    if copies is not None:
        query = query.where(col(PlantedError.task_id).in_(list(copies)))
    planted = list(session.exec(query))
    names = dict(session.exec(select(User.id, User.name)).all())
    rows: list[dict[str, Any]] = []
    table: dict[str, dict[str, list[int]]] = {}
    cache: dict[int, Any] = {}
    for p in planted:
        task = session.get(Task, p.task_id)
        if task is None or task.state in (SUBMITTED, IN_REVIEW) or task.reviewer_id is None:
            continue  # not decided yet
        if p.task_id not in cache:
            issues = list(session.exec(select(ReviewIssue).where(ReviewIssue.task_id == p.task_id)))
            _, boxes, tags = _snapshot(session, p.golden_task_id)
            cache[p.task_id] = (issues, {(b.track_id, b.frame_index): b for b in boxes},
                                {b.id: b.track_id for b in boxes}, {t.id: t.track_id for t in tags})  # fmt: skip
        caught = _caught(p, *cache[p.task_id])
        who = names.get(task.reviewer_id, str(task.reviewer_id))
        cell = table.setdefault(who, {k: [0, 0] for k in KINDS})
        cell[p.kind][0] += int(caught)
        cell[p.kind][1] += 1
        obj = p.object_id if p.object_kind != "tag" else ""
        link = f"/tasks/{p.task_id}" + (
            f"?object={obj}" if obj and p.kind != "missing_object" else ""
        )
        rows.append({"reviewer": who, "task_id": p.task_id, "kind": p.kind, "object_id": p.object_id,
                     "detail": p.detail, "caught": caught, "link": link})  # fmt: skip
    reviewers = [
        {"reviewer": who, "caught": sum(v[0] for v in cells.values()),
         "planted": sum(v[1] for v in cells.values()),
         "by_kind": {k: {"caught": v[0], "planted": v[1]} for k, v in cells.items()}}
        for who, cells in sorted(table.items())
    ]  # fmt: skip
    return {"kinds": list(KINDS), "reviewers": reviewers, "rows": rows}


def detector_report(
    session: Session, task_id: int, *, noise_m: float = 0.0, seed: int = 0
) -> dict[str, Any]:
    """The behaviour detector on a task's tracks (optionally with ``noise_m`` metres of
    gaussian jitter on the box centres, as a less careful annotator would draw them),
    scored against the task's own tags."""
    task = session.get(Task, task_id)
    assert task is not None
    _, boxes, tags = _snapshot(session, task_id)
    frames = list(
        session.exec(
            select(Frame).where(Frame.scene_id == task.scene_id).order_by(col(Frame.index))
        )
    )
    label_of = dict(
        session.exec(select(Track.id, Track.label).where(Track.task_id == task_id)).all()
    )
    poses = np.array(
        [f.pose if f.pose is not None else np.eye(4).tolist() for f in frames], dtype=np.float64
    )
    times = np.array([f.timestamp if f.timestamp is not None else 0.1 * f.index for f in frames])
    centre = np.array([[b.cx, b.cy, b.cz] for b in boxes]).reshape(-1, 3)
    centre[:, :2] += (
        np.random.default_rng(seed).normal(0.0, noise_m, (len(boxes), 2)) if noise_m else 0.0
    )
    labels = LabelSet.of([b.frame_index for b in boxes],
                         np.c_[centre, [[b.length, b.width, b.height, b.yaw] for b in boxes]].reshape(-1, 7),
                         [label_of.get(b.track_id, "") for b in boxes], [b.track_id for b in boxes])  # fmt: skip
    ref_tags = [t for t in tags if t.track_id]
    ref = TagSet.of([t.tag for t in ref_tags], [t.track_id or "" for t in ref_tags],
                    [t.first_frame for t in ref_tags], [t.last_frame for t in ref_tags])  # fmt: skip
    proposals = detect_behaviours(labels, poses, times) if len(frames) > 1 else []
    score = score_detector(ref, proposals)
    cal = score.calibration
    nan = lambda v: None if not math.isfinite(v) else round(float(v), 4)  # noqa: E731
    return {
        "task_id": task_id, "noise_m": noise_m, "references": score.references,
        "proposals": [{"tag": p.tag, "track_id": p.subject, "first": p.first, "last": p.last,
                       "confidence": round(p.confidence, 4), "matched": bool(m),
                       "link": f"/tasks/{task_id}?object={p.subject}&frame={p.first}"}
                      for p, m in zip(proposals, score.matched, strict=True)],
        "scores": [{"tiou": t, "precision": nan(p), "recall": nan(r), "f1": nan(f)}
                   for t, p, r, f in zip(score.thresholds, score.precision, score.recall, score.f1, strict=True)],
        "mean_tiou": nan(score.mean_tiou), "ece": nan(cal.ece),
        "calibration": [{"from": float(cal.edges[i]), "to": float(cal.edges[i + 1]), "count": int(cal.count[i]),
                         "confidence": nan(cal.confidence[i]), "hit_rate": nan(cal.hit_rate[i])}
                        for i in range(len(cal.count))],
    }  # fmt: skip


def golden_task(session: Session) -> int | None:
    """The task the dashboard scores the detector on: the newest task copied for planted
    errors, else the newest approved task with a tag on a track."""
    copied = session.exec(
        select(PlantedError.golden_task_id).order_by(col(PlantedError.id).desc())
    ).first()
    if copied is not None:
        return copied
    tagged = select(BehaviourTag.task_id).where(col(BehaviourTag.track_id).is_not(None))
    return session.exec(
        select(Task.id)
        .where(Task.state == APPROVED, col(Task.id).in_(tagged))
        .order_by(col(Task.id).desc())
    ).first()
