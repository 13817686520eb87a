"""Reading a scene's annotations: snapshots and the events a client missed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from server.models import Edit, User
from server.protocol import Event, EventOp, Missed, Snapshot
from server.rows import RowProblem, read_rows
from server.state import load_scene

EDITS = Edit.__table__  # type: ignore[attr-defined]
USERS = User.__table__  # type: ignore[attr-defined]


def snapshot(engine: Engine, scene_id: int, user_name: str) -> Snapshot | None:
    """The scene's committed annotations and revision (None: no such scene).

    Rows that had to be repaired or skipped are listed in ``problems``.
    """
    problems: list[RowProblem] = []
    with engine.connect() as conn:
        st = load_scene(conn, scene_id, problems)
    if st is None:
        return None
    return Snapshot(
        scene_id=scene_id, revision=st.revision, user=user_name,
        tracks=list(st.objects["track"].values()), cuboids=list(st.objects["cuboid"].values()),
        tags=list(st.objects["tag"].values()), problems=[p.to_json() for p in problems],
    )  # fmt: skip


def _event_op(r: Any) -> dict[str, Any]:
    if r.after is not None and not isinstance(r.after, dict):
        raise TypeError("after must be a JSON object")
    return {"op": r.op, "kind": r.kind, "id": r.object_id, "revision": r.revision,
            "state": r.after}  # fmt: skip


def events_since(engine: Engine, scene_id: int, since: int) -> Missed | None:
    """The accepted batches after revision ``since``, rebuilt from the edit log.

    None when the log cannot answer (no such scene, or ``since`` is ahead of
    it: the client holds another database's state); the caller sends a snapshot.
    """
    problems: list[RowProblem] = []
    with engine.connect() as conn:
        st = load_scene(conn, scene_id, problems)
        if st is None or since > st.revision:
            return None
        where = (EDITS.c.scene_id == scene_id) & (EDITS.c.revision > since)
        editors = select(EDITS.c.user_id).where(where).distinct()
        names = conn.execute(select(USERS.c.id, USERS.c.name).where(USERS.c.id.in_(editors)))
        # SQLAlchemy 2.1 results have keys(): dict() would read them as a mapping
        users: dict[int, str] = {row[0]: row[1] for row in names}
        rows = list(read_rows(conn, EDITS, where, _event_op, problems, order_by=EDITS.c.revision))
    if any(p.table == "edit" and p.code == "row_unreadable" for p in problems):
        return None  # the log cannot replay those revisions: the client gets a snapshot
    events: list[Event] = []
    for e, state in rows:
        op = EventOp.model_validate(state)
        e.user_name = users.get(e.user_id, "?")
        last = events[-1] if events else None
        if last and (last.client_id, last.seq) == (e.client_id, e.client_seq):
            last.ops.append(op)
            last.revision = e.revision
        else:
            events.append(Event(revision=e.revision, user=e.user_name, client_id=e.client_id,
                                seq=e.client_seq, ops=[op]))  # fmt: skip
    return Missed(since_revision=since, revision=st.revision, events=events)
