"""The detector contract (docs/models.md), served by the built-in CPU pipeline: points in,
boxes with classes and scores out."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from pointcloud.prelabel import detect
from server.api.deps import needs
from server.auth import CsrfDep
from server.errors import ApiError
from server.policy import Permission
from server.prelabels import MODEL
from server.priors import class_priors

router = APIRouter(prefix="/api/models", tags=["models"], dependencies=[CsrfDep])

MAX_POINTS = 5_000_000
"""The most points one detect request may carry (60 MB of float32 x, y, z)."""


def _detect(raw: bytes) -> list[dict[str, Any]]:
    pts = np.frombuffer(raw, dtype="<f4").reshape(-1, 3).astype(np.float64)
    if not np.isfinite(pts).all():
        raise ApiError(422, "invalid_points", "points must be finite numbers")
    return [
        {"center": list(d.box[:3]), "size": list(d.box[3:6]), "yaw": d.box[6], "label": d.label,
         "score": d.score}
        for d in detect(pts, class_priors())
    ]  # fmt: skip


@router.post("/cpu/detect", dependencies=[needs(Permission.view)])
async def cpu_detect(request: Request) -> dict[str, Any]:
    """Boxes of the objects in one frame: the body is little-endian float32 x, y, z triples in
    metres, sensor frame (sensor at the origin, z up)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/octet-stream":
        raise ApiError(415, "unsupported_media_type", "send the points as application/octet-stream")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_POINTS * 12:
        raise ApiError(413, "too_many_points", f"at most {MAX_POINTS} points per request")
    raw = await request.body()
    if len(raw) > MAX_POINTS * 12:
        raise ApiError(413, "too_many_points", f"at most {MAX_POINTS} points per request")
    if len(raw) % 12:
        raise ApiError(422, "invalid_points", "the body must be whole float32 x, y, z triples")
    return {"model": MODEL, "boxes": await run_in_threadpool(_detect, raw)}
