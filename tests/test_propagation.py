"""Tracking a box forward (pointcloud.propagate, POST .../propagate): synthetic motion and the
real SUSTechPOINTS sequence."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from numpy.typing import NDArray
from sqlalchemy.engine import Engine

from pointcloud.iou import iou_pairs
from pointcloud.propagate import ego_motion, move_box, propagate_box
from server.app import create_app
from server.config import Settings
from server.db import make_engine
from server.ingest import ingest
from tests.conftest import logged_in


def box_surface(
    box: NDArray[np.float64], rng: np.random.Generator, n: int = 600
) -> NDArray[np.float64]:
    """Points on the four vertical sides of ``box`` (z from its bottom + 0.3 to its top)."""
    cx, cy, cz, length, width, height, yaw = box
    side = rng.integers(0, 4, n)
    t = rng.uniform(-0.5, 0.5, n)
    u = np.where(side < 2, t * length, np.where(side == 2, length / 2, -length / 2))
    v = np.where(side == 0, width / 2, np.where(side == 1, -width / 2, t * width))
    c, s = math.cos(yaw), math.sin(yaw)
    z = rng.uniform(cz - height / 2 + 0.3, cz + height / 2, n)
    return np.c_[cx + u * c - v * s, cy + u * s + v * c, z]


def world(rng: np.random.Generator) -> NDArray[np.float64]:
    """A static street: ground, two walls of varied depth and some poles (metres, world frame)."""
    ground = np.c_[rng.uniform(-40, 40, (6000, 2)), rng.normal(-1.7, 0.02, 6000)]
    walls = []
    for y in (-12.0, 12.0):
        x = rng.uniform(-40, 40, 3000)
        walls.append(np.c_[x, y + 0.8 * np.sin(x / 3.0), rng.uniform(-1.7, 3.0, 3000)])
    poles = [np.c_[np.full(80, px), np.full(80, py), np.linspace(-1.7, 2.0, 80)]
             for px, py in rng.uniform(-30, 30, (15, 2))]  # fmt: skip
    return np.concatenate([ground, *walls, *poles])


def test_ego_motion_recovers_the_sensor_move_between_two_scans() -> None:
    rng = np.random.default_rng(3)
    street = world(rng)
    move = np.eye(4)
    yaw = math.radians(3.0)
    move[:2, :2] = [[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]]
    move[:3, 3] = [2.5, 0.3, 0.0]
    following = street @ move[:3, :3].T + move[:3, 3]
    found = ego_motion(street, following)
    assert found[:3, 3] == pytest.approx(move[:3, 3], abs=0.05)
    assert math.atan2(found[1, 0], found[0, 0]) == pytest.approx(yaw, abs=0.005)


def test_propagate_box_follows_a_car_that_moved_along_its_heading() -> None:
    rng = np.random.default_rng(4)
    street = world(rng)
    car = np.array([8.0, 2.0, -0.9, 4.5, 1.9, 1.6, 0.1])
    moved = car.copy()
    moved[:2] += 1.2 * np.array([math.cos(0.1), math.sin(0.1)])  # 12 m/s for 0.1 s
    before = np.r_[street, box_surface(car, rng)]
    after = np.r_[street, box_surface(moved, rng)]
    copied = iou_pairs(car[None], moved[None])[0]
    tracked = propagate_box(car, before, after, motion=np.eye(4), dt=0.1)
    assert copied < 0.6
    assert iou_pairs(tracked[None], moved[None])[0] > 0.9
    assert tracked[3:6] == pytest.approx(car[3:6])  # size kept
    # A known velocity puts the prediction on it directly.
    known = propagate_box(
        car,
        before,
        after,
        motion=np.eye(4),
        velocity=(12 * math.cos(0.1), 12 * math.sin(0.1)),
        dt=0.1,
    )
    assert iou_pairs(known[None], moved[None])[0] > 0.9


def test_move_box_turns_the_box_with_the_transform() -> None:
    t = np.eye(4)
    t[:2, :2] = [[0.0, -1.0], [1.0, 0.0]]
    t[:3, 3] = [1.0, 0.0, 0.5]
    out = move_box([2.0, 0.0, 0.0, 4.0, 2.0, 1.5, 0.0], t)
    assert out == pytest.approx([1.0, 2.0, 0.5, 4.0, 2.0, 1.5, math.pi / 2])


def test_propagate_endpoint_tracks_real_sustech_boxes(
    engine: Engine, settings: Settings, shared_data: Path
) -> None:
    scene_id = ingest(engine, settings, shared_data / "sustech/lidar").scene_id
    here = json.loads((shared_data / "sustech/label/000965.json").read_text())
    there = {
        b["obj_id"]: b["psr"]
        for b in json.loads((shared_data / "sustech/label/000970.json").read_text())
    }

    def arr(psr: dict) -> NDArray[np.float64]:
        p, s = psr["position"], psr["scale"]
        return np.array([p["x"], p["y"], p["z"], s["x"], s["y"], s["z"], psr["rotation"]["z"]])

    ious = []
    with TestClient(create_app(settings)) as client:
        logged_in(client, make_engine(settings.db_url), settings)
        for obj in here:
            if obj["obj_type"] != "Car" or obj["obj_id"] not in there:
                continue
            b = arr(obj["psr"])
            body = {"center": list(b[:3]), "size": list(b[3:6]), "yaw": b[6], "frames": 1}
            r = client.post(f"/api/scenes/{scene_id}/frames/1/propagate", json=body)
            assert r.status_code == 200, r.text
            [out] = r.json()["boxes"]
            assert out["frame"] == 2 and out["motion"] == "icp"
            got = np.array([*out["center"], *out["size"], out["yaw"]])
            ious.append(iou_pairs(got[None], arr(there[obj["obj_id"]])[None])[0])
        last = client.post(f"/api/scenes/{scene_id}/frames/3/propagate", json=body)
        assert last.json() == {"boxes": []}  # the scene ends there
        missing = client.post(f"/api/scenes/{scene_id}/frames/9/propagate", json=body)
        assert (missing.status_code, missing.json()["code"]) == (404, "frame_not_found")
    assert len(ious) >= 5 and float(np.mean(ious)) > 0.6
