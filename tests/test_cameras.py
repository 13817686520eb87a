"""Camera projection (pointcloud.cameras) against the KITTI devkit's formula on the shared
calibration, and wireframe clipping at the near plane."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from benchmarks.labelled import kitti_frames
from pointcloud.cameras import (
    NEAR,
    Camera,
    box_wireframe,
    kitti_camera,
    project_points,
    sustech_camera,
)
from server.interchange.kitti import read_calib


def devkit_project(calib: dict[str, list[float]], points: np.ndarray) -> np.ndarray:
    """The KITTI devkit (project_velo_to_image): P2 @ R0_rect @ Tr_velo_to_cam @ [x y z 1]."""
    p2 = np.reshape(calib["P2"], (3, 4))
    r0 = np.eye(4)
    r0[:3, :3] = np.reshape(calib["R0_rect"], (3, 3))
    tr = np.eye(4)
    tr[:3, :4] = np.reshape(calib["Tr_velo_to_cam"], (3, 4))
    h = p2 @ r0 @ tr @ np.c_[points, np.ones(len(points))].T
    return (h[:2] / h[2]).T


def test_projection_matches_the_kitti_devkit_on_the_shared_calibration(shared_data: Path) -> None:
    for calib_file in sorted((shared_data / "kitti/calib").glob("*.txt")):
        calib = read_calib(calib_file.read_text(), calib_file.name)
        camera = kitti_camera(calib)
        rng = np.random.default_rng(0)
        pts = np.c_[rng.uniform(2, 70, 500), rng.uniform(-20, 20, 500), rng.uniform(-2, 2, 500)]
        uv, depth, _ = project_points(pts, camera)
        assert np.abs(uv - devkit_project(calib, pts)).max() < 1e-6
        assert (depth > 0).all()


def test_the_kitti_labels_project_onto_their_2d_boxes(shared_data: Path) -> None:
    """Each labelled object's 3D box, projected, covers its own 2D box from label_2."""
    checked = 0
    for frame in kitti_frames(shared_data):
        calib = read_calib((shared_data / f"kitti/calib/{frame.name}.txt").read_text(), "calib")
        camera = kitti_camera(calib)
        lines = [
            ln.split()
            for ln in (shared_data / f"kitti/label_2/{frame.name}.txt").read_text().splitlines()
        ]
        lines = [p for p in lines if p and p[0] != "DontCare"]
        for box, parts in zip(frame.boxes, lines, strict=True):
            segments = box_wireframe(box, camera).reshape(-1, 2)
            lo, hi = segments.min(axis=0), segments.max(axis=0)
            x1, y1, x2, y2 = (float(v) for v in parts[4:8])
            inter = max(0.0, min(hi[0], x2) - max(lo[0], x1)) * max(
                0.0, min(hi[1], y2) - max(lo[1], y1)
            )
            union = (hi - lo).prod() + (x2 - x1) * (y2 - y1) - inter
            assert inter / union >= 0.5, (frame.name, parts[0])
            checked += 1
    assert checked >= 3


def square_camera() -> Camera:
    """A 640x480 camera at the lidar origin looking along +x (lidar x forward, z up)."""
    to_cam = np.array([[0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=np.float64)
    k = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    return Camera("test", k, to_cam, (640, 480))


def test_a_box_across_the_camera_plane_is_clipped_not_mirrored() -> None:
    camera = square_camera()
    # A 6 m long box centred 1 m ahead: its back half is behind the camera.
    segments = box_wireframe([1.0, 0.0, 0.0, 6.0, 2.0, 1.5, 0.0], camera)
    assert len(segments) == 8  # the 4 front-face edges and the 4 long edges, cut at the near plane
    assert np.isfinite(segments).all()
    # Long edges run from the far face to the near plane: at depth NEAR the pixel is
    # f * (1 m / 0.1 m) from the centre, far outside; never on the other side.
    cam = camera.to_camera(np.array([[NEAR, -1.0, 0.75]]))
    expect = camera.pixels(cam)[0]
    assert any(np.allclose(s, expect) for seg in segments for s in seg)
    assert (segments[..., 0] > 320).any() and (segments[..., 0] < 320).any()  # both sides, as seen


def test_a_box_behind_the_camera_draws_nothing_and_points_behind_are_not_in_view() -> None:
    camera = square_camera()
    assert box_wireframe([-5.0, 0.0, 0.0, 4.5, 1.9, 1.6, 0.3], camera).shape == (0, 2, 2)
    uv, depth, inside = project_points([[-5.0, 0.0, 0.0], [5.0, 0.0, 0.0]], camera)
    assert inside.tolist() == [False, True]
    assert math.isnan(uv[0, 0]) and uv[1] == pytest.approx([320, 240])
    assert depth.tolist() == pytest.approx([-5.0, 5.0])


def test_sustech_front_camera_sees_a_labelled_car_in_front(shared_data: Path) -> None:
    calib = json.loads((shared_data / "sustech/calib/front.json").read_text())
    camera = sustech_camera(calib, "front", (2048, 1536))
    labels = json.loads((shared_data / "sustech/label/000970.json").read_text())
    seen = 0
    for obj in labels:
        p = obj["psr"]["position"]
        _, depth, inside = project_points([[p["x"], p["y"], p["z"]]], camera)
        seen += bool(inside[0])
    assert seen >= 1
