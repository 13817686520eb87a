"""Box fitting and ground height tests (pointcloud.fitting), synthetic and on SUSTech frames."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from pointcloud.boxes import InvalidGeometryError, points_in_box
from pointcloud.fitting import FitError, fit_box, ground_height
from pointcloud.io import read_cloud

CAR = (4.5, 1.8, 1.5)


def yaw_error_mod_pi(a: float, b: float) -> float:
    """Absolute angle between two headings in degrees, ignoring direction (mod pi)."""
    return math.degrees(abs(math.remainder(a - b, math.pi)))


def car_surface(
    rng: np.random.Generator,
    centre: NDArray[np.float64],
    yaw: float,
    *,
    sensor_sees_only_visible_sides: bool = True,
    n: int = 800,
    noise: float = 0.02,
    outliers: float = 0.03,
) -> NDArray[np.float64]:
    """Samples of a car's vertical sides as lidar at the origin sees them, plus noise and outliers."""
    length, width, height = CAR
    rot = np.array([[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]])
    sides = [
        ((1, 0), width, length),
        ((-1, 0), width, length),
        ((0, 1), length, width),
        ((0, -1), length, width),
    ]
    chunks = []
    for normal, span, depth in sides:
        outward = rot @ np.array(normal, dtype=np.float64)
        middle = centre[:2] + outward * depth / 2
        if sensor_sees_only_visible_sides and outward @ -middle <= 0:
            continue
        k = int(n * span / (2 * (length + width)) * 2)
        along = rng.uniform(-span / 2, span / 2, k)
        local = np.array(normal, dtype=np.float64) * depth / 2 + np.outer(
            along, [abs(normal[1]), abs(normal[0])]
        )
        z = rng.uniform(-height / 2, height / 2, k) + centre[2]
        chunks.append(np.c_[local @ rot.T + centre[:2], z])
    pts = np.vstack(chunks) + rng.normal(0, noise, (sum(len(c) for c in chunks), 3))
    count = int(outliers * len(pts))
    spread = np.array([length / 2 + 2, length / 2 + 2, height / 2 + 1])
    return np.vstack([pts, rng.uniform(centre - spread, centre + spread, (count, 3))])


def two_sided_cases(count: int) -> list[tuple[NDArray[np.float64], float]]:
    """Cars at random places and headings that show the sensor two sides (an L)."""
    rng = np.random.default_rng(21)
    cases: list[tuple[NDArray[np.float64], float]] = []
    while len(cases) < count:
        angle, distance, yaw = (
            rng.uniform(0, 2 * math.pi),
            rng.uniform(6, 40),
            rng.uniform(-math.pi, math.pi),
        )
        bearing = math.remainder(yaw - angle, math.pi / 2)
        if abs(bearing) < math.radians(10):  # nearly head-on: one side only
            continue
        cases.append(
            (np.array([distance * math.cos(angle), distance * math.sin(angle), -0.9]), yaw)
        )
    return cases


@pytest.mark.parametrize("case", range(30))
def test_fit_recovers_yaw_and_centre_of_an_l_shaped_car_with_outliers(case: int) -> None:
    centre, yaw = two_sided_cases(30)[case]
    pts = car_surface(np.random.default_rng(case), centre, yaw)
    box = fit_box(pts)
    assert yaw_error_mod_pi(box[6], yaw) < 2.0
    # Two adjacent sides span the whole footprint: the visible-extent box is the car's.
    assert np.linalg.norm(box[:2] - centre[:2]) < 0.15
    assert box[3] == pytest.approx(CAR[0], abs=0.2) and box[4] == pytest.approx(CAR[1], abs=0.2)
    assert box[3] >= box[4] and -math.pi / 2 < box[6] <= math.pi / 2
    assert box[2] == pytest.approx(centre[2], abs=0.1) and box[5] == pytest.approx(CAR[2], abs=0.2)


def test_fit_of_a_full_cuboid_surface() -> None:
    centre = np.array([3.0, -2.0, 0.5])
    pts = car_surface(np.random.default_rng(1), centre, 0.6, sensor_sees_only_visible_sides=False)
    box = fit_box(pts)
    assert yaw_error_mod_pi(box[6], 0.6) < 1.0
    assert np.linalg.norm(box[:2] - centre[:2]) < 0.1


