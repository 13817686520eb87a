"""Readable track names: the reserved ``name`` and ``number`` track attributes
(docs/workspace.md) go through the one write path and are checked there."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.test_ws import hello, new_box_ops, send_ops


def _named(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    ops, _, _ = new_box_ops()
    ops[0]["data"]["attributes"] = attributes
    return ops


def test_a_track_keeps_its_name_and_number(client: TestClient, task_id: int) -> None:
    ops = _named({"name": "Car 12 (parked)", "number": 12})
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        hello(ws)
        assert send_ops(ws, 1, ops)["type"] == "ack"
        rename = {"op": "update", "kind": "track", "id": ops[0]["id"], "base_revision": 1,
                  "data": {"attributes": {"name": "the red one", "number": 12}}}  # fmt: skip
        assert send_ops(ws, 2, [rename])["type"] == "ack"
    (track,) = client.get(f"/api/tasks/{task_id}/annotations").json()["tracks"]
    assert track["attributes"] == {"name": "the red one", "number": 12}


@pytest.mark.parametrize(
    ("attributes", "path"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "tab\there"}, "name"),
        ({"name": 7}, "name"),
        ({"number": 0}, "number"),
        ({"number": 1.5}, "number"),
        ({"number": True}, "number"),
        ({"number": "3"}, "number"),
    ],
)
def test_a_bad_name_or_number_is_refused_and_nothing_is_stored(
    client: TestClient, task_id: int, attributes: dict[str, Any], path: str
) -> None:
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        hello(ws)
        reply = send_ops(ws, 1, _named(attributes)[:1])  # the track alone
    assert reply["type"] == "reject"
    assert [(e["code"], e["path"].rsplit(".", 1)[-1]) for e in reply["errors"]] == [
        ("invalid_attribute_value", path)
    ]
    assert client.get(f"/api/tasks/{task_id}/annotations").json()["tracks"] == []


def test_a_class_change_warns_on_every_box_outside_the_new_class_and_back_clears_it(
    client: TestClient, task_id: int
) -> None:
    ops, track_id, cuboid_id = new_box_ops()  # a 4.5 x 1.9 x 1.6 m Car: no size warning
    url = f"/api/tasks/{task_id}/warnings"
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        hello(ws)
        assert send_ops(ws, 1, ops)["type"] == "ack"
        sizes = [w for w in client.get(url).json() if w["code"] == "size_outside_prior"]
        assert sizes == []
        relabel = {"op": "update", "kind": "track", "id": track_id, "base_revision": 1,
                   "data": {"label": "Pedestrian"}}  # fmt: skip
        assert send_ops(ws, 2, [relabel])["type"] == "ack"
        sizes = [w for w in client.get(url).json() if w["code"] == "size_outside_prior"]
        assert [(w["kind"], w["id"], w["frame"]) for w in sizes] == [("cuboid", cuboid_id, 0)] * 2
        assert [w["message"].split(" is ")[0] for w in sizes] == ["length 4.50 m", "width 1.90 m"]
        assert all("Pedestrian's" in w["message"] for w in sizes)
        back = {**relabel, "base_revision": 3, "data": {"label": "Car"}}
        assert send_ops(ws, 3, [back])["type"] == "ack"
    assert [w for w in client.get(url).json() if w["code"] == "size_outside_prior"] == []
