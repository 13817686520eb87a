"""The team issue's security and label-set guarantees, on the real routes and sockets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.websockets import WebSocketDisconnect

from server import accounts
from server.app import create_app
from server.auth import SESSION_COOKIE
from server.config import Settings
from server.models import Edit, Scene, Task, User
from server.tasks import create_task, start_for
from tests.sessions import sign_in
from tests.test_ws import new_box_ops


@pytest.fixture
def app_client(settings: Settings, engine: Engine, scene_id: int) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def as_user(app_client: TestClient, engine: Engine, settings: Settings, name: str,
            role: str = "annotator") -> TestClient:  # fmt: skip
    """A new client of the same app, logged in as ``name``."""
    c = TestClient(app_client.app)
    c.headers.update(sign_in(c, engine, settings, name, role))
    return c


def second_task(engine: Engine, scene_id: int, user: str) -> int:
    """Another task (label set) on the same scene, in progress for ``user``."""
    with Session(engine) as db:
        scene = db.get(Scene, scene_id)
        assert scene is not None
        task = create_task(db, scene, None)
        db.commit()
        assert task.id is not None
        task_id = task.id
    return start_for(engine, task_id, user)


def ops_msg(seq: int, client: str = "c") -> dict[str, Any]:
    return {"type": "ops", "seq": seq, "client_id": client, "ops": new_box_ops()[0]}


def test_a_text_plain_post_and_a_post_without_csrf_token_are_refused(
    app_client: TestClient, engine: Engine, settings: Settings, task_id: int
) -> None:
    ann = as_user(app_client, engine, settings, "tester", "lead")
    body = '{"type": "ops", "seq": 1, "client_id": "x", "ops": []}'
    r = ann.post(f"/api/tasks/{task_id}/ops", content=body, headers={"Content-Type": "text/plain",
                 "X-CSRF-Token": ""})  # fmt: skip
    assert (r.status_code, r.json()["code"]) == (403, "csrf_failed")
    del ann.headers["X-CSRF-Token"]
    r = ann.post(f"/api/tasks/{task_id}/ops", json=ops_msg(1))
    assert (r.status_code, r.json()["code"]) == (403, "csrf_failed")
    r = ann.post(
        f"/api/tasks/{task_id}/ops", json=ops_msg(1), headers={"Origin": "https://evil.example"}
    )
    assert (r.status_code, r.json()["code"]) == (403, "csrf_failed")
    with Session(engine) as db:
        assert db.exec(select(Edit)).all() == []


def test_a_websocket_with_a_foreign_origin_or_no_user_is_refused(
    app_client: TestClient, engine: Engine, settings: Settings, task_id: int
) -> None:
    lead = as_user(app_client, engine, settings, "tester", "lead")
    with pytest.raises(WebSocketDisconnect) as foreign:
        with lead.websocket_connect(
            f"/ws/tasks/{task_id}", headers={"Origin": "https://evil.example"}
        ) as ws:
            ws.receive_json()
    assert foreign.value.code == 4403
    with pytest.raises(WebSocketDisconnect) as anonymous:
        with TestClient(app_client.app).websocket_connect(f"/ws/tasks/{task_id}") as ws:
            ws.receive_json()
    assert anonymous.value.code == 4401


def test_an_annotator_cannot_edit_someone_elses_task_or_a_submitted_one(
    app_client: TestClient, engine: Engine, settings: Settings, scene_id: int, task_id: int
) -> None:
    """``task_id`` is tester's. Ana has her own task on the same scene."""
    ana = as_user(app_client, engine, settings, "ana")
    hers = second_task(engine, scene_id, "ana")
    r = ana.post(f"/api/tasks/{task_id}/ops", json=ops_msg(1))
    assert (r.status_code, r.json()["code"]) == (404, "task_not_found")  # not even visible
    with ana.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        assert ws.receive_json()["code"] == "task_not_found"
    # A lead sees tester's task but is not its assignee: refused in the write path.
    lead = as_user(app_client, engine, settings, "lea", "lead")
    r = lead.post(f"/api/tasks/{task_id}/ops", json=ops_msg(1))
    assert (r.status_code, r.json()["errors"][0]["code"]) == (403, "not_editable")
    # Her own task takes edits until she submits it; then REST and websocket refuse alike.
    assert ana.post(f"/api/tasks/{hers}/ops", json=ops_msg(1)).status_code == 200
    assert ana.post(f"/api/tasks/{hers}/submit").json()["state"] == "submitted"
    r = ana.post(f"/api/tasks/{hers}/ops", json=ops_msg(2))
    assert (r.status_code, r.json()["errors"][0]["code"]) == (403, "not_editable")
    with ana.websocket_connect(f"/ws/tasks/{hers}") as ws:
        ws.send_json({"type": "hello", "client_id": "c"})
        while ws.receive_json()["type"] != "snapshot":
            pass
        ws.send_json(ops_msg(3))
        while (reply := ws.receive_json())["type"] == "presence":
            pass
        assert reply["type"] == "reject" and reply["errors"][0]["code"] == "not_editable"
    with Session(engine) as db:
        assert len(db.exec(select(Edit).where(Edit.task_id == hers)).all()) == 2  # one batch


