"""Pre-labels of a task's frames by the built-in CPU pipeline (docs/assist.md)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from server.api.deps import CurrentUser, HubDep, TaskDep, needs
from server.auth import CsrfDep
from server.errors import ApiError
from server.policy import Permission
from server.prelabels import prelabel_ops
from server.protocol import Ops

router = APIRouter(prefix="/api/tasks/{task_id}", tags=["labels"], dependencies=[CsrfDep])

BATCH_OPS = 500
"""Pre-label ops sent to the write path per batch."""


class PrelabelRequest(BaseModel):
    """Which frames to pre-label (0-based; all when omitted) and the lowest confidence kept."""

    frames: list[int] | None = Field(default=None, max_length=10_000)
    min_score: float = Field(default=0.3, ge=0.0, le=1.0)


@router.post("/prelabel", dependencies=[needs(Permission.edit)])
async def prelabel(
    task: TaskDep, body: PrelabelRequest, hub: HubDep, user: CurrentUser
) -> dict[str, Any]:
    """Run the CPU pipeline and write its boxes as pre-labels in the user's name, through the
    same write path (and live updates) as every edit: ``{"boxes", "tracks", "dropped"}``."""
    assert task.id is not None
    ops, frames = await run_in_threadpool(
        prelabel_ops, hub.engine, hub.writer, task.id, frames=body.frames, min_score=body.min_score
    )
    counts = {"track": 0, "cuboid": 0}
    dropped: dict[str, int] = {}
    client = f"prelabel-{uuid.uuid4().hex[:16]}"
    for seq, start in enumerate(range(0, len(ops), BATCH_OPS)):
        pending = ops[start : start + BATCH_OPS]
        while pending:
            msg = Ops.model_validate(
                {"type": "ops", "seq": seq, "client_id": client, "ops": pending}
            )
            reply = await hub.submit(task.id, user.name, msg, role=user.role)
            if reply.type == "ack":
                for op in pending:
                    counts[op["kind"]] += 1
                break
            errors = getattr(reply, "errors", [])
            bad = {int(p[1]) for e in errors if len(p := e.path.split(".")) > 1 and p[1].isdigit()}
            if not bad:
                first = errors[0] if errors else None
                status = (
                    403
                    if first is not None and first.code in ("not_editable", "forbidden")
                    else 409
                )
                code = first.code if first is not None else "conflict"
                raise ApiError(status, code, first.message if first else "pre-labels conflicted")
            for i in bad:
                key = pending[i]["kind"]
                dropped[key] = dropped.get(key, 0) + 1
            pending = [op for i, op in enumerate(pending) if i not in bad]
            client = f"prelabel-{uuid.uuid4().hex[:16]}"
    return {
        "frames": frames,
        "boxes": counts["cuboid"],
        "tracks": counts["track"],
        "dropped": dropped,
    }
