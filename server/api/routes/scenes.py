"""Scenes: list, read, upload, and the taxonomy they are labelled with."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

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
from server.cameras import scene_cameras
from server.errors import ApiError
from server.models import Frame, Scene, Task
from server.names import InvalidNameError, clean_scene_attributes, clean_scene_name
from server.policy import Permission, allows
from server.scene_admin import delete_scene, summaries
from server.tasks import DEFAULT_PROJECT_ID
from server.uploads import store_upload
from server.visibility import visible_tasks

router = APIRouter(prefix="/api", tags=["scenes"], dependencies=[CsrfDep])


def scene_json(
    scene: Scene,
    frames: list[Frame] | None = None,
    cameras: dict[int, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """A scene as clients read it; with ``frames``, each frame's metadata and its
    camera images (``cameras``: :func:`server.cameras.scene_cameras`)."""
    cameras = cameras or {}
    out: dict[str, Any] = scene.model_dump(exclude={"storage", "source"})
    out["source"] = Path(scene.source).name
    stored = scene.attributes  # JSON: read defensively (server/rows.py)
    out["attributes"] = (
        {str(k): str(v) for k, v in stored.items()} if isinstance(stored, dict) else {}
    )
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
                "cameras": cameras.get(f.index, []),
            }
            for f in frames
        ]
    return out


@router.get("/scenes", dependencies=[needs(Permission.view)])
def list_scenes(
    session: SessionDep, user: CurrentUser, hub: HubDep, settings: SettingsDep, q: str = ""
) -> list[dict[str, Any]]:
    """The scenes the user may see (``q``: whose name contains it, any case), each with
    its size on disk, label counts and last edit (server/scene_admin.py)."""
    visible = select(Task.scene_id).where(visible_tasks(user))
    query = select(Scene).order_by(col(Scene.id))
    if not allows(user.role, Permission.assign):
        query = query.where(col(Scene.id).in_(visible))
    scenes = [s for s in session.exec(query).all() if q.casefold() in s.name.casefold()]
    about = summaries(hub.engine, settings, scenes)
    return [{**scene_json(s), **about[s.id]} for s in scenes if s.id is not None]


class SceneChange(BaseModel):
    """What a PATCH changes: the name, the attributes (all of them: the object given
    replaces the stored one), or both."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    attributes: dict[str, str] | None = Field(None, max_length=64)


@router.patch("/scenes/{scene_id}", dependencies=[needs(Permission.upload)])
def change_scene(scene: SceneDep, body: SceneChange, session: SessionDep) -> dict[str, Any]:
    """Rename a scene (the name rules of ingest) or set its attributes, e.g. ``{"weather":
    "rain", "area": "urban"}``, which review sampling can stratify by (server/names.py)."""
    if body.name is None and body.attributes is None:
        raise ApiError(422, "nothing_to_change", "give a name, attributes or both")
    try:
        name = scene.name if body.name is None else clean_scene_name(body.name)
        attributes = (
            scene.attributes if body.attributes is None else clean_scene_attributes(body.attributes)
        )
    except InvalidNameError as exc:
        raise ApiError(422, exc.code, str(exc)) from exc
    if not name:
        raise ApiError(422, "invalid_name", "a scene needs a name")
    scene.name, scene.attributes = name, attributes
    session.add(scene)
    session.commit()
    session.refresh(scene)
    return scene_json(scene)


@router.delete("/scenes/{scene_id}", dependencies=[needs(Permission.upload)])
async def remove_scene(scene: SceneDep, hub: HubDep, settings: SettingsDep) -> dict[str, Any]:
    """Delete a scene with its tasks, labels and review issues, and the tiles no other
    scene uses; answers how many tiles went and how many stay (shared)."""
    done = await run_in_threadpool(delete_scene, hub.engine, settings, hub.writer, scene)
    return {"deleted": scene.id, **done}


@router.get("/scenes/{scene_id}", dependencies=[needs(Permission.view)])
def get_scene(scene: SceneDep, session: SessionDep) -> dict[str, Any]:
    frames = session.exec(
        select(Frame).where(Frame.scene_id == scene.id).order_by(Frame.index)  # type: ignore[arg-type]
    ).all()
    assert scene.id is not None
    return scene_json(scene, list(frames), scene_cameras(session, scene.id))


@router.post("/scenes", status_code=201, dependencies=[needs(Permission.upload)])
async def upload_scene(
    request: Request,
    settings: SettingsDep,
    hub: HubDep,
    filename: str,
    name: str | None = None,
    duplicate: Literal["ask", "allow"] = "ask",
) -> Any:
    """Ingest one uploaded point-cloud file (the raw body) as a new scene (server/uploads.py).

    A refused upload is a 4xx with a stable ``code``; nothing is stored. A file an
    earlier upload had (same SHA-256) is 409 ``duplicate_scene`` unless
    ``duplicate=allow``.
    """
    result = await store_upload(
        request, hub.engine, settings, filename, name, allow_duplicate=duplicate == "allow"
    )
    if not result.existing:
        hub.metrics.ingested_points.inc(result.points)
    return result.to_json()


@router.get("/taxonomy", dependencies=[needs(Permission.view)])
def taxonomy(
    session: SessionDep, user: CurrentUser, hub: HubDep, task_id: int | None = None
) -> dict[str, Any]:
    """The taxonomy a task is validated under (``task_id``), else the Default project's
    current version; ``version_id`` names the stored version."""
    if task_id is not None:
        get_task(task_id, session, user)  # 404 unless the user may see it
    conn = session.connection()
    document = hub.taxonomies.document(conn, task_id=task_id, project_id=DEFAULT_PROJECT_ID)
    session.commit()  # a task from before versions was pinned just now
    return document
