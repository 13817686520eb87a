"""Live label-set connections: serialises each task's writes, broadcasts events in
revision order, and keeps presence (who is on the task, what each selected)."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from fastapi import WebSocket
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from server.annotations import Reply, Submission, Writer
from server.auth import Principal
from server.db import writer_engine
from server.frames import FrameStore
from server.metrics import Metrics
from server.protocol import Ack, Event, Ops, Presence, PresenceClient, TaxonomyChanged
from server.relay import Relay
from server.taxonomies import Taxonomies

MAX_BACKLOG = 10_000
"""Most messages waiting for one connection. A client that falls this far behind
is disconnected (close code 1013) and catches up on reconnecting (``hello`` with
``since_revision``) instead of holding the server's memory."""


@dataclass(eq=False)
class Connection:
    """One websocket on one task's label set.

    Messages leave in the order they were handed over: :meth:`post` queues one
    and returns at once (broadcasts: the writer never waits for a socket);
    :meth:`send_text` returns once its message is sent, after everything posted
    before it. One asyncio task per connection drains the queue.
    """

    ws: WebSocket
    task_id: int
    user: str
    principal: Principal | None = None
    client_id: str | None = None
    selected: str | None = None
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closed: bool = False
    max_backlog: int = MAX_BACKLOG
    backlog: deque[tuple[str, asyncio.Future[None] | None]] = field(default_factory=deque)
    _sender: asyncio.Task[None] | None = None

    async def send_text(self, text: str) -> None:
        """Send ``text`` after every message posted before it; raises if the socket fails."""
        if self.backlog:  # queued behind earlier messages
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.backlog.append((text, done))
            self._drain_soon()
            await done
            return
        async with self.send_lock:
            await self.ws.send_text(text)

    def post(self, text: str) -> None:
        """Queue ``text`` for this connection without waiting for the socket."""
        if self.closed:
            return
        if len(self.backlog) >= self.max_backlog:
            self.close()
            asyncio.get_running_loop().create_task(self._close_socket(1013))
            return
        self.backlog.append((text, None))
        self._drain_soon()

    def close(self) -> None:
        """Stop sending: queued messages are dropped (their waiters get an error)."""
        self.closed = True
        self._fail(ConnectionError("the connection was closed"))
        if self._sender is not None and self._sender is not asyncio.current_task():
            self._sender.cancel()

    def _drain_soon(self) -> None:
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while self.backlog and not self.closed:
            text, done = self.backlog[0]
            try:
                async with self.send_lock:
                    await self.ws.send_text(text)
            except Exception as exc:  # a client that went away: drop what is queued
                self.closed = True
                self._fail(exc)
                return
            self.backlog.popleft()
            if done is not None and not done.done():
                done.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        for _, done in self.backlog:
            if done is not None and not done.done():
                done.set_exception(exc)
        self.backlog.clear()

    async def _close_socket(self, code: int) -> None:
        try:
            await self.ws.close(code=code)
        except Exception:  # already gone
            pass


