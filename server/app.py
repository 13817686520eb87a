"""The FastAPI application: pages, REST routers, tiles and the scene websocket."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from server.api import errors
from server.api.routes import (
    auth,
    frames,
    interchange,
    labels,
    models,
    pages,
    prelabels,
    reviews,
    scenes,
    sockets,
    tasks,
    tiles,
)
from server.config import Settings, get_settings
from server.db import make_engine
from server.frames import FrameStore
from server.hub import Hub
from server.taxonomy import DEFAULT_TAXONOMY

ROOT = Path(__file__).resolve().parent.parent
ROUTERS = (auth, pages, scenes, frames, tiles, tasks, labels, prelabels, models, reviews, interchange,
           sockets)  # fmt: skip


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url)
    app = FastAPI(title="PointLabel")
    app.state.settings, app.state.engine = settings, engine
    app.state.hub = Hub(engine, DEFAULT_TAXONOMY, FrameStore(settings.frames_dir))
    app.mount("/static", StaticFiles(directory=ROOT / "static"), name="static")
    app.mount("/vendor/three", StaticFiles(directory=ROOT / "node_modules" / "three"), name="three")
    errors.install(app)
    for module in ROUTERS:
        app.include_router(module.router)
    return app
