"""The label-set websocket (``/ws/tasks/{id}``): one asyncio task per connection
reading client messages."""

from __future__ import annotations

import logging
import uuid

from fastapi import WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ValidationError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from server.api.deps import MAX_ID
from server.auth import (
    WS_CLOSE_NOT_AUTHENTICATED,
    Principal,
    admit_websocket,
    recheck_principal,
    refresh_principal,
)
from server.config import Settings
from server.hub import Connection, Hub
from server.logs import open_context
from server.models import Task, User
from server.protocol import (
    ErrorMessage,
    Hello,
    Missed,
    Ops,
    Problem,
    Reject,
    Select,
    Snapshot,
    client_message,
    message_error,
)
from server.reads import events_since, snapshot
from server.visibility import may_see_task

log = logging.getLogger("pointlabel.ws")


async def serve_task_socket(ws: WebSocket, task_path: str) -> None:
    """hello -> snapshot (or missed events); ops -> ack/reject/conflict; select -> presence.

    Before anything: a foreign ``Origin`` is closed with 4403 and an anonymous
    socket with 4401 (server/auth.py). ``task_path`` is the id as written in
    the URL: anything that is not a task the user may see is answered like a
    missing task (close code 4404). The user's session or token is checked
    again before every message: a revoked or expired one closes the socket
    with 4401, and a role change applies at once.
    """
    hub: Hub = ws.app.state.hub
    settings: Settings = ws.app.state.settings
    open_context(connection=uuid.uuid4().hex[:16])
    principal = await admit_websocket(ws)
    if principal is None:
        return
    digits = task_path.isascii() and task_path.isdigit() and len(task_path) <= 10
    task_id = int(task_path) if digits else 0
    exists = 1 <= task_id <= MAX_ID and await run_in_threadpool(_visible, hub, principal, task_id)
    await ws.accept()
    conn = Connection(ws, task_id, principal.name, principal,
                      max_backlog=settings.ws_max_backlog)  # fmt: skip
    if not exists:
        await conn.send_text(_error("task_not_found", "").model_dump_json())
        await ws.close(code=4404)
        return
    await hub.join(conn)
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            try:
                reply = await _handle(hub, conn, message.get("text"), settings)
            except Exception:  # a bug must not end the session: report it, keep serving
                error_id = uuid.uuid4().hex[:12]
                log.exception("message on task %s failed (error id %s)", task_id, error_id)
                reply = _error(
                    "internal_error",
                    f"the server failed on this message (error id {error_id}); resending "
                    "it is safe: a batch that was stored is answered as replayed",
                )
            if isinstance(reply, ErrorMessage):
                hub.metrics.error(reply.code, "websocket")
            if reply is not None:
                await conn.send_text(reply.model_dump_json())
            if reply is LOGGED_OUT:
                await ws.close(code=WS_CLOSE_NOT_AUTHENTICATED)
                break
    except WebSocketDisconnect:
        pass
    finally:
        await hub.leave(conn)


def _error(code: str, message: str) -> ErrorMessage:
    return ErrorMessage(code=code, message=message)


LOGGED_OUT = _error("not_authenticated", "log in again")
"""The reply after which the socket is closed with 4401."""


async def _handle(
    hub: Hub, conn: Connection, text: str | None, settings: Settings
) -> BaseModel | None:
    """The reply to one message, or None when it was sent already.

    The user's credentials are checked before the message is acted on: for a
    batch of ops inside the writer's transaction (one read per user and group,
    no database round trip of its own), for anything else here.
    """
    msg: BaseModel
    if text is None:
        msg = _error("invalid_message", "messages are JSON text frames")
    elif len(text) > settings.max_message_bytes:
        msg = _error("message_too_large", f"limit is {settings.max_message_bytes} bytes")
    else:
        try:
            msg = client_message.validate_json(text)
        except ValidationError as exc:
            msg = _error(*message_error(exc))
    if isinstance(msg, Ops) and len(msg.ops) <= settings.max_ops_per_message:
        return await _ops(hub, conn, msg, settings)
    assert conn.principal is not None
    fresh = await run_in_threadpool(refresh_principal, hub.engine, conn.principal, settings)
    if fresh is None:
        return LOGGED_OUT
    conn.principal = fresh
    if isinstance(msg, ErrorMessage):
        return msg
    if isinstance(msg, Hello):
        await _hello(hub, conn, msg)
        return None
    if isinstance(msg, Select):
        conn.selected = msg.object_id
        await hub.broadcast_presence(conn.task_id)
        return None
    return await _ops(hub, conn, msg, settings)


async def _hello(hub: Hub, conn: Connection, msg: Hello) -> None:
    conn.client_id = msg.client_id
    # Sent under the write lock: no event can overtake the state it follows.
    async with hub.write_lock:
        reply: Missed | Snapshot | None = None
        if msg.since_revision is not None:
            reply = await run_in_threadpool(
                events_since, hub.engine, conn.task_id, msg.since_revision
            )
        if reply is None:
            reply = await run_in_threadpool(snapshot, hub.engine, conn.task_id, conn.user)
        if reply is None:  # the task was deleted while connected
            await conn.send_text(_error("task_not_found", "").model_dump_json())
            return
        await conn.send_text(reply.model_dump_json())
        if hub.relay is not None:
            hub.relay.seen(conn, reply.revision)
    await hub.broadcast_presence(conn.task_id)


async def _ops(hub: Hub, conn: Connection, msg: Ops, settings: Settings) -> BaseModel:
    if len(msg.ops) > settings.max_ops_per_message:
        problem = Problem(code="too_many_ops", message=f"limit is {settings.max_ops_per_message}")
        return Reject(seq=msg.seq, errors=[problem])
    principal = conn.principal
    assert principal is not None

    def recheck(db: Session) -> str | None:
        fresh = recheck_principal(db, principal, settings)
        return None if fresh is None else fresh.role

    reply = await hub.submit(
        conn.task_id, conn.user, msg, origin=conn, recheck=recheck, recheck_key=principal
    )
    if isinstance(reply, Reject) and [p.code for p in reply.errors] == ["not_authenticated"]:
        return LOGGED_OUT
    return reply


def _visible(hub: Hub, principal: Principal, task_id: int) -> bool:
    with Session(hub.engine) as session:
        task, user = session.get(Task, task_id), session.get(User, principal.user_id)
        return task is not None and user is not None and may_see_task(session, user, task)
