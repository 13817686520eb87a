"""Structured logs: one JSON object per line, with the request or connection and its user.

:class:`RequestContext` middleware gives every HTTP request an id (the
client's ``X-Request-ID`` when it is a sane token, else a new one), returns
it in the response's ``X-Request-ID`` header and logs one access line per
request. The websocket handler opens a context per connection. Whatever is
logged while a request or connection is served carries its id and, once
authentication has identified them, the user's name.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_CONTEXT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "pointlabel_log_context", default=None
)
_SANE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
access = logging.getLogger("pointlabel.access")


def open_context(**fields: Any) -> dict[str, Any]:
    """Start a log context (a request or a connection) in the current task; returns it.

    The context is a dict shared by reference, so fields set later from a worker
    thread (see :func:`note_user`) reach the lines logged by the task itself."""
    ctx = dict(fields)
    _CONTEXT.set(ctx)
    return ctx


def current() -> dict[str, Any]:
    """The fields of the request or connection being served ({} outside one)."""
    return _CONTEXT.get() or {}


def note_user(name: str) -> None:
    """Record who the current request or connection is, once authentication knows."""
    ctx = _CONTEXT.get()
    if ctx is not None:
        ctx["user"] = name


class JsonFormatter(logging.Formatter):
    """A log record as one JSON line: time, level, logger, message, context, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **current(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure(level: str = "info") -> None:
    """Send the ``pointlabel`` loggers to stderr as JSON lines (``pointlabel serve``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("pointlabel")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


class RequestContext:
    """ASGI middleware: a request id and one access line per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = sent if _SANE_ID.match(sent) else uuid.uuid4().hex[:16]
        open_context(request_id=request_id)
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers") or [])
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            fields = {
                "method": scope["method"], "path": scope["path"], "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            }  # fmt: skip
            access.info("%s %s %s", scope["method"], scope["path"], status,
                        extra={"fields": fields})  # fmt: skip
