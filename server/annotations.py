"""The one write path for annotations: validate, apply, log, commit.

REST routes, the websocket, importers and tests all change tracks, cuboids and
behaviour tags through a :class:`Writer`, so validation and the edit log can
never be skipped. A batch is atomic: every op is applied or none. Batches are
applied in groups with one commit per group (group commit), so one fsync
covers every batch that queued up while the previous group was written.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from server.db import lock_tasks, notify_tasks
from server.frames import FrameStore
from server.kinds import REGISTRY
from server.label_rules import (
    check_delete,
    check_tag,
    check_track,
    deprecated_warning,
    has_error,
)
from server.models import Edit, Task, utcnow
from server.payloads import CuboidData, Payload, TagData, TrackData
from server.policy import Permission, allows
from server.protocol import (
    Ack,
    Conflict,
    CreateOp,
    DeleteOp,
    Event,
    EventOp,
    Ops,
    Problem,
    Reject,
    UpdateOp,
)
from server.state import Changes, SceneState, State, load_scene, persist, user_id
from server.tasks import may_edit
from server.taxonomies import Taxonomies
from server.taxonomy import ObjectClass, Taxonomy
from server.validation import PRELABEL, Issue, check_attributes, cuboid_geometry, parse

Reply = Ack | Reject | Conflict
AnyOp = CreateOp | UpdateOp | DeleteOp
EDITS = Edit.__table__  # type: ignore[attr-defined]
TASKS = Task.__table__  # type: ignore[attr-defined]


@dataclass
class Submission:
    """One client batch waiting to be applied to a task's label set."""

    task_id: int
    user: str
    msg: Ops
    trusted: bool = False
    """Server code (an importer filling a new task) skips the rights checks; clients never."""
    role: str | None = None
    """The submitter's role: it must hold the ``edit`` permission (server/policy.py)."""
    reason: str | None = None
    """Why the server made these edits (a taxonomy migration); stored with each edit."""
    pin_version: int | None = None
    """Move the task to this published taxonomy version first, in the same transaction,
    and validate the ops under it (taxonomy migrations; trusted only)."""
    recheck: Callable[[Session], str | None] | None = None
    """Re-reads the submitter's session or token inside the group's transaction: their
    current role (it replaces ``role``), or None when it no longer holds (the batch is
    refused with ``not_authenticated``). The websocket passes it, so that a socket's
    credentials are checked before every batch without a database round trip of its own."""
    recheck_key: Hashable = None
    """Submissions of one group with the same key share one recheck (the principal)."""


class _Refused(Exception):
    def __init__(self, reply: Reject | Conflict) -> None:
        self.reply = reply


@dataclass
class _Batch:
    """One batch being applied: what to undo if it is refused."""

    conn: Connection
    st: SceneState
    sub: Submission
    changes: Changes
    user_id: int
    digest: str
    taxonomy: Taxonomy
    undo: list[tuple[str, str, State | None]] = field(default_factory=list)
    unchanged: dict[str, int] = field(default_factory=dict)


