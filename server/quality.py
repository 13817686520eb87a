"""Defect rates from reviews, and their control charts (docs/quality.md, "Control charts").

A task becomes a *sample* when its reviewer first decides on it (the first transition out
of ``in_review``, to approved or rejected). Its *objects* are the tracks of its label set,
plus one per issue pinned to a point (a missing object) or to a tag without a subject
track; its *defects* are those objects with at least one review issue pinned by that
decision. Samples are grouped per annotator (the task's assignee), class, project or
taxonomy version, and each group gets a p-chart (``pointcloud/spc.py``) whose centre is
the team's in-control rate over the first samples.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode

import numpy as np
from sqlmodel import Session, col, select

from pointcloud.metrics import compare
from pointcloud.spc import RULES, Signal, baseline_rate, classify, p_chart
from server.golden_queue import IOU as GOLD_IOU
from server.golden_queue import label_set
from server.models import (
    BehaviourTag,
    Cuboid,
    GoldenRun,
    PlantedError,
    Project,
    ReviewIssue,
    Task,
    TaskTransition,
    TaxonomyVersion,
    Track,
    User,
)
from server.tasks import IN_REVIEW

GroupBy = Literal["annotator", "class", "project", "taxonomy"]
NO_CLASS = "(no object)"
"""The class of a defect that has no track: a missing object, a tag on ego or the scene."""


@dataclass
class Defect:
    """One review issue behind a defect, with the object it points at."""

    issue_id: int
    error_type: str
    comment: str
    status: str
    object_kind: str | None
    object_id: str | None
    track_id: str | None
    label: str
    frame: int | None


@dataclass
class Sample:
    """One reviewed task: when, by whom, and per class its objects and defective objects."""

    task_id: int
    at: datetime
    annotator: str
    project: str
    taxonomy: str
    objects: dict[str, int] = field(default_factory=dict)
    defects: dict[str, int] = field(default_factory=dict)
    rows: list[Defect] = field(default_factory=list)
    source: Literal["review", "golden"] = "review"
    """What judged it: its first review, or the golden task it is a blind copy of."""


def _first_decisions(
    session: Session, project_id: int | None, task_id: int | None
) -> dict[int, datetime]:
    query = (
        select(TaskTransition.task_id, TaskTransition.created_at)
        .where(TaskTransition.from_state == IN_REVIEW)
        .order_by(col(TaskTransition.id))
    )
    if task_id is not None:
        query = query.where(TaskTransition.task_id == task_id)
    planted = select(PlantedError.task_id)  # copies of golden tasks score reviewers instead
    query = query.where(col(TaskTransition.task_id).not_in(planted))
    first: dict[int, datetime] = {}
    for task_id, at in session.exec(query).all():
        first.setdefault(task_id, at)
    if project_id is not None:
        ids = set(session.exec(select(Task.id).where(Task.project_id == project_id)).all())
        first = {k: v for k, v in first.items() if k in ids}
    return first


def samples(
    session: Session, *, project_id: int | None = None, task_id: int | None = None
) -> list[Sample]:
    """Every reviewed task and scored golden copy (of a project, or just one) as a sample,
    oldest decision first."""
    decided = _first_decisions(session, project_id, task_id)
    golden = _golden_samples(session, project_id, task_id)
    if not decided:
        return sorted(golden, key=lambda s: (s.at, s.task_id))
    ids = list(decided)
    tasks = {t.id: t for t in session.exec(select(Task).where(col(Task.id).in_(ids))).all()}
    users = dict(session.exec(select(User.id, User.name)).all())
    projects = dict(session.exec(select(Project.id, Project.name)).all())
    versions = dict(session.exec(select(TaxonomyVersion.id, TaxonomyVersion.number)).all())
    labels: dict[tuple[int, str], str] = {}
    out: dict[int, Sample] = {}
    for task_id, at in decided.items():
        t = tasks[task_id]
        version = versions.get(t.taxonomy_version_id) if t.taxonomy_version_id else None
        out[task_id] = Sample(
            task_id, at, users.get(t.assignee_id, "(unassigned)") if t.assignee_id else "(unassigned)",
            projects.get(t.project_id, str(t.project_id)), f"v{version}" if version else "(none)",
        )  # fmt: skip
    for task_id, track_id, label in session.exec(
        select(Track.task_id, Track.id, Track.label).where(col(Track.task_id).in_(ids))
    ).all():
        labels[(task_id, track_id)] = label
        objects = out[task_id].objects
        objects[label] = objects.get(label, 0) + 1
    _add_defects(session, out, decided, labels)
    for sample in golden:
        out[sample.task_id] = sample  # gold is the stricter judge of a copy also reviewed
    return sorted(out.values(), key=lambda s: (s.at, s.task_id))


def _golden_samples(session: Session, project_id: int | None, task_id: int | None) -> list[Sample]:
    """Each scored blind copy of a golden task, judged against gold (box by box, class-blind
    Hungarian matching at 3D IoU 0.5, ``server.golden_queue``): its objects are the gold
    boxes and the boxes that match none; its defects are the gold boxes not matched with
    the right class (missed or wrong class) and the boxes that match none (false)."""
    query = select(GoldenRun, Task).join(Task, col(Task.id) == GoldenRun.task_id)
    query = query.where(col(GoldenRun.scored_at).is_not(None))
    if task_id is not None:
        query = query.where(GoldenRun.task_id == task_id)
    if project_id is not None:
        query = query.where(Task.project_id == project_id)
    users = dict(session.exec(select(User.id, User.name)).all())
    projects = dict(session.exec(select(Project.id, Project.name)).all())
    versions = dict(session.exec(select(TaxonomyVersion.id, TaxonomyVersion.number)).all())
    out = []
    for run, task in session.exec(query.order_by(col(GoldenRun.task_id))).all():
        assert run.scored_at is not None and task.id is not None
        version = versions.get(task.taxonomy_version_id) if task.taxonomy_version_id else None
        sample = Sample(task.id, run.scored_at, users.get(run.annotator_id, "(unassigned)"),
                        projects.get(task.project_id, str(task.project_id)),
                        f"v{version}" if version else "(none)", source="golden")  # fmt: skip
        gold, mine = label_set(session, run.golden_task_id), label_set(session, task.id)
        result = compare(gold, mine, class_aware=False, thresholds=(GOLD_IOU,))
        found = result.matches.iou >= GOLD_IOU
        a, b = result.matches.a[found], result.matches.b[found]
        right = {int(i) for i, j in zip(a, b, strict=True) if gold.label[i] == mine.label[j]}
        wrong_class = {int(i): int(j) for i, j in zip(a, b, strict=True) if int(i) not in right}
        matched = {int(j) for j in b}
        for i, label in enumerate(gold.label.tolist()):
            sample.objects[label] = sample.objects.get(label, 0) + 1
            if i in right:
                continue
            sample.defects[label] = sample.defects.get(label, 0) + 1
            j = wrong_class.get(i)
            kind = "gold: missed" if j is None else f"gold: class {mine.label[j]}"
            track = None if j is None else str(mine.track[j])
            sample.rows.append(Defect(0, kind, f"gold track {gold.track[i]}", "golden",
                                      "track" if track else None, track, track, label,
                                      int(gold.frame[i])))  # fmt: skip
        for j, label in enumerate(mine.label.tolist()):
            if j in matched:
                continue
            sample.objects[label] = sample.objects.get(label, 0) + 1
            sample.defects[label] = sample.defects.get(label, 0) + 1
            track = str(mine.track[j])
            sample.rows.append(Defect(0, "gold: false box", "no gold box here", "golden",
                                      "track", track, track, label, int(mine.frame[j])))  # fmt: skip
        out.append(sample)
    return out


def _add_defects(
    session: Session,
    out: dict[int, Sample],
    decided: dict[int, datetime],
    labels: dict[tuple[int, str], str],
) -> None:
    ids = list(decided)
    box_track = dict(
        ((t, c), k)
        for t, c, k in session.exec(
            select(Cuboid.task_id, Cuboid.id, Cuboid.track_id).where(col(Cuboid.task_id).in_(ids))
        ).all()
    )
    tag_track = dict(
        ((t, g), k)
        for t, g, k in session.exec(
            select(BehaviourTag.task_id, BehaviourTag.id, BehaviourTag.track_id).where(
                col(BehaviourTag.task_id).in_(ids)
            )
        ).all()
    )
    issues = session.exec(
        select(ReviewIssue).where(col(ReviewIssue.task_id).in_(ids)).order_by(col(ReviewIssue.id))
    ).all()
    seen: set[tuple[int, str]] = set()
    for issue in issues:
        if issue.created_at > decided[issue.task_id]:
            continue  # found in a later review round: not this sample's
        s, oid = out[issue.task_id], issue.object_id
        track = {"track": oid, "cuboid": box_track.get((issue.task_id, oid or "")),
                 "tag": tag_track.get((issue.task_id, oid or ""))}.get(issue.object_kind or "")  # fmt: skip
        label = labels.get((issue.task_id, track)) if track else None
        assert issue.id is not None
        s.rows.append(Defect(issue.id, issue.error_type, issue.comment, issue.status,
                             issue.object_kind, oid, track, label or NO_CLASS, issue.frame))  # fmt: skip
        if label is None:  # an object that is not in the label set: counts once per issue
            s.objects[NO_CLASS] = s.objects.get(NO_CLASS, 0) + 1
            s.defects[NO_CLASS] = s.defects.get(NO_CLASS, 0) + 1
        elif (issue.task_id, track or "") not in seen:
            seen.add((issue.task_id, track or ""))
            s.defects[label] = s.defects.get(label, 0) + 1


def _series(all_samples: list[Sample], by: GroupBy) -> dict[str, list[tuple[Sample, int, int]]]:
    """Per group key: (sample, objects, defects) in time order."""
    groups: dict[str, list[tuple[Sample, int, int]]] = defaultdict(list)
    for s in all_samples:
        if by == "class":
            for label, n in sorted(s.objects.items()):
                groups[label].append((s, n, s.defects.get(label, 0)))
            continue
        key = {"annotator": s.annotator, "project": s.project, "taxonomy": s.taxonomy}[by]
        n, d = sum(s.objects.values()), sum(s.defects.values())
        if n:
            groups[key].append((s, n, d))
    return dict(sorted(groups.items()))


def _days(at: datetime) -> float:
    return (at.replace(tzinfo=at.tzinfo or UTC)).timestamp() / 86400.0


def charts(
    session: Session,
    *,
    by: GroupBy = "annotator",
    project_id: int | None = None,
    baseline: int = 10,
    window_days: float = 3.0,
    given: list[Sample] | None = None,
) -> dict[str, Any]:
    """The p-charts of one grouping, with their signals (see the module docstring).

    ``baseline``: samples per series that set the centre line (the median of the series'
    rates over their first ``baseline`` samples). ``window_days``: how close in time
    signals of different series must be to count as one shift of the team. ``given``:
    the samples, when the caller has them already (else read)."""
    all_samples = samples(session, project_id=project_id) if given is None else given
    groups = _series(all_samples, by)
    result: dict[str, Any] = {"by": by, "baseline": baseline, "window_days": window_days,
                              "centre": None, "series": [], "signals": []}  # fmt: skip
    if not groups:
        return result
    d = {k: np.array([x[2] for x in v]) for k, v in groups.items()}
    n = {k: np.array([x[1] for x in v]) for k, v in groups.items()}
    centre = baseline_rate(d, n, points=baseline)
    family = {k: (np.array([_days(x[0].at) for x in v]), p_chart(d[k], n[k], centre=centre))
              for k, v in groups.items()}  # fmt: skip
    signals = classify(family, window=window_days)
    result["centre"] = centre
    for key, rows in groups.items():
        chart = family[key][1]
        points = [
            {"task_id": s.task_id, "at": s.at.isoformat(), "t": int(s.at.replace(tzinfo=UTC).timestamp()),
             "objects": nn, "defects": dd, "rate": float(chart.rate[i]),
             "lower": float(chart.lower[i]), "upper": float(chart.upper[i]), "taxonomy": s.taxonomy,
             "source": s.source}
            for i, (s, nn, dd) in enumerate(rows)
        ]  # fmt: skip
        result["series"].append({"key": key, "points": points})
    merged: dict[tuple[str, int, int], list[Signal]] = {}
    for sig in signals:  # one signal per sample and side, with every rule it breaks
        merged.setdefault((sig.series, sig.index, sig.side), []).append(sig)
    result["signals"] = [_signal_json(sigs, groups, by) for sigs in merged.values()]
    return result


def _signal_json(
    sigs: list[Signal], groups: dict[str, list[tuple[Sample, int, int]]], by: GroupBy
) -> dict[str, Any]:
    sig = sigs[0]
    s, n, d = groups[sig.series][sig.index]
    worst = sorted(((v, k) for k, v in s.defects.items()), reverse=True)
    return {
        "series": sig.series, "task_id": s.task_id, "at": s.at.isoformat(),
        "rules": [x.rule for x in sigs], "rule_text": "; ".join(RULES[x.rule] for x in sigs),
        "side": "above" if sig.side > 0 else "below",
        "kind": sig.kind if by == "annotator" else None, "share": round(sig.share, 3),
        "objects": n, "defects": d, "taxonomy": s.taxonomy,
        "classes": [k for v, k in worst if v] if by != "class" else [sig.series],
    }  # fmt: skip


def defect_rows(
    session: Session, task_id: int, *, label: str | None = None
) -> list[dict[str, Any]]:
    """The review issues behind a task's sample (of one class, if given), each with a link
    that opens the workspace on its object (or at its frame, for a point)."""
    found = samples(session, task_id=task_id)
    if not found:
        return []
    rows = [r for r in found[0].rows if label is None or r.label == label]
    return [_row_json(task_id, r) for r in rows]


def _row_json(task_id: int, r: Defect) -> dict[str, Any]:
    target = r.object_id if r.object_kind in ("cuboid", "track") else r.track_id
    params = {"object": target, "frame": r.frame}
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return {
        "issue_id": r.issue_id, "task_id": task_id, "error_type": r.error_type,
        "comment": r.comment, "status": r.status, "object_kind": r.object_kind,
        "object_id": r.object_id, "track_id": r.track_id, "class": r.label, "frame": r.frame,
        "link": f"/tasks/{task_id}" + (f"?{query}" if query else ""),
    }  # fmt: skip


def charts_csv(result: dict[str, Any]) -> str:
    """``charts``' points as CSV text: one row per series and sample."""
    flagged = {(s["series"], s["task_id"]): s for s in result["signals"]}
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow([result["by"], "task_id", "reviewed_at", "objects", "defects", "rate", "lower",
                "upper", "centre", "taxonomy", "rules", "kind"])  # fmt: skip
    for series in result["series"]:
        for p in series["points"]:
            sig = flagged.get((series["key"], p["task_id"]), {})
            w.writerow([series["key"], p["task_id"], p["at"], p["objects"], p["defects"],
                        f"{p['rate']:.6f}", f"{p['lower']:.6f}", f"{p['upper']:.6f}",
                        f"{result['centre']:.6f}", p["taxonomy"],
                        " ".join(str(r) for r in sig.get("rules", [])), sig.get("kind") or ""])  # fmt: skip
    return out.getvalue()
