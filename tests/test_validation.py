"""Every validation rule, with an accepted and a refused case (docs/validation.md)."""

from __future__ import annotations

import itertools
import json
import math
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

_seq = itertools.count(1)
CAR = {"center": [10.0, 0.0, -0.9], "size": [4.5, 1.9, 1.6], "yaw": 0.3}  # on the test object


def post(client: TestClient, task_id: int, *ops: dict[str, Any]) -> dict[str, Any]:
    msg = {"type": "ops", "seq": next(_seq), "client_id": "v", "ops": list(ops)}
    # json.dumps writes NaN and Infinity as bare tokens, as a careless client would.
    r = client.post(
        f"/api/tasks/{task_id}/ops",
        content=json.dumps(msg),
        headers={"Content-Type": "application/json"},
    )
    body: dict[str, Any] = r.json()
    return body


def codes(reply: dict[str, Any]) -> list[str]:
    return [e["code"] for e in reply.get("errors", [])]


def warnings(reply: dict[str, Any]) -> list[str]:
    return [w["code"] for w in reply.get("warnings", [])]


def track(label: str = "Car", **attributes: Any) -> tuple[str, dict[str, Any]]:
    tid = str(uuid.uuid4())
    data = {"label": label, "attributes": attributes}
    return tid, {"op": "create", "kind": "track", "id": tid, "data": data}


def cuboid(track_id: str, **data: Any) -> dict[str, Any]:
    full = {"track_id": track_id, "frame": 0, **CAR, **data}
    return {"op": "create", "kind": "cuboid", "id": str(uuid.uuid4()), "data": full}


def tag(track_id: str | None, tag_type: str = "cut_in", **data: Any) -> dict[str, Any]:
    full = {
        "tag": tag_type,
        "subject": "track",
        "track_id": track_id,
        "first_frame": 0,
        "last_frame": 0,
        **data,
    }
    return {"op": "create", "kind": "tag", "id": str(uuid.uuid4()), "data": full}


def with_track(client: TestClient, task_id: int, label: str = "Car") -> str:
    tid, op = track(label)
    assert post(client, task_id, op)["type"] == "ack"
    return tid


@pytest.mark.parametrize(
    "change,code",
    [
        ({"size": [math.inf, 1.9, 1.6]}, "non_finite"),
        ({"center": [10.0, math.nan, -0.9]}, "non_finite"),
        ({"yaw": -math.inf}, "non_finite"),
        ({"size": [4.5, 0.0, 1.6]}, "size_not_positive"),
        ({"size": [-4.5, 1.9, 1.6]}, "size_not_positive"),
        ({"frame": 1}, "frame_not_in_scene"),
        ({"center": [100.0, 0.0, -0.9]}, "center_out_of_bounds"),
        ({"size": "big"}, "invalid_field"),
        ({"colour": "red"}, "invalid_field"),
        ({"attributes": {"mood": "happy"}}, "unknown_attribute"),
        ({"attributes": {"occlusion": "total"}}, "invalid_attribute_value"),
    ],
)
def test_bad_cuboid_is_refused_with_its_code(
    client: TestClient, task_id: int, scene_id: int, change: dict[str, Any], code: str
) -> None:
    tid = with_track(client, task_id)
    reply = post(client, task_id, cuboid(tid, **change))
    assert reply["type"] == "reject" and code in codes(reply)


def test_good_cuboid_is_accepted_without_warnings(
    client: TestClient, task_id: int, scene_id: int
) -> None:
    tid = with_track(client, task_id)
    reply = post(client, task_id, cuboid(tid, attributes={"occlusion": "partial"}))
    assert reply["type"] == "ack" and warnings(reply) == []


def test_yaw_is_stored_normalised(client: TestClient, task_id: int, scene_id: int) -> None:
    tid = with_track(client, task_id)
    post(client, task_id, cuboid(tid, yaw=3 * math.pi + 0.25))
    (c,) = client.get(f"/api/tasks/{task_id}/annotations").json()["cuboids"]
    assert c["yaw"] == pytest.approx(-math.pi + 0.25)


def test_size_outside_the_class_prior_is_a_warning(
    client: TestClient, task_id: int, scene_id: int
) -> None:
    tid = with_track(client, task_id)
    reply = post(client, task_id, cuboid(tid, size=[9.0, 1.9, 1.6]))
    assert reply["type"] == "ack" and warnings(reply) == ["size_outside_prior"]


