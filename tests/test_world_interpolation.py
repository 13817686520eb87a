"""Interpolation between keyframes in world coordinates (static/js/interpolation.js, run in node)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import { interpolateFor } from "%s";
const pose = (x, yaw) => [[Math.cos(yaw), -Math.sin(yaw), 0, x], [Math.sin(yaw), Math.cos(yaw), 0, 0],
                          [0, 0, 1, 0], [0, 0, 0, 1]];
const P = [pose(0, 0), pose(5, 0.1), pose(10, 0.2)];
const inSensor = (f, w) => {
  const yaw = Math.atan2(P[f][1][0], P[f][0][0]), dx = w[0] - P[f][0][3], dy = w[1] - P[f][1][3];
  return [Math.cos(yaw) * dx + Math.sin(yaw) * dy, -Math.sin(yaw) * dx + Math.cos(yaw) * dy];
};
const parked = (f) => ({ frame: f, center: [...inSensor(f, [20, 5]), -1], size: [4, 2, 1.5],
                         yaw: 0.3 - Math.atan2(P[f][1][0], P[f][0][0]) });
console.log(JSON.stringify({
  world: interpolateFor(parked(0), parked(2), 1, P),
  sensor: interpolateFor(parked(0), parked(2), 1, [null, null, null]),
  truth: parked(1),
}));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_a_parked_car_stays_put_in_the_world_while_the_sensor_drives_past() -> None:
    module = (ROOT / "static/js/interpolation.js").as_uri()
    out = subprocess.run(
        ["node", "--input-type=module", "-e", SCRIPT % module],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    got = json.loads(out.stdout)
    truth, world, sensor = got["truth"], got["world"], got["sensor"]
    assert world["center"] == pytest.approx(truth["center"], abs=1e-9)
    assert world["yaw"] == pytest.approx(truth["yaw"], abs=1e-9)
    # Without poses the midpoint of the sensor-frame boxes is off the car by metres.
    assert abs(sensor["center"][1] - truth["center"][1]) > 0.3
