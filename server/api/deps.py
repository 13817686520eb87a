"""Dependencies that handlers state in their signatures (``SessionDep``,
``SceneDep``, ...), in the style of full-stack-fastapi-template's ``api/deps.py``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Request
from sqlmodel import Session

from server.auth import CurrentUser as PrincipalDep
from server.auth import get_db, require
from server.config import Settings
from server.errors import ApiError
from server.hub import Hub
from server.models import Scene, Task, User
from server.policy import Permission
from server.visibility import may_see_scene, may_see_task

MAX_ID = 2**31 - 1
"""The largest id or index a path may name: past it nothing can exist (404)."""


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


SessionDep = Annotated[Session, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
HubDep = Annotated[Hub, Depends(get_hub)]
FrameIndex = Annotated[int, Path(ge=0, le=MAX_ID, description="0-based frame index")]


def current_user(principal: PrincipalDep, session: SessionDep) -> User:
    """The logged-in user (session cookie or API token); 401 when anonymous."""
    user = session.get(User, principal.user_id)
    if user is None:  # deleted since the principal was resolved
        raise ApiError(401, "not_authenticated", "log in again")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def get_scene(scene_id: int, session: SessionDep, user: CurrentUser) -> Scene:
    """The scene named by the path, if the user may see it; else 404 (also for ids no
    row can have), so that scenes of others are not even confirmed to exist."""
    scene = session.get(Scene, scene_id) if 1 <= scene_id <= MAX_ID else None
    if scene is None or not may_see_scene(session, user, scene_id):
        raise ApiError(404, "scene_not_found", f"scene {scene_id} does not exist")
    return scene


SceneDep = Annotated[Scene, Depends(get_scene)]


def get_task(task_id: int, session: SessionDep, user: CurrentUser) -> Task:
    """The task named by the path, if the user may see it; else 404."""
    task = session.get(Task, task_id) if 1 <= task_id <= MAX_ID else None
    if task is None or not may_see_task(session, user, task):
        raise ApiError(404, "task_not_found", f"task {task_id} does not exist")
    return task


TaskDep = Annotated[Task, Depends(get_task)]


def needs(permission: Permission) -> Any:
    """A router or route dependency: the current user must hold ``permission``."""
    return require(permission)
