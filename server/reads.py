"""Reading a scene's annotations: snapshots and the events a client missed."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection, Engine

from server.models import Edit, TaxonomyVersion, User
from server.protocol import Event, EventOp, Missed, Snapshot
from server.rows import RowProblem, read_rows
from server.state import load_scene
from server.taxonomy import Taxonomy
from server.validation import size_prior

EDITS = Edit.__table__  # type: ignore[attr-defined]
USERS = User.__table__  # type: ignore[attr-defined]


def snapshot(engine: Engine, task_id: int, user_name: str) -> Snapshot | None:
    """A task's committed label set and revision (None: no such task).

    Rows that had to be repaired or skipped are listed in ``problems``.
    """
    problems: list[RowProblem] = []
    with engine.connect() as conn:
        st = load_scene(conn, task_id, problems)
    if st is None:
        return None
    return Snapshot(
        task_id=task_id, scene_id=st.scene_id, revision=st.revision, user=user_name,
        tracks=list(st.objects["track"].values()), cuboids=list(st.objects["cuboid"].values()),
        tags=list(st.objects["tag"].values()), problems=[p.to_json() for p in problems],
    )  # fmt: skip


def _event_op(r: Any) -> dict[str, Any]:
    if r.after is not None and not isinstance(r.after, dict):
        raise TypeError("after must be a JSON object")
    return {"op": r.op, "kind": r.kind, "id": r.object_id, "revision": r.revision,
            "state": r.after}  # fmt: skip


def events_since(engine: Engine, task_id: int, since: int) -> Missed | None:
    """The accepted batches after revision ``since``, rebuilt from the edit log.

    None when the log cannot answer (no such task, or ``since`` is ahead of
    it: the client holds another database's state); the caller sends a snapshot.
    """
    problems: list[RowProblem] = []
    with engine.connect() as conn:
        st = load_scene(conn, task_id, problems)
        if st is None or since > st.revision:
            return None
        events = log_events(conn, {task_id: since}).get(task_id)
    if events is None or any(p.table == "edit" and p.code == "row_unreadable" for p in problems):
        return None  # the log cannot replay those revisions: the client gets a snapshot
    return Missed(since_revision=since, revision=st.revision, events=events)


def log_events(conn: Connection, since: dict[int, int]) -> dict[int, list[Event]]:
    """Each task's accepted batches after its revision in ``since``, in revision order,
    rebuilt from the edit log in one query. Empty when a row in that range cannot be
    read (the clients need a snapshot)."""
    if not since:
        return {}
    where = or_(*((EDITS.c.task_id == t) & (EDITS.c.revision > r) for t, r in since.items()))
    editors = select(EDITS.c.user_id).where(where).distinct()
    names = conn.execute(select(USERS.c.id, USERS.c.name).where(USERS.c.id.in_(editors)))
    users: dict[int, str] = {row.id: row.name for row in names}
    problems: list[RowProblem] = []
    rows = list(read_rows(conn, EDITS, where, _event_op, problems, order_by=EDITS.c.revision))
    if any(p.table == "edit" and p.code == "row_unreadable" for p in problems):
        return {}  # the log cannot replay those revisions
    found: dict[int, list[Event]] = {t: [] for t in since}
    for e, state in rows:
        events = found.get(e.task_id)
        if events is None:
            continue
        op = EventOp.model_validate(state)
        last = events[-1] if events else None
        if last and (last.client_id, last.seq) == (e.client_id, e.client_seq):
            last.ops.append(op)
            last.revision = e.revision
        else:
            events.append(Event(revision=e.revision, user=users.get(e.user_id, "?"),
                                client_id=e.client_id, seq=e.client_seq, ops=[op]))  # fmt: skip
    return found


def current_warnings(
    engine: Engine, task_id: int, taxonomy: Taxonomy | None = None
) -> list[dict[str, Any]]:
    """The validation warnings of every object of a task as it stands: those of the
    last edit of each object that still exists (docs/validation.md), for the
    workspace's issue list. A cuboid's warnings carry its frame.

    With a taxonomy, a cuboid's ``size_outside_prior`` is judged against its track's
    class as it is now: a class change (a 4.5 m box made a Pedestrian) warns on
    every box of the track, and one back to a fitting class clears them. Tracks of a
    class the taxonomy deprecates are flagged ``class_deprecated`` even when no edit
    since the version changed said so."""
    deprecated = {n for n, c in taxonomy.classes.items() if c.deprecated} if taxonomy else set()
    latest = (
        select(EDITS.c.kind, EDITS.c.object_id, func.max(EDITS.c.revision).label("revision"))
        .where(EDITS.c.task_id == task_id)
        .group_by(EDITS.c.kind, EDITS.c.object_id)
        .subquery()
    )
    query = select(EDITS.c.kind, EDITS.c.object_id, EDITS.c.after, EDITS.c.warnings).join(
        latest,
        (EDITS.c.task_id == task_id) & (EDITS.c.revision == latest.c.revision),
    )
    with engine.connect() as conn:
        rows = [r for r in conn.execute(query) if isinstance(r.after, dict)]
    labels = {r.object_id: r.after.get("label") for r in rows if r.kind == "track"}
    out = []
    for row in rows:
        warnings = [w for w in row.warnings or [] if isinstance(w, dict)]
        frame = row.after.get("frame") if row.kind == "cuboid" else None
        if row.kind == "cuboid" and taxonomy is not None:
            warnings = [w for w in warnings if w.get("code") != "size_outside_prior"]
            warnings += _size_warnings(row.after, labels, taxonomy)
        for w in warnings:
            out.append({"kind": row.kind, "id": row.object_id, "frame": frame,
                        "code": w.get("code"), "message": w.get("message")})  # fmt: skip
        label = row.after.get("label") if row.kind == "track" else None
        flagged = any(w.get("code") == "class_deprecated" for w in warnings)
        if label in deprecated and not flagged:
            out.append({"kind": "track", "id": row.object_id, "frame": None,
                        "code": "class_deprecated",
                        "message": f"class {label} is deprecated"})  # fmt: skip
    return out


def object_history(engine: Engine, task_id: int, object_id: str) -> list[dict[str, Any]]:
    """The edits of one object of a task, and of its track when it is a cuboid, oldest
    first: revision, kind, id, op, user, time, reason, the taxonomy version's number and
    ``changes`` (field -> [before, after] for the fields the edit changed)."""
    versions = TaxonomyVersion.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        ids = {object_id}
        for row in conn.execute(
            select(EDITS.c.after).where(EDITS.c.task_id == task_id, EDITS.c.object_id == object_id)
        ):
            if isinstance(row.after, dict) and isinstance(row.after.get("track_id"), str):
                ids.add(row.after["track_id"])
        rows = conn.execute(
            select(EDITS, USERS.c.name.label("user_name"), versions.c.number.label("version"))
            .join(USERS, USERS.c.id == EDITS.c.user_id)
            .outerjoin(versions, versions.c.id == EDITS.c.taxonomy_version_id)
            .where(EDITS.c.task_id == task_id, EDITS.c.object_id.in_(ids))
            .order_by(EDITS.c.revision)
        ).all()
    out = []
    for r in rows:
        before = r.before if isinstance(r.before, dict) else {}
        after = r.after if isinstance(r.after, dict) else {}
        changes = {k: [before.get(k), after.get(k)] for k in sorted(set(before) | set(after))
                   if k != "revision" and before.get(k) != after.get(k)}  # fmt: skip
        out.append({"revision": r.revision, "kind": r.kind, "id": r.object_id, "op": r.op,
                    "user": r.user_name, "at": r.created_at.isoformat(), "reason": r.reason,
                    "taxonomy_version": r.version, "changes": changes})  # fmt: skip
    return out


def _size_warnings(
    cuboid: dict[str, Any], labels: dict[str, Any], taxonomy: Taxonomy
) -> list[dict[str, Any]]:
    cls = taxonomy.classes.get(str(labels.get(str(cuboid.get("track_id")), "")))
    size = cuboid.get("size")
    if cls is None or not isinstance(size, list) or len(size) != 3:
        return []
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in size):
        return []
    return [{"code": i.code, "message": i.message} for i in size_prior(size, cls)]
