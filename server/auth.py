"""Who is asking, and may they: FastAPI dependencies and the edge checks.

- :data:`CurrentUser`: the :class:`Principal` of a request, from the session
  cookie or from ``Authorization: Bearer <API token>``; anonymous is 401
  ``not_authenticated``.
- :func:`require`: a dependency that also needs a permission (403 ``forbidden``).
- :func:`csrf_protect`: the CSRF rule for every state-changing request, to put
  in a router's (or the app's) ``dependencies``.
- :func:`admit_websocket`: the Origin check and authentication of a websocket.

The exact rules are in ``docs/security.md``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request, WebSocket
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute, APIWebSocketRoute
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from server.accounts import (
    csrf_token_for,
    reload_api_token,
    reload_session,
    resolve_api_token,
    resolve_session,
)
from server.config import Settings
from server.errors import ApiError
from server.logs import note_user
from server.models import User
from server.policy import Permission, permissions_of

SESSION_COOKIE = "pointlabel_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded"})
LOGIN_PATH = "/login"
WS_CLOSE_FORBIDDEN_ORIGIN = 4403
WS_CLOSE_NOT_AUTHENTICATED = 4401


@dataclass(frozen=True)
class Principal:
    """The user behind a request, and how they proved it.

    ``csrf_token`` is set for a cookie session (None for an API token).
    """

    user_id: int
    name: str
    role: str
    via: Literal["session", "token"]
    session_id: int | None = None
    token_id: int | None = None
    csrf_token: str | None = None

    @property
    def permissions(self) -> frozenset[Permission]:
        return permissions_of(self.role)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


def get_db(conn: HTTPConnection) -> Iterator[Session]:
    """A database session on the app's engine, closed after the request."""
    with Session(conn.app.state.engine) as session:
        yield session


DbDep = Annotated[Session, Depends(get_db)]


def identify(conn: HTTPConnection, db: Session) -> Principal | None:
    """The principal of a request or websocket, or None when anonymous.

    An ``Authorization`` header wins: when present it must hold a valid
    ``Bearer`` API token, and the cookie is not looked at.
    """
    header = conn.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        found = resolve_api_token(db, token.strip())
        if found is None:
            return None
        user, api_token = found
        return _principal(user, "token", token_id=api_token.id)
    cookie = conn.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    settings: Settings = conn.app.state.settings
    resolved = resolve_session(db, cookie, settings)
    if resolved is None:
        return None
    user, record = resolved
    return _principal(user, "session", session_id=record.id, csrf_token=csrf_token_for(cookie))


def _principal(user: User, via: Literal["session", "token"], **extra: Any) -> Principal:
    assert user.id is not None
    note_user(user.name)  # the request's log lines name its user
    return Principal(user_id=user.id, name=user.name, role=user.role, via=via, **extra)


def optional_user(conn: HTTPConnection, db: DbDep) -> Principal | None:
    """The principal, or None for an anonymous request."""
    return identify(conn, db)


def current_user(conn: HTTPConnection, db: DbDep) -> Principal:
    """The principal; 401 ``not_authenticated`` when anonymous or the credentials are bad."""
    principal = identify(conn, db)
    if principal is None:
        raise ApiError(
            401,
            "not_authenticated",
            "log in, or send a valid API token",
            headers={"WWW-Authenticate": 'Bearer realm="pointlabel"'},
        )
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]
OptionalUser = Annotated[Principal | None, Depends(optional_user)]


