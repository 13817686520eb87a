"""Golden tasks in annotators' queues (docs/quality.md, "Golden tasks in the queue").

A lead marks a task golden: an approved task, or the open, unassigned task of an imported
labelled scene (its boxes came in ``imported``). When an annotator takes their next task
and an open task waits, the project's ``golden_rate`` (``reviewpolicy``) decides, by a
reproducible draw per annotator and take, whether they get a *blind copy* instead: a new,
empty task on the golden task's scene, created and assigned exactly as any other task, so
nothing in the queue, the task's responses, its history or the workspace tells it apart.
When the annotator submits it, their label set is scored against the golden one (F1 at 3D
IoU 0.5 and mean IoU over class-blind matches, class accuracy of the pairs at IoU >= 0.5:
``pointcloud.metrics``) and the scores are stored in ``goldenrun``. The copy then follows
the review sampling policy like any task.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sqlalchemy import func
from sqlmodel import Session, col, select

from pointcloud.matching import LabelSet
from pointcloud.metrics import compare
from pointcloud.sampling import draw
from server.errors import ApiError
from server.models import (
    Cuboid,
    GoldenRun,
    GoldenTask,
    ReviewPolicy,
    Scene,
    Task,
    TaskTransition,
    Track,
    User,
    utcnow,
)
from server.tasks import APPROVED, OPEN, assign, create_task

IOU = 0.5
"""The IoU (3D) at which a box counts as found, for F1 and class accuracy."""


class GoldenTaskError(ApiError):
    """A task that cannot serve as a golden task."""


def label_set(session: Session, task_id: int) -> LabelSet:
    """A task's boxes as a :class:`LabelSet` (class = the box's track's label)."""
    labels = dict(session.exec(select(Track.id, Track.label).where(Track.task_id == task_id)).all())
    boxes = list(
        session.exec(select(Cuboid).where(Cuboid.task_id == task_id).order_by(col(Cuboid.id)))
    )
    rows = np.array([[b.cx, b.cy, b.cz, b.length, b.width, b.height, b.yaw] for b in boxes])
    return LabelSet.of([b.frame_index for b in boxes], rows.reshape(-1, 7),
                       [labels.get(b.track_id, "") for b in boxes], [b.track_id for b in boxes])  # fmt: skip


def mark(session: Session, task: Task, actor: User) -> GoldenTask:
    """Mark ``task`` golden (again active if it was unmarked)."""
    assert task.id is not None
    imported = session.exec(
        select(Cuboid.id).where(Cuboid.task_id == task.id, Cuboid.source == "imported")
    ).first()
    if not (
        task.state == APPROVED or (task.state == OPEN and task.assignee_id is None and imported)
    ):
        raise GoldenTaskError(409, "not_golden_material",
                              "only an approved task or an imported labelled scene can be golden")  # fmt: skip
    if session.exec(select(Cuboid.id).where(Cuboid.task_id == task.id)).first() is None:
        raise GoldenTaskError(422, "golden_empty", "a golden task needs at least one box")
    if session.get(GoldenRun, task.id) is not None:
        raise GoldenTaskError(409, "not_golden_material", "a golden copy cannot itself be golden")
    row = session.get(GoldenTask, task.id) or GoldenTask(
        task_id=task.id, project_id=task.project_id
    )
    row.active, row.marked_by = True, actor.id
    session.add(row)
    return row


def unmark(session: Session, task_id: int) -> None:
    """Stop handing out copies of the task (its runs and scores stay)."""
    row = session.get(GoldenTask, task_id)
    if row is None:
        raise GoldenTaskError(404, "not_golden", f"task {task_id} is not golden")
    row.active = False
    session.add(row)


def not_golden() -> Any:
    """A filter on ``Task``: not a golden task (they never enter the open queue)."""
    return col(Task.id).not_in(select(GoldenTask.task_id))


