"""Live scene connections: serialises each scene's writes, broadcasts events in
revision order, and keeps presence (who is on the scene, what each selected)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from fastapi import WebSocket
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from server.annotations import apply_ops
from server.frames import FrameStore
from server.protocol import Ack, Conflict, Event, Ops, Presence, PresenceClient, Reject
from server.taxonomy import Taxonomy


@dataclass(eq=False)
class Connection:
    """One websocket on one scene. Sends are serialised per connection."""

    ws: WebSocket
    scene_id: int
    user: str
    client_id: str | None = None
    selected: str | None = None
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, payload: dict[str, Any]) -> None:
        async with self.send_lock:
            await self.ws.send_json(payload)


class Hub:
    """Every open connection per scene, and one write lock per scene.

    A batch is applied and its event broadcast while the scene's lock is held,
    so clients receive events in revision order.
    """

    def __init__(self, engine: Engine, taxonomy: Taxonomy, frames: FrameStore) -> None:
        self.engine = engine
        self.taxonomy = taxonomy
        self.frames = frames
        self.clients: defaultdict[int, set[Connection]] = defaultdict(set)
        self.locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def submit(
        self, scene_id: int, user: str, msg: Ops, origin: Connection | None = None
    ) -> Ack | Reject | Conflict:
        """Apply a batch through the one write path, then broadcast it to the others."""
        async with self.locks[scene_id]:
            reply, event = await run_in_threadpool(
                apply_ops, self.engine, scene_id, user, msg, self.taxonomy, self.frames
            )
            if event is not None:
                await self.broadcast(scene_id, event, exclude=origin)
            return reply

    async def broadcast(
        self, scene_id: int, message: Event | Presence, *, exclude: Connection | None = None
    ) -> None:
        payload = message.model_dump()
        for conn in list(self.clients[scene_id]):
            if conn is exclude:
                continue
            try:
                await conn.send(payload)
            except Exception:  # a client that went away is dropped, never blocks others
                self.clients[scene_id].discard(conn)

    async def join(self, conn: Connection) -> None:
        self.clients[conn.scene_id].add(conn)

    async def leave(self, conn: Connection) -> None:
        self.clients[conn.scene_id].discard(conn)
        await self.broadcast_presence(conn.scene_id)

    async def broadcast_presence(self, scene_id: int) -> None:
        clients = [
            PresenceClient(client_id=c.client_id, user=c.user, selected=c.selected)
            for c in sorted(self.clients[scene_id], key=lambda c: c.client_id or "")
            if c.client_id is not None
        ]
        await self.broadcast(scene_id, Presence(clients=clients))