def login_redirect(request: Request) -> RedirectResponse:
    """For an HTML page and an anonymous user: 303 to the login page, back here after."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{LOGIN_PATH}?{urlencode({'next': here})}", status_code=303)


def require(permission: Permission) -> Any:
    """A dependency: the current user if their role holds ``permission``, else 403.

    Use as ``dependencies=[require(Permission.export)]`` or
    ``user: Annotated[Principal, require(Permission.export)]``.
    """

    def check(user: CurrentUser) -> Principal:
        if not user.can(permission):
            raise ApiError(403, "forbidden", f"your role ({user.role}) may not {permission.value}")
        return user

    check.permission = permission  # type: ignore[attr-defined]
    check.__name__ = f"require_{permission.value}"
    return Depends(check)


def public() -> None:
    """Marks a route as open to anonymous clients (for route enumeration)."""


PUBLIC = Depends(public)


Access = tuple[str, frozenset[Permission]]
"""What a route demands: ("public" | "user" | "unguarded", the permissions it requires)."""


def route_table(app: FastAPI) -> dict[tuple[str, str], Access]:
    """(method or ``WS``, path) -> :data:`Access`, for every route of ``app``,
    including those of included routers. For the test that checks every route
    against the policy table."""
    table: dict[tuple[str, str], Access] = {}
    for route, prefix, extra in _walk(app.routes, "", ()):
        access = route_access(route, extra)
        methods = getattr(route, "methods", None) or {"WS"}
        for method in methods:
            table[(method, prefix + route.path)] = access
    return table


def route_access(route: APIRoute | APIWebSocketRoute, extra: tuple[Any, ...] = ()) -> Access:
    """What one route demands; ``extra``: dependencies its router was included with."""
    calls: list[Callable[..., Any]] = [d.dependency for d in extra if d.dependency is not None]
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if dep.call is not None:
            calls.append(dep.call)
        stack.extend(dep.dependencies)
    perms = frozenset(c.permission for c in calls if hasattr(c, "permission"))
    if perms or current_user in calls:
        return "user", perms
    return ("public" if public in calls else "unguarded"), perms


def _walk(
    routes: list[Any], prefix: str, extra: tuple[Any, ...]
) -> Iterator[tuple[APIRoute | APIWebSocketRoute, str, tuple[Any, ...]]]:
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI >= 0.16x includes lazily
        if included is not None:
            ctx = route.include_context
            yield from _walk(included.routes, prefix + ctx.prefix, extra + tuple(ctx.dependencies))
        elif isinstance(route, APIRoute | APIWebSocketRoute):
            yield route, prefix, extra


# CSRF ---------------------------------------------------------------------------------


async def csrf_protect(conn: HTTPConnection) -> None:
    """Refuse a state-changing request that a foreign web page could have sent.

    Passes: safe methods; requests with an ``Authorization`` header (no ambient
    credentials); an ``X-CSRF-Token`` header equal to the session's token; a
    JSON body (``Content-Type: application/json``) with an allowed ``Origin``;
    on ``/login`` only, also a form body with an allowed ``Origin``.
    Anything else is 403 ``csrf_failed`` (a ``text/plain`` POST, for one).
    """
    if conn.scope["type"] != "http" or conn.scope["method"] in SAFE_METHODS:
        return
    if "authorization" in conn.headers:
        return
    sent, cookie = conn.headers.get(CSRF_HEADER), conn.cookies.get(SESSION_COOKIE)
    if sent and cookie and hmac.compare_digest(sent.encode(), csrf_token_for(cookie).encode()):
        return
    media = conn.headers.get("content-type", "").split(";")[0].strip().lower()
    accepted = {"application/json"} | (FORM_TYPES if conn.url.path == LOGIN_PATH else set())
    origin = conn.headers.get("origin")
    if media in accepted and origin is not None and origin_allowed(conn, origin):
        return
    raise ApiError(
        403,
        "csrf_failed",
        f"send the {CSRF_HEADER} header from /api/me, or JSON from this site's own pages",
    )


CsrfDep = Depends(csrf_protect)


# Origins and websockets ---------------------------------------------------------------


def own_origin(conn: HTTPConnection) -> str:
    """The origin a browser shows for pages of this server: scheme://host[:port]."""
    scheme = {"ws": "http", "wss": "https"}.get(conn.url.scheme, conn.url.scheme)
    return f"{scheme}://{conn.headers.get('host', '')}".lower()


def origin_allowed(conn: HTTPConnection, origin: str) -> bool:
    """Whether ``origin`` is this server's own or one of ``settings.allowed_origins``."""
    settings: Settings = conn.app.state.settings
    allowed = {o.rstrip("/").lower() for o in settings.allowed_origins} | {own_origin(conn)}
    return origin.rstrip("/").lower() in allowed


def websocket_origin_ok(ws: WebSocket) -> bool:
    """A browser always sends ``Origin`` on a websocket: it must be allowed.
    Without one (a script, not a browser) the socket is not refused for it."""
    origin = ws.headers.get("origin")
    return origin is None or origin_allowed(ws, origin)


def authenticate_websocket(ws: WebSocket) -> Principal | None:
    """The principal of a websocket (cookie or Bearer token), or None. Blocking:
    call through ``run_in_threadpool``."""
    with Session(ws.app.state.engine) as db:
        return identify(ws, db)


def refresh_principal(engine: Engine, principal: Principal, settings: Settings) -> Principal | None:
    """``principal`` as it stands now: None when its session was revoked or expired,
    its API token revoked, or its user disabled; the current role otherwise.
    Blocking. For re-checking open websockets after a role change or a revocation."""
    with Session(engine) as db:
        return recheck_principal(db, principal, settings)


def recheck_principal(db: Session, principal: Principal, settings: Settings) -> Principal | None:
    """As :func:`refresh_principal`, read through ``db`` (the websocket's batches are
    re-checked this way inside the writer's transaction: server/annotations.py)."""
    if principal.session_id is not None:
        user = reload_session(db, principal.session_id, settings)
    elif principal.token_id is not None:
        user = reload_api_token(db, principal.token_id)
    else:
        user = None
    if user is None:
        return None
    return replace(principal, name=user.name, role=user.role)


async def admit_websocket(ws: WebSocket) -> Principal | None:
    """Check a websocket before ``accept``: a foreign Origin is closed with 4403,
    an anonymous one with 4401 (the handshake is answered 403 either way).
    Returns the principal, or None when the socket was refused."""
    if not websocket_origin_ok(ws):
        await ws.close(code=WS_CLOSE_FORBIDDEN_ORIGIN)
        return None
    principal = await run_in_threadpool(authenticate_websocket, ws)
    if principal is None:
        await ws.close(code=WS_CLOSE_NOT_AUTHENTICATED)
        return None
    return principal
