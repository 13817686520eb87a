"""The in-memory state of the scenes being edited, and its persistence.

The writer keeps each edited scene's tracks, cuboids and tags in memory (the
same JSON states the protocol uses) so that validating an op costs dictionary
lookups, not queries. The database stays the truth: a scene's state is loaded
from it on first use, every change is written by :func:`persist` in the
group's one transaction, and a failed commit drops the scene from memory so
that it is reloaded from what was committed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection

from server.kinds import KINDS, REGISTRY, State
from server.models import Edit, Frame, Scene, Task, User
from server.rows import RowProblem, read_rows

TABLES: dict[str, Table] = {name: kind.table for name, kind in REGISTRY.items()}


@dataclass(frozen=True)
class FrameInfo:
    """A frame's position in the scene and its point bounds (absolute, metres)."""

    index: int
    offset: tuple[float, float, float]
    lo: tuple[float, float, float]
    hi: tuple[float, float, float]


@dataclass
class SceneState:
    """One label set (a task's tracks, cuboids and tags) as protocol states, with its
    scene's frames and the indexes the rules need."""

    task_id: int
    scene_id: int
    storage: str
    frame_count: int
    revision: int
    frames: dict[int, FrameInfo]
    task_state: str = "open"
    assignee_id: int | None = None
    taxonomy_version_id: int | None = None
    objects: dict[str, dict[str, State]] = field(default_factory=lambda: {k: {} for k in KINDS})
    box_at: dict[tuple[str, int], str] = field(default_factory=dict)
    """(track, frame) -> the id of the object that kind's ``one_per`` makes unique."""
    references: Counter[str] = field(default_factory=Counter)
    """track id -> how many objects name it (``refs`` of every kind)."""
    unreadable: set[tuple[str, str]] = field(default_factory=set)
    """(kind, id) of stored rows left out as unreadable (server/rows.py): their ids
    stay taken, so that a create can never collide with a stored row."""

    def put(self, kind: str, obj_id: str, new: State | None) -> State | None:
        """Replace an object's state (None: remove it); returns the previous state."""
        old = self.objects[kind].pop(obj_id, None)
        if old is not None:
            self._index(kind, old, -1)
        if new is not None:
            self.objects[kind][obj_id] = new
            self._index(kind, new, +1)
        return old

    def _index(self, kind: str, s: State, sign: int) -> None:
        k = REGISTRY[kind]
        if k.one_per is not None:
            key = (s[k.one_per[0]], s[k.one_per[1]])
            if sign > 0:
                self.box_at[key] = s["id"]
            elif self.box_at.get(key) == s["id"]:
                del self.box_at[key]
        for ref in {s[name] for name in k.refs} - {None}:
            self.references[ref] += sign


def load_scene(
    conn: Connection, task_id: int, problems: list[RowProblem] | None = None
) -> SceneState | None:
    """A label set's state as committed (with its scene's frames), or None if the task
    does not exist.

    A row that cannot be answered is repaired or left out and added to
    ``problems`` (:mod:`server.rows`): a scene is never bricked by its own data.
    """
    problems = [] if problems is None else problems
    tasks, scenes = Task.__table__, Scene.__table__  # type: ignore[attr-defined]
    found = conn.execute(
        select(tasks.c.revision, tasks.c.scene_id, scenes.c.storage, scenes.c.frame_count)
        .join(scenes, scenes.c.id == tasks.c.scene_id)
        .where(tasks.c.id == task_id)
    ).first()
    if found is None:
        return None
    scene_id = found.scene_id
    ft = Frame.__table__  # type: ignore[attr-defined]
    frames = {}
    for f in conn.execute(select(ft).where(ft.c.scene_id == scene_id)):
        m = f._mapping  # a Row's .index is tuple.index, not the column
        frames[m["index"]] = FrameInfo(
            m["index"], (m["offset_x"], m["offset_y"], m["offset_z"]),
            (m["min_x"], m["min_y"], m["min_z"]), (m["max_x"], m["max_y"], m["max_z"]),
        )  # fmt: skip
    st = SceneState(task_id, scene_id, found.storage, found.frame_count, found.revision, frames)
    for kind in REGISTRY.values():
        where = kind.table.c.task_id == task_id
        found_problems: list[RowProblem] = []
        for row, state in read_rows(conn, kind.table, where, kind.from_row, found_problems):
            st.put(kind.name, row.id, state)
        st.unreadable |= {
            (kind.name, p.row_id) for p in found_problems if p.code == "row_unreadable"
        }
        problems += found_problems
    return st


