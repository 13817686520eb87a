"""Auto-fit and ground height over HTTP, on generated and real frames."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from server.app import create_app
from server.config import Settings
from server.db import make_engine
from server.ingest import ingest
from tests.conftest import logged_in


def test_fit_finds_the_object_and_stands_it_on_the_ground(
    client: TestClient, scene_id: int
) -> None:
    rough = {"center": [10.4, 0.3, -1.0], "size": [4.0, 1.6, 1.2], "yaw": 0.12}
    r = client.post(f"/api/scenes/{scene_id}/frames/0/fit", json=rough)
    assert r.status_code == 200, r.text
    fit = r.json()
    # The fixture's object fills x 8..12.5, y -1..1, z -1.7..-0.2 on ground at -1.7.
    assert fit["center"][:2] == pytest.approx([10.25, 0.0], abs=0.1)
    assert fit["size"][:2] == pytest.approx([4.5, 2.0], abs=0.15)
    assert math.remainder(fit["yaw"], math.pi) == pytest.approx(0.0, abs=0.03)
    assert fit["ground"] == pytest.approx(-1.7, abs=0.05)
    assert fit["center"][2] - fit["size"][2] / 2 == pytest.approx(-1.7, abs=0.05)


def test_ground_height_and_errors(client: TestClient, scene_id: int) -> None:
    z = client.get(f"/api/scenes/{scene_id}/frames/0/ground?x=-10&y=5").json()["z"]
    assert z == pytest.approx(-1.7, abs=0.05)
    assert client.get(f"/api/scenes/{scene_id}/frames/0/ground?x=500&y=5").json()["z"] is None
    empty = {"center": [-20.0, -20.0, 5.0], "size": [1.0, 1.0, 1.0]}
    r = client.post(f"/api/scenes/{scene_id}/frames/0/fit", json=empty)
    assert (r.status_code, r.json()["code"]) == (422, "fit_failed")
    r = client.post(f"/api/scenes/{scene_id}/frames/0/fit", json={**empty, "size": [0, 1, 1]})
    assert (r.status_code, r.json()["code"]) == (422, "invalid_request")
    r = client.post(f"/api/scenes/{scene_id}/frames/7/fit", json=empty)
    assert (r.status_code, r.json()["code"]) == (404, "frame_not_found")


def test_fit_recovers_perturbed_sustech_labels(
    engine: Engine, settings: Settings, shared_data: Path
) -> None:
    scene_id = ingest(engine, settings, shared_data / "sustech/lidar").scene_id
    labels = json.loads((shared_data / "sustech/label/000950.json").read_text())
    cars = [b["psr"] for b in labels if b["obj_type"] == "Car"]
    good = 0
    with TestClient(create_app(settings)) as client:
        logged_in(client, make_engine(settings.db_url), settings)
        for psr in cars:
            p, s, yaw = psr["position"], psr["scale"], psr["rotation"]["z"]
            rough = {"center": [p["x"] + 0.3, p["y"] - 0.2, p["z"]],
                     "size": [s["x"] * 0.9, s["y"] * 0.9, s["z"]], "yaw": yaw + 0.1}  # fmt: skip
            r = client.post(f"/api/scenes/{scene_id}/frames/0/fit", json=rough)
            if r.status_code != 200:
                continue
            fit = r.json()
            heading_error = abs(math.remainder(fit["yaw"] - yaw, math.pi))
            centre_error = math.dist(fit["center"][:2], [p["x"], p["y"]])
            good += heading_error < math.radians(8) and centre_error < 0.8
    assert good >= 0.7 * len(cars) and len(cars) >= 5
