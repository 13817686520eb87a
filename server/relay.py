"""Several workers on one PostgreSQL database: every event reaches every worker's clients.

Each write group's transaction sends ``NOTIFY pointlabel_edits, 'task:revision'``
(``server.db.notify_tasks``); PostgreSQL delivers it to every listening
connection only after the commit, in commit order. Each worker's :class:`Relay`
listens on its own connection. For a task with clients on this worker it
replays the edit log after the last revision it has handed to them
(``server.reads.log_events``), in revision order, under the hub's write lock, so
no event overtakes a snapshot or another event.

A worker's own groups take the same path right after their commit (without
waiting for the notification), so an event of this worker never overtakes an
earlier one committed by another worker: the per-task advisory lock
(``server.db.lock_tasks``) makes the revisions of a task a single sequence across
workers, and the log is read in that order. The submitter of a batch gets its
``ack`` instead of the event, as on one worker.

A client that joins gets a snapshot (or its missed events) at some revision;
:meth:`Relay.seen` records it, and events at or below it are not sent to that
client again. On SQLite (one process) there is no relay: the hub posts events
itself.

Presence crosses workers the same way, on a second channel
(``pointlabel_presence``): whenever a worker's clients on a task change (hello,
select, leave) it announces that list, ``{"w": worker, "t": task, "c": [[client,
user, selected], ...]}``, and every worker with clients on the task sends them the
union of its own and the others' lists. A worker that hears a worker new to the
task answers with its own list, so a newcomer learns who is already there.
Announcements are refreshed every ``PRESENCE_REFRESH_S`` and forgotten after
``PRESENCE_TTL_S``: the clients of a worker killed with SIGKILL disappear from
everyone's presence within that time (a worker that stops cleanly withdraws them
at once).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
import weakref
from typing import TYPE_CHECKING

import psycopg
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from server.db import EDITS_CHANNEL
from server.models import Task
from server.protocol import PresenceClient
from server.reads import log_events

if TYPE_CHECKING:
    from server.annotations import Reply, Submission
    from server.hub import Connection, Hub
    from server.protocol import Event

log = logging.getLogger("pointlabel.relay")
TASKS = Task.__table__  # type: ignore[attr-defined]

RECONNECT_S = 1.0
"""Wait before the listener connects again after losing its connection (seconds)."""
PRESENCE_CHANNEL = "pointlabel_presence"
"""The PostgreSQL notification channel of each worker's presence per task."""
PRESENCE_REFRESH_S = 10.0
"""How often a worker announces its clients again (seconds)."""
PRESENCE_TTL_S = 30.0
"""How long another worker's announcement counts without a refresh (seconds)."""
PUBLISH_TIMEOUT_S = 5
"""Longest wait for one presence announcement (connecting included; seconds)."""
PRESENCE_MAX_BYTES = 7000
"""Largest announcement: PostgreSQL refuses payloads of 8000 bytes or more. A worker
with more clients on one task than fit shares the first of them only."""


