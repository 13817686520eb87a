"""One frame of a scene: its LOD hierarchy, auto-fit and ground height."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field, model_validator
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from pointcloud.spatial import GridIndex
from server.api.deps import FrameIndex, HubDep, SceneDep, SettingsDep, needs
from server.auth import CsrfDep
from server.errors import ApiError
from server.geometry import fit_in_frame, ground_at
from server.ingest import frame_file
from server.models import Frame, Scene
from server.policy import Permission
from server.propagation import propagate

MAX_PROPAGATE = 50
"""The most frames one propagate call tracks a box forward."""

router = APIRouter(
    prefix="/api/scenes/{scene_id}/frames/{index}",
    tags=["frames"],
    dependencies=[CsrfDep, needs(Permission.view)],
)


class FitRequest(BaseModel):
    """A rough box around an object: centre (m, absolute), size (l, w, h; m), yaw (rad)."""

    center: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float = 0.0
    margin: float = Field(default=0.5, ge=0.0, le=5.0)
    label: str | None = Field(
        default=None,
        max_length=100,
        description="The box's class: a partly seen object grows to its typical size",
    )

    @model_validator(mode="after")
    def _finite(self) -> FitRequest:
        if not all(math.isfinite(v) for v in (*self.center, *self.size, self.yaw)):
            raise ValueError("every number must be finite")
        if min(self.size) <= 0:
            raise ValueError("sizes must be > 0")
        return self


@router.post("/fit")
async def fit(scene: SceneDep, index: FrameIndex, body: FitRequest, hub: HubDep) -> Any:
    """Auto-fit: the box that fits the object around the given one (absolute coordinates)."""
    grid, offset = _frame_grid(hub, scene, index)
    box = [*body.center, *body.size, body.yaw]
    return await run_in_threadpool(
        fit_in_frame, grid, offset, box, margin=body.margin, label=body.label
    )


class PropagateRequest(FitRequest):
    """A box to track forward ``frames`` frames; ``previous`` (its track's box in an earlier
    frame, absolute) gives the starting velocity."""

    frames: int = Field(default=1, ge=1, le=MAX_PROPAGATE)
    previous_frame: int | None = Field(default=None, ge=0)
    previous: FitRequest | None = None


@router.post("/propagate")
async def propagate_box(
    scene: SceneDep, index: FrameIndex, body: PropagateRequest, hub: HubDep
) -> Any:
    """Where the box is in the next ``frames`` frames: ``{"boxes": [{frame, center, size, yaw,
    motion}]}`` (``motion``: ``poses`` or ``icp``, how the ego motion was found)."""
    _frame_grid(hub, scene, index)  # 404 for a frame the scene lacks
    box = [*body.center, *body.size, body.yaw]
    previous = None
    if body.previous is not None and body.previous_frame is not None:
        p = body.previous
        previous = (body.previous_frame, [*p.center, *p.size, p.yaw])
    boxes = await run_in_threadpool(
        propagate, hub.engine, hub.writer.frames, scene_id=int(scene.id or 0),
        storage=scene.storage, index=index, box=box, count=body.frames, previous=previous,
    )  # fmt: skip
    return {"boxes": boxes}


@router.get("/ground")
async def ground(scene: SceneDep, index: FrameIndex, x: float, y: float, hub: HubDep) -> Any:
    """The ground height under (x, y), or null when too little ground is seen there."""
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ApiError(422, "non_finite", "x and y must be finite")
    grid, offset = _frame_grid(hub, scene, index)
    return {"z": await run_in_threadpool(ground_at, grid, offset, x, y)}


@router.get(
    "/hierarchy", response_class=Response, responses={200: {"content": {"application/json": {}}}}
)
def hierarchy(scene: SceneDep, index: FrameIndex, settings: SettingsDep) -> Response:
    path = frame_file(settings, scene, index, ".json")
    if not 0 <= index < scene.frame_count or not path.exists():
        raise ApiError(404, "frame_not_found", f"scene {scene.id} has no frame {index}")
    return Response(path.read_bytes(), media_type="application/json")


def _frame_grid(
    hub: HubDep, scene: Scene, index: int
) -> tuple[GridIndex, tuple[float, float, float]]:
    """The frame's grid index and offset, or a 404 with ``frame_not_found``."""
    with Session(hub.engine) as session:
        frame = session.exec(
            select(Frame).where(Frame.scene_id == scene.id, Frame.index == index)
        ).first()
    if frame is None:
        raise ApiError(404, "frame_not_found", f"scene {scene.id} has no frame {index}")
    grid = hub.writer.frames.grid(scene.storage, index)
    return grid, (frame.offset_x, frame.offset_y, frame.offset_z)