def test_yaw_hint_chooses_the_heading_and_the_length_follows_it() -> None:
    centre, yaw = two_sided_cases(1)[0]
    pts = car_surface(np.random.default_rng(4), centre, yaw)
    for hint in (yaw + 0.3, yaw + math.pi - 0.3):
        box = fit_box(pts, yaw_hint=hint)
        assert abs(math.degrees(math.remainder(box[6] - hint, 2 * math.pi))) < 20
        assert box[3] == pytest.approx(CAR[0], abs=0.2)
    sideways = fit_box(pts, yaw_hint=yaw + math.pi / 2)
    assert sideways[3] == pytest.approx(CAR[1], abs=0.2) and sideways[4] == pytest.approx(
        CAR[0], abs=0.2
    )


def test_fit_rejects_too_few_points_and_bad_options() -> None:
    with pytest.raises(FitError):
        fit_box(np.zeros((2, 3)))
    with pytest.raises(FitError) as info:
        fit_box(np.zeros((0, 3)))
    assert info.value.code == "fit_failed"
    with pytest.raises(InvalidGeometryError, match="outlier_fraction"):
        fit_box(np.ones((10, 3)), outlier_fraction=0.7)


def test_fit_of_degenerate_points_keeps_sizes_positive() -> None:
    box = fit_box(np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]]))
    assert (box[3:6] > 0).all() and box[3] == pytest.approx(3.0)


def sloped_ground(rng: np.random.Generator) -> tuple[NDArray[np.float64], float, float, float]:
    """A noisy plane z = 0.08 x - 0.05 y - 1.7 with car-sized blocks standing on it."""
    a, b, c = 0.08, -0.05, -1.7
    xy = rng.uniform(-20, 20, (60_000, 2))
    ground = np.c_[xy, a * xy[:, 0] + b * xy[:, 1] + c + rng.normal(0, 0.02, len(xy))]
    blocks = []
    for bx, by in [(0.0, 0.0), (5.0, 3.0), (-6.0, -4.0), (10.0, -8.0)]:
        local = rng.uniform([-2.2, -0.9, 0.3], [2.2, 0.9, 1.6], (3000, 3))
        base = a * (bx + local[:, 0]) + b * (by + local[:, 1]) + c
        blocks.append(np.c_[local[:, 0] + bx, local[:, 1] + by, base + local[:, 2]])
    return np.vstack([ground, *blocks]), a, b, c


@pytest.mark.parametrize("x, y", [(0.0, 0.0), (5.0, 3.0), (-12.0, 7.5), (15.0, 15.0)])
def test_ground_height_on_a_sloped_noisy_plane_with_objects(x: float, y: float) -> None:
    pts, a, b, c = sloped_ground(np.random.default_rng(2))
    height = ground_height(pts, x, y)
    assert height is not None
    assert height == pytest.approx(a * x + b * y + c, abs=0.05)


def test_ground_height_is_none_without_points_nearby() -> None:
    pts, *_ = sloped_ground(np.random.default_rng(2))
    assert ground_height(pts, 100.0, 100.0) is None
    assert ground_height(np.zeros((0, 3)), 0.0, 0.0) is None


def sustech_car_boxes(root: Path) -> list[tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """(box (9,), cloud) for every labelled Car with >= 200 points inside."""
    found = []
    for label in sorted((root / "label").glob("*.json")):
        cloud = root / "lidar" / f"{label.stem}.pcd"
        if not cloud.exists():
            continue
        xyz = read_cloud(cloud).xyz
        for obj in json.loads(label.read_text()):
            if obj["obj_type"] != "Car":
                continue
            psr = obj["psr"]
            box = np.array(
                [psr["position"][k] for k in "xyz"]
                + [psr["scale"][k] for k in "xyz"]
                + [psr["rotation"]["z"], psr["rotation"]["y"], psr["rotation"]["x"]]
            )
            if points_in_box(xyz, box).sum() >= 200:
                found.append((box, xyz))
    return found


def test_fit_matches_labelled_car_yaw_on_sustech(shared_data: Path) -> None:
    root = shared_data / "sustech"
    if not (root / "label").is_dir():
        pytest.skip("no SUSTech labels in shared data")
    errors = []
    for box, xyz in sustech_car_boxes(root):
        grown = box.copy()
        grown[3:5] += 0.4  # 0.2 m each side
        crop = xyz[points_in_box(xyz, grown)]
        crop = crop[crop[:, 2] > box[2] - box[5] / 2 + 0.15]  # the ground is not the car
        errors.append(yaw_error_mod_pi(fit_box(crop)[6], box[6]))
    assert len(errors) >= 5
    assert np.mean(np.array(errors) <= 10.0) >= 0.8
