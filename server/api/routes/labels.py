"""A scene's annotations over REST: the snapshot, and the mirror of the websocket's ``ops``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from server.api.deps import HubDep, SceneDep, SettingsDep, UserDep
from server.api.errors import ApiError
from server.protocol import Ops, inline_schema, message_error
from server.reads import snapshot

router = APIRouter(prefix="/api/scenes/{scene_id}", tags=["annotations"])


@router.get("/annotations")
async def read_annotations(scene: SceneDep, hub: HubDep, user: UserDep) -> dict[str, Any]:
    assert scene.id is not None
    snap = await run_in_threadpool(snapshot, hub.engine, scene.id, user)
    if snap is None:
        raise ApiError(404, "scene_not_found", f"scene {scene.id} does not exist")
    return snap.model_dump()


OPS_BODY = {
    "required": True,
    "content": {"application/json": {"schema": inline_schema(Ops)}},
}


@router.post("/ops", openapi_extra={"requestBody": OPS_BODY})
async def post_ops(
    scene: SceneDep, request: Request, hub: HubDep, user: UserDep, settings: SettingsDep
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
    assert scene.id is not None
    reply = await hub.submit(scene.id, user, msg)
    status = {"ack": 200, "reject": 422, "conflict": 409}[reply.type]
    return JSONResponse(reply.model_dump(mode="json"), status_code=status)
