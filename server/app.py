"""The FastAPI application: pages, REST routers, tiles and the scene websocket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from server.api import errors
from server.api.routes import (
    auth,
    cameras,
    consensus,
    frames,
    interchange,
    labels,
    models,
    ops,
    pages,
    prelabels,
    quality,
    reviews,
    sampling,
    scenes,
    sockets,
    sql,
    tasks,
    taxonomy,
    tiles,
)
from server.config import Settings, get_settings
from server.db import make_engine
from server.frames import FrameStore
from server.hub import Hub
from server.logs import RequestContext
from server.relay import Relay
from server.static_files import CompressedStaticFiles
from server.taxonomies import Taxonomies

ROOT = Path(__file__).resolve().parent.parent
ROUTERS = (
    auth, pages, scenes, taxonomy, frames, cameras, tiles, tasks, labels, prelabels, models, reviews,
    interchange, sql, quality, sampling, consensus, sockets, ops,
)  # fmt: skip


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url)
    hub = Hub(engine, Taxonomies(engine), FrameStore(settings.frames_dir))

    if engine.dialect.name == "postgresql":
        hub.relay = Relay(hub)  # other workers' events reach this one's clients

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if hub.relay is not None:
            await hub.relay.start()
        yield
        await hub.close()  # graceful shutdown: every batch taken in is committed and answered
        if hub.relay is not None:
            await hub.relay.stop()

    app = FastAPI(title="PointLabel", lifespan=lifespan)
    app.state.settings, app.state.engine = settings, engine
    app.state.hub = hub
    app.state.metrics = hub.metrics
    app.mount("/static", CompressedStaticFiles(directory=ROOT / "static"), name="static")
    app.mount(
        "/vendor/three",
        CompressedStaticFiles(directory=ROOT / "node_modules" / "three"),
        name="three",
    )
    app.mount(
        "/vendor/uplot",
        CompressedStaticFiles(directory=ROOT / "node_modules" / "uplot" / "dist"),
        name="uplot",
    )
    app.add_middleware(RequestContext)
    errors.install(app)
    for module in ROUTERS:
        app.include_router(module.router)
    return app


def worker_app() -> FastAPI:
    """The app of one ``pointlabel serve --workers N`` process (uvicorn imports it in each
    worker): JSON logs, settings from the environment."""
    from server.logs import configure

    configure()
    return create_app()
