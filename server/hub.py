"""Live label-set connections: serialises each task's writes, broadcasts events in
revision order, and keeps presence (who is on the task, what each selected)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field

from fastapi import WebSocket
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from server.annotations import Reply, Submission, Writer
from server.auth import Principal
from server.frames import FrameStore
from server.protocol import Ack, Event, Ops, Presence, PresenceClient, TaxonomyChanged
from server.taxonomies import Taxonomies


@dataclass(eq=False)
class Connection:
    """One websocket on one task's label set. Sends are serialised per connection."""

    ws: WebSocket
    task_id: int
    user: str
    principal: Principal | None = None
    client_id: str | None = None
    selected: str | None = None
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send_text(self, text: str) -> None:
        async with self.send_lock:
            await self.ws.send_text(text)


class Hub:
    """Every open connection per task, and the one writer.

    Batches from every connection and the REST mirror go through a queue to a
    single writer task, which applies whatever has queued up as one group
    (each batch atomic, one commit for the group: group commit), broadcasts
    the events in revision order, and only then answers the submitters.
    ``write_lock`` is held while a group is applied and broadcast, and while a
    snapshot is taken and sent, so no event can overtake a snapshot.
    """

    MAX_GROUP = 256

    def __init__(self, engine: Engine, taxonomies: Taxonomies, frames: FrameStore) -> None:
        self.engine = engine
        self.taxonomies = taxonomies
        self.writer = Writer(engine, taxonomies, frames)
        self.clients: defaultdict[int, set[Connection]] = defaultdict(set)
        self.write_lock = asyncio.Lock()
        self._queue: asyncio.Queue[_Pending] | None = None
        self._writer: asyncio.Task[None] | None = None

    async def submit(
        self,
        task_id: int,
        user: str,
        msg: Ops,
        origin: Connection | None = None,
        *,
        role: str | None = None,
    ) -> Reply:
        """Apply a batch to a task's label set through the one write path; the reply
        comes after the commit."""
        return await self._enqueue(Submission(task_id, user, msg, role=role), origin)

    async def submit_trusted(self, sub: Submission) -> Reply:
        """Apply a batch the server made (a taxonomy migration) through the one write
        path; when it moves the task to another taxonomy version, the task's clients
        get a ``taxonomy`` message before the batch's event."""
        return await self._enqueue(sub, None)

    async def _enqueue(self, sub: Submission, origin: Connection | None) -> Reply:
        if self._queue is None or self._writer is None or self._writer.done():
            self._queue = asyncio.Queue()
            self._writer = asyncio.create_task(self._write_forever(self._queue))
        done: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(sub, origin, done))
        return await done

    async def _write_forever(self, queue: asyncio.Queue[_Pending]) -> None:
        while True:
            group = [await queue.get()]
            while not queue.empty() and len(group) < self.MAX_GROUP:
                group.append(queue.get_nowait())
            try:
                async with self.write_lock:
                    results = await run_in_threadpool(
                        self.writer.apply_group, [p.sub for p in group]
                    )
                    for pending, (reply, event) in zip(group, results, strict=True):
                        if pending.sub.pin_version is not None and isinstance(reply, Ack):
                            await self._announce(pending.sub.task_id, pending.sub.pin_version)
                        if event is not None:
                            await self.broadcast(pending.sub.task_id, event, exclude=pending.origin)
            except Exception as exc:  # nothing of the group was committed: fail each submitter
                for pending in group:
                    pending.done.set_exception(exc)
                continue
            for pending, (reply, _) in zip(group, results, strict=True):
                pending.done.set_result(reply)

    async def _announce(self, task_id: int, version_id: int) -> None:
        with self.engine.connect() as conn:
            taxonomy = self.taxonomies.version(conn, version_id)
        message = TaxonomyChanged(task_id=task_id, version_id=version_id,
                                  version=taxonomy.version,
                                  taxonomy={"version_id": version_id, **taxonomy.to_json()})  # fmt: skip
        await self.broadcast(task_id, message)

    async def broadcast(
        self,
        task_id: int,
        message: Event | Presence | TaxonomyChanged,
        *,
        exclude: Connection | None = None,
    ) -> None:
        text = message.model_dump_json()  # encoded once for every recipient
        for conn in list(self.clients[task_id]):
            if conn is exclude:
                continue
            try:
                await conn.send_text(text)
            except Exception:  # a client that went away is dropped, never blocks others
                self.clients[task_id].discard(conn)

    async def join(self, conn: Connection) -> None:
        self.clients[conn.task_id].add(conn)

    async def leave(self, conn: Connection) -> None:
        self.clients[conn.task_id].discard(conn)
        await self.broadcast_presence(conn.task_id)

    async def broadcast_presence(self, task_id: int) -> None:
        clients = [
            PresenceClient(client_id=c.client_id, user=c.user, selected=c.selected)
            for c in sorted(self.clients[task_id], key=lambda c: c.client_id or "")
            if c.client_id is not None
        ]
        await self.broadcast(task_id, Presence(clients=clients))


@dataclass
class _Pending:
    sub: Submission
    origin: Connection | None
    done: asyncio.Future[Reply]
