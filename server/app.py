"""The FastAPI application: pages, REST API, tiles and the scene websocket."""

from __future__ import annotations

import json
import math
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field, ValidationError, model_validator
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from pointcloud.errors import PointCloudError
from pointcloud.spatial import GridIndex
from server.config import Settings, get_settings
from server.db import make_engine
from server.errors import ApiError
from server.frames import FrameStore
from server.geometry import fit_in_frame, ground_at
from server.hub import Hub
from server.ingest import frame_file, ingest, tile_path
from server.models import Frame, Scene
from server.protocol import Ops
from server.reads import snapshot
from server.routes import auth as auth_routes
from server.taxonomy import DEFAULT_TAXONOMY
from server.ws import serve_scene_socket

ROOT = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=ROOT / "templates")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url)
    app = FastAPI(title="PointLabel")
    app.state.settings, app.state.engine = settings, engine
    app.state.hub = Hub(engine, DEFAULT_TAXONOMY, FrameStore(settings.frames_dir))
    app.mount("/static", StaticFiles(directory=ROOT / "static"), name="static")
    app.mount("/vendor/three", StaticFiles(directory=ROOT / "node_modules" / "three"), name="three")

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        body = {"code": exc.code, "message": exc.message}
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse({"code": code, "message": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _request_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"code": "invalid_request", "message": str(exc.errors())[:2000]}, status_code=422
        )

    @app.exception_handler(PointCloudError)
    async def _pc_error(_: Request, exc: PointCloudError) -> JSONResponse:
        return JSONResponse({"code": exc.code, "message": str(exc)}, status_code=422)

    _routes(app)
    app.include_router(auth_routes.router)
    return app


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_scene(scene_id: int, session: SessionDep) -> Scene:
    scene = session.get(Scene, scene_id)
    if scene is None:
        raise ApiError(404, "scene_not_found", f"scene {scene_id} does not exist")
    return scene


SceneDep = Annotated[Scene, Depends(get_scene)]


