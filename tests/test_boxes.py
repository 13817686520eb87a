"""Box layout, corners and points-in-box tests (pointcloud.boxes)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from pointcloud import boxes as boxes_module
from pointcloud.boxes import (
    Box,
    InvalidGeometryError,
    as_boxes,
    box_corners,
    count_points_in_boxes,
    normalize_yaw,
    points_in_box,
    points_in_boxes,
    rotation_matrices,
)
from pointcloud.errors import PointCloudError


def brute_force_inside(points: NDArray[np.float64], box: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Reference: every point into the box frame, no pre-filter."""
    local = (points - box[:3]) @ rotation_matrices(box)[0]
    return (np.abs(local) <= box[3:6] / 2.0).all(axis=1)


def random_scene_boxes(
    rng: np.random.Generator, n: int, *, tilt: bool = False
) -> NDArray[np.float64]:
    cols = [
        rng.uniform(-40, 40, (n, 2)),
        rng.uniform(-2, 1, n),
        rng.uniform(0.5, 6, (n, 2)),
        rng.uniform(0.5, 3, n),
        rng.uniform(-math.pi, math.pi, n),
    ]
    if tilt:
        cols.append(rng.uniform(-0.2, 0.2, (n, 2)))
    return np.column_stack(cols)


def test_normalize_yaw_wraps_into_half_open_interval() -> None:
    assert normalize_yaw(math.pi) == pytest.approx(math.pi)
    assert normalize_yaw(-math.pi) == pytest.approx(math.pi)
    assert normalize_yaw(3 * math.pi / 2) == pytest.approx(-math.pi / 2)
    assert isinstance(normalize_yaw(7.0), float)
    values = np.linspace(-20, 20, 1001)
    wrapped = normalize_yaw(values)
    assert wrapped.shape == values.shape
    assert (wrapped > -math.pi).all() and (wrapped <= math.pi).all()
    assert np.allclose(np.sin(wrapped), np.sin(values)) and np.allclose(
        np.cos(wrapped), np.cos(values)
    )


def test_box_round_trips_through_array_and_normalises_yaw() -> None:
    box = Box(1.0, 2.0, 3.0, 4.0, 2.0, 1.5, yaw=2 * math.pi + 0.25, pitch=0.1, roll=-0.05)
    arr = box.as_array()
    assert arr.shape == (7,) and arr[6] == pytest.approx(0.25)
    full = box.as_array(with_pitch_roll=True)
    assert full.shape == (9,) and full[7:].tolist() == [0.1, -0.05]
    again = Box.from_array(full)
    assert again.pitch == 0.1 and again.yaw == pytest.approx(0.25)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((2, 6)), np.zeros((2, 3, 7)), [[0, 0, 0, 1, 1, np.nan, 0]], [[0, 0, 0, 1, 0, 1, 0]]],
)
def test_invalid_boxes_are_rejected_with_a_typed_error(bad: object) -> None:
    with pytest.raises(InvalidGeometryError) as info:
        as_boxes(bad)  # type: ignore[arg-type]
    assert isinstance(info.value, PointCloudError) and info.value.code == "invalid_geometry"


def test_points_must_be_m_by_3() -> None:
    with pytest.raises(InvalidGeometryError):
        points_in_box(np.zeros((4, 2)), [0, 0, 0, 1, 1, 1, 0])


def test_corners_of_an_axis_aligned_and_a_quarter_turned_box() -> None:
    corners = box_corners([10, 0, 1, 4, 2, 2, 0])[0]
    assert np.allclose(corners[0], [12, -1, 0]) and np.allclose(corners[6], [8, 1, 2])
    turned = box_corners([0, 0, 0, 4, 2, 2, math.pi / 2])[0]
    assert np.allclose(turned[0], [1, 2, -1])  # front-right corner now points along +y


