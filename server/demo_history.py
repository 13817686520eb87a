"""A review history for the demo, so that the quality dashboard means something on first
open (``pointlabel demo``, ``pointlabel demo-history``; docs/quality.md).

Six annotators each label the demo sequence once a working day for 24 days (144 tasks,
each with one box per ground-truth track at its middle frame); the reviewer decides each
at 17:00. Review issues are drawn with a fixed seed:

- every annotator: 4 % of the objects get a fit or heading issue;
- ``dara`` drifts from day 8: her boxes grow loose, up to 30 % of the objects by day 12;
- from day 16 every task is on taxonomy version 2 (published then, renaming the Car
  occlusion value ``partial`` to ``moderate``), and every annotator gets the Car occlusion
  wrong on 15 % of the cars (``wrong_attribute``): a system shift.

A golden task holds the ground truth of the sequence's first 20 tracks, every box (approved, day 23), and three copies
of it with planted errors (``server/golden.py``) were reviewed by the demo reviewer, who
caught 3, 2 and 1 of the 4 errors: the dashboard's reviewer catch rates and the behaviour
detector's scores use them.

Labels go through the one write path (``Writer.apply``, trusted); task transitions and
issues are stored with their historical times. Seeding twice does nothing the second time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from server.annotations import Writer
from server.config import Settings
from server.frames import FrameStore
from server.golden import GoldenError, plant
from server.models import (
    Cuboid,
    PlantedError,
    ReviewIssue,
    Scene,
    Task,
    TaskTransition,
    TaxonomyVersion,
    User,
)
from server.protocol import Ops
from server.tasks import APPROVED, ASSIGNED, IN_PROGRESS, IN_REVIEW, OPEN, REJECTED, SUBMITTED
from server.taxonomies import Taxonomies
from server.taxonomy_drafts import add_change, open_draft, publish

ANNOTATORS = ("alice", "bruno", "chen", "dara", "emil", "fatima")
DRIFTER = "dara"
DAYS, DRIFT_FROM, DRIFT_FULL, CHANGE_DAY = 24, 8, 12, 16
BASE_RATE, DRIFT_RATE, SYSTEM_RATE = 0.04, 0.30, 0.15
START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
CHANGELOG = "Car occlusion: 'partial' is now 'moderate'"
GOLDEN_TRACKS = 20
"""The golden task holds the first 20 tracks (the cut-in and braking cars come first)."""
MARK = "demo history"
"""The note of the history's task transitions: seeding again finds it and stops."""


@dataclass(frozen=True)
class Planned:
    """One task of the history: who, which working day, and the issues (track, error type)."""

    annotator: str
    day: int
    issues: tuple[tuple[str, str], ...]


def workday(day: int) -> datetime:
    """Working day ``day`` (0-based, Monday to Friday) at 09:00 UTC."""
    weeks, rest = divmod(day, 5)
    return START + timedelta(days=7 * weeks + rest, hours=9)


def plan(tracks: list[tuple[str, str]], *, seed: int = 12) -> list[Planned]:
    """The history's tasks from the ground truth's ``(track id, class)`` pairs."""
    rng = np.random.default_rng(seed)
    cars = np.array([label == "Car" for _, label in tracks])
    out = []
    for day in range(DAYS):
        for name in ANNOTATORS:
            fit = np.full(len(tracks), BASE_RATE)
            if name == DRIFTER and day >= DRIFT_FROM:
                ramp = min(1.0, (day - DRIFT_FROM + 1) / (DRIFT_FULL - DRIFT_FROM + 1))
                fit += ramp * (DRIFT_RATE - BASE_RATE)
            fit_hit = rng.random(len(tracks)) < fit
            kinds = rng.choice(["loose_fit", "wrong_heading", "tight_fit"], size=len(tracks))
            if name == DRIFTER and day >= DRIFT_FROM:
                kinds[:] = "loose_fit"
            attr_hit = cars & (rng.random(len(tracks)) < (SYSTEM_RATE if day >= CHANGE_DAY else 0))
            issues = [(tracks[i][0], "wrong_attribute" if attr_hit[i] else str(kinds[i]))
                      for i in np.flatnonzero(fit_hit | attr_hit)]  # fmt: skip
            out.append(Planned(name, day, tuple(issues)))
    return out


