"""The HTML pages: the scene list and the workspace."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import select

from server.api.deps import SceneDep, SessionDep
from server.models import Scene

ROOT = Path(__file__).resolve().parents[3]
templates = Jinja2Templates(directory=ROOT / "templates")
router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def index(request: Request, session: SessionDep) -> Response:
    scenes = session.exec(select(Scene).order_by(Scene.id)).all()  # type: ignore[arg-type]
    return templates.TemplateResponse(request, "index.html", {"scenes": scenes})


@router.get("/scenes/{scene_id}", response_class=HTMLResponse)
def workspace(request: Request, scene: SceneDep) -> Response:
    return templates.TemplateResponse(request, "workspace.html", {"scene": scene})
