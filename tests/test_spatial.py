"""The grid index counts exactly what a full scan counts."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pointcloud.boxes import count_points_in_boxes
from pointcloud.spatial import GridIndex

rng = np.random.default_rng(4)
POINTS = np.c_[rng.uniform(-50, 50, (30_000, 2)), rng.uniform(-3, 3, 30_000)].astype(np.float32)
INDEX = GridIndex(POINTS, cell=1.5)


@settings(max_examples=200, deadline=None)
@given(
    cx=st.floats(-60, 60),
    cy=st.floats(-60, 60),
    cz=st.floats(-4, 4),
    size=st.tuples(st.floats(0.1, 20), st.floats(0.1, 20), st.floats(0.1, 8)),
    yaw=st.floats(-4, 4),
    pitch=st.floats(-0.5, 0.5),
    roll=st.floats(-0.5, 0.5),
)
def test_grid_count_equals_full_scan(
    cx: float, cy: float, cz: float, size: tuple[float, float, float],
    yaw: float, pitch: float, roll: float,
) -> None:  # fmt: skip
    box = [cx, cy, cz, *size, yaw, pitch, roll]
    assert INDEX.count_in_box(box) == int(count_points_in_boxes(POINTS, [box])[0])


def test_empty_index_counts_nothing() -> None:
    assert GridIndex(np.zeros((0, 3))).count_in_box([0, 0, 0, 1, 1, 1, 0]) == 0


@settings(max_examples=300, deadline=None)
@given(
    cx=st.floats(-60, 60),
    cy=st.floats(-60, 60),
    cz=st.floats(-4, 4),
    size=st.tuples(st.floats(0.1, 20), st.floats(0.1, 20), st.floats(0.1, 8)),
    yaw=st.floats(-7, 7),
    nine=st.booleans(),
)
def test_grid_count_of_a_yaw_only_box_equals_full_scan(
    cx: float, cy: float, cz: float, size: tuple[float, float, float], yaw: float, nine: bool
) -> None:
    box = [cx, cy, cz, *size, yaw] + ([0.0, 0.0] if nine else [])
    assert INDEX.count_in_box(box) == int(count_points_in_boxes(POINTS, [box])[0])


def test_a_box_around_known_points_counts_them() -> None:
    pts = np.array([[0.0, 0.0, 0.0], [0.9, 0.0, 0.0], [0.0, 0.4, 0.0], [3.0, 3.0, 0.0]])
    index = GridIndex(pts, cell=1.0)
    assert index.count_in_box([0, 0, 0, 2, 1, 1, 0]) == 3
    assert index.count_in_box([0, 0, 0, 2, 1, 1, np.pi / 2]) == 2  # now 1 m along x
