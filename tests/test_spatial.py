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
