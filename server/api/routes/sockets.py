"""The websockets: a task's label set (docs/protocol.md) and the benchmark's echo peer."""

from __future__ import annotations

import json

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from server.auth import admit_websocket
from server.ws import serve_task_socket

router = APIRouter()


@router.websocket("/ws/echo")
async def echo_socket(ws: WebSocket) -> None:
    """A no-op peer for `pointlabel bench ws`: answers each text frame with a tiny ack.
    Admitted like any socket (an allowed Origin, a logged-in user)."""
    if await admit_websocket(ws) is None:
        return
    await ws.accept()
    try:
        while True:
            msg = json.loads(await ws.receive_text())
            await ws.send_json({"type": "ack", "seq": msg.get("seq"), "revision": 0})
    except (WebSocketDisconnect, ValueError, AttributeError):
        return


@router.websocket("/ws/tasks/{task_id}")
async def task_socket(ws: WebSocket, task_id: str) -> None:
    """A task's label set, live (docs/protocol.md): any user who may see the task reads
    it; only its assignee edits, while it is in progress (checked in the write path)."""
    await serve_task_socket(ws, task_id)
