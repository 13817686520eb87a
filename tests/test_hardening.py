"""Issue 10: every hostile input found by the outside probe is refused with a stable
code, nothing is half-stored, and the scene stays readable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError

from server.auth import get_db
from server.cli import main as cli_main
from server.config import Settings
from tests.conftest import POSTGRESQL_ONLY, SQLITE_ONLY, use_in_cli
from tests.test_ws import hello, new_box_ops, receive, send_ops, stored

SURROGATE_TRACK = (
    '{"type": "ops", "seq": 1, "client_id": "c1", "ops": [{"op": "create", "kind": "track",'
    ' "id": "t1", "data": {"label": "Car", "attributes": {"note": "x\\ud800"}}}]}'
)


def _track_op(track_id: str = "t1", **data: Any) -> dict[str, Any]:
    return {"op": "create", "kind": "track", "id": track_id, "data": {"label": "Car", **data}}


def _scene_reads(client: TestClient, task_id: int) -> dict[str, Any]:
    """The scene answers both a REST read and a websocket hello."""
    rest = client.get(f"/api/tasks/{task_id}/annotations")
    assert rest.status_code == 200, rest.text
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        snap = hello(ws, "reader")
    assert snap["revision"] == rest.json()["revision"]
    return snap


def test_lone_surrogate_in_attributes_is_refused_and_the_scene_stays_readable(
    client: TestClient, task_id: int, engine: Engine, scene_id: int
) -> None:
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        hello(ws)
        ws.send_text(SURROGATE_TRACK)
        reply = receive(ws)
        assert reply["type"] == "error" and reply["code"] == "invalid_message"
        assert "nothing stored" not in reply["message"]
        # the socket is still usable afterwards
        assert send_ops(ws, 2, [_track_op("t2")])["type"] == "ack"
    tracks, _, edits = stored(engine)
    assert [t.id for t in tracks] == ["t2"] and len(edits) == 1
    rest = client.post(
        f"/api/tasks/{task_id}/ops",
        content=SURROGATE_TRACK.replace('"seq": 1', '"seq": 3'),
        headers={"content-type": "application/json"},
    )
    assert rest.status_code == 422 and rest.json()["code"] == "invalid_message"
    assert _scene_reads(client, task_id)["revision"] == 1


@pytest.mark.parametrize(
    "payload",
    [
        '{"type": "ops", "seq": 1, "client_id": "c1", "ops": [{"op": "create", "kind": "track",'
        ' "id": "t1", "data": {"label": "Car", "attributes": {"k\\ud800": 1}}}]}',
        '{"type": "ops", "seq": 1, "client_id": "c1", "ops": [{"op": "create", "kind": "track",'
        ' "id": "t\\ud800", "data": {"label": "Car"}}]}',
        '{"type": "hello", "client_id": "c\\udfff"}',
    ],
)
def test_lone_surrogate_in_a_key_or_id_gets_a_reply_not_a_dropped_socket(
    client: TestClient, task_id: int, payload: str
) -> None:
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        ws.send_text(payload)
        reply = receive(ws)
        assert reply["type"] == "error" and reply["code"] == "invalid_message"
        assert hello(ws)["revision"] == 0


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"attributes": {"a\x00b": True}}, "invalid_text"),
        ({"attributes": {"note": "nul\x00inside"}}, "invalid_text"),
        ({"attributes": {"deep": json.loads("[" * 40 + "]" * 40)}}, "too_deep"),
    ],
)
def test_control_characters_and_deep_values_are_refused_with_a_code(
    client: TestClient, engine: Engine, task_id: int, data: dict[str, Any], code: str
) -> None:
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        hello(ws)
        reply = send_ops(ws, 1, [_track_op(**data)])
    assert reply["type"] == "error" and reply["code"] == code
    assert stored(engine) == ([], [], [])


@pytest.mark.parametrize(
    "message",
    [
        {"type": "ops", "seq": 2**64, "client_id": "c1", "ops": [_track_op()]},
        {"type": "ops", "seq": "0", "client_id": "c1", "ops": [_track_op()]},
        {"type": "ops", "seq": False, "client_id": "c1", "ops": [_track_op()]},
        {"type": "hello", "client_id": "c1", "since_revision": 2**63},
        {"type": "ops", "seq": 1, "client_id": "c\x00", "ops": [_track_op()]},
        {"type": "ops", "seq": 1, "client_id": "c1", "ops": [
            {"op": "update", "kind": "track", "id": "t1", "base_revision": 2**70, "data": {}}
        ]},
    ],
)  # fmt: skip
def test_huge_integers_and_coerced_types_are_invalid_messages(
    client: TestClient, engine: Engine, task_id: int, message: dict[str, Any]
) -> None:
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        ws.send_text(json.dumps(message))
        reply = receive(ws)
    assert reply["type"] == "error" and reply["code"] == "invalid_message"
    assert stored(engine) == ([], [], [])


def test_tag_frames_must_be_integers_not_strings(
    client: TestClient, engine: Engine, task_id: int
) -> None:
    tag = {"tag": "hard_braking", "subject": "ego", "first_frame": "0", "last_frame": 0}
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        hello(ws)
        reply = send_ops(ws, 1, [{"op": "create", "kind": "tag", "id": "g1", "data": tag}])
        assert reply["type"] == "reject"
        assert reply["errors"][0]["code"] == "invalid_field"
        assert reply["errors"][0]["path"] == "ops.0.data.first_frame"
        ops, _, _ = new_box_ops()
        ops[1]["data"]["frame"] = True
        reply = send_ops(ws, 2, ops)
        assert reply["type"] == "reject" and reply["errors"][0]["path"] == "ops.1.data.frame"
    assert stored(engine) == ([], [], [])


@pytest.mark.parametrize("path", ["22246541537534332108800", "9223372036854775808", "0", "-1"])
def test_out_of_range_scene_and_task_ids_are_404_not_500(
    client: TestClient, scene_id: int, path: str
) -> None:
    for url, code in (
        (f"/api/scenes/{path}", "scene_not_found"),
        (f"/api/scenes/{path}/frames/0/hierarchy", "scene_not_found"),
        (f"/api/tasks/{path}", "task_not_found"),
        (f"/api/tasks/{path}/annotations", "task_not_found"),
        (f"/tasks/{path}", "task_not_found"),
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["code"] == code
    frame = client.get(f"/api/scenes/{scene_id}/frames/99999999999999999999/hierarchy")
    assert frame.status_code == 422 and frame.json()["code"] == "invalid_request"
    with client.websocket_connect(f"/ws/tasks/{path}") as ws:
        assert receive(ws)["code"] == "task_not_found"


def test_nul_in_the_import_path_is_a_404(client: TestClient) -> None:
    response = client.post("/api/import/kitti", params={"path": "a\x00b"})
    assert response.status_code == 404
    assert response.json()["code"] == "import_path_not_found"


@pytest.mark.parametrize("url", ["/api/tasks/{task}/ops", "/api/scenes/{scene}/frames/0/fit"])
def test_a_rest_body_nested_100k_deep_is_a_4xx(
    client: TestClient, task_id: int, scene_id: int, url: str
) -> None:
    body = "[" * 100_000 + "]" * 100_000
    response = client.post(
        url.format(task=task_id, scene=scene_id), content=body,
        headers={"content-type": "application/json"},
    )  # fmt: skip
    assert response.status_code in (400, 422)
    assert response.json()["code"] in ("too_deep", "bad_request")


def test_an_update_that_changes_nothing_is_acked_without_spending_a_revision(
    client: TestClient, engine: Engine, task_id: int
) -> None:
    ops, _, cuboid_id = new_box_ops()
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        hello(ws)
        assert send_ops(ws, 1, ops)["revision"] == 2
        for seq, data in ((2, {}), (3, {"yaw": 0.3, "center": [10.0, 0.0, -0.9]})):
            update = {"op": "update", "kind": "cuboid", "id": cuboid_id, "base_revision": 2,
                      "data": data}  # fmt: skip
            ack = send_ops(ws, seq, [update])
            assert ack["type"] == "ack" and ack["revision"] == 2
            assert ack["revisions"] == {cuboid_id: 2}
    assert len(stored(engine)[2]) == 2


def test_a_reused_seq_with_other_ops_is_refused_and_a_resend_is_replayed(
    client: TestClient, engine: Engine, task_id: int
) -> None:
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        hello(ws)
        first = send_ops(ws, 5, [_track_op("t1")])
        assert first["type"] == "ack"
        resend = send_ops(ws, 5, [_track_op("t1")])
        assert resend["replayed"] and resend["revision"] == first["revision"]
        reused = send_ops(ws, 5, [_track_op("t2")])
        assert reused["type"] == "reject" and reused["errors"][0]["code"] == "seq_reused"
    assert [t.id for t in stored(engine)[0]] == ["t1"]


def test_the_largest_seq_and_point_counts_past_32_bits_are_stored(
    client: TestClient, engine: Engine, task_id: int, scene_id: int
) -> None:
    """``seq`` may be any counter up to 2**53 - 1, and a big scene has more than 2**31
    points: PostgreSQL stores them as ``bigint`` (migration 0005), SQLite as it always did."""
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        hello(ws)
        assert send_ops(ws, 2**53 - 1, [_track_op("t1")])["type"] == "ack"
        assert send_ops(ws, 2**53 - 1, [_track_op("t1")])["replayed"] is True
    with engine.begin() as conn:
        conn.execute(text("UPDATE scene SET point_count = :n WHERE id = :s"),
                     {"n": 5 * 2**31, "s": scene_id})  # fmt: skip
        conn.execute(text("UPDATE frame SET point_count = :n, dropped_points = :n"), {"n": 2**32})
    (scene,) = client.get("/api/scenes").json()
    assert scene["point_count"] == 5 * 2**31


def _plant_bad_rows(engine: Engine, task_id: int, scene_id: int) -> None:
    """Rows as an older server (or a hand-edited database) could have left them."""
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO track (task_id, id, scene_id, label, attributes, revision) "
                 "VALUES (:t, 'bad-text', :s, 'Car', :a, 1), (:t, 'bad-json', :s, 'Car', '{not json', 2)"),
            {"t": task_id, "s": scene_id, "a": '{"note": "x\\ud800"}'},
        )  # fmt: skip
        conn.execute(text("UPDATE task SET revision = 2 WHERE id = :t"), {"t": task_id})


@POSTGRESQL_ONLY
def test_postgresql_refuses_malformed_json_and_a_lone_surrogate_is_read_repaired(
    client: TestClient, engine: Engine, task_id: int, scene_id: int
) -> None:
    """PostgreSQL's ``json`` type refuses what does not parse, so of the next test's rows
    only the lone surrogate (an escape ``json`` keeps as written) can be planted there."""
    insert = text("INSERT INTO track (task_id, id, scene_id, label, attributes, revision) "
                  "VALUES (:t, :id, :s, 'Car', :a, 1)")  # fmt: skip
    with pytest.raises(DataError), engine.begin() as conn:
        conn.execute(insert, {"t": task_id, "id": "bad-json", "s": scene_id, "a": "{not json"})
    with engine.begin() as conn:
        conn.execute(insert, {"t": task_id, "id": "bad-text", "s": scene_id,
                              "a": '{"note": "x\\ud800"}'})  # fmt: skip
        conn.execute(text("UPDATE task SET revision = 1 WHERE id = :t"), {"t": task_id})
    snap = _scene_reads(client, task_id)
    assert snap["tracks"][0]["attributes"] == {"note": "x\ufffd"}
    assert [(p["id"], p["code"]) for p in snap["problems"]] == [("bad-text", "row_repaired")]


@SQLITE_ONLY  # PostgreSQL refuses the malformed row (the test above)
def test_a_scene_with_bad_stored_rows_still_answers_and_doctor_reports_them(
    client: TestClient, task_id: int, engine: Engine, settings: Settings, scene_id: int,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    _plant_bad_rows(engine, task_id, scene_id)
    snap = _scene_reads(client, task_id)
    assert [t["id"] for t in snap["tracks"]] == ["bad-text"]
    assert snap["tracks"][0]["attributes"] == {"note": "x\ufffd"}
    problems = {(p["id"], p["code"]) for p in snap["problems"]}
    assert problems == {("bad-text", "row_repaired"), ("bad-json", "row_unreadable")}
    # the scene can still be edited
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        hello(ws)
        assert send_ops(ws, 1, [_track_op("t-new")])["type"] == "ack"
        assert send_ops(ws, 2, [_track_op("bad-json")])["errors"][0]["code"] == "id_taken"

    use_in_cli(monkeypatch, settings)
    from server.config import get_settings

    get_settings.cache_clear()
    try:
        assert cli_main(["doctor", "--json"]) == 1
    finally:
        get_settings.cache_clear()
    report = json.loads(capsys.readouterr().out)
    codes = {(f["code"], f["where"]) for f in report["findings"]}
    assert ("row_repaired", "track bad-text") in codes
    assert ("row_unreadable", "track bad-json") in codes
    assert ("log_mismatch", "track bad-text") in codes  # no edit made those rows


def test_doctor_finds_a_healthy_directory_healthy_and_a_missing_tile(
    client: TestClient, settings: Settings, task_id: int,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        hello(ws)
        ops, _, cuboid_id = new_box_ops()
        send_ops(ws, 1, ops)
        move = {"op": "update", "kind": "cuboid", "id": cuboid_id, "base_revision": 2,
                "data": {"center": [11.0, 0.0, -0.9]}}  # fmt: skip
        send_ops(ws, 2, [move])
    use_in_cli(monkeypatch, settings)
    from server.config import get_settings

    get_settings.cache_clear()
    try:
        assert cli_main(["doctor"]) == 0
        assert "healthy" in capsys.readouterr().out
        tile = next(Path(settings.tiles_dir).rglob("*.bin.gz"))
        tile.unlink()
        assert cli_main(["doctor", "--json"]) == 1
    finally:
        get_settings.cache_clear()
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert [f["code"] for f in findings] == ["tile_missing"]


def test_an_uncaught_error_is_a_json_500_with_a_request_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("boom at /secret/server/path")

    client.app.dependency_overrides[get_db] = broken  # type: ignore[attr-defined]
    with TestClient(client.app, raise_server_exceptions=False) as c:  # type: ignore[arg-type]
        response = c.get("/api/scenes")
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "internal_error" and body["request_id"] in body["message"]
    assert "/secret" not in response.text and "boom" not in response.text
    assert body["request_id"] in caplog.text
