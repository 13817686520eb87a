"""The hub: a slow recipient never holds up the writer, and every connection gets
its messages in the order they were handed over (no event overtakes a snapshot)."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy.engine import Engine

from server.config import Settings
from server.frames import FrameStore
from server.hub import MAX_BACKLOG, Connection, Hub
from server.protocol import Ops
from server.taxonomies import Taxonomies
from tests.test_ws import new_box_ops


class FakeSocket:
    """Records sent text; ``gate`` (when set) holds every send until it is set."""

    def __init__(self, gate: asyncio.Event | None = None) -> None:
        self.sent: list[str] = []
        self.gate = gate
        self.closed_with: int | None = None

    async def send_text(self, text: str) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.sent.append(text)

    async def close(self, code: int = 1000) -> None:
        self.closed_with = code


def _connection(task_id: int, ws: FakeSocket) -> Connection:
    return Connection(ws, task_id, "someone")  # type: ignore[arg-type]


def test_a_stalled_recipient_does_not_hold_up_the_writer_and_gets_events_in_order(
    engine: Engine, settings: Settings, task_id: int, tester: str
) -> None:
    async def run() -> None:
        hub = Hub(engine, Taxonomies(engine), FrameStore(settings.frames_dir))
        gate = asyncio.Event()
        stalled = _connection(task_id, FakeSocket(gate))
        await hub.join(stalled)
        ops, _, cuboid_id = new_box_ops()
        first = Ops(type="ops", seq=1, client_id="a", ops=ops)
        replies = [await hub.submit(task_id, tester, first, role="lead")]
        for i in range(5):
            move = {"op": "update", "kind": "cuboid", "id": cuboid_id, "base_revision": 2 + i,
                    "data": {"center": [11.0 + i, 0.0, -0.9]}}  # fmt: skip
            msg = Ops.model_validate({"type": "ops", "seq": 2 + i, "client_id": "a", "ops": [move]})
            replies.append(
                await asyncio.wait_for(hub.submit(task_id, tester, msg, role="lead"), 10)
            )
        # every ack came back while the stalled socket had sent nothing
        assert [r.type for r in replies] == ["ack"] * 6
        assert stalled.ws.sent == []  # type: ignore[attr-defined]
        # a direct send (a snapshot, a reply) queues behind the events posted before it
        gate.set()
        await stalled.send_text('{"type": "snapshot-marker"}')
        sent = [json.loads(t) for t in stalled.ws.sent]  # type: ignore[attr-defined]
        assert [m.get("revision") for m in sent[:-1]] == [2, 3, 4, 5, 6, 7]
        assert sent[-1] == {"type": "snapshot-marker"}

    asyncio.run(run())


def test_a_recipient_too_far_behind_is_disconnected_not_buffered_forever() -> None:
    async def run() -> None:
        ws = FakeSocket(asyncio.Event())  # never sends
        conn = _connection(1, ws)
        for i in range(MAX_BACKLOG + 1):
            conn.post(f"{i}")
        await asyncio.sleep(0)
        assert conn.closed and not conn.backlog
        assert ws.closed_with == 1013

    asyncio.run(run())


def test_messages_posted_and_sent_keep_their_order() -> None:
    async def run() -> None:
        ws = FakeSocket()
        conn = _connection(1, ws)
        conn.post("1")
        conn.post("2")
        await conn.send_text("3")
        conn.post("4")
        await conn.send_text("5")
        assert ws.sent == ["1", "2", "3", "4", "5"]

    asyncio.run(run())


def test_requests_holding_every_pooled_connection_do_not_starve_the_writer(
    engine: Engine, settings: Settings, task_id: int, tester: str
) -> None:
    """A request holds a connection of the app's pool while it awaits its ack: with all
    of them taken (15 waiting requests), a batch is still applied and acknowledged."""
    from contextlib import ExitStack

    async def run() -> None:
        hub = Hub(engine, Taxonomies(engine), FrameStore(settings.frames_dir))
        with ExitStack() as held:
            pool = engine.pool
            limit = pool.size() + pool._max_overflow  # type: ignore[attr-defined]
            for _ in range(limit):
                held.enter_context(engine.connect()).exec_driver_sql("SELECT 1")
            ops, _, _ = new_box_ops()
            msg = Ops(type="ops", seq=1, client_id="a", ops=ops)
            reply = await asyncio.wait_for(hub.submit(task_id, tester, msg, role="lead"), 20)
        await hub.close()
        assert reply.type == "ack"

    asyncio.run(run())
