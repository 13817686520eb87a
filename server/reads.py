"""Reading a scene's annotations: snapshots and the events a client missed."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Engine

from server.models import Edit, User
from server.protocol import Event, EventOp, Missed, Snapshot
from server.state import load_scene

EDITS = Edit.__table__  # type: ignore[attr-defined]
USERS = User.__table__  # type: ignore[attr-defined]


def snapshot(engine: Engine, scene_id: int, user_name: str) -> Snapshot | None:
    """The scene's committed annotations and revision (None: no such scene)."""
    with engine.connect() as conn:
        st = load_scene(conn, scene_id)
    if st is None:
        return None
    return Snapshot(
        scene_id=scene_id, revision=st.revision, user=user_name,
        tracks=list(st.objects["track"].values()), cuboids=list(st.objects["cuboid"].values()),
        tags=list(st.objects["tag"].values()),
    )  # fmt: skip


def events_since(engine: Engine, scene_id: int, since: int) -> Missed | None:
    """The accepted batches after revision ``since``, rebuilt from the edit log.

    None when the log cannot answer (no such scene, or ``since`` is ahead of
    it: the client holds another database's state); the caller sends a snapshot.
    """
    with engine.connect() as conn:
        st = load_scene(conn, scene_id)
        if st is None or since > st.revision:
            return None
        rows = conn.execute(
            select(EDITS, USERS.c.name.label("user_name"))
            .join(USERS, USERS.c.id == EDITS.c.user_id)
            .where(EDITS.c.scene_id == scene_id, EDITS.c.revision > since)
            .order_by(EDITS.c.revision)
        ).all()
    events: list[Event] = []
    for e in rows:
        op = EventOp.model_validate(
            {
                "op": e.op,
                "kind": e.kind,
                "id": e.object_id,
                "revision": e.revision,
                "state": e.after,
            }
        )
        last = events[-1] if events else None
        if last and (last.client_id, last.seq) == (e.client_id, e.client_seq):
            last.ops.append(op)
            last.revision = e.revision
        else:
            events.append(Event(revision=e.revision, user=e.user_name, client_id=e.client_id,
                                seq=e.client_seq, ops=[op]))  # fmt: skip
    return Missed(since_revision=since, revision=st.revision, events=events)