def test_a_revoked_or_expired_session_is_refused_also_on_an_open_socket(
    app_client: TestClient, engine: Engine, settings: Settings, task_id: int
) -> None:
    tester = as_user(app_client, engine, settings, "tester", "lead")
    token = tester.cookies.get(SESSION_COOKIE)
    assert token is not None
    with tester.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        ws.send_json({"type": "hello", "client_id": "c"})
        while ws.receive_json()["type"] != "snapshot":
            pass
        with Session(engine) as db:
            accounts.revoke_session(db, token)
        ws.send_json(ops_msg(1))
        while (reply := ws.receive_json())["type"] == "presence":
            pass
        assert reply["code"] == "not_authenticated"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4401
    assert tester.get(f"/api/tasks/{task_id}").status_code == 401
    expired = TestClient(app_client.app)
    short = settings.model_copy(update={"session_idle_seconds": 0})
    with Session(engine) as db:
        user = db.exec(select(User).where(User.name == "tester")).one()
        new = accounts.create_session(db, user, short)
    expired.cookies.set(SESSION_COOKIE, new.token)
    app_client.app.state.settings = short  # type: ignore[attr-defined]
    assert expired.get(f"/api/tasks/{task_id}").json()["code"] == "not_authenticated"
    with Session(engine) as db:
        assert db.exec(select(Edit)).all() == []


def test_tiles_and_hierarchies_of_a_scene_the_user_may_not_see_are_refused(
    app_client: TestClient, engine: Engine, settings: Settings, scene_id: int, task_id: int
) -> None:
    lead = as_user(app_client, engine, settings, "tester", "lead")
    node = lead.get(f"/api/scenes/{scene_id}/frames/0/hierarchy").json()["nodes"][0]
    tile = f"/api/scenes/{scene_id}/tiles/{node['tile']}"
    assert lead.get(tile).status_code == 200
    ana = as_user(app_client, engine, settings, "ana")
    for url in (tile, f"/api/scenes/{scene_id}/frames/0/hierarchy", f"/api/scenes/{scene_id}"):
        r = ana.get(url)
        assert (r.status_code, r.json()["code"]) == (404, "scene_not_found"), url
    assert ana.get("/api/scenes").json() == []
    second_task(engine, scene_id, "ana")  # once she has a task on it, she sees it
    assert ana.get(tile).status_code == 200


def test_two_annotators_label_one_scene_independently_and_the_log_names_each(
    app_client: TestClient, engine: Engine, settings: Settings, scene_id: int
) -> None:
    ana, bo = (as_user(app_client, engine, settings, n) for n in ("ana", "bo"))
    a_task, b_task = second_task(engine, scene_id, "ana"), second_task(engine, scene_id, "bo")
    same = new_box_ops()[0]  # the same client ids in both label sets: ids are per label set
    for client, task in ((ana, a_task), (bo, b_task)):
        r = client.post(
            f"/api/tasks/{task}/ops", json={"type": "ops", "seq": 1, "client_id": "x", "ops": same}
        )
        assert r.status_code == 200, r.text
    move_ = {"op": "update", "kind": "cuboid", "id": same[1]["id"], "base_revision": 2,
             "data": {"center": [11.0, 0.0, -0.9]}}  # fmt: skip
    assert ana.post(f"/api/tasks/{a_task}/ops", json={"type": "ops", "seq": 2, "client_id": "x",
                    "ops": [move_]}).status_code == 200  # fmt: skip
    a = ana.get(f"/api/tasks/{a_task}/annotations").json()
    b = bo.get(f"/api/tasks/{b_task}/annotations").json()
    assert a["cuboids"][0]["center"][0] == 11.0 and b["cuboids"][0]["center"][0] == 10.0
    assert (a["revision"], b["revision"]) == (3, 2)
    with Session(engine) as db:
        names = dict(db.exec(select(User.id, User.name)).all())
        log = {(e.task_id, e.revision): names[e.user_id] for e in db.exec(select(Edit)).all()}
    assert log == {(a_task, 1): "ana", (a_task, 2): "ana", (a_task, 3): "ana",
                   (b_task, 1): "bo", (b_task, 2): "bo"}  # fmt: skip
    with Session(engine) as db:
        assert {t.scene_id for t in db.exec(select(Task)).all()} == {scene_id}
        assert len(db.exec(select(Scene)).all()) == 1  # frames and tiles shared, never copied
