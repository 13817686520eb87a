"""Two ``pointlabel serve`` processes on one PostgreSQL database, with real websocket
clients split across them on one task: every client sees every event once, in
revision order (LISTEN/NOTIFY and the edit log, server/relay.py); a worker killed with
SIGKILL mid-stream loses no acknowledged edit and its clients resume on the other."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from server.config import Settings
from server.launch import free_port, start_server
from server.models import Edit
from server.tasks import worker_token
from tests.conftest import POSTGRESQL_ONLY, TEST_USER
from tests.test_ws import new_box_ops

pytestmark = POSTGRESQL_ONLY
EDITS = Edit.__table__  # type: ignore[attr-defined]
TIMEOUT_S = 60.0
"""Longest wait for any one reply or catch-up (a loaded 2-core machine), never asserted."""


@dataclass
class Workers:
    ports: list[int]
    procs: list[subprocess.Popen[bytes]]
    token: str


@pytest.fixture
def workers(settings: Settings, engine: Engine, task_id: int) -> Iterator[Workers]:
    """Two server processes over the fixture's database and data directory."""
    assert settings.database_url is not None
    env = {"POINTLABEL_DATABASE_URL": settings.database_url}
    token = worker_token(engine, TEST_USER)
    ports = [free_port(), free_port()]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            procs.append(start_server(settings.data_dir, port, env=env, timeout=180))
        yield Workers(ports, procs, token)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


@dataclass
class Client:
    """One websocket client: what it was sent, and the revisions it has seen."""

    name: str
    ws: ClientConnection | None = None
    client_id: str = ""
    seq: int = 0
    start: int = 0
    """The revision of its first snapshot."""
    revision: int = 0
    seen: list[int] = field(default_factory=list)
    """Every revision it learnt of: ops of events and missed events (from other clients)
    and of its own acks."""
    boxes: set[str] = field(default_factory=set)
    replies: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    reader: asyncio.Task[None] | None = None
    opened: bool = False
    log: list[tuple[str, list[int]]] = field(default_factory=list)
    """(``event``, ``missed`` or ``ack``, its revisions) in arrival order."""
    sent: list[dict[str, Any]] = field(default_factory=list)
    """The batch waiting for its answer (new boxes only: ``new_box_ops``)."""

    async def open(self, port: int, token: str, task_id: int) -> None:
        self.client_id = self.client_id or f"{self.name}-live"
        url = f"ws://127.0.0.1:{port}/ws/tasks/{task_id}"
        self.ws = await connect(url, additional_headers={"Authorization": f"Bearer {token}"})
        self.replies = asyncio.Queue()  # nothing the old socket said
        since = self.revision if self.opened else None
        self.opened = True
        await self.ws.send(json.dumps({"type": "hello", "client_id": self.client_id,
                                       "since_revision": since}))  # fmt: skip
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT_S))
            if msg["type"] == "snapshot":
                self.start = self.revision = msg["revision"]
                self.boxes = {c["id"] for c in msg["cuboids"]}
                break
            if msg["type"] == "missed":
                for event in msg["events"]:
                    self._learn(event["ops"], "missed")
                break
        self.reader = asyncio.create_task(self._read(self.ws))

    def _learn(self, ops: list[dict[str, Any]], how: str = "event") -> None:
        self.log.append((how, [op["revision"] for op in ops]))
        for op in ops:
            self.seen.append(op["revision"])
            self.revision = max(self.revision, op["revision"])
            if op["kind"] == "cuboid":
                (self.boxes.add if op["state"] is not None else self.boxes.discard)(op["id"])

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                msg = json.loads(raw)
                if msg["type"] == "event":
                    self._learn(msg["ops"])
                elif msg["type"] in ("ack", "reject", "conflict", "error"):
                    if msg["type"] == "ack":  # learnt now: before the events that follow it
                        self._acked(msg)
                    await self.replies.put(msg)
        except ConnectionClosed:
            pass
        await self.replies.put({"type": "closed"})

    async def send(self, ops: list[dict[str, Any]], *, resend: bool = False) -> dict[str, Any]:
        """Send a batch and wait for its answer (``closed``: the socket went away first)."""
        assert self.ws is not None
        self.seq += 0 if resend else 1
        body = {"type": "ops", "seq": self.seq, "client_id": self.client_id, "ops": ops}
        self.sent = ops
        try:
            await self.ws.send(json.dumps(body))
        except ConnectionClosed:
            return {"type": "closed"}
        return await asyncio.wait_for(self.replies.get(), TIMEOUT_S)

    def _acked(self, reply: dict[str, Any]) -> None:
        if not reply.get("replayed"):  # (a replayed one came in the missed events)
            self.seen.extend(sorted(reply["revisions"].values()))
            self.log.append(("ack", sorted(reply["revisions"].values())))
            self.boxes |= {o["id"] for o in self.sent if o["kind"] == "cuboid"}
        self.revision = max(self.revision, reply["revision"])

    async def caught_up(self, revision: int) -> None:
        async def wait() -> None:
            while self.revision < revision:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(wait(), TIMEOUT_S)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await self.reader


def exactly_once_in_order(client: Client, last: int) -> None:
    """The client learnt of every revision after its snapshot exactly once (from events,
    missed events or its own acks), and the events came in revision order. (An ack may
    come after a later event of the same write group, as on one worker: the group's
    events are queued before its submitters are answered.)"""
    assert sorted(client.seen) == list(range(client.start + 1, last + 1)), client.name
    events = [r for how, revisions in client.log if how != "ack" for r in revisions]
    assert events == sorted(set(events)), f"{client.name}: {client.log}"


