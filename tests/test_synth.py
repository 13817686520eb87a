"""Tests for the generated demo sequence (pointcloud.synth)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pointcloud.synth import MAX_RANGE, generate_sequence

FRAMES = 40
LOW_RES = 300  # azimuth steps: keeps the 40-frame fixture fast


def read_pcd(path: Path) -> dict[str, np.ndarray]:
    """Parse a binary PCD written by write_pcd into {field: column}."""
    raw = path.read_bytes()
    header: dict[str, list[str]] = {}
    offset = 0
    while True:
        end = raw.index(b"\n", offset)
        line = raw[offset:end].decode("ascii").strip()
        offset = end + 1
        if line.startswith("#"):
            continue
        key, *values = line.split()
        header[key] = values
        if key == "DATA":
            break
    assert header["DATA"] == ["binary"]
    kinds = {"F": "f", "U": "u", "I": "i"}
    dtype = np.dtype(
        [
            (name, f"<{kinds[kind]}{size}")
            for name, size, kind in zip(
                header["FIELDS"], header["SIZE"], header["TYPE"], strict=True
            )
        ]
    )
    rec = np.frombuffer(raw, dtype=dtype, count=int(header["POINTS"][0]), offset=offset)
    return {name: rec[name] for name in dtype.names or ()}


def xyz_of(cols: dict[str, np.ndarray]) -> np.ndarray:
    return np.column_stack([cols["x"], cols["y"], cols["z"]]).astype(np.float64)


def inside(xyz: np.ndarray, cuboid: dict[str, Any]) -> int:
    c, s = math.cos(cuboid["yaw"]), math.sin(cuboid["yaw"])
    rel = xyz - np.asarray(cuboid["center"])
    local = np.column_stack(
        [c * rel[:, 0] + s * rel[:, 1], -s * rel[:, 0] + c * rel[:, 1], rel[:, 2]]
    )
    return int(np.all(np.abs(local) <= np.asarray(cuboid["size"]) / 2, axis=1).sum())


@pytest.fixture(scope="module")
def seq(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_sequence(
        tmp_path_factory.mktemp("seq"), frames=FRAMES, seed=7, azimuth_steps=LOW_RES
    )


@pytest.fixture(scope="module")
def truth(seq: Path) -> dict[str, Any]:
    return json.loads((seq / "ground_truth.json").read_text())


@pytest.fixture(scope="module")
def poses(seq: Path) -> np.ndarray:
    frames = json.loads((seq / "poses.json").read_text())["frames"]
    return np.array([f["pose"] for f in frames])


def tag(truth: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [t for t in truth["tags"] if t["tag"] == name]
    return found


def track(truth: dict[str, Any], track_id: str) -> dict[int, dict[str, Any]]:
    (found,) = [t for t in truth["tracks"] if t["track_id"] == track_id]
    return {c["frame"]: c for c in found["cuboids"]}


def files_of(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_seed_is_byte_identical_and_other_seed_differs(tmp_path: Path) -> None:
    a = files_of(generate_sequence(tmp_path / "a", frames=2, seed=3, azimuth_steps=200))
    b = files_of(generate_sequence(tmp_path / "b", frames=2, seed=3, azimuth_steps=200))
    c = files_of(generate_sequence(tmp_path / "c", frames=2, seed=4, azimuth_steps=200))
    assert set(a) == {"lidar/000000.pcd", "lidar/000001.pcd", "poses.json", "ground_truth.json"}
    assert a == b
    assert a["lidar/000000.pcd"] != c["lidar/000000.pcd"]
    assert a["ground_truth.json"] != c["ground_truth.json"]


def test_full_resolution_frame_is_realistic(tmp_path: Path) -> None:
    out = generate_sequence(tmp_path, frames=1)
    cols = read_pcd(out / "lidar" / "000000.pcd")
    xyz = xyz_of(cols)
    assert 60_000 <= len(xyz) <= 140_000
    assert np.isfinite(xyz).all()
    assert np.linalg.norm(xyz, axis=1).max() <= MAX_RANGE
    assert cols["intensity"].dtype == np.float32
    assert 0.0 <= cols["intensity"].min() and cols["intensity"].max() <= 1.0
    ground = xyz[np.linalg.norm(xyz[:, :2], axis=1) < 6]
    assert abs(float(np.median(ground[:, 2])) + 1.8) < 0.05  # road 1.8 m below the sensor


def test_files_and_frames_are_consistent(seq: Path, truth: dict[str, Any]) -> None:
    frames = json.loads((seq / "poses.json").read_text())["frames"]
    assert [f["frame"] for f in frames] == list(range(FRAMES))
    assert all((seq / f["file"]).is_file() for f in frames)
    assert np.allclose(np.diff([f["timestamp"] for f in frames]), 0.1)
    assert truth["version"] == 1 and truth["seed"] == 7 and truth["frames"] == FRAMES
    classes = {t["class"] for t in truth["tracks"]}
    assert classes == {"Car", "Truck", "Pedestrian", "Cyclist"}


def test_cuboid_point_counts_match_the_pcd(seq: Path, truth: dict[str, Any]) -> None:
    clouds = [xyz_of(read_pcd(seq / "lidar" / f"{i:06d}.pcd")) for i in range(FRAMES)]
    checked = 0
    for t in truth["tracks"]:
        for c in t["cuboids"]:
            assert -math.pi < c["yaw"] <= math.pi
            assert math.hypot(*c["center"][:2]) <= 80.0
            if c["points"] > 0:
                n = inside(clouds[c["frame"]], c)
                assert abs(n - c["points"]) <= max(2, 0.02 * c["points"])
                checked += 1
    assert checked > 100


def test_tags_have_valid_ranges(truth: dict[str, Any]) -> None:
    ids = {t["track_id"] for t in truth["tracks"]}
    for name in ("cut_in", "hard_braking"):
        t = tag(truth, name)
        assert t["track_id"] in ids
        assert 0 <= t["first_frame"] < t["last_frame"] <= FRAMES - 1
        assert set(range(t["first_frame"], t["last_frame"] + 1)) <= set(track(truth, t["track_id"]))
    assert tag(truth, "cut_in")["related"] == "ego"


def test_cut_in_moves_into_ego_lane(truth: dict[str, Any]) -> None:
    t = tag(truth, "cut_in")
    cuboids = track(truth, t["track_id"])
    first, last = cuboids[t["first_frame"]], cuboids[t["last_frame"]]
    assert first["center"][1] > 2.5  # one lane to the left
    assert abs(last["center"][1]) < 0.6  # in ego's lane
    assert 0 < last["center"][0] < 30  # in front of ego
    lateral = [cuboids[i]["center"][1] for i in range(t["first_frame"], t["last_frame"] + 1)]
    assert all(b <= a + 0.05 for a, b in zip(lateral, lateral[1:], strict=False))
    assert all(cuboids[i]["points"] > 0 for i in range(t["first_frame"], t["last_frame"] + 1))


def test_braking_vehicle_decelerates(truth: dict[str, Any], poses: np.ndarray) -> None:
    t = tag(truth, "hard_braking")
    cuboids = track(truth, t["track_id"])
    a, b = t["first_frame"], t["last_frame"]
    world = {i: (poses[i] @ np.array([*cuboids[i]["center"], 1.0]))[:3] for i in range(a, b + 1)}
    speed = [float(np.linalg.norm(world[i + 1] - world[i])) / 0.1 for i in range(a, b)]
    drop_per_frame = (speed[0] - speed[-1]) / (len(speed) - 1)
    assert drop_per_frame >= 3.0 * 0.1
    assert all(y <= x + 1e-3 for x, y in zip(speed, speed[1:], strict=False))


def test_poses_are_rigid_and_ego_moves_forward(poses: np.ndarray) -> None:
    for pose in poses:
        rot = pose[:3, :3]
        assert np.allclose(rot.T @ rot, np.eye(3), atol=1e-6)
        assert np.isclose(np.linalg.det(rot), 1.0, atol=1e-6)
        assert np.allclose(pose[3], [0, 0, 0, 1])
    steps = np.diff(poses[:, :3, 3], axis=0)
    assert np.allclose(np.linalg.norm(steps, axis=1), 1.0, atol=0.05)
    forward = np.einsum("ij,ij->i", steps, poses[:-1, :3, 0])
    assert (forward > 0.95).all()
    assert poses[-1, 2, 3] > poses[0, 2, 3]  # the road climbs


def test_frames_out_of_range_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate_sequence(tmp_path, frames=0)