class Writer:
    """Applies groups of batches. Owns the in-memory scene states; one per process.

    Thread-safe: groups are applied one at a time.
    """

    def __init__(self, engine: Engine, taxonomies: Taxonomies, frames: FrameStore) -> None:
        self.engine = engine
        self.taxonomies = taxonomies
        self.frames = frames
        self.states: dict[int, SceneState] = {}
        self._last_seq: dict[tuple[int, str], int] = {}
        self._users: dict[str, int] = {}
        self._lock = threading.Lock()

    def locked(self) -> threading.Lock:
        """The lock groups are applied under: hold it to change label sets outside them."""
        return self._lock

    def forget(self, task_ids: list[int]) -> None:
        """Drop the in-memory label sets of deleted tasks (call holding :meth:`locked`)."""
        for task_id in task_ids:
            self.states.pop(task_id, None)
        self._last_seq = {k: v for k, v in self._last_seq.items() if k[0] not in task_ids}

    def apply(
        self, task_id: int, user: str, msg: Ops, *, trusted: bool = False
    ) -> tuple[Reply, Event | None]:
        """Apply and commit one batch to a task's label set (``trusted``: see Submission)."""
        return self.apply_group([Submission(task_id, user, msg, trusted=trusted)])[0]

    def apply_group(self, subs: list[Submission]) -> list[tuple[Reply, Event | None]]:
        """Apply batches in order, each atomically, then commit them together.

        The replies are valid once this returns: every ``ack`` is then on disk.
        If the commit fails, nothing of the group is stored, the touched scenes
        are reloaded from the database next time, and the error propagates.
        """
        changes = Changes()
        with self._lock:
            try:
                with self.engine.begin() as conn:
                    task_ids = {sub.task_id for sub in subs}
                    lock_tasks(conn, task_ids)
                    self._refresh(conn, task_ids)
                    roles = self._recheck(conn, subs)
                    results = [self._apply_batch(conn, sub, changes, roles) for sub in subs]
                    persist(conn, changes)
                    notify_tasks(conn, self._revisions(task_ids))
            except BaseException:
                for task_id in changes.scenes:
                    self.states.pop(task_id, None)
                self._last_seq.clear()
                raise
        return results

    def _revisions(self, task_ids: set[int]) -> dict[int, int]:
        """Each loaded task's revision (for the other workers: server/relay.py)."""
        return {t: self.states[t].revision for t in task_ids if t in self.states}

    def _refresh(self, conn: Connection, task_ids: set[int]) -> None:
        """Load the group's label sets: anew where missing or where another process has
        written since (its revision moved); drop those that no longer exist."""
        rows = conn.execute(
            select(
                TASKS.c.id, TASKS.c.revision, TASKS.c.state, TASKS.c.assignee_id,
                TASKS.c.taxonomy_version_id,
            ).where(TASKS.c.id.in_(task_ids))
        )  # fmt: skip
        found = {row.id: row for row in rows}
        for task_id in task_ids:
            st = self.states.get(task_id)
            row = found.get(task_id)
            if row is None:
                self.states.pop(task_id, None)
                continue
            if st is None or st.revision != row.revision:
                # another process wrote since: its clients' last seqs moved too
                for key in [k for k in self._last_seq if k[0] == task_id]:
                    del self._last_seq[key]
                st = load_scene(conn, task_id)
                assert st is not None
                self.states[task_id] = st
            st.task_state, st.assignee_id = row.state, row.assignee_id  # may change any time
            st.taxonomy_version_id = row.taxonomy_version_id
            if st.taxonomy_version_id is None:  # a task from before versions: pinned now
                st.taxonomy_version_id = self.taxonomies.for_task(conn, task_id)[0]

    @staticmethod
    def _recheck(conn: Connection, subs: list[Submission]) -> dict[Hashable, str | None]:
        """The current role of each distinct ``recheck_key`` of the group (None: its
        credentials no longer hold), read in the group's transaction."""
        roles: dict[Hashable, str | None] = {}
        pending = [sub for sub in subs if sub.recheck is not None]
        if pending:
            with Session(bind=conn) as db:
                for sub in pending:
                    if sub.recheck_key not in roles and sub.recheck is not None:
                        roles[sub.recheck_key] = sub.recheck(db)
        return roles

    def _apply_batch(
        self, conn: Connection, sub: Submission, changes: Changes, roles: dict[Hashable, str | None]
    ) -> tuple[Reply, Event | None]:
        msg = sub.msg
        role = sub.role
        if sub.recheck is not None:
            role = roles[sub.recheck_key]
            if role is None:
                problem = Problem(code="not_authenticated", message="log in again")
                return Reject(seq=msg.seq, errors=[problem]), None
        digest = batch_digest(msg)
        replay = self._replayed(conn, sub, digest)
        if replay is not None:
            return replay, None
        st = self.states.get(sub.task_id)
        if st is None:
            return Reject(seq=msg.seq, errors=[Problem(code="task_not_found", message="")]), None
        old_version = st.taxonomy_version_id
        if sub.trusted and sub.pin_version is not None:
            st.taxonomy_version_id = sub.pin_version
        assert st.taxonomy_version_id is not None
        taxonomy = self.taxonomies.version(conn, st.taxonomy_version_id)
        user = self._user_id(conn, sub.user)
        batch = _Batch(conn, st, sub, changes, user, digest, taxonomy)
        if not sub.trusted and not allows(role or "", Permission.edit):
            problem = Problem(code="forbidden", message="your role may not edit labels")
            return Reject(seq=msg.seq, errors=[problem]), None
        if not sub.trusted and not may_edit(st.task_state, st.assignee_id, batch.user_id):
            msg_text = f"task {st.task_id} is {st.task_state}; only its assignee edits it, while in progress"
            return Reject(
                seq=msg.seq, errors=[Problem(code="not_editable", message=msg_text)]
            ), None
        start_revision, start_edits = st.revision, len(changes.edits)
        try:
            events, warnings = self._apply_ops(batch)
        except _Refused as refused:
            for kind, obj_id, old in reversed(batch.undo):
                st.put(kind, obj_id, old)
            st.revision = start_revision
            st.taxonomy_version_id = old_version
            del changes.edits[start_edits:]
            return refused.reply, None
        if st.taxonomy_version_id != old_version:
            changes.pins[st.task_id] = st.taxonomy_version_id
            changes.scenes[st.task_id] = st
        self._last_seq[(sub.task_id, msg.client_id)] = msg.seq
        revisions: dict[str, int | None] = dict(batch.unchanged)
        revisions |= {e.id: (None if e.op == "delete" else e.revision) for e in events}
        ack = Ack(seq=msg.seq, revision=st.revision, revisions=revisions, warnings=warnings)
        if not events:  # nothing changed: no revision spent, nothing to broadcast
            return ack, None
        event = Event(
            revision=st.revision, user=sub.user, client_id=msg.client_id, seq=msg.seq, ops=events
        )
        return ack, event

    def _replayed(self, conn: Connection, sub: Submission, digest: str) -> Reply | None:
        """The original ack of a resent batch (same client id and seq), if it was applied;
        ``seq_reused`` when that seq was applied with other ops.

        ``seq`` increases per client, so only a seq at or below the last one
        applied needs a look at the edit log. A seq whose batch stored nothing
        (refused, or it changed nothing) is applied anew.
        """
        key = (sub.task_id, sub.msg.client_id)
        if key not in self._last_seq:
            last = conn.execute(
                select(func.max(EDITS.c.client_seq)).where(
                    EDITS.c.task_id == sub.task_id, EDITS.c.client_id == sub.msg.client_id
                )
            ).scalar()
            self._last_seq[key] = -1 if last is None else int(last)
        if sub.msg.seq > self._last_seq[key]:
            return None
        done = conn.execute(
            select(EDITS.c.object_id, EDITS.c.op, EDITS.c.revision, EDITS.c.batch_digest)
            .where(
                EDITS.c.task_id == sub.task_id,
                EDITS.c.client_id == sub.msg.client_id,
                EDITS.c.client_seq == sub.msg.seq,
            )
            .order_by(EDITS.c.revision)
        ).all()
        if not done:
            return None
        if done[0].batch_digest not in (None, digest):
            msg = f"seq {sub.msg.seq} was already used by this client for other ops"
            return Reject(seq=sub.msg.seq, errors=[Problem(code="seq_reused", message=msg)])
        revisions = {e.object_id: (None if e.op == "delete" else e.revision) for e in done}
        return Ack(seq=sub.msg.seq, revision=done[-1].revision, revisions=revisions, replayed=True)

    def _user_id(self, conn: Connection, name: str) -> int:
        if name not in self._users:
            self._users[name] = user_id(conn, name)
        return self._users[name]

    def _apply_ops(self, b: _Batch) -> tuple[list[EventOp], list[Problem]]:
        errors: list[Problem] = []
        warnings: list[Problem] = []
        events: list[EventOp] = []
        for i, op in enumerate(b.sub.msg.ops):
            issues, event = self._apply_op(b, op)
            prefix = f"ops.{i}.data"
            errors += [x.problem(prefix) for x in issues if x.severity == "error"]
            warnings += [x.problem(prefix) for x in issues if x.severity == "warning"]
            if event:
                events.append(event)
        if errors:
            raise _Refused(Reject(seq=b.sub.msg.seq, errors=errors))
        return events, warnings

    def _apply_op(self, b: _Batch, op: AnyOp) -> tuple[list[Issue], EventOp | None]:
        st = b.st
        current = st.objects[op.kind].get(op.id)
        if isinstance(op, CreateOp):
            taken = self._id_taken(b, op)
            if taken:
                return [taken], None
            before, data = None, op.data
        else:
            if current is None or current["revision"] != op.base_revision:
                raise _Refused(Conflict(seq=b.sub.msg.seq, kind=op.kind, id=op.id,
                                        base_revision=op.base_revision, current=current))  # fmt: skip
            before = current
            data = _editable(current) | op.data if isinstance(op, UpdateOp) else {}
        if isinstance(op, DeleteOp):
            issues, parsed = check_delete(st, op), None
        else:
            issues, parsed = self._check(b, op.kind, op.id, data)
        if any(x.severity == "error" for x in issues):
            return issues, None
        if isinstance(op, UpdateOp) and parsed is not None and current is not None:
            if _new_state(op.kind, op.id, parsed, current["revision"]) == current:
                b.unchanged[op.id] = current["revision"]  # changes nothing: no revision spent
                return issues, None
        st.revision += 1
        after = None if parsed is None else _new_state(op.kind, op.id, parsed, st.revision)
        b.changes.touch(st, op.kind, op.id)
        b.undo.append((op.kind, op.id, st.put(op.kind, op.id, after)))
        b.changes.edits.append({
            "task_id": st.task_id, "scene_id": st.scene_id, "revision": st.revision,
            "user_id": b.user_id,
            "created_at": utcnow(), "op": op.op, "kind": op.kind, "object_id": op.id,
            "before": before, "after": after, "warnings": [vars(x) for x in issues],
            "client_id": b.sub.msg.client_id, "client_seq": b.sub.msg.seq,
            "batch_digest": b.digest, "taxonomy_version_id": st.taxonomy_version_id,
            "reason": b.sub.reason,
        })  # fmt: skip
        return issues, EventOp(op=op.op, kind=op.kind, id=op.id, revision=st.revision, state=after)

    def _id_taken(self, b: _Batch, op: CreateOp) -> Issue | None:
        """Ids are unique per label set: in memory, or stored but unreadable (server/rows.py)."""
        if op.id in b.st.objects[op.kind]:
            return Issue("already_exists", "", f"{op.kind} {op.id} already exists")
        if (op.kind, op.id) in b.st.unreadable:  # every other stored row is in memory
            return Issue("id_taken", "", f"{op.kind} {op.id} is taken by a stored row")
        return None

    def _check(
        self, b: _Batch, kind: str, obj_id: str, data: dict[str, Any]
    ) -> tuple[list[Issue], Payload | None]:
        """The payload's shape (its model in the registry), then the kind's rules."""
        parsed, issues = parse(REGISTRY[kind].payload, data)
        if parsed is None:
            return issues, None
        return self.RULES[kind](self, b, obj_id, parsed), parsed

    def _check_track(self, b: _Batch, obj_id: str, track: TrackData) -> list[Issue]:
        return check_track(b.st, obj_id, track, b.taxonomy)

    def _check_tag(self, b: _Batch, obj_id: str, tag: TagData) -> list[Issue]:
        return check_tag(b.st, obj_id, tag, b.taxonomy)

    def _check_cuboid(self, b: _Batch, obj_id: str, c: CuboidData) -> list[Issue]:
        track = b.st.objects["track"].get(c.track_id)
        if track is None:
            msg = f"track {c.track_id} is not in this scene"
            return [Issue("track_not_found", "track_id", msg)]
        frame = b.st.frames.get(c.frame)
        issues = cuboid_geometry(c, frame, b.taxonomy, track["label"])
        cls = b.taxonomy.classes.get(track["label"])
        if cls is not None and cls.deprecated:
            issues.append(deprecated_warning(cls.name))
        if cls is not None and frame is not None and not has_error(issues):
            issues += self._enough_points(b.st, c, cls)
        new = obj_id not in b.st.objects["cuboid"]
        issues += check_attributes(c.attributes, cls.cuboid_attributes if cls else (), new=new)
        issues += _accepted_by_submitter(b, obj_id, c)
        other = b.st.box_at.get((c.track_id, c.frame))
        if other is not None and other != obj_id:
            msg = f"track {c.track_id} already has a cuboid in frame {c.frame}"
            issues.append(Issue("duplicate_cuboid", "frame", msg))
        return issues

    def _enough_points(self, st: SceneState, c: CuboidData, cls: ObjectClass) -> list[Issue]:
        """At least the class's ``min_points`` full-resolution points inside the box."""
        offset = st.frames[c.frame].offset
        box = [*(c.center[i] - offset[i] for i in range(3)), *c.size, c.yaw, c.pitch, c.roll]
        inside = self.frames.grid(st.storage, c.frame).count_in_box(box)
        if inside >= cls.min_points:
            return []
        msg = f"{inside} point(s) inside; a {cls.name} needs at least {cls.min_points}"
        return [Issue("too_few_points", "size", msg, cls.min_points_severity)]

    RULES: ClassVar[dict[str, Callable[[Any, _Batch, str, Any], list[Issue]]]] = {
        "track": _check_track,
        "cuboid": _check_cuboid,
        "tag": _check_tag,
    }
    """The rules of each kind in :data:`server.kinds.REGISTRY`, after its payload parsed."""