def _scene_json(scene: Scene, frames: list[Frame] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = scene.model_dump(exclude={"storage"})
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


def _routes(app: FastAPI) -> None:
    @app.get("/", response_class=HTMLResponse)
    def index(request: Request, session: SessionDep) -> Response:
        scenes = session.exec(select(Scene).order_by(Scene.id)).all()  # type: ignore[arg-type]
        return templates.TemplateResponse(request, "index.html", {"scenes": scenes})

    @app.get("/scenes/{scene_id}", response_class=HTMLResponse)
    def workspace(request: Request, scene: SceneDep) -> Response:
        return templates.TemplateResponse(request, "workspace.html", {"scene": scene})

    @app.get("/api/scenes")
    def list_scenes(session: SessionDep) -> list[dict[str, Any]]:
        return [_scene_json(s) for s in session.exec(select(Scene).order_by(Scene.id)).all()]  # type: ignore[arg-type]

    @app.get("/api/scenes/{scene_id}")
    def get_scene_api(scene: SceneDep, session: SessionDep) -> dict[str, Any]:
        frames = session.exec(
            select(Frame).where(Frame.scene_id == scene.id).order_by(Frame.index)  # type: ignore[arg-type]
        ).all()
        return _scene_json(scene, list(frames))

    @app.post("/api/scenes", status_code=201)
    async def upload_scene(request: Request, filename: str, name: str | None = None) -> Any:
        """Ingest one uploaded point-cloud file (the raw body) as a new scene.

        A bad file is a 422 with the reader's stable ``code``; nothing is stored.
        """
        settings: Settings = request.app.state.settings
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

    @app.post("/api/scenes/{scene_id}/frames/{index}/fit")
    async def fit(scene: SceneDep, index: int, body: FitRequest, request: Request) -> Any:
        """Auto-fit: the box that fits the object around the given one (absolute coordinates)."""
        grid, offset = _frame_grid(request, scene, index)
        box = [*body.center, *body.size, body.yaw]
        return await run_in_threadpool(fit_in_frame, grid, offset, box, margin=body.margin)

    @app.get("/api/scenes/{scene_id}/frames/{index}/ground")
    async def ground(scene: SceneDep, index: int, x: float, y: float, request: Request) -> Any:
        """The ground height under (x, y), or null when too little ground is seen there."""
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ApiError(422, "non_finite", "x and y must be finite")
        grid, offset = _frame_grid(request, scene, index)
        return {"z": await run_in_threadpool(ground_at, grid, offset, x, y)}

    @app.get("/api/taxonomy")
    def taxonomy() -> dict[str, Any]:
        return DEFAULT_TAXONOMY.to_json()

    @app.get("/api/scenes/{scene_id}/frames/{index}/hierarchy")
    def hierarchy(scene: SceneDep, index: int, request: Request) -> Response:
        path = frame_file(request.app.state.settings, scene, index, ".json")
        if not 0 <= index < scene.frame_count or not path.exists():
            raise ApiError(404, "frame_not_found", f"scene {scene.id} has no frame {index}")
        return Response(path.read_bytes(), media_type="application/json")

    @app.get("/api/tiles/{digest}")
    def tile(digest: str, request: Request) -> Response:
        if len(digest) != 32 or not all(c in "0123456789abcdef" for c in digest):
            raise ApiError(404, "tile_not_found", "no such tile")
        path = tile_path(request.app.state.settings, digest)
        if not path.exists():
            raise ApiError(404, "tile_not_found", "no such tile")
        etag = f'"{digest}"'
        headers = {"Cache-Control": "public, max-age=31536000, immutable", "ETag": etag}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return FileResponse(
            path,
            media_type="application/octet-stream",
            headers={**headers, "Content-Encoding": "gzip"},
        )

    @app.get("/api/scenes/{scene_id}/annotations")
    def annotations(scene: SceneDep, request: Request) -> dict[str, Any]:
        assert scene.id is not None
        snap = snapshot(request.app.state.engine, scene.id, _user(request))
        if snap is None:
            raise ApiError(404, "scene_not_found", f"scene {scene.id} does not exist")
        return snap.model_dump()

    @app.post("/api/scenes/{scene_id}/ops")
    async def post_ops(scene: SceneDep, request: Request) -> JSONResponse:
        try:
            msg = Ops.model_validate(await request.json())
        except (ValidationError, ValueError) as exc:
            raise ApiError(422, "invalid_message", str(exc)) from exc
        assert scene.id is not None
        reply = await request.app.state.hub.submit(scene.id, _user(request), msg)
        status = {"ack": 200, "reject": 422, "conflict": 409}[reply.type]
        return JSONResponse(reply.model_dump(), status_code=status)

    @app.get("/api/scenes/{scene_id}/export/{fmt}")
    async def export(scene: SceneDep, fmt: str, request: Request, points: bool = False) -> Response:
        """The scene's annotations in an interchange format (docs/formats.md), as a zip."""
        from server.interchange import export_scene, export_zip
        from server.interchange.model import InterchangeError

        settings: Settings = request.app.state.settings
        folder = settings.data_dir / "exports" / uuid.uuid4().hex
        try:
            assert scene.id is not None
            engine = request.app.state.engine
            summary = await run_in_threadpool(
                export_scene, engine, settings, scene.id, fmt, folder, points=points
            )
            (folder / "summary.json").write_text(json.dumps(summary, indent=1))
            body = await run_in_threadpool(export_zip, folder)
        except InterchangeError as exc:
            raise ApiError(422, exc.code, str(exc)) from exc
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        name = f"scene-{scene.id}-{fmt}.zip"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(body, media_type="application/zip", headers=headers)

    @app.post("/api/import/{fmt}", status_code=201)
    async def import_labels(fmt: str, path: str, request: Request, name: str | None = None) -> Any:
        """Import a labelled scene from a folder under ``$POINTLABEL_DATA_DIR/imports``."""
        from server.interchange import import_scene
        from server.interchange.model import InterchangeError

        settings: Settings = request.app.state.settings
        root = (settings.data_dir / "imports").resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root) or not target.exists():
            raise ApiError(
                404, "import_path_not_found", f"no folder {path!r} under the import root"
            )
        hub = request.app.state.hub
        try:
            result = await run_in_threadpool(
                import_scene, request.app.state.engine, settings, fmt, target,
                name=name, user=_user(request), writer=hub.writer,
            )  # fmt: skip
        except InterchangeError as exc:
            raise ApiError(422, exc.code, str(exc)) from exc
        return result.to_json()

    @app.websocket("/ws/echo")
    async def echo_socket(ws: WebSocket) -> None:
        """A no-op peer for `pointlabel bench ws`: answers each text frame with a tiny ack."""
        await ws.accept()
        try:
            while True:
                msg = json.loads(await ws.receive_text())
                await ws.send_json({"type": "ack", "seq": msg.get("seq"), "revision": 0})
        except (WebSocketDisconnect, ValueError, AttributeError):
            return

    @app.websocket("/ws/scenes/{scene_id}")
    async def scene_socket(ws: WebSocket, scene_id: int) -> None:
        await serve_scene_socket(ws, scene_id, _user(ws))


class FitRequest(BaseModel):
    """A rough box around an object: centre (m, absolute), size (l, w, h; m), yaw (rad)."""

    center: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float = 0.0
    margin: float = Field(default=0.5, ge=0.0, le=5.0)

    @model_validator(mode="after")
    def _finite(self) -> FitRequest:
        if not all(math.isfinite(v) for v in (*self.center, *self.size, self.yaw)):
            raise ValueError("every number must be finite")
        if min(self.size) <= 0:
            raise ValueError("sizes must be > 0")
        return self


def _frame_grid(
    request: Request, scene: Scene, index: int
) -> tuple[GridIndex, tuple[float, float, float]]:
    """The frame's grid index and offset, or a 404 with ``frame_not_found``."""
    with Session(request.app.state.engine) as session:
        frame = session.exec(
            select(Frame).where(Frame.scene_id == scene.id, Frame.index == index)
        ).first()
    if frame is None:
        raise ApiError(404, "frame_not_found", f"scene {scene.id} has no frame {index}")
    grid = request.app.state.hub.writer.frames.grid(scene.storage, index)
    return grid, (frame.offset_x, frame.offset_y, frame.offset_z)


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


def _user(request: Request | WebSocket) -> str:
    return str(request.app.state.settings.default_user)
