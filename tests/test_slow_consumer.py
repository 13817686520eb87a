"""A client that never reads cannot hold up the others: a real server process, one
client whose receive buffer is tiny and who reads nothing, and three clients editing
the same task with big batches. The writer never waits for a socket (each connection
has its own bounded queue, server/hub.py), so every edit is answered; the silent
client, reconnecting with ``since_revision``, gets exactly what it missed."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from websockets.asyncio.client import ClientConnection, connect

from server.config import Settings
from server.launch import free_port, start_server
from server.tasks import worker_token
from tests.conftest import SQLITE_ONLY, TEST_USER
from tests.test_ws import new_box_ops

pytestmark = SQLITE_ONLY  # the hub's queues, not the database, are the subject
BATCHES = 10
"""Batches of 20 new boxes per editing client (some 12 kB per event)."""
TIMEOUT_S = 60.0
"""Longest wait for any one reply (a loaded machine); never asserted."""


@pytest.fixture
def server(settings: Settings, engine: Engine, task_id: int) -> Iterator[tuple[int, str]]:
    port = free_port()
    token = worker_token(engine, TEST_USER)
    proc: subprocess.Popen[bytes] = start_server(settings.data_dir, port, timeout=180)
    try:
        yield port, token
    finally:
        proc.kill()
        proc.wait()


async def open_client(
    port: int, token: str, task_id: int, *, tiny_buffers: bool = False, since: int | None = None
) -> tuple[ClientConnection, dict[str, Any]]:
    """A connected client after its hello: the socket and the snapshot (or missed events)."""
    sock = None
    if tiny_buffers:  # the kernel holds little for it: the server's queue fills soon
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
    ws = await connect(
        f"ws://127.0.0.1:{port}/ws/tasks/{task_id}",
        additional_headers={"Authorization": f"Bearer {token}"},
        sock=sock,
        max_queue=1,  # the client library stops reading once one message waits
    )
    await ws.send(json.dumps({"type": "hello", "client_id": f"c{id(ws)}", "since_revision": since}))
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT_S))
        if msg["type"] in ("snapshot", "missed"):
            return ws, msg


def test_a_client_that_never_reads_delays_no_one_and_resumes_where_it_was(
    server: tuple[int, str], task_id: int
) -> None:
    port, token = server

    async def run() -> None:
        silent, hello = await open_client(port, token, task_id, tiny_buffers=True)
        start = hello["revision"]
        editors = [(await open_client(port, token, task_id))[0] for _ in range(3)]

        async def edit(i: int, ws: ClientConnection) -> None:
            for seq in range(1, BATCHES + 1):  # each batch a page of new boxes: big events
                ops = [op for k in range(20) for op in new_box_ops(center=(k, 3.0 * i, -0.9))[0]]
                await ws.send(json.dumps({"type": "ops", "seq": seq, "client_id": f"e{i}",
                                          "ops": ops}))  # fmt: skip
                ack = await reply(ws)
                assert ack["type"] == "ack", ack

        async def reply(ws: ClientConnection) -> dict[str, Any]:
            while True:
                msg: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT_S))
                if msg["type"] in ("ack", "reject", "conflict", "error"):
                    return msg

        await asyncio.gather(*(edit(i, ws) for i, ws in enumerate(editors)))
        # every editor was answered while the silent client read nothing; it is still
        # connected (its kernel buffers, some MB on loopback, have not filled: the close
        # with 1013 past the queue's limit is tests/test_hub.py's) and resumes on a new
        # socket from the revision of its snapshot
        silent.transport.abort()
        # it resumes where it was: every revision since its snapshot, once, in order
        again, missed = await open_client(port, token, task_id, since=start)
        assert missed["type"] == "missed"
        revisions = [op["revision"] for e in missed["events"] for op in e["ops"]]
        assert revisions == list(range(start + 1, missed["revision"] + 1))
        for ws in [again, *editors]:
            await ws.close()

    asyncio.run(run())