assert set(Writer.RULES) == set(REGISTRY), "every registered kind needs its rules"


def batch_digest(msg: Ops) -> str:
    """A fingerprint of a batch's ops, to tell a resend from a reused ``seq``."""
    canonical = json.dumps([op.model_dump() for op in msg.ops], sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _editable(s: State) -> State:
    return {k: v for k, v in s.items() if k not in ("id", "revision")}


def _new_state(kind: str, obj_id: str, data: Payload, revision: int) -> State:
    """The stored state of a validated object."""
    return {"id": obj_id, **data.stored(), "revision": revision}


def _accepted_by_submitter(b: _Batch, obj_id: str, c: CuboidData) -> list[Issue]:
    """A pre-label is accepted in the submitter's own name: ``accepted_by`` may only change to
    the user who sends the edit (importers, trusted, keep what they read)."""
    new = c.attributes.get(PRELABEL)
    if b.sub.trusted or not isinstance(new, dict):
        return []
    old = (b.st.objects["cuboid"].get(obj_id) or {}).get("attributes", {}).get(PRELABEL)
    before = old.get("accepted_by") if isinstance(old, dict) else None
    after = new.get("accepted_by")
    if after is None or after == before or after == b.sub.user:
        return []
    msg = f"a pre-label is accepted in your own name ({b.sub.user!r}), not {after!r}"
    return [Issue("accepted_by_not_you", f"attributes.{PRELABEL}.accepted_by", msg)]
