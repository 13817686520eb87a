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
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import TYPE_CHECKING

import psycopg
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from server.db import EDITS_CHANNEL
from server.models import Task
from server.reads import log_events

if TYPE_CHECKING:
    from server.annotations import Reply, Submission
    from server.hub import Connection, Hub
    from server.protocol import Event

log = logging.getLogger("pointlabel.relay")
TASKS = Task.__table__  # type: ignore[attr-defined]

RECONNECT_S = 1.0
"""Wait before the listener connects again after losing its connection (seconds)."""


class Relay:
    """Replays committed events from the edit log to this worker's clients."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.posted: dict[int, int] = {}
        """Task id -> the revision up to which this worker's clients have its events."""
        self.floor: weakref.WeakKeyDictionary[Connection, int] = weakref.WeakKeyDictionary()
        """Connection -> the revision of the snapshot (or missed events) it was sent."""
        self.listening = asyncio.Event()
        self._wanted: set[int] = set()
        self._listener: asyncio.Task[None] | None = None
        url = hub.engine.url.set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)

    async def start(self) -> None:
        """Start listening (the app's startup); returns once the listener is subscribed."""
        self._listener = asyncio.create_task(self._listen())
        await asyncio.wait_for(self.listening.wait(), timeout=30)

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            try:
                await self._listener
            except (asyncio.CancelledError, Exception):
                pass

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

    async def after_group(self, group: list[tuple[Submission, Connection | None, Reply]]) -> None:
        """After a write group committed (under the write lock): send its tasks' new
        events, and those of other workers before them, to this worker's clients."""
        origins: dict[tuple[str | None, int | None], Connection] = {
            (sub.msg.client_id, sub.msg.seq): origin
            for sub, origin, _ in group
            if origin is not None
        }
        await self._replay({sub.task_id for sub, _, _ in group}, origins)

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
                    self.listening.set()
                    for task_id in list(self.posted):  # what went by while not listening
                        self._wake(task_id)
                    async for note in conn.notifies():
                        task, _, revision = note.payload.partition(":")
                        task_id = int(task)
                        if int(revision) > self.posted.get(task_id, int(revision)):
                            self._wake(task_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database went away: listen again, then catch up
                log.exception("the edit listener lost its connection; reconnecting")
                await asyncio.sleep(RECONNECT_S)
