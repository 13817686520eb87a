"""Login, logout and who am I: ``GET/POST /login``, ``POST /logout``, ``GET /api/me``."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from server.accounts import NewSession, authenticate, create_session, revoke_session
from server.api.routes.pages import templates
from server.auth import PUBLIC, SESSION_COOKIE, CsrfDep, CurrentUser
from server.config import Settings
from server.errors import ApiError
from server.login_limit import LoginLimiter

log = logging.getLogger("pointlabel.auth")
MAX_LOGIN_BYTES = 64 * 1024

router = APIRouter(tags=["auth"], dependencies=[CsrfDep])


@router.get("/login", response_class=HTMLResponse, dependencies=[PUBLIC])
def login_page(request: Request, next: str = "/") -> Response:
    """The login form. ``next``: the local page to open after logging in."""
    return _page(request, next=_local(next))


@router.post("/login", dependencies=[PUBLIC])
async def login(request: Request) -> Response:
    """Log in with ``name`` and ``password`` (urlencoded form fields or a JSON object).

    Form: 303 to ``next`` with the session cookie set, or the page again with
    the error (401, or 429 with Retry-After). JSON: 200 ``{user, csrf_token}``,
    or 401 ``invalid_credentials`` / 429 ``too_many_attempts``.
    """
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    is_form = media == "application/x-www-form-urlencoded"
    fields = await _fields(request, is_form)
    name, password = str(fields.get("name", "")), str(fields.get("password", ""))
    target = _local(str(fields.get("next", "/")))
    try:
        new = await _login(request, name, password)
    except ApiError as exc:
        if not is_form:
            raise
        return _page(
            request,
            next=target,
            error=exc.message,
            name=name,
            status=exc.status,
            headers=exc.headers,
        )
    settings: Settings = request.app.state.settings
    response: Response
    if is_form:
        response = RedirectResponse(target, status_code=303)
    else:
        body = {"user": _user_json(new), "csrf_token": new.csrf_token}
        response = JSONResponse(body, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        SESSION_COOKIE,
        new.token,
        max_age=settings.session_max_seconds,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.tls,
    )
    return response


@router.post("/logout", dependencies=[PUBLIC])
async def logout(request: Request) -> Response:
    """Revoke the session of the cookie (if any) and clear the cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await run_in_threadpool(_revoke, request.app.state.engine, token)
    response = JSONResponse({"logged_out": True})
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.get("/api/me")
def me(user: CurrentUser, response: Response) -> dict[str, Any]:
    """The current user, their role and permissions, and the session's CSRF token."""
    response.headers["Cache-Control"] = "no-store"
    return {
        "id": user.user_id,
        "name": user.name,
        "role": user.role,
        "permissions": sorted(p.value for p in user.permissions),
        "via": user.via,
        "csrf_token": user.csrf_token,
    }


async def _login(request: Request, name: str, password: str) -> NewSession:
    """Check the rate limit and the password; a new session, or 401/429."""
    limiter = _limiter(request)
    ip = request.client.host if request.client else "unknown"
    limiter.check(name, ip)
    settings: Settings = request.app.state.settings
    engine, previous = request.app.state.engine, request.cookies.get(SESSION_COOKIE)
    new = await run_in_threadpool(_check_and_open, engine, settings, name, password, previous)
    if new is None:
        limiter.failure(name, ip)
        log.info("failed login from %s", ip)
        raise ApiError(401, "invalid_credentials", "wrong user name or password")
    limiter.success(name)
    log.info("user %s logged in from %s", new.name, ip)
    return new


def _check_and_open(
    engine: Any, settings: Settings, name: str, password: str, previous: str | None
) -> NewSession | None:
    """A new session if the password is right; the browser's previous session ends."""
    with Session(engine) as db:
        user = authenticate(db, name, password)
        if user is None:
            return None
        if previous:
            revoke_session(db, previous)
        return create_session(db, user, settings)


def _revoke(engine: Any, token: str) -> None:
    with Session(engine) as db:
        revoke_session(db, token)


def _limiter(request: Request) -> LoginLimiter:
    """The app's login limiter, made on first use."""
    state = request.app.state
    if not hasattr(state, "login_limiter"):
        state.login_limiter = LoginLimiter.from_settings(state.settings)
    limiter: LoginLimiter = state.login_limiter
    return limiter


async def _fields(request: Request, is_form: bool) -> dict[str, Any]:
    """The login fields from a urlencoded form or a JSON object; 422 ``invalid_request``
    otherwise (also past 64 KiB)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_LOGIN_BYTES:
            raise ApiError(422, "invalid_request", "the login request is too large")
    try:
        data: Any = dict(parse_qsl(body.decode())) if is_form else json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str) for k in ("name", "password")
    ):
        raise ApiError(422, "invalid_request", "send name and password, as a form or a JSON object")
    return data


def _local(target: str) -> str:
    """``target`` if it is a path on this site, else ``/`` (no open redirects)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target if "\\" not in target else "/"


def _user_json(new: NewSession) -> dict[str, Any]:
    return {"id": new.user_id, "name": new.name, "role": new.role}


def _page(
    request: Request,
    *,
    next: str,
    error: str | None = None,
    name: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    context = {
        "next": next,
        "error": error,
        "name": name,
        "demo_credentials": getattr(request.app.state, "demo_credentials", None),
    }
    return templates.TemplateResponse(
        request, "login.html", context, status_code=status, headers=headers
    )
