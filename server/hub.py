"""Live scene connections: serialises each scene's writes and broadcasts events in order."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from fastapi import WebSocket
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from server.annotations import apply_ops
from server.protocol import Ack, Conflict, Event, Ops, Reject
from server.taxonomy import Taxonomy


class Hub:
    """Every open websocket per scene, and one write lock per scene.

    A batch is applied and its event broadcast while the scene's lock is held,
    so clients receive events in revision order.
    """

    def __init__(self, engine: Engine, taxonomy: Taxonomy) -> None:
        self.engine = engine
        self.taxonomy = taxonomy
        self.clients: defaultdict[int, set[WebSocket]] = defaultdict(set)
        self.locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def submit(
        self, scene_id: int, user: str, msg: Ops, origin: WebSocket | None = None
    ) -> Ack | Reject | Conflict:
        """Apply a batch through the one write path, then broadcast it to the others."""
        async with self.locks[scene_id]:
            reply, event = await run_in_threadpool(
                apply_ops, self.engine, scene_id, user, msg, self.taxonomy
            )
            if event is not None:
                await self.broadcast(scene_id, event, exclude=origin)
            return reply

    async def broadcast(self, scene_id: int, event: Event, *, exclude: WebSocket | None) -> None:
        payload: dict[str, Any] = event.model_dump()
        for ws in list(self.clients[scene_id]):
            if ws is exclude:
                continue
            try:
                await ws.send_json(payload)
            except Exception:  # a client that went away is dropped, never blocks others
                self.clients[scene_id].discard(ws)
