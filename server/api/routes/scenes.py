"""Scenes: list, read, upload, and the taxonomy they are labelled with."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from sqlmodel import select
from starlette.concurrency import run_in_threadpool

from server.api.deps import SceneDep, SessionDep, SettingsDep
from server.api.errors import ApiError
from server.ingest import ingest
from server.models import Frame, Scene
from server.taxonomy import DEFAULT_TAXONOMY

router = APIRouter(prefix="/api", tags=["scenes"])


def scene_json(scene: Scene, frames: list[Frame] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = scene.model_dump(exclude={"storage", "source"})
    out["source"] = Path(scene.source).name
    out["created_at"] = scene.created_at.isoformat()
    if frames is not None:
        out["frames"] = [
            {
                "index": f.index,
                "points": f.point_count,
                "timestamp": f.timestamp,
                "pose": f.pose,
                "offset": [f.offset_x, f.offset_y, f.offset_z],
                "min": [f.min_x, f.min_y, f.min_z],
                "max": [f.max_x, f.max_y, f.max_z],
                "source_file": Path(f.source_file).name,
            }
            for f in frames
        ]
    return out


@router.get("/scenes")
def list_scenes(session: SessionDep) -> list[dict[str, Any]]:
    return [scene_json(s) for s in session.exec(select(Scene).order_by(Scene.id)).all()]  # type: ignore[arg-type]


@router.get("/scenes/{scene_id}")
def get_scene(scene: SceneDep, session: SessionDep) -> dict[str, Any]:
    frames = session.exec(
        select(Frame).where(Frame.scene_id == scene.id).order_by(Frame.index)  # type: ignore[arg-type]
    ).all()
    return scene_json(scene, list(frames))


@router.post("/scenes", status_code=201)
async def upload_scene(
    request: Request, settings: SettingsDep, filename: str, name: str | None = None
) -> Any:
    """Ingest one uploaded point-cloud file (the raw body) as a new scene.

    A bad file is a 422 with the reader's stable ``code``; nothing is stored.
    """
    safe = Path(filename).name
    if not safe or safe != filename or safe.startswith("."):
        raise ApiError(422, "invalid_filename", "give a plain file name, e.g. scan.laz")
    folder = settings.data_dir / "uploads" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    target = folder / safe
    try:
        await _receive_file(request, target, settings.max_upload_bytes)
        result = await run_in_threadpool(
            ingest, request.app.state.engine, settings, target, name=name or safe
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return result.to_json()


@router.get("/taxonomy")
def taxonomy() -> dict[str, Any]:
    return DEFAULT_TAXONOMY.to_json()


async def _receive_file(request: Request, target: Path, limit: int) -> None:
    """Stream the request body to ``target``; 413 past ``limit`` bytes."""
    size = 0
    with target.open("wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "upload_too_large", f"the limit is {limit:,} bytes")
            out.write(chunk)
    if size == 0:
        raise ApiError(422, "empty_upload", "the request body is empty")