def test_corners_keep_edge_lengths_with_pitch_and_roll() -> None:
    box = np.array([1, 2, 3, 4, 2, 1.5, 0.7, 0.2, -0.1])
    c = box_corners(box)[0]
    assert np.allclose(c.mean(axis=0), box[:3])
    assert np.linalg.norm(c[0] - c[3]) == pytest.approx(4)
    assert np.linalg.norm(c[0] - c[1]) == pytest.approx(2)
    assert np.linalg.norm(c[0] - c[4]) == pytest.approx(1.5)


boxes_strategy = st.tuples(
    st.floats(-50, 50),
    st.floats(-50, 50),
    st.floats(-3, 3),
    st.floats(0.2, 12),
    st.floats(0.2, 4),
    st.floats(0.2, 4),
    st.floats(-10, 10),
    st.floats(-0.3, 0.3),
    st.floats(-0.3, 0.3),
)


@settings(max_examples=60, deadline=None)
@given(box=boxes_strategy, seed=st.integers(0, 2**32 - 1))
def test_rotated_box_holds_exactly_the_points_generated_inside_it(
    box: tuple[float, ...], seed: int
) -> None:
    arr = np.array(box)
    rng = np.random.default_rng(seed)
    half = arr[3:6] / 2.0
    inside = rng.uniform(-1, 1, (300, 3)) * (half - 0.01)
    outside = rng.uniform(-3, 3, (300, 3)) * half
    far = np.abs(outside) >= half + 0.01
    outside = outside[far.any(axis=1)]
    local = np.vstack([inside, outside])
    world = local @ rotation_matrices(arr)[0].T + arr[:3]
    mask = points_in_box(world, arr)
    assert mask[: len(inside)].all()
    assert not mask[len(inside) :].any()


def test_points_in_box_accepts_a_box_object_and_a_margin() -> None:
    pts = np.array([[2.05, 0, 0], [1.9, 0, 0]])
    box = Box(0, 0, 0, 4, 2, 2)
    assert points_in_box(pts, box).tolist() == [False, True]
    assert points_in_box(pts, box, margin=0.1).tolist() == [True, True]


@pytest.mark.parametrize("sort_min", [10**9, 0])
@pytest.mark.parametrize("tilt", [False, True])
def test_counts_and_owners_match_brute_force(
    monkeypatch: pytest.MonkeyPatch, sort_min: int, tilt: bool
) -> None:
    monkeypatch.setattr(boxes_module, "SORT_MIN_POINTS", sort_min)
    rng = np.random.default_rng(7)
    boxes = random_scene_boxes(rng, 30, tilt=tilt)
    pts = np.c_[rng.uniform(-45, 45, (60_000, 2)), rng.uniform(-3, 2, 60_000)].astype(np.float32)
    pts64 = pts.astype(np.float64)
    reference = np.array([brute_force_inside(pts64, b) for b in boxes])
    assert count_points_in_boxes(pts, boxes).tolist() == reference.sum(axis=1).tolist()
    owner = points_in_boxes(pts, boxes)
    expected = np.where(reference.any(axis=0), reference.argmax(axis=0), -1)
    assert np.array_equal(owner, expected)
    assert reference.sum() > 100  # the boxes do hold points


def test_large_cloud_uses_buckets_and_agrees_with_single_box_test() -> None:
    rng = np.random.default_rng(11)
    boxes = random_scene_boxes(rng, 12)
    pts = np.c_[rng.uniform(-45, 45, (400_000, 2)), rng.uniform(-3, 2, 400_000)]
    counts = count_points_in_boxes(pts, boxes)
    assert counts.tolist() == [int(points_in_box(pts, b).sum()) for b in boxes]


def test_empty_inputs() -> None:
    assert points_in_boxes(np.zeros((0, 3)), [[0, 0, 0, 1, 1, 1, 0]]).shape == (0,)
    assert count_points_in_boxes(np.zeros((0, 3)), [[0, 0, 0, 1, 1, 1, 0]]).tolist() == [0]
    assert count_points_in_boxes(np.ones((5, 3)), np.zeros((0, 7))).shape == (0,)