def test_too_few_points_warns_or_refuses_as_the_class_says(
    client: TestClient, task_id: int, scene_id: int
) -> None:
    tid = with_track(client, task_id)
    empty_air = {"center": [-10.0, 10.0, 1.0]}  # above the ground, nothing there
    reply = post(client, task_id, cuboid(tid, **empty_air))
    assert reply["type"] == "ack" and warnings(reply) == ["too_few_points"]
    doc = client.get("/api/taxonomy/draft").json()["taxonomy"]
    car = next(c for c in doc["classes"] if c["name"] == "Car")
    car["min_points_severity"] = "error"
    assert client.put("/api/taxonomy/draft", json={"taxonomy": doc}).status_code == 200
    r = client.post("/api/taxonomy/draft/publish", json={"changelog": "Car boxes need points"})
    assert r.status_code == 200 and r.json()["moved"][0]["result"] == "ack"
    tid2 = with_track(client, task_id)
    assert codes(post(client, task_id, cuboid(tid2, **empty_air))) == ["too_few_points"]
    assert post(client, task_id, cuboid(tid2))["type"] == "ack"  # on the object: enough


def test_cuboid_needs_an_existing_track_and_one_box_per_frame(
    client: TestClient, task_id: int, scene_id: int
) -> None:
    assert codes(post(client, task_id, cuboid("no-such-track"))) == ["track_not_found"]
    tid = with_track(client, task_id)
    assert post(client, task_id, cuboid(tid))["type"] == "ack"
    assert codes(post(client, task_id, cuboid(tid))) == ["duplicate_cuboid"]


def test_track_class_and_attributes_come_from_the_taxonomy(
    client: TestClient, task_id: int
) -> None:
    assert codes(post(client, task_id, track("Dragon")[1])) == ["unknown_class"]
    assert codes(post(client, task_id, track("Car", wheels=4)[1])) == ["unknown_attribute"]
    assert codes(post(client, task_id, track("Car", parked="yes")[1])) == [
        "invalid_attribute_value"
    ]
    assert post(client, task_id, track("Car", parked=True)[1])["type"] == "ack"


def test_existing_ids_and_tracks_in_use(client: TestClient, task_id: int) -> None:
    tid, op = track()
    post(client, task_id, op)
    assert codes(post(client, task_id, op)) == ["already_exists"]
    post(client, task_id, cuboid(tid))
    delete = {"op": "delete", "kind": "track", "id": tid, "base_revision": 1}
    assert codes(post(client, task_id, delete)) == ["track_in_use"]


@pytest.mark.parametrize(
    "change,code",
    [
        ({"tag": "moonwalk"}, "unknown_tag"),
        ({"first_frame": 0, "last_frame": -1}, "tag_range_reversed"),
        ({"last_frame": 5}, "tag_range_outside"),
        ({"tag": "jaywalking"}, "tag_class_not_allowed"),
        ({"subject": "scene"}, "tag_subject_not_allowed"),
        ({"attributes": {"side": "up"}}, "invalid_attribute_value"),
        ({"attributes": {"speed": 3}}, "unknown_attribute"),
    ],
)
def test_bad_tag_is_refused_with_its_code(
    client: TestClient, task_id: int, scene_id: int, change: dict[str, Any], code: str
) -> None:
    tid = with_track(client, task_id)
    post(client, task_id, cuboid(tid))
    reply = post(client, task_id, tag(tid, **change))
    assert reply["type"] == "reject" and code in codes(reply)


def test_good_tags_are_accepted_and_a_gap_in_the_subject_warns(
    client: TestClient, task_id: int, scene_id: int
) -> None:
    tid = with_track(client, task_id)
    gap = post(client, task_id, tag(tid, attributes={"side": "left"}))
    assert gap["type"] == "ack" and warnings(gap) == ["tag_subject_missing"]
    post(client, task_id, cuboid(tid))
    full = post(client, task_id, tag(tid))
    assert full["type"] == "ack" and warnings(full) == []
    ego = post(client, task_id, tag(None, "hard_braking", subject="ego"))
    assert ego["type"] == "ack"


def test_too_many_ops_and_too_large_messages_are_refused(client: TestClient, task_id: int) -> None:
    ops = [track()[1] for _ in range(501)]
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        ws.send_json({"type": "ops", "seq": 1, "client_id": "big", "ops": ops})
        assert [e["code"] for e in ws.receive_json()["errors"]] == ["too_many_ops"]
        ws.send_text('{"type": "ops", "pad": "' + "x" * 1_100_000 + '"}')
        assert ws.receive_json()["code"] == "message_too_large"


def test_relabelling_a_tagged_track_to_a_class_the_tag_excludes_is_refused(
    client: TestClient, task_id: int, scene_id: int
) -> None:
    tid = with_track(client, task_id)
    post(client, task_id, cuboid(tid))
    post(client, task_id, tag(tid))  # cut_in: vehicles only
    to_pedestrian = {"op": "update", "kind": "track", "id": tid, "base_revision": 1,
                     "data": {"label": "Pedestrian"}}  # fmt: skip
    assert codes(post(client, task_id, to_pedestrian)) == ["tag_class_not_allowed"]
    to_truck = {**to_pedestrian, "data": {"label": "Truck"}}
    assert post(client, task_id, to_truck)["type"] == "ack"
