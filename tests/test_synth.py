"""The generated demo sequence: deterministic, realistic, and its ground truth is true."""

from __future__ import annotations

import filecmp
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pointcloud.boxes import count_points_in_boxes
from pointcloud.io import read_cloud
from pointcloud.synth import MAX_RANGE, generate_sequence
from pointcloud.synth_scene import EGO_SPEED, FRAME_DT, LANE_WIDTH

FRAMES = 30
COARSE = 500  # azimuth steps: a quarter of the demo's resolution keeps the tests fast


@pytest.fixture(scope="module")
def sequence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_sequence(tmp_path_factory.mktemp("seq"), frames=FRAMES, azimuth_steps=COARSE)


@pytest.fixture(scope="module")
def truth(sequence: Path) -> dict[str, Any]:
    return dict(json.loads((sequence / "ground_truth.json").read_text()))


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(tmp_path: Path) -> None:
    a = generate_sequence(tmp_path / "a", frames=2, azimuth_steps=200)
    b = generate_sequence(tmp_path / "b", frames=2, azimuth_steps=200)
    c = generate_sequence(tmp_path / "c", frames=2, azimuth_steps=200, seed=8)
    names = ["lidar/000000.pcd", "lidar/000001.pcd", "poses.json", "ground_truth.json"]
    _, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    assert mismatch == errors == []
    assert not filecmp.cmp(a / "lidar/000001.pcd", c / "lidar/000001.pcd", shallow=False)


def test_a_full_resolution_frame_looks_like_a_64_beam_scan(tmp_path: Path) -> None:
    seq = generate_sequence(tmp_path, frames=1)
    cloud = read_cloud(seq / "lidar/000000.pcd")
    assert 80_000 <= len(cloud) <= 140_000 and cloud.dropped == 0
    ranges = np.linalg.norm(cloud.xyz, axis=1)
    assert ranges.max() <= MAX_RANGE + 0.1 and ranges.min() >= 0.9
    intensity = cloud.attributes["intensity"]
    assert 0 <= intensity.min() and intensity.max() <= 1 and intensity.std() > 0.05
    ground = cloud.xyz[ranges < 20]
    assert np.median(ground[:, 2]) == pytest.approx(-1.8, abs=0.3)  # sensor 1.8 m up


def test_every_labelled_box_holds_its_recorded_points(
    sequence: Path, truth: dict[str, Any]
) -> None:
    frames = {i: read_cloud(sequence / f"lidar/{i:06d}.pcd").xyz for i in range(0, FRAMES, 7)}
    checked = 0
    for track in truth["tracks"]:
        for c in track["cuboids"]:
            if c["frame"] in frames:
                box = [*c["center"], *c["size"], c["yaw"]]
                counted = int(count_points_in_boxes(frames[c["frame"]], [box])[0])
                assert abs(counted - c["points"]) <= 2, (track["track_id"], c["frame"])
                checked += 1
    assert checked > 50
    assert {"Car", "Truck", "Pedestrian", "Cyclist"} <= {t["class"] for t in truth["tracks"]}


def _world_track(sequence: Path, truth: dict[str, Any], track_id: str) -> dict[int, np.ndarray]:
    """A track's box centres in the world frame, by frame."""
    poses = {
        p["frame"]: np.array(p["pose"])
        for p in json.loads((sequence / "poses.json").read_text())["frames"]
    }
    (track,) = [t for t in truth["tracks"] if t["track_id"] == track_id]
    return {
        c["frame"]: (poses[c["frame"]] @ np.array([*c["center"], 1.0]))[:3]
        for c in track["cuboids"]
    }


def test_the_cut_in_car_moves_into_the_ego_lane_during_its_tag(
    sequence: Path, truth: dict[str, Any]
) -> None:
    (cut_in,) = [t for t in truth["tags"] if t["tag"] == "cut_in"]
    assert 0 <= cut_in["first_frame"] < cut_in["last_frame"] < FRAMES
    (track,) = [t for t in truth["tracks"] if t["track_id"] == cut_in["track_id"]]
    lateral = {c["frame"]: c["center"][1] for c in track["cuboids"]}  # sensor frame: left is +y
    before, after = lateral[cut_in["first_frame"]], lateral[cut_in["last_frame"]]
    assert abs(before) > 0.6 * LANE_WIDTH and abs(after) < 0.5  # from the next lane to ego's
    ahead = [c["center"][0] for c in track["cuboids"] if c["frame"] == cut_in["last_frame"]]
    assert ahead[0] > 0  # in front of ego


def test_the_braking_vehicle_decelerates_hard_during_its_tag(
    sequence: Path, truth: dict[str, Any]
) -> None:
    (braking,) = [t for t in truth["tags"] if t["tag"] == "hard_braking"]
    world = _world_track(sequence, truth, braking["track_id"])
    a, b = braking["first_frame"], braking["last_frame"]
    speed = {f: float(np.linalg.norm(world[f + 1] - world[f])) / FRAME_DT for f in range(a, b)}
    decel = (speed[a] - speed[b - 1]) / ((b - 1 - a) * FRAME_DT)
    assert decel >= 3.0  # m/s²


def test_poses_are_rigid_and_ego_drives_about_a_metre_per_frame(sequence: Path) -> None:
    poses = [
        np.array(p["pose"]) for p in json.loads((sequence / "poses.json").read_text())["frames"]
    ]
    assert len(poses) == FRAMES
    for pose in poses:
        r = pose[:3, :3]
        assert np.allclose(r @ r.T, np.eye(3), atol=1e-6) and math.isclose(
            np.linalg.det(r), 1, abs_tol=1e-6
        )
        assert np.array_equal(pose[3], [0, 0, 0, 1])
    steps = [np.linalg.norm(b[:3, 3] - a[:3, 3]) for a, b in zip(poses, poses[1:], strict=False)]
    assert np.allclose(steps, EGO_SPEED * FRAME_DT, rtol=0.05)
