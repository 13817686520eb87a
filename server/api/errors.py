"""Every error a client sees: JSON ``{code, message}`` with a stable code, or, for a
person's browser asking for a page (a GET outside ``/api/`` that accepts HTML), the
same code and message as an HTML page in the workspace's look.

Each layer has one error root: ``ApiError`` in the server (``server/errors.py``:
tasks, accounts and uploads raise its subclasses), ``PointCloudError`` in the
point-cloud library, ``InterchangeError`` in interchange. They are mapped
to responses in :func:`install`, the only place that does so. Anything else is
a bug: it is logged with a request id and answered with a JSON 500 that names
the id, never a plain-text body or a traceback.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from pointcloud.errors import PointCloudError
from server.errors import ApiError
from server.interchange.model import InterchangeError
from server.logs import current
from server.text import safe_message

log = logging.getLogger("pointlabel.api")

HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parents[2] / "templates")
TITLES = {400: "Bad request", 401: "Please log in", 403: "Not allowed", 404: "Not found",
          422: "That address is not right", 500: "Something went wrong"}  # fmt: skip
MACHINE_PREFIXES = ("/api/", "/ws/", "/static/", "/vendor/")


def error_response(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    *,
    request: Request | None = None,
    **extra: str,
) -> JSONResponse:
    """The one JSON error shape ``{code, message}``; counted by code in /metrics."""
    _count(request, code)
    body = {"code": code, "message": safe_message(message), **extra}
    return JSONResponse(body, status_code=status, headers=headers)


def _count(request: Request | None, code: str) -> None:
    """Count an error reply by ``code`` in the app's /metrics (when it has them)."""
    metrics = getattr(request.app.state, "metrics", None) if request is not None else None
    if metrics is not None:
        metrics.error(code)


def wants_page(request: Request) -> bool:
    """A person's browser asking for a page: a GET outside the API that accepts HTML."""
    accept = request.headers.get("accept", "")
    return (
        request.method == "GET"
        and not request.url.path.startswith(MACHINE_PREFIXES)
        and "text/html" in accept
    )


def error_page(
    request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """The error as JSON, or as an HTML page when a browser asked for a page."""
    if not wants_page(request):
        return error_response(status, code, message, headers, request=request)
    _count(request, code)
    context = {"status": status, "code": code, "message": safe_message(message),
               "title": TITLES.get(status, "Something went wrong"), "user": None, "csrf": ""}  # fmt: skip
    return TEMPLATES.TemplateResponse(
        request, "error.html", context, status_code=status, headers=headers
    )


def install(app: FastAPI) -> None:
    """Map every error root to its response."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> Response:
        return error_page(request, exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(PointCloudError)
    async def _pointcloud(request: Request, exc: PointCloudError) -> JSONResponse:
        return error_response(422, exc.code, str(exc), request=request)

    @app.exception_handler(InterchangeError)
    async def _interchange(request: Request, exc: InterchangeError) -> JSONResponse:
        return error_response(422, exc.code, str(exc), request=request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        return error_page(request, exc.status_code, code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _request(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()[:20]
        ]
        if wants_page(request):
            bad = ", ".join(f"{p['loc'][-1]} ({p['msg']})" for p in problems if p["loc"])
            return error_page(request, 422, "invalid_request", f"this address has a bad {bad}")
        return error_response(422, "invalid_request", repr(problems)[:2000], request=request)

    @app.exception_handler(RecursionError)
    async def _deep(request: Request, exc: RecursionError) -> JSONResponse:
        return error_response(
            422, "too_deep", "the request body is nested too deeply", request=request
        )

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        request_id = str(current().get("request_id") or uuid.uuid4().hex[:12])
        log.exception("request %s %s failed (request id %s)", request.method,
                      request.url.path, request_id)  # fmt: skip
        return error_response(
            500, "internal_error", f"the server failed; request id {request_id}",
            request=request, request_id=request_id,
        )  # fmt: skip
