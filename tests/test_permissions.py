"""Every REST route and websocket op, for each role and for an anonymous client, against
the one policy table (server/policy.py). A route without an entry here fails the test."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.websockets import WebSocketDisconnect

from server.app import create_app
from server.auth import route_table
from server.config import Settings
from server.models import Task
from server.policy import Permission, Role, allows
from server.tasks import start_for
from tests.sessions import sign_in
from tests.test_ws import new_box_ops

P = Permission
PUBLIC, USER = "public", "user"
EXPECTED: dict[tuple[str, str], str | Permission] = {
    ("GET", "/login"): PUBLIC, ("POST", "/login"): PUBLIC, ("POST", "/logout"): PUBLIC,
    ("GET", "/"): PUBLIC, ("GET", "/tasks/{task_id}"): PUBLIC,  # pages: anonymous -> login
    ("GET", "/api/me"): USER,
    ("GET", "/api/scenes"): P.view, ("GET", "/api/scenes/{scene_id}"): P.view,
    ("POST", "/api/scenes"): P.upload, ("GET", "/api/taxonomy"): P.view,
    ("PATCH", "/api/scenes/{scene_id}"): P.upload,
    ("POST", "/api/scenes/{scene_id}/frames/{index}/fit"): P.view,
    ("POST", "/api/scenes/{scene_id}/frames/{index}/propagate"): P.view,
    ("GET", "/api/scenes/{scene_id}/frames/{index}/ground"): P.view,
    ("GET", "/api/scenes/{scene_id}/frames/{index}/hierarchy"): P.view,
    ("GET", "/api/scenes/{scene_id}/tiles/{digest}"): P.view,
    ("GET", "/api/scenes/{scene_id}/frames/{index}/cameras/{name}"): P.view,
    ("GET", "/api/tasks"): P.view, ("POST", "/api/tasks"): P.assign,
    ("POST", "/api/tasks/next"): P.edit, ("POST", "/api/tasks/review/next"): P.review,
    ("GET", "/api/tasks/{task_id}"): P.view, ("GET", "/api/tasks/{task_id}/history"): P.view,
    ("POST", "/api/tasks/{task_id}/assign"): P.assign,
    ("POST", "/api/tasks/{task_id}/start"): P.submit, ("POST", "/api/tasks/{task_id}/submit"): P.submit,
    ("POST", "/api/tasks/{task_id}/approve"): P.approve_reject,
    ("POST", "/api/tasks/{task_id}/reject"): P.approve_reject,
    ("GET", "/api/tasks/{task_id}/annotations"): P.view,
    ("POST", "/api/tasks/{task_id}/ops"): P.edit,
    ("POST", "/api/tasks/{task_id}/prelabel"): P.edit,
    ("POST", "/api/models/cpu/detect"): P.view,
    ("GET", "/api/review/error-types"): P.view,
    ("GET", "/api/tasks/{task_id}/issues"): P.view,
    ("GET", "/api/tasks/{task_id}/warnings"): P.view,
    ("POST", "/api/tasks/{task_id}/issues"): P.review,
    ("POST", "/api/issues/{issue_id}/comments"): P.view,
    ("POST", "/api/issues/{issue_id}/{action}"): P.view,
    ("GET", "/api/tasks/{task_id}/export/{fmt}"): P.export,
    ("POST", "/api/import/{fmt}"): P.import_,
    ("GET", "/healthz"): PUBLIC, ("GET", "/readyz"): PUBLIC, ("GET", "/metrics"): P.operate,
    ("POST", "/api/sql"): P.query_sql, ("GET", "/sql"): PUBLIC,  # page: anonymous -> login
    ("GET", "/api/quality/charts"): P.see_quality, ("GET", "/api/quality/charts.csv"): P.see_quality,
    ("GET", "/api/quality/tasks/{task_id}/defects"): P.see_quality,
    ("GET", "/api/quality/reviewers"): P.see_quality,
    ("GET", "/api/quality/tasks/{task_id}/detector"): P.see_quality,
    ("POST", "/api/quality/golden/{task_id}/plant"): P.assign,
    ("GET", "/api/quality/policy"): P.manage_quality, ("PUT", "/api/quality/policy"): P.manage_quality,
    ("GET", "/api/quality/sampling"): P.see_quality, ("GET", "/api/quality/golden"): P.see_quality,
    ("PUT", "/api/quality/golden/{task_id}"): P.manage_quality,
    ("DELETE", "/api/quality/golden/{task_id}"): P.manage_quality,
    ("POST", "/api/quality/consensus"): P.manage_quality, ("GET", "/api/quality/consensus"): P.see_quality,
    ("GET", "/api/quality/consensus/{group_id}"): P.see_quality,
    ("GET", "/api/quality/consensus/{group_id}/frames/{index}"): P.see_quality,
    ("POST", "/api/quality/consensus/{group_id}/promote"): P.manage_quality,
    ("GET", "/quality"): PUBLIC,  # page: anonymous -> login, without see_quality 403
    ("GET", "/api/quality/report"): P.see_quality,
    ("GET", "/quality/report"): PUBLIC,  # page: anonymous -> login, without see_quality 403
    ("GET", "/api/taxonomy/versions"): P.view,
    ("GET", "/api/taxonomy/versions/{version_id}"): P.view,
    ("GET", "/api/taxonomy/diff"): P.view,
    ("GET", "/api/taxonomy/draft"): P.edit_taxonomy, ("PUT", "/api/taxonomy/draft"): P.edit_taxonomy,
    ("DELETE", "/api/taxonomy/draft"): P.edit_taxonomy,
    ("POST", "/api/taxonomy/draft/changes"): P.edit_taxonomy,
    ("GET", "/api/taxonomy/draft/dry-run"): P.edit_taxonomy,
    ("POST", "/api/taxonomy/draft/publish"): P.edit_taxonomy,
    ("POST", "/api/tasks/{task_id}/taxonomy"): P.edit_taxonomy,
    ("GET", "/api/taxonomy/usage"): P.edit_taxonomy, ("GET", "/api/taxonomy/sizes"): P.edit_taxonomy,
    ("GET", "/taxonomy"): PUBLIC,
    ("GET", "/api/tasks/{task_id}/objects/{object_id}/history"): P.view,  # a page: anonymous -> login, non-leads 403
    ("WS", "/ws/echo"): USER, ("WS", "/ws/tasks/{task_id}"): USER,  # admit_websocket
    ("DELETE", "/api/scenes/{scene_id}"): P.upload,  # last: a lead's request deletes the scene
}  # fmt: skip
REFUSALS = {"not_authenticated", "forbidden", "csrf_failed"}


def test_every_route_has_exactly_the_policy_entry_it_is_listed_with() -> None:
    app = create_app(Settings(data_dir=Path(tempfile.mkdtemp())))
    table = route_table(app)
    missing = sorted(set(table) - set(EXPECTED))
    assert not missing, f"routes without a policy entry: {missing}"
    for key, want in EXPECTED.items():
        if key[0] == "WS":
            continue  # sockets check inside the handler (admit_websocket): tested below
        kind, perms = table[key]
        if want in (PUBLIC, USER):
            assert (kind, perms) == (want, frozenset()), key
        else:
            assert (kind, perms) == ("user", frozenset({want})), key


@pytest.fixture
def world(settings: Settings, engine: Engine, task_id: int) -> Iterator[dict[str, Any]]:
    """One task in progress for ``tester``, and a client per role plus an anonymous one."""
    clients: dict[str, TestClient] = {}
    app = create_app(settings)
    with TestClient(app) as anon:
        anon.headers["Origin"] = "http://testserver"  # same-origin JSON: past the CSRF rule
        clients["anonymous"] = anon
        for role in Role:
            c = TestClient(app)
            c.headers.update(sign_in(c, engine, settings, f"user-{role.value}", role.value))
            clients[role.value] = c
        yield {"clients": clients, "task_id": task_id}


def _url(path: str, task_id: int) -> str:
    values = {"scene_id": 1, "task_id": task_id, "index": 0, "digest": "0" * 32,
              "fmt": "csv", "issue_id": 1, "action": "resolve", "version_id": 1, "object_id": "x",
              "name": "front", "group_id": 1}  # fmt: skip
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


def test_each_role_and_anonymous_get_exactly_what_the_policy_table_gives(
    world: dict[str, Any],
) -> None:
    for (method, path), want in EXPECTED.items():
        if method == "WS" or want == PUBLIC:
            continue
        url = _url(path, world["task_id"])
        for who, client in world["clients"].items():
            body = None if method == "GET" else {}
            r = client.request(method, url, json=body)
            is_json = r.headers.get("content-type", "").startswith("application/json")
            data = r.json() if is_json else None
            code = data.get("code") if isinstance(data, dict) else None
            if who == "anonymous":
                assert (r.status_code, code) == (401, "not_authenticated"), (who, method, path)
            elif want == USER or allows(who, want):  # type: ignore[arg-type]
                assert code not in REFUSALS, (who, method, path, r.status_code, code)
            else:
                assert (r.status_code, code) == (403, "forbidden"), (who, method, path, r.text)


def test_pages_send_anonymous_visitors_to_the_login_page(world: dict[str, Any]) -> None:
    anon = world["clients"]["anonymous"]
    for url in ("/", f"/tasks/{world['task_id']}"):
        r = anon.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


def test_websocket_ops_per_role_follow_the_policy_and_the_assignment(
    world: dict[str, Any], engine: Engine, settings: Settings
) -> None:
    """Anonymous: refused (4401). A lead who is not the assignee, a reviewer and an admin
    may read the task but their ops are refused; an annotator not on it cannot see it."""
    task_id, clients = world["task_id"], world["clients"]
    with pytest.raises(WebSocketDisconnect) as closed:
        with clients["anonymous"].websocket_connect(f"/ws/tasks/{task_id}") as ws:
            ws.receive_json()
    assert closed.value.code == 4401
    with Session(engine) as db:  # the reviewer may see it once it waits for review
        task = db.get(Task, task_id)
        assert task is not None
    for who in ("lead", "admin"):
        with clients[who].websocket_connect(f"/ws/tasks/{task_id}") as ws:
            ws.send_json({"type": "hello", "client_id": who})
            assert _next(ws)["type"] == "snapshot"
            ws.send_json({"type": "ops", "seq": 1, "client_id": who, "ops": new_box_ops()[0]})
            reply = _next(ws)
            assert reply["type"] == "reject" and reply["errors"][0]["code"] == "not_editable", who
    with clients["reviewer"].websocket_connect(f"/ws/tasks/{task_id}") as ws:
        assert _next(ws) == {"type": "error", "code": "task_not_found", "message": ""}
    with clients["annotator"].websocket_connect(f"/ws/tasks/{task_id}") as ws:
        assert _next(ws)["code"] == "task_not_found"  # not theirs: not even visible
    start_for(engine, task_id, "user-annotator")  # now it is theirs, in progress
    with clients["annotator"].websocket_connect(f"/ws/tasks/{task_id}") as ws:
        ws.send_json({"type": "hello", "client_id": "ann"})
        assert _next(ws)["type"] == "snapshot"
        ws.send_json({"type": "ops", "seq": 1, "client_id": "ann", "ops": new_box_ops()[0]})
        assert _next(ws)["type"] == "ack"


def _next(ws: Any) -> dict[str, Any]:
    while (msg := ws.receive_json())["type"] == "presence":
        pass
    return dict(msg)
