"""Consensus (docs/quality.md, "Consensus"): a lead sends a scene to k annotators as k
tasks with their own label sets; the results compare the k sets per annotator pair, per
class and per object (``pointcloud/consensus.py``), worst objects first; the consensus
label set (majority class, median box) can be promoted to a new reference task on the
scene, written through the one write path."""

from __future__ import annotations

import math
import uuid
from itertools import combinations
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from pointcloud.agreement import cohen_kappa
from pointcloud.consensus import Cluster, clusters_of, merge
from pointcloud.matching import LabelSet
from pointcloud.metrics import compare
from server.errors import ApiError
from server.golden_queue import label_set
from server.models import (
    ConsensusGroup,
    ConsensusTask,
    Cuboid,
    Scene,
    Task,
    TaskTransition,
    Track,
    User,
)
from server.policy import Permission, allows
from server.tasks import APPROVED, create_task

IOU = 0.5
"""3D IoU at which two boxes count as the same object for F1 and class agreement."""


class ConsensusError(ApiError):
    """A consensus request that cannot be done."""


def send(session: Session, scene: Scene, names: list[str], actor: User) -> ConsensusGroup:
    """A consensus group on ``scene``: one new task assigned to each annotator in ``names``
    (2 to 10 distinct users who may edit)."""
    if len(set(names)) != len(names):
        raise ConsensusError(422, "consensus_annotators", "name each annotator once")
    users = []
    for name in names:
        user = session.exec(select(User).where(User.name == name)).first()
        if user is None:
            raise ConsensusError(404, "user_not_found", f"no user {name!r}")
        if user.disabled or not allows(user.role, Permission.edit):
            raise ConsensusError(422, "consensus_annotators", f"{name!r} cannot label")
        users.append(user)
    assert scene.id is not None
    group = ConsensusGroup(scene_id=scene.id, project_id=scene.project_id, created_by=actor.id)
    session.add(group)
    session.flush()
    assert group.id is not None
    for user in users:
        task = create_task(session, scene, actor, assignee=user)
        assert task.id is not None and user.id is not None
        session.add(ConsensusTask(task_id=task.id, group_id=group.id, annotator_id=user.id))
    return group


def _group(session: Session, group_id: int) -> tuple[ConsensusGroup, list[ConsensusTask]]:
    group = session.get(ConsensusGroup, group_id) if 1 <= group_id <= 2**31 - 1 else None
    if group is None:
        raise ConsensusError(404, "consensus_not_found", f"consensus {group_id} does not exist")
    members = list(
        session.exec(
            select(ConsensusTask)
            .where(ConsensusTask.group_id == group_id)
            .order_by(col(ConsensusTask.task_id))
        )
    )
    return group, members


def group_json(
    session: Session, group: ConsensusGroup, members: list[ConsensusTask]
) -> dict[str, Any]:
    names = dict(session.exec(select(User.id, User.name)).all())
    states = dict(
        session.exec(
            select(Task.id, Task.state).where(col(Task.id).in_([m.task_id for m in members]))
        ).all()
    )
    return {
        "id": group.id, "scene_id": group.scene_id, "k": len(members),
        "tasks": [{"task_id": m.task_id, "annotator": names.get(m.annotator_id),
                   "state": states.get(m.task_id)} for m in members],
        "reference_task_id": group.reference_task_id,
        "created_at": group.created_at.isoformat(),
    }  # fmt: skip


def groups(session: Session) -> list[dict[str, Any]]:
    """Every consensus group, newest first."""
    rows = session.exec(select(ConsensusGroup).order_by(col(ConsensusGroup.id).desc())).all()
    return [group_json(session, g, _group(session, g.id or 0)[1]) for g in rows]


def _nan(v: float) -> float | None:
    return None if not math.isfinite(v) else round(float(v), 4)


def results(session: Session, group_id: int, *, limit: int = 200) -> dict[str, Any]:
    """Agreement of the group's k label sets: per annotator pair (F1 at IoU 0.5, mean IoU,
    Cohen's kappa of the classes of the pairs at IoU >= 0.5), per class (the objects whose
    majority class it is: their mean agreement) and per object, worst first, each with a
    link into the workspace of a task that drew it."""
    group, members = _group(session, group_id)
    names = dict(session.exec(select(User.id, User.name)).all())
    who = [names.get(m.annotator_id, str(m.annotator_id)) for m in members]
    sets = [label_set(session, m.task_id) for m in members]
    box_ids = [_box_ids(session, m.task_id) for m in members]
    pairs = []
    for a, b in combinations(range(len(sets)), 2):
        r = compare(sets[a], sets[b], class_aware=False, thresholds=(IOU,))
        found = r.matches.iou >= IOU
        la, lb = sets[a].label[r.matches.a[found]], sets[b].label[r.matches.b[found]]
        kappa = cohen_kappa(la, lb) if la.size else math.nan
        pairs.append({"a": who[a], "b": who[b], "task_a": members[a].task_id,
                      "task_b": members[b].task_id, "f1": _nan(r.score_at(IOU).f1),
                      "mean_iou": _nan(r.mean_iou), "kappa": _nan(kappa),
                      "same_class": _nan(float(np.mean(la == lb)) if la.size else math.nan)})  # fmt: skip
    found_clusters = clusters_of(sets) if len(sets) >= 2 else []
    classes: dict[str, list[Cluster]] = {}
    for c in found_clusters:
        classes.setdefault(c.label, []).append(c)
    worst = sorted(found_clusters, key=lambda c: (c.agreement, c.class_agreement, c.frame))
    objects = [_object_json(group_id, c, sets, members, who, box_ids) for c in worst[:limit]]
    return {
        **group_json(session, group, members),
        "pairs": pairs,
        "classes": [{"class": name, "objects": len(cs),
                     "agreement": round(float(np.mean([c.agreement for c in cs])), 4),
                     "class_agreement": round(float(np.mean([c.class_agreement for c in cs])), 4)}
                    for name, cs in sorted(classes.items())],
        "objects": objects, "object_count": len(found_clusters),
    }  # fmt: skip


