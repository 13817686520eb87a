"""Dependencies that handlers state in their signatures (``SessionDep``,
``SceneDep``, ...), in the style of full-stack-fastapi-template's ``api/deps.py``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlmodel import Session, select

from server.api.errors import ApiError
from server.config import Settings
from server.hub import Hub
from server.models import Scene, Task, User

MAX_ID = 2**31 - 1
"""The largest id or index a path may name: past it nothing can exist (404)."""


def get_db(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


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


def get_scene(scene_id: int, session: SessionDep) -> Scene:
    """The scene named by the path, or 404 (also for ids no row can have)."""
    scene = session.get(Scene, scene_id) if 1 <= scene_id <= MAX_ID else None
    if scene is None:
        raise ApiError(404, "scene_not_found", f"scene {scene_id} does not exist")
    return scene


SceneDep = Annotated[Scene, Depends(get_scene)]


def get_task(task_id: int, session: SessionDep) -> Task:
    """The task named by the path, or 404 (also for ids no row can have)."""
    task = session.get(Task, task_id) if 1 <= task_id <= MAX_ID else None
    if task is None:
        raise ApiError(404, "task_not_found", f"task {task_id} does not exist")
    return task


TaskDep = Annotated[Task, Depends(get_task)]


def current_user(request: Request, session: SessionDep) -> User:
    """The user on whose behalf the request acts (until accounts exist: the default)."""
    name = str(request.app.state.settings.default_user)
    user = session.exec(select(User).where(User.name == name)).first()
    if user is None:
        user = User(name=name, role="admin")
        session.add(user)
        session.commit()
        session.refresh(user)
    return user


CurrentUser = Annotated[User, Depends(current_user)]
