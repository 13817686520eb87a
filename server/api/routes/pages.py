"""The HTML pages: the scene and task list, and the workspace of a task.

The workspace page carries what its first frame needs, so that the first tile
request leaves with the page rather than after a chain of round trips
(docs/architecture.md, "From a file to a pixel"): the scene, the taxonomy and frame 0's
hierarchy inline as JSON, ``<link rel=modulepreload>`` for every module the
first frame's points need (the module graph is otherwise discovered one level
per round trip), and ``<link rel=preload>`` for the hierarchy's root tile, which
an inline script fetches at once (so its bytes are there when the modules run). The
rest of the workspace's modules are listed in the inline JSON (``later``): the
entry module preloads them once the first tile is drawn, so that they do not
share the six connections of HTTP/1.1, the link and the main thread with the
first frame.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session, col, select

from server.api.deps import SessionDep, SettingsDep, get_task
from server.api.routes.scenes import scene_json
from server.auth import PUBLIC, OptionalUser, Principal, login_redirect
from server.cameras import scene_cameras
from server.config import Settings
from server.errors import ApiError
from server.home import home_context
from server.ingest import frame_file
from server.models import Frame, Scene, User
from server.policy import Permission
from server.tasks import IN_REVIEW, may_edit

ROOT = Path(__file__).resolve().parents[3]
templates = Jinja2Templates(directory=ROOT / "templates")
router = APIRouter(include_in_schema=False)

IMPORT_MAP = {
    "three": "/vendor/three/build/three.module.js",
    "three/addons/": "/vendor/three/examples/jsm/",
    "uplot": "/vendor/uplot/uPlot.esm.js",
}
"""The page's import map (templates/base.html), to resolve bare specifiers."""
MOUNTS = {
    "/static/": ROOT / "static",
    "/vendor/three/": ROOT / "node_modules" / "three",
    "/vendor/uplot/": ROOT / "node_modules" / "uplot" / "dist",
}
_IMPORT = re.compile(r"""^\s*(?:import|export)\s(?:[^;'"]*?\sfrom\s)?\s*["']([^"']+)["']""", re.M)


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
    request: Request,
    task_id: int,
    session: SessionDep,
    principal: OptionalUser,
    settings: SettingsDep,
) -> Response:
    """A task's workspace: editing for its assignee in progress, review tools for its
    reviewer, read-only for everyone else who may see it."""
    user = _user(session, principal)
    if user is None or principal is None:
        return login_redirect(request)
    task = get_task(task_id, session, user)
    scene = session.get(Scene, task.scene_id)
    assert scene is not None  # a task's scene is a foreign key
    mode = "edit" if may_edit(task.state, task.assignee_id, user.id or 0) else "view"
    if task.state == IN_REVIEW and task.reviewer_id == user.id:
        mode = "review"
    taxonomies = request.app.state.hub.taxonomies
    tax = taxonomies.document(session.connection(), task_id=task.id, project_id=task.project_id)
    session.commit()  # a task from before versions was pinned just now
    context = {"scene": scene, "task": task, "user": user, "mode": mode,
               "csrf": principal.csrf_token or "", **first_frame(session, settings, scene, tax)}  # fmt: skip
    return templates.TemplateResponse(request, "workspace.html", context)


def first_frame(
    session: Session, settings: Settings, scene: Scene, tax: dict[str, Any]
) -> dict[str, Any]:
    """What the workspace page carries for its first frame: ``boot`` (the scene, the
    taxonomy, frame 0's hierarchy and ``later``, the modules to preload after the first
    pixel, as inline JSON), ``modules`` to preload, ``tiles``, the URL of frame 0's root
    tile, and ``early``, the same as JSON ``{hash: url}`` for the inline script that
    fetches it."""
    frames = session.exec(
        select(Frame).where(Frame.scene_id == scene.id).order_by(col(Frame.index))
    ).all()
    hierarchy: dict[str, Any] | None = None
    path = frame_file(settings, scene, 0, ".json")
    if scene.frame_count and path.is_file():
        hierarchy = json.loads(path.read_bytes())
    boot = {
        "scene": scene_json(scene, list(frames), scene_cameras(session, scene.id or 0)),
        "taxonomy": tax,
        "hierarchy": hierarchy,
        "later": later_modules(),
    }
    nodes = hierarchy["nodes"] if hierarchy else []
    early = (
        {nodes[0]["tile"]: f"/api/scenes/{scene.id}/tiles/{nodes[0]['tile']}"}
        if nodes and nodes[0]["count"]
        else {}
    )
    return {"boot": inline_json(boot), "modules": list(module_graph(ENTRY)),
            "tiles": list(early.values()), "early": inline_json(early)}  # fmt: skip


ENTRY = "/static/js/first-frame.js"
"""The workspace's entry module: it streams frame 0, then imports main.js."""
MAIN = "/static/js/main.js"
"""The rest of the workspace, imported by the entry once frame 0's first tile is drawn."""


def workspace_modules() -> list[str]:
    """Every module of the workspace page after its entry: the ones frame 0's
    points need (preloaded by the page, ``module_graph(ENTRY)``), then main.js
    and the rest (``later_modules``, preloaded by the entry after its first pixel)."""
    return list(module_graph(ENTRY)) + later_modules()


def later_modules() -> list[str]:
    """main.js and every module it imports that the first frame does not need,
    largest first after main.js."""
    first = set(module_graph(ENTRY)) | {ENTRY}
    return [url for url in (MAIN, *module_graph(MAIN)) if url not in first]


def inline_json(value: Any) -> str:
    """``value`` as JSON that is safe inside a ``<script>`` element: ``<``, ``>`` and
    ``&`` are escaped, so no string (a scene name) can close the element."""
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@lru_cache(maxsize=4)
def module_graph(entry: str) -> tuple[str, ...]:
    """The URLs of every module ``entry`` imports, directly or not (static imports,
    resolved through the import map), ``entry`` excluded, largest file first.

    A browser opens six connections per host over HTTP/1.1, so the preloads go
    out in rounds of six, a round trip each: the largest (three.js) leave in the
    first round and download while the small ones follow. Read once per
    process: the files do not change while the server runs."""
    seen = {entry}
    order: list[str] = []
    queue = [entry]
    while queue:
        url = queue.pop(0)
        source = _module_file(url)
        if source is None:
            continue
        for spec in _IMPORT.findall(source.read_text(encoding="utf-8", errors="replace")):
            target = _resolve(spec, url)
            if target and target not in seen:
                seen.add(target)
                order.append(target)
                queue.append(target)
    size = {url: path.stat().st_size for url in order if (path := _module_file(url))}
    return tuple(sorted(order, key=lambda url: -size.get(url, 0)))


def _resolve(spec: str, base: str) -> str | None:
    if spec.startswith(("./", "../")):
        parts = base.split("/")[:-1]
        for piece in spec.split("/"):
            if piece == "..":
                parts.pop()
            elif piece != ".":
                parts.append(piece)
        return "/".join(parts)
    if spec in IMPORT_MAP:
        return IMPORT_MAP[spec]
    for prefix, target in IMPORT_MAP.items():
        if prefix.endswith("/") and spec.startswith(prefix):
            return target + spec[len(prefix) :]
    return None


def _module_file(url: str) -> Path | None:
    for prefix, folder in MOUNTS.items():
        if url.startswith(prefix):
            path = (folder / url[len(prefix) :]).resolve()
            if path.is_file() and path.is_relative_to(folder.resolve()):
                return path
    return None


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