class Relay:
    """Replays committed events from the edit log to this worker's clients."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.posted: dict[int, int] = {}
        """Task id -> the revision up to which this worker's clients have its events."""
        self.floor: weakref.WeakKeyDictionary[Connection, int] = weakref.WeakKeyDictionary()
        """Connection -> the revision of the snapshot (or missed events) it was sent."""
        self.listening = asyncio.Event()
        self.worker = uuid.uuid4().hex[:12]
        """This worker's name in presence announcements."""
        self.remote: dict[int, dict[str, tuple[float, list[PresenceClient]]]] = {}
        """Task id -> other worker -> (when its announcement lapses, its clients)."""
        self._wanted: set[int] = set()
        self._listener: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._publisher: psycopg.AsyncConnection[object] | None = None
        self._publish_lock = asyncio.Lock()
        self._announcing: set[asyncio.Task[None]] = set()
        url = hub.engine.url.set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)

    async def start(self) -> None:
        """Start listening (the app's startup); returns once the listener is subscribed."""
        self._listener = asyncio.create_task(self._listen())
        await asyncio.wait_for(self.listening.wait(), timeout=30)
        self._refresher = asyncio.create_task(self._refresh())

    async def stop(self) -> None:
        for task_id in self._local_tasks():  # withdraw this worker's clients at once
            await self.announce(task_id, [])
        for job in (*self._announcing, self._refresher, self._listener):
            if job is not None:
                job.cancel()
                try:
                    await job
                except (asyncio.CancelledError, Exception):
                    pass
        if self._publisher is not None:
            await self._publisher.close()

    # -- presence ---------------------------------------------------------------------

    def merged(self, task_id: int, local: list[PresenceClient]) -> list[PresenceClient]:
        """This worker's clients on the task and those the others announced, by client id."""
        now = time.monotonic()
        others = [
            client
            for lapses, clients in self.remote.get(task_id, {}).values()
            if lapses > now
            for client in clients
        ]
        return sorted([*local, *others], key=lambda c: c.client_id)

    def announce_soon(self, task_id: int, local: list[PresenceClient]) -> None:
        """:meth:`announce` in the background: a local presence broadcast never waits
        for the database. Announcements leave in the order of the calls (the publish
        lock is first come, first served)."""
        job = asyncio.get_running_loop().create_task(self.announce(task_id, local))
        self._announcing.add(job)
        job.add_done_callback(self._announcing.discard)

    async def announce(self, task_id: int, local: list[PresenceClient]) -> None:
        """Tell the other workers who is on the task here (best effort: presence is not
        stored, and a failed announcement is sent again with the next refresh)."""
        rows: list[list[str | None]] = []
        size = 64
        for c in local:
            size += len(json.dumps([c.client_id, c.user, c.selected])) + 1
            if size > PRESENCE_MAX_BYTES:
                break
            rows.append([c.client_id, c.user, c.selected])
        payload = json.dumps({"w": self.worker, "t": task_id, "c": rows})
        async with self._publish_lock:
            try:
                await asyncio.wait_for(self._publish(payload), PUBLISH_TIMEOUT_S)
            except (psycopg.Error, OSError, TimeoutError):
                log.warning("presence of task %s not announced; retried on refresh", task_id)
                publisher, self._publisher = self._publisher, None
                if publisher is not None:
                    await publisher.close()

    async def _publish(self, payload: str) -> None:
        if self._publisher is None or self._publisher.closed:
            self._publisher = await psycopg.AsyncConnection.connect(
                self._dsn, autocommit=True, connect_timeout=PUBLISH_TIMEOUT_S
            )
        await self._publisher.execute("SELECT pg_notify(%s, %s)", (PRESENCE_CHANNEL, payload))

    def _heard(self, payload: str) -> None:
        """Another worker's announcement: keep it, pass it on to this worker's clients,
        and answer a worker new to the task with this worker's own clients."""
        try:
            note = json.loads(payload)
            worker, task_id = str(note["w"]), int(note["t"])
            clients = [PresenceClient(client_id=c, user=u, selected=s) for c, u, s in note["c"]]
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed presence announcement")
            return
        if worker == self.worker:
            return
        known = self.remote.setdefault(task_id, {})
        new = worker not in known
        if clients:
            known[worker] = (time.monotonic() + PRESENCE_TTL_S, clients)
        else:
            known.pop(worker, None)
        if task_id in self._local_tasks():
            loop = asyncio.get_running_loop()
            loop.create_task(self.hub.broadcast_presence(task_id, announce=new and bool(clients)))

    def _local_tasks(self) -> list[int]:
        return [t for t, conns in self.hub.clients.items() if any(not c.closed for c in conns)]

    async def _refresh(self) -> None:
        """Announce this worker's clients again, and drop what other workers stopped
        announcing (a worker that died)."""
        while True:
            await asyncio.sleep(PRESENCE_REFRESH_S)
            now = time.monotonic()
            local = set(self._local_tasks())
            for task_id, known in list(self.remote.items()):
                lapsed = [w for w, (lapses, _) in known.items() if lapses <= now]
                for worker in lapsed:
                    del known[worker]
                if not known:
                    del self.remote[task_id]
                if lapsed and task_id in local:
                    await self.hub.broadcast_presence(task_id, announce=False)
            for task_id in local:
                await self.announce(task_id, self.hub.local_presence(task_id))

    async def joined(self, conn: Connection) -> None:
        """A client joined a task: start following the task at its current revision
        when it is the task's first client on this worker."""
        task_id = conn.task_id
        async with self.hub.write_lock:
            others = [c for c in self.hub.clients[task_id] if c is not conn and not c.closed]
            if task_id not in self.posted or not others:
                self.posted[task_id] = await run_in_threadpool(self._revision, task_id)

    def seen(self, conn: Connection, revision: int) -> None:
        """``conn`` was sent the label set at ``revision``: older events are not for it.
        Called under the hub's write lock."""
        self.floor[conn] = revision

    async def after_group(
        self, group: list[tuple[Submission, Connection | None, Reply, Event | None]]
    ) -> None:
        """After a write group committed (under the write lock): send its tasks' new
        events, and those of other workers before them, to this worker's clients.

        A task whose only client here made every one of the group's events on it, right
        after the revision it was last handed, has nothing to be sent (its client got
        acks): the log is not read for it (the usual case: one annotator per task)."""
        origins: dict[tuple[str | None, int | None], Connection] = {
            (sub.msg.client_id, sub.msg.seq): origin
            for sub, origin, _, _ in group
            if origin is not None
        }
        tasks = {sub.task_id for sub, _, _, _ in group}
        for task_id in list(tasks):
            made = [(origin, event) for sub, origin, _, event in group
                    if sub.task_id == task_id and event is not None]  # fmt: skip
            live = [c for c in self.hub.clients.get(task_id, ()) if not c.closed]
            if (
                made
                and len(live) == 1
                and all(origin is live[0] for origin, _ in made)
                and self.posted.get(task_id) == made[0][1].ops[0].revision - 1
            ):
                self.posted[task_id] = made[-1][1].revision
                tasks.discard(task_id)
        await self._replay(tasks, origins)

    async def _replay(
        self, task_ids: set[int], origins: dict[tuple[str | None, int | None], Connection]
    ) -> None:
        since = {}
        for task_id in task_ids:
            if not any(not c.closed for c in self.hub.clients.get(task_id, ())):
                self.posted.pop(task_id, None)  # followed again from the next join
            elif task_id in self.posted:
                since[task_id] = self.posted[task_id]
        if not since:
            return
        found = await run_in_threadpool(self._read, since)
        for task_id, events in found.items():
            for event in events:
                self._post(task_id, event, origins.get((event.client_id, event.seq)))
                self.posted[task_id] = max(self.posted[task_id], event.revision)

    def _post(self, task_id: int, event: Event, origin: Connection | None) -> None:
        text = event.model_dump_json()  # encoded once for every recipient
        for conn in list(self.hub.clients.get(task_id, ())):
            if conn is origin or conn.closed or self.floor.get(conn, -1) >= event.revision:
                continue
            conn.post(text)

    def _read(self, since: dict[int, int]) -> dict[int, list[Event]]:
        with self.hub.engine.connect() as conn:
            return log_events(conn, since)

    def _revision(self, task_id: int) -> int:
        with self.hub.engine.connect() as conn:
            found = conn.execute(select(TASKS.c.revision).where(TASKS.c.id == task_id))
            return int(found.scalar() or 0)

    def _wake(self, task_id: int) -> None:
        """Replay ``task_id`` soon (notifications for one task coalesce)."""
        if task_id in self._wanted:
            return
        self._wanted.add(task_id)
        asyncio.get_running_loop().create_task(self._catch_up())

    async def _catch_up(self) -> None:
        async with self.hub.write_lock:
            wanted, self._wanted = self._wanted, set()
            if wanted:
                await self._replay(wanted, {})

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {EDITS_CHANNEL}")
                    await conn.execute(f"LISTEN {PRESENCE_CHANNEL}")
                    self.listening.set()
                    for task_id in list(self.posted):  # what went by while not listening
                        self._wake(task_id)
                    async for note in conn.notifies():
                        if note.channel == PRESENCE_CHANNEL:
                            self._heard(note.payload)
                            continue
                        task, _, revision = note.payload.partition(":")
                        task_id = int(task)
                        if int(revision) > self.posted.get(task_id, int(revision)):
                            self._wake(task_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database went away: listen again, then catch up
                log.exception("the edit listener lost its connection; reconnecting")
                await asyncio.sleep(RECONNECT_S)