@dataclass
class Changes:
    """What a group of accepted batches changed, to be written in one transaction."""

    existed: dict[tuple[int, str, str], bool] = field(default_factory=dict)
    edits: list[dict[str, Any]] = field(default_factory=list)
    scenes: dict[int, SceneState] = field(default_factory=dict)
    pins: dict[int, int] = field(default_factory=dict)
    """Task id -> the taxonomy version it moved to."""

    def touch(self, st: SceneState, kind: str, obj_id: str) -> None:
        """Remember whether the object was in the database before this group."""
        self.existed.setdefault((st.task_id, kind, obj_id), obj_id in st.objects[kind])
        self.scenes[st.task_id] = st


def persist(conn: Connection, changes: Changes) -> None:
    """Write the final state of every touched object, the edits and the revisions.

    Inserts go parents first (tracks before cuboids and tags), deletes children
    first, so foreign keys hold at every statement.
    """
    inserts: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    updates: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    deletes: dict[str, list[tuple[int, str]]] = {k: [] for k in KINDS}
    for (task_id, kind, obj_id), existed in changes.existed.items():
        st = changes.scenes[task_id]
        now = st.objects[kind].get(obj_id)
        if now is not None:
            row = REGISTRY[kind].to_row(now, st.task_id, st.scene_id)
            (updates if existed else inserts)[kind].append(row)
        elif existed:
            deletes[kind].append((task_id, obj_id))
    for kind in KINDS:
        if inserts[kind]:
            conn.execute(insert(TABLES[kind]), inserts[kind])
    for kind in KINDS:
        if updates[kind]:
            table = TABLES[kind]
            columns = [c for c in updates[kind][0] if c not in ("id", "task_id")]
            stmt = (
                update(table)
                .where(table.c.task_id == bindparam("_task"), table.c.id == bindparam("_id"))
                .values({c: bindparam(c) for c in columns})
            )
            rows = [{**row, "_id": row["id"], "_task": row["task_id"]} for row in updates[kind]]
            conn.execute(stmt, rows)
    for kind in reversed(KINDS):
        table = TABLES[kind]
        for task_id, obj_id in deletes[kind]:
            conn.execute(delete(table).where(table.c.task_id == task_id, table.c.id == obj_id))
    if changes.edits:
        conn.execute(insert(Edit.__table__), changes.edits)  # type: ignore[attr-defined]
    tasks = Task.__table__  # type: ignore[attr-defined]
    if changes.scenes:  # one statement for the group's tasks
        stmt = (
            update(tasks).where(tasks.c.id == bindparam("_id")).values(revision=bindparam("_rev"))
        )
        conn.execute(
            stmt, [{"_id": st.task_id, "_rev": st.revision} for st in changes.scenes.values()]
        )
    for task_id, version_id in changes.pins.items():  # a taxonomy migration's new version
        conn.execute(
            update(tasks).where(tasks.c.id == task_id).values(taxonomy_version_id=version_id)
        )


def user_id(conn: Connection, name: str) -> int:
    """The id of the user called ``name``, created on first use (until accounts exist)."""
    users = User.__table__  # type: ignore[attr-defined]
    found = conn.execute(select(users.c.id).where(users.c.name == name)).scalar()
    if found is not None:
        return int(found)
    from server.models import utcnow

    result = conn.execute(insert(users).values(name=name, role="annotator", created_at=utcnow()))
    return int(result.inserted_primary_key[0])  # type: ignore[index]