def read_ground_truth(folder: Path) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """``(track id, class)`` pairs and one middle-frame box per track from the sequence's
    ``ground_truth.json`` (docs/demo-data.md)."""
    gt = json.loads((folder / "ground_truth.json").read_text())
    tracks, boxes = [], []
    for t in gt["tracks"]:
        if not t["cuboids"]:
            continue
        c = t["cuboids"][len(t["cuboids"]) // 2]
        tracks.append((t["track_id"], t["class"]))
        boxes.append({"track_id": t["track_id"], "frame": c["frame"], "center": c["center"],
                      "size": c["size"], "yaw": c["yaw"]})  # fmt: skip
    return tracks, boxes


def golden_ops(folder: Path, *, max_tracks: int | None = None) -> list[dict[str, Any]]:
    """Create ops for the sequence's whole ground truth (every box of the first
    ``max_tracks`` tracks, and the tags on them): the golden task of the demo."""
    gt = json.loads((folder / "ground_truth.json").read_text())
    tracks = [t for t in gt["tracks"] if t["cuboids"]][:max_tracks]
    kept = {t["track_id"] for t in tracks}
    ops: list[dict[str, Any]] = [
        {"op": "create", "kind": "track", "id": t["track_id"], "data": {"label": t["class"]}}
        for t in tracks
    ]
    ops += [{"op": "create", "kind": "cuboid", "id": f"{t['track_id']}.f{c['frame']}",
             "data": {"track_id": t["track_id"], "frame": c["frame"], "center": c["center"],
                      "size": c["size"], "yaw": c["yaw"], "source": "manual"}}
            for t in tracks for c in t["cuboids"]]  # fmt: skip
    ops += [{"op": "create", "kind": "tag", "id": f"{g['tag']}.{g['track_id']}",
             "data": {"tag": g["tag"], "subject": "track", "track_id": g["track_id"],
                      "related_ego": g.get("related") == "ego", "first_frame": g["first_frame"],
                      "last_frame": g["last_frame"]}}
            for g in gt["tags"] if g["track_id"] in kept]  # fmt: skip
    return ops


def seed_history(
    engine: Engine,
    settings: Settings,
    scene_id: int,
    folder: Path,
    *,
    seed: int = 12,
    max_tracks: int | None = None,
) -> int:
    """Seed the history on ``scene_id`` (ingested from ``folder``), labelling the first
    ``max_tracks`` ground-truth tracks (default: all); the number of tasks made (0:
    already seeded)."""
    with Session(engine) as session:
        if session.exec(select(TaskTransition.id).where(TaskTransition.note == MARK)).first():
            return 0
        scene = session.get(Scene, scene_id)
        assert scene is not None
        users = {name: _user(session, name, "annotator") for name in ANNOTATORS}
        reviewer = _user(session, "reviewer", "reviewer")
        lead = _user(session, "lead", "lead")
        before_id, after_id = _version_2(session, scene.project_id, lead)
        session.commit()
        ids = {n: int(u.id or 0) for n, u in users.items()}
        project_id = scene.project_id
        reviewer_id = int(reviewer.id or 0)
    tracks, boxes = read_ground_truth(folder)
    tracks, boxes = tracks[:max_tracks], boxes[:max_tracks]
    writer = Writer(engine, Taxonomies(engine), FrameStore(settings.frames_dir))
    made = 0
    golden = _golden(engine, writer, scene_id, project_id, after_id, ids["alice"], reviewer_id,
                     folder, min(max_tracks or GOLDEN_TRACKS, GOLDEN_TRACKS))  # fmt: skip
    _planted_reviews(engine, writer, golden, reviewer_id)
    for p in plan(tracks, seed=seed):
        version = after_id if p.day >= CHANGE_DAY else before_id
        task_id = _task(engine, scene_id, project_id, version, ids[p.annotator], reviewer_id, p)
        _labels(writer, task_id, p.annotator, tracks, boxes)
        made += 1
    return made


def _golden(
    engine: Engine, writer: Writer, scene_id: int, project_id: int, version: int, annotator: int,
    reviewer: int, folder: Path, max_tracks: int | None,
) -> int:  # fmt: skip
    """The golden task: the sequence's whole ground truth, approved (not a review sample)."""
    at = workday(DAYS - 1)
    with Session(engine) as session:
        task = Task(scene_id=scene_id, project_id=project_id, state=APPROVED, assignee_id=annotator,
                    reviewer_id=reviewer, taxonomy_version_id=version, created_at=at, updated_at=at)  # fmt: skip
        session.add(task)
        session.flush()
        assert task.id is not None
        session.add(TaskTransition(task_id=task.id, from_state=None, to_state=APPROVED,
                                   note=MARK, created_at=at))  # fmt: skip
        session.commit()
        task_id = task.id
    msg = Ops.model_validate({"type": "ops", "seq": 0, "client_id": f"golden-{task_id}",
                              "ops": golden_ops(folder, max_tracks=max_tracks)})  # fmt: skip
    reply, _ = writer.apply(task_id, "alice", msg, trusted=True)
    if reply.type != "ack":
        raise RuntimeError(f"demo golden labels refused: {reply.model_dump_json()[:300]}")
    return task_id


CAUGHT = (
    {"moved_box", "wrong_class", "missing_object"},
    {"wrong_class", "shifted_tag"},
    {"moved_box"},
)
"""Which planted errors the demo reviewer catches in each of three copies of the golden task."""


def _planted_reviews(engine: Engine, writer: Writer, golden: int, reviewer: int) -> None:
    for n, caught in enumerate(CAUGHT):
        try:
            copy = plant(engine, writer, golden, "lead", seed=n)
        except GoldenError:
            return  # a sequence too short for the tags: no reviewer scoring in this history
        at = workday(DAYS - 1) + timedelta(hours=2 + n)
        with Session(engine) as session:
            task = session.get(Task, copy)
            assert task is not None
            task.state, task.reviewer_id = REJECTED, reviewer
            session.add(task)
            for before, after in ((SUBMITTED, IN_REVIEW), (IN_REVIEW, REJECTED)):
                session.add(TaskTransition(task_id=copy, user_id=reviewer, from_state=before,
                                           to_state=after, note=MARK, created_at=at))  # fmt: skip
            for p in session.exec(select(PlantedError).where(PlantedError.task_id == copy)):
                if p.kind in caught:
                    session.add(_catch(session, p, reviewer, at))
            session.commit()


def _catch(session: Session, p: PlantedError, reviewer: int, at: datetime) -> ReviewIssue:
    """The issue a reviewer pins on a planted error they noticed."""
    kind = {"moved_box": "loose_fit", "wrong_class": "wrong_class",
            "missing_object": "missing_object", "shifted_tag": "tag_timing"}[p.kind]  # fmt: skip
    if p.kind != "missing_object":
        return ReviewIssue(task_id=p.task_id, author_id=reviewer, error_type=kind, created_at=at,
                           object_kind=p.object_kind, object_id=p.object_id, updated_at=at)  # fmt: skip
    box = session.exec(
        select(Cuboid).where(Cuboid.task_id == p.golden_task_id, Cuboid.track_id == p.object_id)
    ).first()
    assert box is not None
    return ReviewIssue(task_id=p.task_id, author_id=reviewer, error_type=kind, created_at=at,
                       frame=box.frame_index, x=box.cx, y=box.cy, z=box.cz, updated_at=at)  # fmt: skip


def _user(session: Session, name: str, role: str) -> User:
    user = session.exec(select(User).where(User.name == name)).first()
    if user is None:
        user = User(name=name, role=role)
        session.add(user)
        session.flush()
    return user


def _version_2(session: Session, project_id: int, lead: User) -> tuple[int, int]:
    """Publish the taxonomy change the system shift follows (once: a seeding stopped half
    way finds it); the version ids before and after it."""
    done = session.exec(
        select(TaxonomyVersion).where(
            TaxonomyVersion.project_id == project_id,
            TaxonomyVersion.changelog.startswith(CHANGELOG),
        )
    ).first()
    if done is not None and done.id is not None and done.base_id is not None:
        return done.base_id, done.id
    row = open_draft(session, project_id, lead)
    change = {"kind": "rename_value", "name": "Car", "attribute": "occlusion",
              "value": "partial", "to": "moderate"}  # fmt: skip
    add_change(session, row, change)
    version_id = publish(session, row, lead, CHANGELOG)
    row.published_at = workday(CHANGE_DAY) - timedelta(hours=2)
    session.add(row)
    assert row.base_id is not None
    return row.base_id, version_id


def _task(
    engine: Engine, scene_id: int, project_id: int, version: int, annotator: int, reviewer: int,
    p: Planned,
) -> int:  # fmt: skip
    start = workday(p.day) + timedelta(minutes=7 * ANNOTATORS.index(p.annotator))
    decided = workday(p.day) + timedelta(hours=8, minutes=3 * ANNOTATORS.index(p.annotator))
    final = REJECTED if p.issues else APPROVED
    with Session(engine) as session:
        task = Task(scene_id=scene_id, project_id=project_id, state=final, assignee_id=annotator,
                    reviewer_id=reviewer, taxonomy_version_id=version, created_at=start,
                    updated_at=decided)  # fmt: skip
        session.add(task)
        session.flush()
        assert task.id is not None
        steps = [(None, OPEN, None, start), (OPEN, ASSIGNED, None, start),
                 (ASSIGNED, IN_PROGRESS, annotator, start), (IN_PROGRESS, SUBMITTED, annotator,
                 decided - timedelta(hours=2)), (SUBMITTED, IN_REVIEW, reviewer,
                 decided - timedelta(hours=1)), (IN_REVIEW, final, reviewer, decided)]  # fmt: skip
        for before, after, who, at in steps:
            session.add(TaskTransition(task_id=task.id, user_id=who, from_state=before,
                                       to_state=after, assignee_id=annotator, note=MARK,
                                       created_at=at))  # fmt: skip
        for k, (track, error_type) in enumerate(p.issues):
            at = decided - timedelta(minutes=30 - k % 30)
            session.add(ReviewIssue(task_id=task.id, author_id=reviewer, error_type=error_type,
                                    object_kind="track", object_id=track, status="open",
                                    created_at=at, updated_at=at))  # fmt: skip
        session.commit()
        return task.id


def _labels(
    writer: Writer,
    task_id: int,
    user: str,
    tracks: list[tuple[str, str]],
    boxes: list[dict[str, Any]],
) -> None:
    ops: list[dict[str, Any]] = [
        {"op": "create", "kind": "track", "id": t, "data": {"label": label}} for t, label in tracks
    ]
    ops += [{"op": "create", "kind": "cuboid", "id": f"{b['track_id']}.f{b['frame']}",
             "data": {**b, "source": "manual", "keyframe": True}} for b in boxes]  # fmt: skip
    msg = Ops.model_validate(
        {"type": "ops", "seq": 0, "client_id": f"history-{task_id}", "ops": ops}
    )
    reply, _ = writer.apply(task_id, user, msg, trusted=True)
    if reply.type != "ack":
        raise RuntimeError(f"demo history labels refused: {reply.model_dump_json()[:300]}")
