"""What an operator asks a server process: alive, ready, and its metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from server.auth import PUBLIC, require
from server.db import pending_migrations
from server.metrics import CONTENT_TYPE, Metrics
from server.policy import Permission

router = APIRouter(tags=["operations"])


@router.get("/healthz", dependencies=[PUBLIC])
def healthz() -> dict[str, str]:
    """Alive: the process answers. Says nothing about the database (see /readyz)."""
    return {"status": "ok"}


@router.get("/readyz", dependencies=[PUBLIC], responses={503: {"description": "not ready"}})
async def readyz(request: Request) -> JSONResponse:
    """Ready for traffic: the database answers and its schema is at the code's migration
    head. 503 ``not_ready`` with the reason otherwise."""
    engine: Engine = request.app.state.engine

    def check() -> str | None:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                pending = pending_migrations(conn)
        except Exception as exc:  # any database failure means "not ready", never a 500
            return f"the database does not answer ({type(exc).__name__})"
        return f"migrations pending: {', '.join(pending)}" if pending else None

    problem = await run_in_threadpool(check)
    if problem is not None:
        return JSONResponse({"code": "not_ready", "message": problem}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get(
    "/metrics",
    dependencies=[require(Permission.operate)],
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                     "description": "Prometheus text exposition format"}},
)  # fmt: skip
def metrics(request: Request) -> Response:
    """Prometheus text format; scrape with an admin's API token (Bearer)."""
    m: Metrics = request.app.state.metrics
    return Response(m.render(), media_type=CONTENT_TYPE)
