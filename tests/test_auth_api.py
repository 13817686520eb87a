"""Login, logout, /api/me, CSRF, API tokens, permissions and websocket admission over HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, Request, WebSocket
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.websockets import WebSocketDisconnect

from server import accounts
from server.app import create_app
from server.auth import (
    SESSION_COOKIE,
    CsrfDep,
    CurrentUser,
    OptionalUser,
    Principal,
    admit_websocket,
    login_redirect,
    refresh_principal,
    require,
    route_table,
)
from server.config import Settings
from server.models import utcnow
from server.policy import Permission
from tests.pg import database_bytes
from tests.sessions import sign_in

ORIGIN = "http://testserver"  # what a browser sends from the TestClient's own pages
ANA_PASSWORD, ROOT_PASSWORD = "ana's long password", "root's long password"


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    """The real app plus probe routes guarded the way the lead's routers will be."""
    app = create_app(settings)
    probe = APIRouter(dependencies=[CsrfDep])

    @probe.post("/probe/write")
    def write(user: CurrentUser) -> dict[str, Any]:
        return {"name": user.name}

    @probe.post("/probe/users", dependencies=[require(Permission.manage_users)])
    def manage() -> dict[str, Any]:
        return {"ok": True}

    @app.websocket("/probe/ws")
    async def socket(ws: WebSocket) -> None:
        principal = await admit_websocket(ws)
        if principal is not None:
            await ws.accept()
            await ws.send_json({"name": principal.name, "via": principal.via})
            await ws.close()

    app.include_router(probe)
    return app


@pytest.fixture
def web(app: FastAPI, engine: Engine) -> Iterator[TestClient]:
    with Session(engine) as db:
        accounts.create_user(db, "ana", "annotator", password=ANA_PASSWORD)
        accounts.create_user(db, "root", "admin", password=ROOT_PASSWORD)
    with TestClient(app) as client:
        yield client


def login(web: TestClient, name: str = "ana", password: str = ANA_PASSWORD) -> str:
    """Log in with JSON from our own origin; returns the CSRF token."""
    r = web.post("/login", json={"name": name, "password": password}, headers={"Origin": ORIGIN})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])


def test_login_page_is_a_form_and_states_demo_credentials_when_set(
    web: TestClient, app: FastAPI
) -> None:
    page = web.get("/login?next=/scenes/1")
    assert page.status_code == 200
    assert '<form method="post" action="/login"' in page.text
    assert 'value="/scenes/1"' in page.text and "demo-credentials" not in page.text
    app.state.demo_credentials = [accounts.Credential("lead", "lead", "demo-lead")]
    assert "demo-lead" in web.get("/login").text


def test_json_login_sets_an_httponly_lax_cookie_and_me_answers(web: TestClient) -> None:
    r = web.post(
        "/login", json={"name": "ana", "password": ANA_PASSWORD}, headers={"Origin": ORIGIN}
    )
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie and "Secure" not in cookie
    me = web.get("/api/me").json()
    assert me["name"] == "ana" and me["role"] == "annotator" and me["via"] == "session"
    assert me["permissions"] == ["edit", "submit", "view"]
    assert me["csrf_token"] == r.json()["csrf_token"]


def test_cookie_is_secure_when_tls_is_configured(settings: Settings, engine: Engine) -> None:
    with Session(engine) as db:
        accounts.create_user(db, "ana", "annotator", password=ANA_PASSWORD)
    app = create_app(settings.model_copy(update={"tls": True}))
    with TestClient(app) as web:
        r = web.post(
            "/login", json={"name": "ana", "password": ANA_PASSWORD}, headers={"Origin": ORIGIN}
        )
    assert r.status_code == 200 and "Secure" in r.headers["set-cookie"]