def _box_ids(session: Session, task_id: int) -> list[str]:
    return list(
        session.exec(select(Cuboid.id).where(Cuboid.task_id == task_id).order_by(col(Cuboid.id)))
    )


def _object_json(group_id: int, c: Cluster, sets: list[LabelSet], members: list[ConsensusTask],
                 who: list[str], box_ids: list[list[str]]) -> dict[str, Any]:  # fmt: skip
    first = min(c.members)
    task_id, box = members[first].task_id, box_ids[first][c.members[first]]
    return {
        "frame": c.frame, "class": c.label, "agreement": round(c.agreement, 4),
        "class_agreement": round(c.class_agreement, 4),
        "boxes": [{"annotator": who[s], "task_id": members[s].task_id, "box_id": box_ids[s][r],
                   "class": str(sets[s].label[r]),
                   "box": [round(float(v), 4) for v in sets[s].boxes[r, :7]]}
                  for s, r in sorted(c.members.items())],
        "missing": [who[s] for s in range(len(sets)) if s not in c.members],
        "link": f"/tasks/{task_id}?object={box}&frame={c.frame}&consensus={group_id}",
    }  # fmt: skip


def overlay(session: Session, group_id: int, frame: int) -> list[dict[str, Any]]:
    """Every box of the group's k label sets in one frame, for a read-only layer in the
    workspace: annotator, task, box id, class and [cx, cy, cz, l, w, h, yaw]."""
    _, members = _group(session, group_id)
    names = dict(session.exec(select(User.id, User.name)).all())
    ids = {m.task_id: names.get(m.annotator_id) for m in members}
    rows = session.exec(
        select(Cuboid).where(col(Cuboid.task_id).in_(list(ids)), Cuboid.frame_index == frame)
    ).all()
    track_label = {(t, i): label for t, i, label in session.exec(
        select(Track.task_id, Track.id, Track.label).where(col(Track.task_id).in_(list(ids)))).all()}  # fmt: skip
    return [{"annotator": ids[b.task_id], "task_id": b.task_id, "box_id": b.id,
             "class": track_label.get((b.task_id, b.track_id), ""),
             "box": [b.cx, b.cy, b.cz, b.length, b.width, b.height, b.yaw]} for b in rows]  # fmt: skip


def consensus_ops(session: Session, group_id: int) -> tuple[ConsensusGroup, list[dict[str, Any]]]:
    """The create ops of the consensus label set (see ``pointcloud.consensus.merge``)."""
    group, members = _group(session, group_id)
    sets = [label_set(session, m.task_id) for m in members]
    merged = merge(sets, clusters_of(sets))
    if not merged:
        raise ConsensusError(
            409, "consensus_empty", "no object was drawn by a majority of the tasks"
        )
    tracks: dict[tuple[int, str], tuple[str, list[str]]] = {}
    ops: list[dict[str, Any]] = []
    for frame, box, label, key in merged:
        track, _ = tracks.setdefault(key, (f"c{uuid.uuid4().hex[:20]}", []))
        tracks[key][1].append(label)
        ops.append({"op": "create", "kind": "cuboid", "id": f"c{uuid.uuid4().hex[:20]}",
                    "data": {"track_id": track, "frame": frame,
                             "center": [float(v) for v in box[:3]],
                             "size": [float(v) for v in box[3:6]], "yaw": float(box[6])}})  # fmt: skip
    track_ops = [
        {"op": "create", "kind": "track", "id": track,
         "data": {"label": max(set(labels), key=lambda x: (labels.count(x), x))}}
        for track, labels in tracks.values()
    ]  # fmt: skip
    return group, track_ops + ops


def new_reference(session: Session, group: ConsensusGroup, actor: User) -> Task:
    """An approved task on the group's scene to hold the consensus (empty until written)."""
    scene = session.get(Scene, group.scene_id)
    assert scene is not None
    task = create_task(session, scene, actor)
    task.state = APPROVED
    session.add(task)
    session.add(TaskTransition(task_id=task.id or 0, user_id=actor.id, from_state="open",
                               to_state=APPROVED, note=f"consensus {group.id} promoted"))  # fmt: skip
    return task
