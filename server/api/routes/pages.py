"""The HTML pages: the scene and task list, and the workspace of a task."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from server.api.deps import SessionDep, get_task
from server.auth import PUBLIC, OptionalUser, Principal, login_redirect
from server.errors import ApiError
from server.home import home_context
from server.models import Scene, User
from server.policy import Permission
from server.tasks import IN_REVIEW, may_edit

ROOT = Path(__file__).resolve().parents[3]
templates = Jinja2Templates(directory=ROOT / "templates")
router = APIRouter(include_in_schema=False)


def _user(session: Session, principal: Principal | None) -> User | None:
    return None if principal is None else session.get(User, principal.user_id)


@router.get("/", response_class=HTMLResponse, dependencies=[PUBLIC])
def home(request: Request, session: SessionDep, principal: OptionalUser) -> Response:
    """The home page of the logged-in user's role (anonymous: the login page)."""
    user = _user(session, principal)
    if user is None or principal is None:
        return login_redirect(request)
    context = {"user": user, "can": principal.permissions, "csrf": principal.csrf_token or "",
               **home_context(session, user)}  # fmt: skip
    return templates.TemplateResponse(request, "index.html", context)


@router.get("/tasks/{task_id}", response_class=HTMLResponse, dependencies=[PUBLIC])
def workspace(
    request: Request, task_id: int, session: SessionDep, principal: OptionalUser
) -> Response:
    """A task's workspace: editing for its assignee in progress, review tools for its
    reviewer, read-only for everyone else who may see it."""
    user = _user(session, principal)
    if user is None or principal is None:
        return login_redirect(request)
    task = get_task(task_id, session, user)
    scene = session.get(Scene, task.scene_id)
    mode = "edit" if may_edit(task.state, task.assignee_id, user.id or 0) else "view"
    if task.state == IN_REVIEW and task.reviewer_id == user.id:
        mode = "review"
    context = {"scene": scene, "task": task, "user": user, "mode": mode,
               "csrf": principal.csrf_token or ""}  # fmt: skip
    return templates.TemplateResponse(request, "workspace.html", context)


@router.get("/taxonomy", response_class=HTMLResponse, dependencies=[PUBLIC])
def taxonomy_page(request: Request, session: SessionDep, principal: OptionalUser) -> Response:
    """The lead's taxonomy page: versions and diffs, the draft with usage counts, changes,
    size priors from the data, dry run and publish (docs/taxonomy.md)."""
    user = _user(session, principal)
    if user is None or principal is None:
        return login_redirect(request)
    if Permission.edit_taxonomy not in principal.permissions:
        raise ApiError(403, "forbidden", "only leads edit the taxonomy")
    context = {"user": user, "csrf": principal.csrf_token or ""}
    return templates.TemplateResponse(request, "taxonomy.html", context)