def blind_copy(session: Session, actor: User) -> Task | None:
    """A blind copy of a golden task for ``actor``, when their take draws one (see the
    module docstring); None: they get the usual next task."""
    assert actor.id is not None
    takes = session.exec(
        select(func.count())
        .select_from(TaskTransition)
        .where(TaskTransition.assignee_id == actor.id, TaskTransition.note == "assigned")
    ).one()
    done = select(GoldenRun.golden_task_id).where(GoldenRun.annotator_id == actor.id)
    candidates = session.exec(
        select(GoldenTask, Task, ReviewPolicy)
        .join(Task, col(Task.id) == GoldenTask.task_id)
        .join(ReviewPolicy, col(ReviewPolicy.project_id) == GoldenTask.project_id)
        .where(GoldenTask.active, col(ReviewPolicy.golden_rate) > 0)
        .where(col(GoldenTask.task_id).not_in(done))
        .where((col(Task.assignee_id).is_(None)) | (col(Task.assignee_id) != actor.id))
        .order_by(col(GoldenTask.task_id))
    ).all()
    if not candidates:
        return None
    pick = int(draw(candidates[0][2].seed, actor.id, takes, 1) * len(candidates))
    _, golden, policy = candidates[pick]
    if draw(policy.seed, actor.id, takes) >= policy.golden_rate:
        return None
    scene = session.get(Scene, golden.scene_id)
    assert scene is not None and golden.id is not None
    copy = create_task(session, scene, None)
    assign(session, copy, actor, actor)
    assert copy.id is not None
    session.add(GoldenRun(task_id=copy.id, golden_task_id=golden.id, annotator_id=actor.id))
    return copy


def score(session: Session, task: Task) -> GoldenRun | None:
    """Score a submitted golden copy against its golden task (each submission again: the
    latest submission's scores are kept, with ``scored_at``). None: not a golden copy."""
    run = session.get(GoldenRun, task.id)
    if run is None or task.id is None:
        return None
    gold, mine = label_set(session, run.golden_task_id), label_set(session, task.id)
    result = compare(gold, mine, class_aware=False, thresholds=(IOU,))
    found = result.matches.iou >= IOU
    same = gold.label[result.matches.a[found]] == mine.label[result.matches.b[found]]
    run.boxes, run.gold_boxes = len(mine), len(gold)
    run.f1 = float(result.score_at(IOU).f1)
    run.mean_iou = None if math.isnan(result.mean_iou) else float(result.mean_iou)
    run.class_accuracy = float(same.mean()) if same.size else None
    run.scored_at = utcnow()
    session.add(run)
    return run


def accuracy(session: Session, project_id: int | None = None) -> dict[str, Any]:
    """Golden tasks, and per annotator their scored golden copies in time order with the
    scores, for the dashboard."""
    names = dict(session.exec(select(User.id, User.name)).all())
    golden = select(GoldenTask).order_by(col(GoldenTask.task_id))
    if project_id is not None:
        golden = golden.where(GoldenTask.project_id == project_id)
    marked = list(session.exec(golden))
    ids = [g.task_id for g in marked]
    runs = session.exec(
        select(GoldenRun)
        .where(col(GoldenRun.golden_task_id).in_(ids), col(GoldenRun.scored_at).is_not(None))
        .order_by(col(GoldenRun.scored_at))
    ).all()
    per: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        per.setdefault(names.get(r.annotator_id, str(r.annotator_id)), []).append(
            {"task_id": r.task_id, "golden_task_id": r.golden_task_id,
             "at": r.scored_at.isoformat() if r.scored_at else None,
             "f1": _round(r.f1), "mean_iou": _round(r.mean_iou),
             "class_accuracy": _round(r.class_accuracy), "boxes": r.boxes, "gold_boxes": r.gold_boxes,
             "link": f"/tasks/{r.task_id}"})  # fmt: skip
    return {
        "golden": [{"task_id": g.task_id, "project_id": g.project_id, "active": g.active,
                    "marked_by": names.get(g.marked_by) if g.marked_by else None,
                    "copies": sum(1 for r in runs if r.golden_task_id == g.task_id)} for g in marked],
        "annotators": [{"annotator": k, "runs": v,
                        "mean_f1": _round(float(np.mean([x["f1"] for x in v]))),
                        "mean_iou": _round(_nanmean([x["mean_iou"] for x in v])),
                        "class_accuracy": _round(_nanmean([x["class_accuracy"] for x in v]))}
                       for k, v in sorted(per.items())],
    }  # fmt: skip


def _nanmean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)
