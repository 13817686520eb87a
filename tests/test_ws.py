"""The scene websocket: create -> ack -> committed; invalid edits refused and not stored."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.testclient import WebSocketTestSession

from server.models import Cuboid, Edit, Task, Track


def new_box_ops(
    *, size: Any = (4.5, 1.9, 1.6), center: Any = (10.0, 0.0, -0.9)
) -> tuple[list[dict[str, Any]], str, str]:
    track_id, cuboid_id = str(uuid.uuid4()), str(uuid.uuid4())
    ops = [
        {"op": "create", "kind": "track", "id": track_id, "data": {"label": "Car"}},
        {
            "op": "create",
            "kind": "cuboid",
            "id": cuboid_id,
            "data": {
                "track_id": track_id,
                "frame": 0,
                "center": list(center),
                "size": list(size),
                "yaw": 0.3,
            },
        },
    ]
    return ops, track_id, cuboid_id


def receive(ws: WebSocketTestSession) -> dict[str, Any]:
    """The next message that is not a presence update."""
    while True:
        msg: dict[str, Any] = ws.receive_json()
        if msg["type"] != "presence":
            return msg


def hello(ws: WebSocketTestSession, client_id: str = "c1") -> dict[str, Any]:
    ws.send_json({"type": "hello", "client_id": client_id})
    snap = receive(ws)
    assert snap["type"] == "snapshot"
    return snap


def send_ops(
    ws: WebSocketTestSession, seq: int, ops: list[dict[str, Any]], client_id: str = "c1"
) -> dict[str, Any]:
    ws.send_json({"type": "ops", "seq": seq, "client_id": client_id, "ops": ops})
    return receive(ws)


def stored(engine: Engine) -> tuple[list[Track], list[Cuboid], list[Edit]]:
    with Session(engine) as s:
        return (
            list(s.exec(select(Track)).all()),
            list(s.exec(select(Cuboid)).all()),
            list(s.exec(select(Edit)).all()),
        )


def test_created_cuboid_is_acknowledged_after_commit_with_an_edit_log(
    client: TestClient, engine: Engine, task_id: int
) -> None:
    ops, track_id, cuboid_id = new_box_ops()
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        assert hello(ws)["revision"] == 0
        ack = send_ops(ws, 1, ops)
    assert ack["type"] == "ack" and ack["revision"] == 2
    assert ack["revisions"] == {track_id: 1, cuboid_id: 2}
    tracks, cuboids, edits = stored(engine)  # a new session: what the disk holds
    assert [t.id for t in tracks] == [track_id]
    (c,) = cuboids
    assert (c.cx, c.cy, c.cz, c.length, c.width, c.height, c.yaw) == (
        10.0,
        0.0,
        -0.9,
        4.5,
        1.9,
        1.6,
        0.3,
    )
    assert [(e.op, e.kind, e.revision) for e in edits] == [
        ("create", "track", 1),
        ("create", "cuboid", 2),
    ]
    user_ids = {e.user_id for e in edits}
    assert len(user_ids) == 1 and all(e.created_at is not None for e in edits)
    assert edits[1].before is None and edits[1].after is not None
    assert edits[1].after["center"] == [10.0, 0.0, -0.9]


def test_edit_with_nan_size_is_rejected_and_not_stored(
    client: TestClient, task_id: int, engine: Engine, scene_id: int
) -> None:
    ops, _, _ = new_box_ops(size=(float("nan"), 1.9, 1.6))
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        hello(ws)
        # Python's json writes NaN as a bare token, as a careless client would.
        reply = send_ops(ws, 1, ops)
    assert reply["type"] == "reject" and reply["seq"] == 1
    assert [(e["code"], e["path"]) for e in reply["errors"]] == [
        ("non_finite", "ops.1.data.size.0")
    ]
    assert stored(engine) == ([], [], [])
    with Session(engine) as s:
        assert s.get(Task, task_id).revision == 0  # type: ignore[union-attr]


def test_edit_with_negative_size_is_rejected_and_not_stored(
    client: TestClient, engine: Engine, task_id: int
) -> None:
    ops, _, _ = new_box_ops(size=(4.5, -1.0, 1.6))
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        hello(ws)
        reply = send_ops(ws, 1, ops)
    assert [e["code"] for e in reply["errors"]] == ["size_not_positive"]
    assert stored(engine) == ([], [], [])


def test_move_is_stored_and_a_stale_base_revision_is_a_conflict(
    client: TestClient, engine: Engine, task_id: int
) -> None:
    ops, _, cuboid_id = new_box_ops()
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        hello(ws)
        send_ops(ws, 1, ops)
        move = {
            "op": "update",
            "kind": "cuboid",
            "id": cuboid_id,
            "base_revision": 2,
            "data": {"center": [12.0, 1.0, -0.9]},
        }
        assert send_ops(ws, 2, [move])["type"] == "ack"
        conflict = send_ops(ws, 3, [{**move, "data": {"center": [0.0, 0.0, -0.9]}}])
    assert conflict["type"] == "conflict" and conflict["current"]["center"] == [12.0, 1.0, -0.9]
    (c,) = stored(engine)[1]
    assert (c.cx, c.cy, c.revision) == (12.0, 1.0, 3)


def test_resent_batch_is_acknowledged_again_and_applied_once(
    client: TestClient, engine: Engine, task_id: int
) -> None:
    ops, _, _ = new_box_ops()
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        hello(ws)
        first = send_ops(ws, 7, ops)
        again = send_ops(ws, 7, ops)
    assert again["replayed"] and again["revision"] == first["revision"]
    assert again["revisions"] == first["revisions"]
    assert len(stored(engine)[2]) == 2


def test_other_clients_receive_the_event_and_a_reconnect_sees_the_box(
    client: TestClient, task_id: int
) -> None:
    ops, _, cuboid_id = new_box_ops()
    with (
        client.websocket_connect(f"/ws/tasks/{task_id}") as a,
        client.websocket_connect(f"/ws/tasks/{task_id}") as b,
    ):
        hello(a)
        hello(b)
        send_ops(a, 1, ops)
        event = receive(b)
    assert event["type"] == "event" and event["revision"] == 2
    assert [o["id"] for o in event["ops"]][-1] == cuboid_id
    with client.websocket_connect(f"/ws/tasks/{task_id}") as c:
        snap = hello(c)
    assert [x["id"] for x in snap["cuboids"]] == [cuboid_id]


def test_malformed_messages_get_an_error_and_the_connection_stays_usable(
    client: TestClient, task_id: int
) -> None:
    bad_messages = [
        "not json",
        "[]",
        '{"type": "ops"}',
        '{"type": "explode"}',
        '{"type":"ops","seq":1,"client_id":"c","ops":[{"op":"create"}]}',
    ]
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        for bad in bad_messages:
            ws.send_text(bad)
            reply = receive(ws)
            assert (reply["type"], reply["code"]) == ("error", "invalid_message")
        assert hello(ws)["revision"] == 0


def test_cuboid_in_a_frame_outside_the_scene_is_rejected(client: TestClient, task_id: int) -> None:
    ops, _, _ = new_box_ops()
    ops[1]["data"]["frame"] = 5
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        hello(ws)
        reply = send_ops(ws, 1, ops)
    assert [e["code"] for e in reply["errors"]] == ["frame_not_in_scene"]


def move_op(cuboid_id: str, base: int, x: float) -> dict[str, Any]:
    return {
        "op": "update",
        "kind": "cuboid",
        "id": cuboid_id,
        "base_revision": base,
        "data": {"center": [x, 0.0, -0.9]},
    }


def test_reconnect_with_since_revision_gets_exactly_the_missed_events_in_order(
    client: TestClient, task_id: int
) -> None:
    ops, _, cuboid_id = new_box_ops()
    with client.websocket_connect(f"/ws/tasks/{task_id}") as a:
        hello(a, "a")
        send_ops(a, 1, ops, "a")  # revisions 1, 2: the client that leaves has these
        for i in range(3):  # revisions 3, 4, 5 happen while it is away
            assert send_ops(a, 2 + i, [move_op(cuboid_id, 2 + i, 11.0 + i)], "a")["type"] == "ack"
    with client.websocket_connect(f"/ws/tasks/{task_id}") as b:
        b.send_json({"type": "hello", "client_id": "b", "since_revision": 2})
        missed = receive(b)
    assert missed["type"] == "missed" and missed["revision"] == 5
    assert [e["revision"] for e in missed["events"]] == [3, 4, 5]
    assert [e["ops"][0]["state"]["center"][0] for e in missed["events"]] == [11.0, 12.0, 13.0]


def test_since_revision_ahead_of_the_scene_gets_a_snapshot(
    client: TestClient, task_id: int
) -> None:
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        ws.send_json({"type": "hello", "client_id": "x", "since_revision": 99})
        assert receive(ws)["type"] == "snapshot"


def test_three_clients_see_every_event_in_revision_order(client: TestClient, task_id: int) -> None:
    ops, _, cuboid_id = new_box_ops()
    url = f"/ws/tasks/{task_id}"
    with (
        client.websocket_connect(url) as a,
        client.websocket_connect(url) as b,
        client.websocket_connect(url) as c,
    ):
        clients = {"a": a, "b": b, "c": c}
        for name, ws in clients.items():
            hello(ws, name)
        batches = {"a": ops, "b": [move_op(cuboid_id, 2, 11.0)], "c": [move_op(cuboid_id, 3, 12.0)]}
        seen: dict[str, list[tuple[str, int]]] = {name: [] for name in clients}
        for name, batch in batches.items():  # one after the other: each waits for its ack
            ws = clients[name]
            ws.send_json({"type": "ops", "seq": 1, "client_id": name, "ops": batch})
            while not seen[name] or seen[name][-1][0] != "ack":
                m = receive(ws)
                seen[name].append((m["type"], m["revision"]))
        for name in ("a", "b"):
            while len(seen[name]) < 3:
                m = receive(clients[name])
                seen[name].append((m["type"], m["revision"]))
    assert seen["a"] == [("ack", 2), ("event", 3), ("event", 4)]
    assert seen["b"] == [("event", 2), ("ack", 3), ("event", 4)]
    assert seen["c"] == [("event", 2), ("event", 3), ("ack", 4)]


def test_a_batch_with_one_bad_op_stores_none_of_it(
    client: TestClient, engine: Engine, task_id: int
) -> None:
    ops, _, _ = new_box_ops()
    more, _, _ = new_box_ops(size=(4.5, 1.9, 0.0))
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        hello(ws)
        reply = send_ops(ws, 1, ops + more)
    assert reply["type"] == "reject" and [e["path"] for e in reply["errors"]] == [
        "ops.3.data.size.2"
    ]
    assert stored(engine) == ([], [], [])


def test_presence_lists_clients_and_their_selection(client: TestClient, task_id: int) -> None:
    with client.websocket_connect(f"/ws/tasks/{task_id}") as a:
        hello(a, "a")
        with client.websocket_connect(f"/ws/tasks/{task_id}") as b:
            hello(b, "b")
            b.send_json({"type": "select", "object_id": "box-1"})
            while (
                (msg := a.receive_json())["type"] != "presence"
                or len(msg["clients"]) < 2
                or (msg["clients"][1]["selected"] is None)
            ):
                pass
            assert msg["clients"] == [
                {"client_id": "a", "user": "tester", "selected": None},
                {"client_id": "b", "user": "tester", "selected": "box-1"},
            ]
        msg = a.receive_json()
        assert msg == {
            "type": "presence",
            "clients": [{"client_id": "a", "user": "tester", "selected": None}],
        }


def test_binary_frames_are_refused_and_the_connection_stays_usable(
    client: TestClient, task_id: int
) -> None:
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        ws.send_bytes(b"\x00\x01")
        assert receive(ws)["code"] == "invalid_message"
        assert hello(ws)["revision"] == 0
