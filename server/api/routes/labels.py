"""A task's label set over REST: the snapshot, and the mirror of the websocket's ``ops``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from server.api.deps import CurrentUser, HubDep, SettingsDep, TaskDep, needs
from server.auth import CsrfDep
from server.errors import ApiError
from server.policy import Permission
from server.protocol import Ops, inline_schema, message_error
from server.reads import object_history, snapshot

router = APIRouter(prefix="/api/tasks/{task_id}", tags=["labels"], dependencies=[CsrfDep])


@router.get("/annotations", dependencies=[needs(Permission.view)])
async def read_annotations(task: TaskDep, hub: HubDep, user: CurrentUser) -> dict[str, Any]:
    assert task.id is not None
    snap = await run_in_threadpool(snapshot, hub.engine, task.id, user.name)
    if snap is None:
        raise ApiError(404, "task_not_found", f"task {task.id} does not exist")
    return snap.model_dump()


@router.get("/objects/{object_id}/history", dependencies=[needs(Permission.view)])
async def read_history(task: TaskDep, hub: HubDep, object_id: str) -> list[dict[str, Any]]:
    """Every accepted edit of an object, oldest first; for a cuboid also its track's
    (a class change or a taxonomy migration edits the track). Each names who, when,
    the fields it changed, and why when the server made it (``reason``)."""
    assert task.id is not None
    if not 1 <= len(object_id) <= 64:
        raise ApiError(404, "object_not_found", "no such object")
    return await run_in_threadpool(object_history, hub.engine, task.id, object_id)


OPS_BODY = {
    "required": True,
    "content": {"application/json": {"schema": inline_schema(Ops)}},
}


@router.post("/ops", openapi_extra={"requestBody": OPS_BODY}, dependencies=[needs(Permission.edit)])
async def post_ops(
    task: TaskDep, request: Request, hub: HubDep, user: CurrentUser, settings: SettingsDep
) -> JSONResponse:
    """The REST mirror of the websocket ``ops`` message, under the same limits."""
    body = await request.body()
    if len(body) > settings.max_message_bytes:
        raise ApiError(413, "message_too_large", f"limit is {settings.max_message_bytes} bytes")
    try:
        msg = Ops.model_validate_json(body)
    except ValidationError as exc:
        raise ApiError(422, *message_error(exc)) from exc
    if len(msg.ops) > settings.max_ops_per_message:
        raise ApiError(422, "too_many_ops", f"limit is {settings.max_ops_per_message}")
    assert task.id is not None
    reply = await hub.submit(task.id, user.name, msg, role=user.role)
    status = {"ack": 200, "reject": 422, "conflict": 409}[reply.type]
    if reply.type == "reject" and any(
        e.code in ("not_editable", "forbidden") for e in reply.errors
    ):
        status = 403
    return JSONResponse(reply.model_dump(mode="json"), status_code=status)
