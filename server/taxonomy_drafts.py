"""A project's taxonomy draft: open, change, replace, dry-run, publish; and the
migration that moves one task from its version to a newer one (docs/taxonomy.md).

The migration's edits are applied by the caller through the one write path
(``Hub.submit_trusted``), so each is validated and logged like any edit.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlmodel import Session, col
from sqlmodel import select as select_rows

from server.errors import ApiError
from server.models import BehaviourTag, Cuboid, Task, TaxonomyVersion, Track, User, utcnow
from server.protocol import Ops, UpdateOp
from server.state import load_scene
from server.taxonomies import DRAFT, PUBLISHED, Taxonomies, current_id, parse_body
from server.taxonomy import Taxonomy, TaxonomyError, from_json
from server.taxonomy_changes import (
    AnyChange,
    Migration,
    apply_change,
    change_adapter,
    describe,
    migrate,
)
from server.text import TextError, check_json

TASKS = Task.__table__  # type: ignore[attr-defined]
VERSIONS = TaxonomyVersion.__table__  # type: ignore[attr-defined]
MAX_CHANGES = 200


class TaxonomyInvalidError(ApiError):
    """A taxonomy document or change that cannot be made (422 ``taxonomy_invalid``)."""

    def __init__(self, message: str) -> None:
        super().__init__(422, "taxonomy_invalid", message)


def draft(session: Session, project_id: int) -> TaxonomyVersion | None:
    return session.exec(
        select_rows(TaxonomyVersion).where(
            col(TaxonomyVersion.project_id) == project_id, col(TaxonomyVersion.status) == DRAFT
        )
    ).first()


def open_draft(session: Session, project_id: int, user: User) -> TaxonomyVersion:
    """The project's draft, made from its current version when there is none."""
    found = draft(session, project_id)
    if found is not None:
        return found
    base_id = current_id(session.connection(), project_id)
    base = session.get(TaxonomyVersion, base_id)
    assert base is not None
    row = TaxonomyVersion(project_id=project_id, status=DRAFT, base_id=base_id,
                          body=dict(base.body), changes=[], created_by=user.id)  # fmt: skip
    session.add(row)
    session.flush()
    return row


def parse_change(data: Any) -> AnyChange:
    try:
        check_json(data, "change")
    except TextError as exc:
        raise TaxonomyInvalidError(str(exc)) from exc
    try:
        change: AnyChange = change_adapter.validate_python(data)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise TaxonomyInvalidError(f"not a taxonomy change: {where}: {first['msg']}") from exc
    return change


def add_change(session: Session, row: TaxonomyVersion, data: Any) -> TaxonomyVersion:
    """Make one change in the draft and record it for the migration on publish."""
    change = parse_change(data)
    if len(row.changes) >= MAX_CHANGES:
        raise TaxonomyInvalidError(f"a draft holds at most {MAX_CHANGES} changes")
    try:
        row.body = apply_change(row.body, change)
    except TaxonomyError as exc:
        raise TaxonomyInvalidError(str(exc)) from exc
    row.changes = [*row.changes, change.model_dump()]
    session.add(row)
    return row


def replace_body(session: Session, row: TaxonomyVersion, body: Any) -> TaxonomyVersion:
    """Replace the draft's document (an edit on the lead page, or an imported JSON)."""
    try:
        check_json(body, "taxonomy")
        taxonomy = from_json(body)
    except (TaxonomyError, TextError) as exc:
        raise TaxonomyInvalidError(str(exc)) from exc
    doc = taxonomy.to_json()
    doc.pop("version")
    row.body = doc
    session.add(row)
    return row


def draft_taxonomy(row: TaxonomyVersion) -> Taxonomy:
    return parse_body(row.body, "draft")


def chain(conn: Connection, taxonomies: Taxonomies, from_id: int, to_id: int,
          to_taxonomy: Taxonomy | None = None) -> list[tuple[AnyChange, Taxonomy | None]]:  # fmt: skip
    """The changes from version ``from_id`` to ``to_id`` (a descendant), oldest first,
    each with the taxonomy it leads to. ``to_taxonomy``: ``to_id``'s (for a draft)."""
    steps: list[list[tuple[AnyChange, Taxonomy | None]]] = []
    at, seen = to_id, 0
    while at != from_id:
        row = conn.execute(select(VERSIONS).where(VERSIONS.c.id == at)).first()
        if row is None or row.base_id is None or seen > 10_000:
            raise ApiError(
                409, "taxonomy_not_newer", "the version does not descend from the task's"
            )
        after = to_taxonomy if at == to_id and to_taxonomy is not None else (
            taxonomies.version(conn, at) if row.status == PUBLISHED else None)  # fmt: skip
        steps.append([(parse_change(c), after) for c in row.changes])
        at, seen = row.base_id, seen + 1
    return [step for version in reversed(steps) for step in version]


@dataclass
class TaskMigration:
    task_id: int
    scene_id: int
    migration: Migration
    ops: list[UpdateOp]


