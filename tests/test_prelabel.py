"""Pre-labels: the CPU pipeline on generated frames and its write path (source, confidence,
accepted_by stamped in the accepter's own name only)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pointcloud.prelabel import Detection, detect, link_tracks
from server.annotations import Submission, Writer
from server.cli import main
from server.config import Settings
from server.frames import FrameStore
from server.models import Cuboid, Track
from server.prelabels import prelabel_task
from server.priors import class_priors
from server.protocol import Ops
from server.taxonomies import Taxonomies


def street(rng: np.random.Generator, cars: list[tuple[float, float, float]]) -> np.ndarray:
    """Ground at z = -1.7, a 1.85 m pedestrian at (6, -4) and car bodies (x, y, yaw)."""
    ground = np.c_[rng.uniform(-40, 40, (30000, 2)), rng.normal(-1.7, 0.02, 30000)]
    person = np.c_[
        rng.uniform([5.75, -4.25], [6.25, -3.75], (300, 2)), rng.uniform(-1.6, 0.15, 300)
    ]
    parts = [ground, person]
    for x, y, yaw in cars:
        local = rng.uniform([-2.2, -0.9, -1.5], [2.2, 0.9, -0.2], (1500, 3))
        c, s = math.cos(yaw), math.sin(yaw)
        parts.append(
            np.c_[
                x + c * local[:, 0] - s * local[:, 1],
                y + s * local[:, 0] + c * local[:, 1],
                local[:, 2],
            ]
        )
    return np.concatenate(parts)


def test_detect_finds_cars_and_a_pedestrian_and_skips_the_ground() -> None:
    rng = np.random.default_rng(5)
    dets = detect(street(rng, [(12.0, 3.0, 0.2), (-15.0, -6.0, 1.3)]), class_priors())
    cars = sorted((d for d in dets if d.label == "Car"), key=lambda d: d.box[0])
    assert len(cars) == 2
    assert cars[0].box[:2] == pytest.approx((-15.0, -6.0), abs=0.4)
    assert cars[1].box[:2] == pytest.approx((12.0, 3.0), abs=0.4)
    assert cars[1].box[2] - cars[1].box[5] / 2 == pytest.approx(-1.7, abs=0.2)  # on the ground
    assert any(d.label == "Pedestrian" for d in dets)
    assert all(0 < d.score <= 1 for d in dets)


def test_link_tracks_follows_moving_cars_with_the_hungarian_method() -> None:
    def car(x: float, y: float) -> Detection:
        return Detection((x, y, -0.9, 4.5, 1.9, 1.6, 0.0), "Car", 0.9, 100)

    frames = [[car(0, 0), car(0, 4)], [car(1, 4), car(1, 0)], [car(2, 0), car(2, 4)], [car(30, 30)]]
    linked = link_tracks(frames)
    first = {d.box[1]: d.track for d in linked[0]}
    for k in (1, 2):
        assert {d.box[1]: d.track for d in linked[k]} == first
    assert linked[3][0].track not in first.values()  # too far from any: a new track


def ops(items: list[dict[str, Any]], seq: int) -> Ops:
    return Ops.model_validate({"type": "ops", "seq": seq, "client_id": "c-prelabel", "ops": items})


def send(writer: Writer, task_id: int, user: str, msg: Ops) -> Any:
    """The reply to ``msg`` sent as ``user`` (a lead), as the websocket would."""
    return writer.apply_group([Submission(task_id, user, msg, role="lead")])[0][0]


def test_prelabels_are_written_with_source_and_confidence_and_accepted_in_own_name(
    engine: Engine, settings: Settings, tester: str, task_id: int
) -> None:
    writer = Writer(engine, Taxonomies(engine), FrameStore(settings.frames_dir))
    result = prelabel_task(engine, writer, task_id, tester)
    assert result.boxes >= 1 and result.tracks >= 1
    with Session(engine) as session:
        boxes = session.exec(select(Cuboid).where(Cuboid.task_id == task_id)).all()
        labels = {
            t.id: t.label for t in session.exec(select(Track).where(Track.task_id == task_id))
        }
    box = next(b for b in boxes if labels[b.track_id] == "Car")
    assert box.source == "pre-label" and box.keyframe is False
    pre = box.attributes["prelabel"]
    assert 0 < pre["confidence"] <= 1 and pre["accepted_by"] is None
    assert math.hypot(box.cx - 10.25, box.cy) < 0.5  # the generated car at x 8..12.5

    data = {"track_id": box.track_id, "frame": 0, "center": [box.cx, box.cy, box.cz],
            "size": [box.length, box.width, box.height], "yaw": box.yaw, "source": "pre-label",
            "keyframe": False, "attributes": {"prelabel": {**pre, "accepted_by": "somebody"}}}  # fmt: skip
    update = {"op": "update", "kind": "cuboid", "id": box.id, "base_revision": box.revision}
    reply = send(writer, task_id, tester, ops([{**update, "data": data}], 0))
    assert reply.type == "reject"
    assert reply.errors[0].code == "accepted_by_not_you"
    data["attributes"] = {"prelabel": {**pre, "accepted_by": tester}}
    reply = send(writer, task_id, tester, ops([{**update, "data": data}], 1))
    assert reply.type == "ack", reply
    with Session(engine) as session:
        kept = session.get(Cuboid, (task_id, box.id))
        assert kept is not None
        assert kept.source == "pre-label" and kept.attributes["prelabel"]["accepted_by"] == tester
    data["attributes"] = {"prelabel": {"confidence": 3}}
    bad = {**update, "data": data, "base_revision": kept.revision}
    reply = send(writer, task_id, tester, ops([bad], 2))
    assert reply.type == "reject" and reply.errors[0].code == "invalid_attribute_value"


def test_prelabel_command_prints_a_summary_and_refuses_an_unknown_task(
    settings: Settings,
    task_id: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POINTLABEL_DATA_DIR", str(settings.data_dir))
    assert main(["prelabel", str(task_id), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["task_id"] == task_id and summary["boxes"] >= 1
    assert main(["prelabel", "999", "--json"]) == 2
    assert json.loads(capsys.readouterr().err)["error"] == "task_not_found"


def test_prelabel_route_writes_through_the_write_path(client: TestClient, task_id: int) -> None:
    r = client.post(f"/api/tasks/{task_id}/prelabel", json={"frames": [0], "min_score": 0.2})
    assert r.status_code == 200, r.text
    assert r.json()["frames"] == 1 and r.json()["boxes"] >= 1
    snap = client.get(f"/api/tasks/{task_id}/annotations").json()
    boxes = snap["cuboids"] if isinstance(snap["cuboids"], list) else list(snap["cuboids"].values())
    assert boxes and all(b["source"] == "pre-label" for b in boxes)
    assert all(0.2 <= b["attributes"]["prelabel"]["confidence"] <= 1 for b in boxes)
    r = client.post(f"/api/tasks/{task_id}/prelabel", json={"min_score": 2})
    assert (r.status_code, r.json()["code"]) == (422, "invalid_request")


def test_detect_contract_points_in_boxes_out(client: TestClient) -> None:
    rng = np.random.default_rng(7)
    pts = street(rng, [(12.0, 3.0, 0.2)]).astype("<f4")
    headers = {"Content-Type": "application/octet-stream"}
    r = client.post("/api/models/cpu/detect", content=pts.tobytes(), headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "pointlabel-cpu-1"
    car = next(b for b in body["boxes"] if b["label"] == "Car")
    assert car["center"][:2] == pytest.approx([12.0, 3.0], abs=0.4)
    assert 0 < car["score"] <= 1 and len(car["size"]) == 3
    r = client.post("/api/models/cpu/detect", content=b"\x00" * 13, headers=headers)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_points")
    r = client.post("/api/models/cpu/detect", json={"points": []})
    assert (r.status_code, r.json()["code"]) == (415, "unsupported_media_type")
