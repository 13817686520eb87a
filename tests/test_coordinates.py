"""Coordinates no sensor or projection produces are refused by the readers, with a code."""

from __future__ import annotations

import json
from pathlib import Path

import laspy
import numpy as np
import pytest

from pointcloud.cloud import MAX_COORDINATE, check_coordinates
from pointcloud.errors import CoordinatesOutOfRangeError
from pointcloud.io import read_cloud, read_poses
from pointcloud.io.pcd import write_pcd


def random_bytes_bin(path: Path, *, seed: int = 10, points: int = 4096) -> Path:
    """A KITTI-named file of random bytes: float32 x, y, z, i records of noise."""
    path.write_bytes(np.random.default_rng(seed).bytes(points * 16))
    return path


def las_file(path: Path, *, scale: float, offset: float, raw: list[int]) -> Path:
    """A LAS file whose x and y are ``raw * scale + offset`` and z is ``offset``."""
    header = laspy.LasHeader(point_format=3, version="1.2")
    header.scales = np.array([scale] * 3)
    header.offsets = np.array([offset] * 3)
    las = laspy.LasData(header)
    las.X = np.array(raw, dtype=np.int32)
    las.Y = np.array(raw, dtype=np.int32)
    las.Z = np.zeros(len(raw), dtype=np.int32)
    las.write(path)
    return path


def test_random_bytes_named_bin_are_refused_with_coordinates_out_of_range(
    tmp_path: Path,
) -> None:
    path = random_bytes_bin(tmp_path / "noise.bin")
    with pytest.raises(CoordinatesOutOfRangeError) as info:
        read_cloud(path)
    assert info.value.code == "coordinates_out_of_range"
    assert "1e+08 m" in str(info.value)


def test_kitti_nan_and_inf_points_are_still_dropped_not_refused(tmp_path: Path) -> None:
    data = np.zeros((6, 4), dtype=np.float32)
    data[:, 0] = [1.0, 2.0, np.nan, 4.0, np.inf, -np.inf]
    data.tofile(tmp_path / "gaps.bin")
    cloud = read_cloud(tmp_path / "gaps.bin")
    assert (len(cloud), cloud.dropped) == (3, 3)


def test_a_ply_point_past_the_bound_refuses_the_file(tmp_path: Path) -> None:
    path = tmp_path / "far.ply"
    header = "ply\nformat ascii 1.0\nelement vertex 2\nproperty double x\nproperty double y\n"
    path.write_text(header + "property double z\nend_header\n1 2 3\n1e39 0 0\n")
    with pytest.raises(CoordinatesOutOfRangeError, match="1e\\+39 m"):
        read_cloud(path)


def test_a_pcd_viewpoint_that_moves_points_past_the_bound_refuses_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "far.pcd"
    write_pcd(path, np.zeros((3, 3), dtype=np.float32))
    text = path.read_bytes().replace(b"VIEWPOINT 0 0 0 1 0 0 0", b"VIEWPOINT 0 0 5e8 1 0 0 0")
    path.write_bytes(text)
    with pytest.raises(CoordinatesOutOfRangeError):
        read_cloud(path)


def test_a_las_with_a_wild_scale_is_refused(tmp_path: Path) -> None:
    path = las_file(tmp_path / "wild.las", scale=1e30, offset=0.0, raw=[1, 2, 3])
    with pytest.raises(CoordinatesOutOfRangeError):
        read_cloud(path)


@pytest.mark.parametrize("coordinate", [6.4e6, 4.5e7, -9.9e7])
def test_georeferenced_coordinates_up_to_the_bound_are_read(
    tmp_path: Path, coordinate: float
) -> None:
    """ECEF (~6.4e6 m) and Gauss-Krueger eastings with a zone prefix (~4.5e7 m) are real data."""
    path = las_file(tmp_path / "geo.las", scale=0.01, offset=coordinate, raw=[0, 100, 250])
    cloud = read_cloud(path)
    assert np.allclose(cloud.xyz[:, 0], [coordinate, coordinate + 1.0, coordinate + 2.5])


def test_a_pose_translation_past_the_bound_is_refused(tmp_path: Path) -> None:
    pose = np.eye(4)
    pose[0, 3] = 2e8
    frames = [{"frame": 0, "file": "lidar/0.bin", "pose": pose.tolist()}]
    (tmp_path / "poses.json").write_text(json.dumps({"frames": frames}))
    with pytest.raises(CoordinatesOutOfRangeError, match="pose translation"):
        read_poses(tmp_path)


def test_check_coordinates_refuses_non_finite_bounds_and_accepts_the_limit() -> None:
    check_coordinates([-MAX_COORDINATE] * 3, [MAX_COORDINATE] * 3, "box")
    with pytest.raises(CoordinatesOutOfRangeError, match="not a finite number"):
        check_coordinates([0.0, 0.0, np.nan], [1.0, 1.0, 1.0], "box")
    with pytest.raises(CoordinatesOutOfRangeError, match="box: a coordinate of 2e\\+08 m"):
        check_coordinates([0.0, 0.0, 0.0], [1.0, 2e8, 1.0], "box")
