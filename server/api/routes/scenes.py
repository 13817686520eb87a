"""Scenes: list, read, upload, and the taxonomy they are labelled with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from sqlmodel import col, select

from server.api.deps import (
    CurrentUser,
    HubDep,
    SceneDep,
    SessionDep,
    SettingsDep,
    get_task,
    needs,
)
from server.auth import CsrfDep
from server.models import Frame, Scene, Task
from server.policy import Permission, allows
from server.tasks import DEFAULT_PROJECT_ID
from server.uploads import store_upload
from server.visibility import visible_tasks

router = APIRouter(prefix="/api", tags=["scenes"], dependencies=[CsrfDep])


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


@router.get("/scenes", dependencies=[needs(Permission.view)])
def list_scenes(session: SessionDep, user: CurrentUser) -> list[dict[str, Any]]:
    """The scenes the user may see."""
    visible = select(Task.scene_id).where(visible_tasks(user))
    query = select(Scene).order_by(col(Scene.id))
    if not allows(user.role, Permission.assign):
        query = query.where(col(Scene.id).in_(visible))
    return [scene_json(s) for s in session.exec(query).all()]


@router.get("/scenes/{scene_id}", dependencies=[needs(Permission.view)])
def get_scene(scene: SceneDep, session: SessionDep) -> dict[str, Any]:
    frames = session.exec(
        select(Frame).where(Frame.scene_id == scene.id).order_by(Frame.index)  # type: ignore[arg-type]
    ).all()
    return scene_json(scene, list(frames))


@router.post("/scenes", status_code=201, dependencies=[needs(Permission.upload)])
async def upload_scene(
    request: Request, settings: SettingsDep, hub: HubDep, filename: str, name: str | None = None
) -> Any:
    """Ingest one uploaded point-cloud file (the raw body) as a new scene (server/uploads.py).

    A refused upload is a 4xx with a stable ``code``; nothing is stored.
    """
    result = await store_upload(request, hub.engine, settings, filename, name)
    return result.to_json()


@router.get("/taxonomy", dependencies=[needs(Permission.view)])
def taxonomy(
    session: SessionDep, user: CurrentUser, hub: HubDep, task_id: int | None = None
) -> dict[str, Any]:
    """The taxonomy a task is validated under (``task_id``), else the Default project's
    current version; ``version_id`` names the stored version."""
    conn = session.connection()
    if task_id is None:
        version_id, tax = hub.taxonomies.current(conn, DEFAULT_PROJECT_ID)
    else:
        task = get_task(task_id, session, user)  # 404 unless the user may see it
        assert task.id is not None
        version_id, tax = hub.taxonomies.for_task(conn, task.id)
    session.commit()  # a task from before versions was pinned just now
    return {"version_id": version_id, **tax.to_json()}