class Hub:
    """Every open connection per task, and the one writer.

    Batches from every connection and the REST mirror go through a queue to a
    single writer task, which applies whatever has queued up as one group
    (each batch atomic, one commit for the group: group commit), queues the
    events for their recipients in revision order, and only then answers the
    submitters. ``write_lock`` is held while a group is applied and its events
    are queued (no socket is awaited under it: each connection's own task
    sends), and while a snapshot is taken and handed to its connection's
    queue, so no event can overtake a snapshot.
    """

    MAX_GROUP = 256

    def __init__(
        self,
        engine: Engine,
        taxonomies: Taxonomies,
        frames: FrameStore,
        metrics: Metrics | None = None,
    ) -> None:
        self.engine = engine
        self.taxonomies = taxonomies
        self.metrics = metrics or Metrics()
        self.metrics.watch(
            sockets=lambda: sum(len(c) for c in self.clients.values()),
            queue=lambda: 0 if self._queue is None else self._queue.qsize(),
        )
        self.writer = Writer(writer_engine(engine), taxonomies, frames)
        self.clients: defaultdict[int, set[Connection]] = defaultdict(set)
        self.write_lock = asyncio.Lock()
        self._queue: asyncio.Queue[_Pending] | None = None
        self._writer: asyncio.Task[None] | None = None
        self.relay: Relay | None = None
        """Set on PostgreSQL: events reach the clients of every worker (server/relay.py)."""

    async def submit(
        self,
        task_id: int,
        user: str,
        msg: Ops,
        origin: Connection | None = None,
        *,
        role: str | None = None,
        recheck: Callable[[Session], str | None] | None = None,
        recheck_key: Hashable = None,
    ) -> Reply:
        """Apply a batch to a task's label set through the one write path; the reply
        comes after the commit. ``recheck``: see :class:`~server.annotations.Submission`."""
        sub = Submission(task_id, user, msg, role=role, recheck=recheck, recheck_key=recheck_key)
        return await self._enqueue(sub, origin)

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
        started = time.perf_counter()
        await self._queue.put(_Pending(sub, origin, done))
        reply = await done
        self.metrics.ack_latency.observe(time.perf_counter() - started)
        self.metrics.replies.labels(type=reply.type).inc()
        if isinstance(reply, Ack):
            self.metrics.ops.inc(len(sub.msg.ops))
        return reply

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
                        if event is not None and self.relay is None:
                            self.post(pending.sub.task_id, event, exclude=pending.origin)
                    if self.relay is not None:  # several workers: events come from the log
                        await self.relay.after_group(
                            [
                                (p.sub, p.origin, r, e)
                                for p, (r, e) in zip(group, results, strict=True)
                            ]
                        )
            except Exception as exc:  # nothing of the group was committed: fail each submitter
                for pending in group:
                    pending.done.set_exception(exc)
                    queue.task_done()
                continue
            for pending, (reply, _) in zip(group, results, strict=True):
                pending.done.set_result(reply)
                queue.task_done()

    async def drain(self) -> None:
        """Write and answer every batch already queued, then stop the writer (shutdown)."""
        if self._queue is None or self._writer is None or self._writer.done():
            return
        await self._queue.join()
        self._writer.cancel()

    async def close(self) -> None:
        """Shutdown: :meth:`drain`, then close the write path's own connections."""
        await self.drain()
        self.writer.engine.dispose()

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
        """Queue ``message`` for every connection on the task but ``exclude``."""
        self.post(task_id, message, exclude=exclude)

    def post(
        self,
        task_id: int,
        message: Event | Presence | TaxonomyChanged,
        *,
        exclude: Connection | None = None,
    ) -> None:
        """As :meth:`broadcast`, without awaiting: the order of calls is the order
        every recipient receives the messages in."""
        text = message.model_dump_json()  # encoded once for every recipient
        clients = self.clients[task_id]
        for conn in list(clients):
            if conn.closed:  # a client that went away is dropped, never blocks others
                clients.discard(conn)
            elif conn is not exclude:
                conn.post(text)

    async def join(self, conn: Connection) -> None:
        self.clients[conn.task_id].add(conn)
        if self.relay is not None:
            await self.relay.joined(conn)

    async def leave(self, conn: Connection) -> None:
        self.clients[conn.task_id].discard(conn)
        conn.close()
        await self.broadcast_presence(conn.task_id)

    def local_presence(self, task_id: int) -> list[PresenceClient]:
        """This process's clients on the task that said hello, by client id."""
        return [
            PresenceClient(client_id=c.client_id, user=c.user, selected=c.selected)
            for c in sorted(self.clients[task_id], key=lambda c: c.client_id or "")
            if c.client_id is not None and not c.closed
        ]

    async def broadcast_presence(self, task_id: int, *, announce: bool = True) -> None:
        """Send everyone on the task who is on it. With several workers the list holds
        every worker's clients, and (``announce``) this worker's change is told to the
        others (server/relay.py)."""
        clients = self.local_presence(task_id)
        if self.relay is not None:
            if announce:
                self.relay.announce_soon(task_id, clients)
            clients = self.relay.merged(task_id, clients)
        await self.broadcast(task_id, Presence(clients=clients))


@dataclass
class _Pending:
    sub: Submission
    origin: Connection | None
    done: asyncio.Future[Reply]