def test_form_login_redirects_to_a_local_next_page_only(web: TestClient) -> None:
    form = {"name": "ana", "password": ANA_PASSWORD, "next": "/scenes/3"}
    r = web.post("/login", data=form, headers={"Origin": ORIGIN}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/scenes/3"
    form["next"] = "//evil.example/phish"
    r = web.post("/login", data=form, headers={"Origin": ORIGIN}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_wrong_password_is_401_as_json_and_as_the_page_again(web: TestClient) -> None:
    r = web.post(
        "/login", json={"name": "ana", "password": "nope nope"}, headers={"Origin": ORIGIN}
    )
    assert r.status_code == 401 and r.json()["code"] == "invalid_credentials"
    form = {"name": "ana", "password": "nope nope"}
    page = web.post("/login", data=form, headers={"Origin": ORIGIN})
    assert page.status_code == 401 and "wrong user name or password" in page.text
    assert SESSION_COOKIE not in web.cookies
    assert web.get("/api/me").json()["code"] == "not_authenticated"


def test_logout_revokes_the_session_even_for_a_kept_cookie(web: TestClient) -> None:
    csrf = login(web)
    kept = web.cookies[SESSION_COOKIE]
    assert web.post("/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert web.get("/api/me").status_code == 401
    web.cookies.set(SESSION_COOKIE, kept)
    assert web.get("/api/me").json()["code"] == "not_authenticated"


def test_expired_session_and_disabled_user_are_refused(
    web: TestClient, engine: Engine, settings: Settings
) -> None:
    with Session(engine) as db:
        ana = accounts.get_user(db, "ana")
        long_ago = utcnow() - timedelta(seconds=settings.session_idle_seconds + 60)
        stale = accounts.create_session(db, ana, settings, now=long_ago)
    web.cookies.set(SESSION_COOKIE, stale.token)
    assert web.get("/api/me").status_code == 401
    login(web)
    assert web.get("/api/me").status_code == 200
    with Session(engine) as db:
        accounts.set_disabled(db, "ana")
    assert web.get("/api/me").status_code == 401
    r = web.post(
        "/login", json={"name": "ana", "password": ANA_PASSWORD}, headers={"Origin": ORIGIN}
    )
    assert r.status_code == 401


def test_repeated_failures_lock_the_name_with_429_and_retry_after(
    web: TestClient, settings: Settings
) -> None:
    for _ in range(settings.login_max_failures_per_name):
        r = web.post(
            "/login", json={"name": "ana", "password": "guess guess"}, headers={"Origin": ORIGIN}
        )
        assert r.status_code == 401
    r = web.post(
        "/login", json={"name": "ana", "password": ANA_PASSWORD}, headers={"Origin": ORIGIN}
    )
    assert r.status_code == 429 and r.json()["code"] == "too_many_attempts"
    assert 0 < int(r.headers["retry-after"]) <= settings.login_window_seconds
    assert SESSION_COOKIE not in web.cookies
    login(web, "root", ROOT_PASSWORD)  # another name from the same client is not locked


def test_text_plain_post_is_refused_even_from_our_origin(web: TestClient) -> None:
    login(web)
    r = web.post(
        "/probe/write",
        content=b'{"x": 1}',
        headers={"Content-Type": "text/plain", "Origin": ORIGIN},
    )
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"


def test_json_post_passes_from_our_origin_only(web: TestClient, settings: Settings) -> None:
    login(web)
    assert web.post("/probe/write", json={}, headers={"Origin": ORIGIN}).json() == {"name": "ana"}
    foreign = web.post("/probe/write", json={}, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and foreign.json()["code"] == "csrf_failed"
    missing = web.post("/probe/write", json={})  # neither Origin nor token
    assert missing.status_code == 403 and missing.json()["code"] == "csrf_failed"


def test_configured_origin_is_allowed(settings: Settings, engine: Engine) -> None:
    with Session(engine) as db:
        accounts.create_user(db, "ana", "annotator", password=ANA_PASSWORD)
    app = create_app(settings.model_copy(update={"allowed_origins": ["https://label.example"]}))
    with TestClient(app) as web:
        r = web.post(
            "/login",
            json={"name": "ana", "password": ANA_PASSWORD},
            headers={"Origin": "https://label.example/"},
        )
    assert r.status_code == 200


def test_csrf_header_must_match_the_session(web: TestClient) -> None:
    csrf = login(web)
    plain = {"Content-Type": "text/plain"}
    ok = web.post("/probe/write", content=b"x", headers={**plain, "X-CSRF-Token": csrf})
    assert ok.status_code == 200
    forged = csrf[:-1] + ("1" if csrf.endswith("0") else "0")
    bad = web.post("/probe/write", content=b"x", headers={**plain, "X-CSRF-Token": forged})
    assert bad.status_code == 403 and bad.json()["code"] == "csrf_failed"


def test_login_form_from_a_foreign_or_unknown_origin_is_refused(web: TestClient) -> None:
    form = {"name": "ana", "password": ANA_PASSWORD}
    for headers in ({"Origin": "https://evil.example"}, {}):
        r = web.post("/login", data=form, headers=headers, follow_redirects=False)
        assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    assert SESSION_COOKIE not in web.cookies


def test_api_token_works_without_csrf_and_is_stored_hashed(
    web: TestClient, engine: Engine, settings: Settings
) -> None:
    with Session(engine) as db:
        token, _ = accounts.create_api_token(db, "root", label="script")
    bearer = {"Authorization": f"Bearer {token}"}
    me = web.get("/api/me", headers=bearer).json()
    assert me["name"] == "root" and me["via"] == "token" and me["csrf_token"] is None
    r = web.post("/probe/users", content=b"x", headers={**bearer, "Content-Type": "text/plain"})
    assert r.status_code == 200
    raw = database_bytes(settings)
    assert token.encode() not in raw and accounts.token_hash(token).encode() in raw


def test_a_bad_bearer_token_is_401_even_with_a_good_cookie(web: TestClient) -> None:
    login(web)
    r = web.get("/api/me", headers={"Authorization": "Bearer plt_not-a-token"})
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
    assert web.get("/api/me", headers={"Authorization": "Basic YW5hOng="}).status_code == 401


def test_permission_dependency_refuses_a_role_without_it(web: TestClient) -> None:
    csrf = login(web)
    r = web.post("/probe/users", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403 and r.json() == {
        "code": "forbidden",
        "message": "your role (annotator) may not manage_users",
    }
    csrf = login(web, "root", ROOT_PASSWORD)
    assert web.post("/probe/users", headers={"X-CSRF-Token": csrf}).status_code == 200


def test_anonymous_request_is_401_with_a_code(web: TestClient) -> None:
    r = web.post("/probe/write", json={}, headers={"Origin": ORIGIN})
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"


def test_websocket_needs_an_allowed_origin_and_a_user(web: TestClient, engine: Engine) -> None:
    with pytest.raises(WebSocketDisconnect) as closed:
        with web.websocket_connect("/probe/ws", headers={"Origin": ORIGIN}):
            pass
    assert closed.value.code == 4401
    login(web)
    with pytest.raises(WebSocketDisconnect) as closed:
        with web.websocket_connect("/probe/ws", headers={"Origin": "https://evil.example"}):
            pass
    assert closed.value.code == 4403
    with web.websocket_connect("/probe/ws", headers={"Origin": ORIGIN}) as ws:
        assert ws.receive_json() == {"name": "ana", "via": "session"}
    with Session(engine) as db:
        token, _ = accounts.create_api_token(db, "root")
    web.cookies.clear()
    with web.websocket_connect("/probe/ws", headers={"Authorization": f"Bearer {token}"}) as ws:
        assert ws.receive_json() == {"name": "root", "via": "token"}


def test_no_password_or_token_reaches_the_logs(
    web: TestClient, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # every SQL statement and its values
    web.post(
        "/login", json={"name": "ana", "password": "wrong but secret"}, headers={"Origin": ORIGIN}
    )
    csrf = login(web)
    session_token = web.cookies[SESSION_COOKIE]
    web.post("/probe/write", json={}, headers={"X-CSRF-Token": csrf})
    with Session(engine) as db:
        token, _ = accounts.create_api_token(db, "root")
    web.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    web.post("/logout", headers={"X-CSRF-Token": csrf})
    assert "logged in" in caplog.text and "FROM authsession" in caplog.text  # logins and SQL
    for secret in (ANA_PASSWORD, "wrong but secret", session_token, csrf, token):
        assert secret not in caplog.text


def test_routes_declare_who_may_call_them(app: FastAPI) -> None:
    access = route_table(app)
    assert access[("GET", "/login")] == ("public", frozenset())
    assert access[("POST", "/login")] == ("public", frozenset())
    assert access[("POST", "/logout")] == ("public", frozenset())
    assert access[("GET", "/api/me")] == ("user", frozenset())
    assert access[("POST", "/probe/write")] == ("user", frozenset())
    assert access[("POST", "/probe/users")] == ("user", frozenset({Permission.manage_users}))
    assert access[("GET", "/api/taxonomy")] == ("user", frozenset({Permission.view}))
    assert access[("WS", "/probe/ws")] == ("unguarded", frozenset())  # checked inside the handler


def test_open_connection_recheck_follows_revocation_role_and_disable(
    web: TestClient, engine: Engine, settings: Settings
) -> None:
    with Session(engine) as db:
        ana = accounts.get_user(db, "ana")
        new = accounts.create_session(db, ana, settings)
        token, record = accounts.create_api_token(db, "root")
    by_cookie = Principal(new.user_id, "ana", "annotator", "session", session_id=new.session_id)
    by_token = Principal(record.user_id, "root", "admin", "token", token_id=record.id)
    assert refresh_principal(engine, by_cookie, settings) == by_cookie
    with Session(engine) as db:
        accounts.set_role(db, "ana", "reviewer")
    refreshed = refresh_principal(engine, by_cookie, settings)
    assert refreshed is not None and refreshed.role == "reviewer"
    with Session(engine) as db:
        accounts.revoke_session(db, new.token)
        accounts.set_disabled(db, "root")
    assert refresh_principal(engine, by_cookie, settings) is None
    assert refresh_principal(engine, by_token, settings) is None


def test_malformed_login_requests_are_refused_with_a_code(web: TestClient) -> None:
    json_type = {"Origin": ORIGIN, "Content-Type": "application/json"}
    cases = [
        (b'["ana", "password"]', json_type, 422, "invalid_request"),
        (b'{"name": "ana"}', json_type, 422, "invalid_request"),
        (b"{not json", json_type, 422, "invalid_request"),
        (
            b"name=ana&password=x",
            {"Origin": ORIGIN, "Content-Type": "text/plain"},
            403,
            "csrf_failed",
        ),
    ]
    for body, headers, status, code in cases:
        r = web.post("/login", content=body, headers=headers)
        assert (r.status_code, r.json()["code"]) == (status, code)


def test_a_new_login_ends_the_browsers_previous_session(web: TestClient) -> None:
    login(web)
    first = web.cookies[SESSION_COOKIE]
    login(web, "root", ROOT_PASSWORD)
    assert web.get("/api/me").json()["name"] == "root"
    web.cookies.set(SESSION_COOKIE, first)
    assert web.get("/api/me").status_code == 401


def test_an_anonymous_page_visit_can_be_sent_to_login_and_back(app: FastAPI) -> None:
    @app.get("/probe/page")
    def page(request: Request, user: OptionalUser) -> Any:
        return login_redirect(request) if user is None else {"name": user.name}

    with TestClient(app) as web:
        r = web.get("/probe/page?frame=3", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=%2Fprobe%2Fpage%3Fframe%3D3"
        form = web.get(r.headers["location"]).text
        assert 'value="/probe/page?frame=3"' in form


def test_sign_in_helper_gives_a_real_session(
    web: TestClient, engine: Engine, settings: Settings
) -> None:
    headers = sign_in(web, engine, settings, "lee", "lead")
    assert web.get("/api/me").json()["role"] == "lead"
    assert web.post("/probe/write", content=b"x", headers=headers).json() == {"name": "lee"}