async def stream_and_check(clients: list[Client], batches: int) -> None:
    """Every client sends ``batches`` new boxes at once with the others; then each has
    learnt of every revision exactly once, in order, holds every box, and is closed."""

    async def stream(c: Client) -> None:
        for k in range(batches):
            ops, _, _ = new_box_ops(center=(5.0 + k, float(clients.index(c)), -0.9))
            assert (await c.send(ops))["type"] == "ack"

    await asyncio.gather(*(stream(c) for c in clients))
    last = max(c.revision for c in clients)
    for c in clients:
        await c.caught_up(last)
    await asyncio.sleep(0.3)  # a duplicate would arrive now
    for c in clients:
        exactly_once_in_order(c, last)
        assert len(c.boxes) == batches * len(clients)
        await c.close()


def stored_boxes(engine: Engine, task_id: int) -> dict[str, int]:
    """Cuboid id -> how many times its creation is in the edit log."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(EDITS.c.object_id, func.count())
            .where(EDITS.c.task_id == task_id, EDITS.c.kind == "cuboid", EDITS.c.op == "create")
            .group_by(EDITS.c.object_id)
        ).all()
    return {row[0]: row[1] for row in rows}


def test_every_client_on_either_worker_sees_every_event_once_in_revision_order(
    workers: Workers, engine: Engine, task_id: int
) -> None:
    async def run() -> None:
        clients = [Client(f"c{i}") for i in range(4)]
        for i, c in enumerate(clients):  # c0, c2 on the first worker; c1, c3 on the second
            await c.open(workers.ports[i % 2], workers.token, task_id)

        await stream_and_check(clients, 15)

    asyncio.run(run())


def test_a_lone_client_per_worker_sees_the_other_workers_events_between_its_own(
    workers: Workers, engine: Engine, task_id: int
) -> None:
    """One client on each worker: a worker does not read the log after a group whose
    only local client made all of it (server/relay.py, ``after_group``), yet each client
    gets every event of the other worker's client, interleaved with its own acks, once
    and in order."""

    async def run() -> None:
        clients = [Client("lone0"), Client("lone1")]
        for port, c in zip(workers.ports, clients, strict=True):
            await c.open(port, workers.token, task_id)

        await stream_and_check(clients, 25)
        for c in clients:
            assert any(how == "event" for how, _ in c.log)  # the other's edits reached it

    asyncio.run(run())


def test_a_worker_killed_mid_stream_loses_no_acknowledged_edit_and_its_clients_resume(
    workers: Workers, engine: Engine, task_id: int
) -> None:
    """SIGKILL of the first worker while four clients stream boxes: its two clients
    reconnect to the second with ``since_revision``, resend the batch that had no answer
    (answered as replayed when it had been stored), and go on. Every acknowledged box is
    stored exactly once, and every client ends with the stored set of boxes."""

    async def run() -> None:
        clients = [Client(f"k{i}") for i in range(4)]
        for i, c in enumerate(clients):
            await c.open(workers.ports[i % 2], workers.token, task_id)
        acked: set[str] = set()
        killed = asyncio.Event()

        async def stream(c: Client) -> None:
            k = 0
            while k < 20:
                ops, _, box = new_box_ops(center=(5.0 + k, float(clients.index(c)), -0.9))
                reply = await c.send(ops)
                while reply["type"] == "closed":  # its worker died: go to the other one
                    await killed.wait()
                    await c.close()
                    await c.open(workers.ports[1], workers.token, task_id)
                    reply = await c.send(ops, resend=True)
                assert reply["type"] == "ack", reply
                acked.add(box)
                k += 1
                if k == 8 and c.name == "k0":
                    workers.procs[0].kill()  # SIGKILL
                    workers.procs[0].wait()
                    killed.set()

        await asyncio.gather(*(stream(c) for c in clients))
        stored = stored_boxes(engine, task_id)
        assert acked <= set(stored) and set(stored.values()) == {1}
        last = max(c.revision for c in clients)
        for c in clients:
            await c.caught_up(last)
            assert c.boxes == set(stored), c.name
            exactly_once_in_order(c, last)
            await c.close()

    asyncio.run(run())


async def presence_until(ws: ClientConnection, wanted: dict[str, str | None]) -> None:
    """Read ``ws`` until a ``presence`` message lists exactly ``wanted`` (client id ->
    selected object)."""

    async def read() -> None:
        while True:
            msg = json.loads(await ws.recv())
            if msg["type"] == "presence":
                if {c["client_id"]: c["selected"] for c in msg["clients"]} == wanted:
                    return

    await asyncio.wait_for(read(), TIMEOUT_S)


def test_presence_lists_the_clients_of_both_workers(workers: Workers, task_id: int) -> None:
    """A client on each worker: each sees the other arrive, select and leave."""

    async def run() -> None:
        auth = {"Authorization": f"Bearer {workers.token}"}
        socks = []
        for i, port in enumerate(workers.ports):
            ws = await connect(f"ws://127.0.0.1:{port}/ws/tasks/{task_id}", additional_headers=auth)
            await ws.send(json.dumps({"type": "hello", "client_id": f"p{i}"}))
            socks.append(ws)
        first, second = socks
        await presence_until(first, {"p0": None, "p1": None})
        await presence_until(second, {"p0": None, "p1": None})
        await second.send(json.dumps({"type": "select", "object_id": "box-on-the-second"}))
        await presence_until(first, {"p0": None, "p1": "box-on-the-second"})
        await second.close()
        await presence_until(first, {"p0": None})
        await first.close()

    asyncio.run(run())