def task_migration(
    conn: Connection, task_id: int, changes: list[tuple[AnyChange, Taxonomy | None]]
) -> TaskMigration:
    """What the changes do to one task's label set as it is committed now."""
    st = load_scene(conn, task_id)
    if st is None:
        raise ApiError(404, "task_not_found", f"task {task_id} does not exist")
    m = migrate(changes, st.objects["track"], st.objects["cuboid"])
    ops = [
        UpdateOp(op="update", kind=kind, id=obj_id,  # type: ignore[arg-type]
                 base_revision=st.objects[kind][obj_id]["revision"], data=fields)
        for (kind, obj_id), fields in m.updates.items()
    ]  # fmt: skip
    return TaskMigration(task_id, st.scene_id, m, ops)


def migration_ops(tm: TaskMigration, version_id: int) -> Ops:
    """The batch that moves a task: one seq per target version, so a retry replays."""
    return Ops.model_construct(type="ops", seq=1, client_id=f"taxonomy-{version_id}", ops=tm.ops)


def tasks_on(conn: Connection, project_id: int, version_id: int) -> list[int]:
    rows = conn.execute(
        select(TASKS.c.id)
        .where(TASKS.c.project_id == project_id, TASKS.c.taxonomy_version_id == version_id)
        .order_by(TASKS.c.id)
    )
    return [int(r.id) for r in rows]


def dry_run(conn: Connection, taxonomies: Taxonomies, row: TaxonomyVersion) -> dict[str, Any]:
    """How many labels each change of the draft touches, in total, by scene and by task
    (tasks on the draft's base version: those publishing moves)."""
    assert row.base_id is not None and row.id is not None
    changes = chain(conn, taxonomies, row.base_id, row.id, draft_taxonomy(row))
    per_change: list[dict[str, Any]] = [
        {"change": c.model_dump(), "describe": describe(c), "total": Counter(),
         "by_scene": defaultdict(Counter), "by_task": {}}
        for c, _ in changes
    ]  # fmt: skip
    for task_id in tasks_on(conn, row.project_id, row.base_id):
        tm = task_migration(conn, task_id, changes)
        for i, counts in tm.migration.counts.items():
            entry = per_change[i]
            entry["total"].update(counts)
            entry["by_scene"][str(tm.scene_id)].update(counts)
            if counts:
                entry["by_task"][str(task_id)] = dict(counts)
    for entry in per_change:
        entry["total"] = dict(entry["total"])
        entry["by_scene"] = {k: dict(v) for k, v in entry["by_scene"].items() if v}
    return {"base_id": row.base_id, "tasks": len(tasks_on(conn, row.project_id, row.base_id)),
            "changes": per_change}  # fmt: skip


def publish(session: Session, row: TaxonomyVersion, user: User, changelog: str) -> int:
    """Make the draft the project's newest published version (immutable from now on)."""
    try:
        draft_taxonomy(row)
    except ApiError as exc:
        raise TaxonomyInvalidError(exc.message) from exc
    latest = (
        session.connection()
        .execute(select(func.max(VERSIONS.c.number)).where(VERSIONS.c.project_id == row.project_id))
        .scalar()
    )
    lines = [describe(parse_change(c)) for c in row.changes]
    row.number = int(latest or 0) + 1
    row.status, row.published_by, row.published_at = PUBLISHED, user.id, utcnow()
    row.changelog = "\n".join([changelog.strip(), *(f"- {line}" for line in lines)]).strip()
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


def usage(conn: Connection, project_id: int) -> dict[str, dict[str, int]]:
    """Tracks per class and tags per tag type, over the project's tasks."""
    tracks, tags = Track.__table__, BehaviourTag.__table__  # type: ignore[attr-defined]
    in_project = select(TASKS.c.id).where(TASKS.c.project_id == project_id)
    by_class = conn.execute(
        select(tracks.c.label, func.count()).where(tracks.c.task_id.in_(in_project))
        .group_by(tracks.c.label)
    )  # fmt: skip
    by_tag = conn.execute(
        select(tags.c.tag, func.count()).where(tags.c.task_id.in_(in_project))
        .group_by(tags.c.tag)
    )  # fmt: skip
    return {"classes": {str(k): int(n) for k, n in by_class},
            "tags": {str(k): int(n) for k, n in by_tag}}  # fmt: skip


def size_histogram(conn: Connection, project_id: int, label: str, bins: int = 20) -> dict[str, Any]:
    """The distribution of the class's box sizes (metres) over the project's tasks: per
    dimension, ``bins`` equal bins (``edges`` has bins + 1 entries) and their counts."""
    boxes, tracks = Cuboid.__table__, Track.__table__  # type: ignore[attr-defined]
    in_project = select(TASKS.c.id).where(TASKS.c.project_id == project_id)
    rows = conn.execute(
        select(boxes.c.length, boxes.c.width, boxes.c.height)
        .join(tracks, (tracks.c.task_id == boxes.c.task_id) & (tracks.c.id == boxes.c.track_id))
        .where(tracks.c.label == label, boxes.c.task_id.in_(in_project))
    ).all()
    sizes = np.asarray(rows, dtype=np.float64).reshape(-1, 3)
    out: dict[str, Any] = {"class": label, "boxes": len(sizes)}
    for k, dim in enumerate(("length", "width", "height")):
        if len(sizes) == 0:
            out[dim] = {"edges": [], "counts": []}
            continue
        counts, edges = np.histogram(sizes[:, k], bins=bins)
        out[dim] = {"edges": [round(float(e), 4) for e in edges],
                    "counts": [int(c) for c in counts]}  # fmt: skip
    return out
