"""The HTML pages: the scene and task list, and the workspace of a task."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import select

from server.api.deps import CurrentUser, SessionDep, TaskDep
from server.models import Scene, Task

ROOT = Path(__file__).resolve().parents[3]
templates = Jinja2Templates(directory=ROOT / "templates")
router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def index(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    scenes = session.exec(select(Scene).order_by(Scene.id)).all()  # type: ignore[arg-type]
    tasks = session.exec(select(Task).order_by(Task.id)).all()  # type: ignore[arg-type]
    by_scene: dict[int, list[Task]] = {}
    for t in tasks:
        by_scene.setdefault(t.scene_id, []).append(t)
    context = {"scenes": scenes, "tasks": by_scene, "user": user}
    return templates.TemplateResponse(request, "index.html", context)


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
def workspace(request: Request, task: TaskDep, session: SessionDep, user: CurrentUser) -> Response:
    scene = session.get(Scene, task.scene_id)
    context = {"scene": scene, "task": task, "user": user}
    return templates.TemplateResponse(request, "workspace.html", context)
