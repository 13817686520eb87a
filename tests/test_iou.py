"""Rotated BEV and 3D IoU tests (pointcloud.iou), with shapely as the reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from pointcloud import iou as iou_module
from pointcloud.boxes import InvalidGeometryError, bev_corners
from pointcloud.iou import bev_intersection_pairs, bev_iou, iou_3d, iou_pairs

UNIT = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0])


def shapely_bev_iou(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Reference IoU of aligned pairs from GEOS polygon intersection."""
    pa, pb = shapely.polygons(bev_corners(a)), shapely.polygons(bev_corners(b))
    inter = shapely.area(shapely.intersection(pa, pb))
    return np.asarray(inter / (a[:, 3] * a[:, 4] + b[:, 3] * b[:, 4] - inter), dtype=np.float64)


def box_at(x: float = 0.0, y: float = 0.0, z: float = 0.0, yaw: float = 0.0) -> NDArray[np.float64]:
    return UNIT + np.array([x, y, z, 0, 0, 0, yaw])


def test_unit_squares_offset_by_half_have_iou_one_third() -> None:
    assert bev_iou(UNIT, box_at(0.5))[0, 0] == pytest.approx(1 / 3, abs=1e-12)
    assert iou_3d(UNIT, box_at(0.5))[0, 0] == pytest.approx(1 / 3, abs=1e-12)
    assert bev_iou(UNIT, box_at(0.5, 0.5))[0, 0] == pytest.approx(0.25 / 1.75, abs=1e-12)
    assert iou_3d(UNIT, box_at(z=0.5))[0, 0] == pytest.approx(1 / 3, abs=1e-12)
    assert bev_iou(UNIT, box_at(z=0.5))[0, 0] == pytest.approx(1.0)


def test_square_and_its_45_degree_turn_overlap_in_an_octagon() -> None:
    octagon = 2 * math.sqrt(2) - 2
    assert bev_iou(UNIT, box_at(yaw=math.pi / 4))[0, 0] == pytest.approx(
        octagon / (2 - octagon), abs=1e-12
    )


@pytest.mark.parametrize(
    "other",
    [box_at(1.0), box_at(0, 1.0), box_at(1.0, yaw=math.pi / 2), box_at(5, 5), box_at(z=1.0)],
)
def test_touching_or_disjoint_boxes_have_iou_zero(other: NDArray[np.float64]) -> None:
    assert iou_3d(UNIT, other)[0, 0] == pytest.approx(0.0, abs=1e-12)


def test_bad_input_raises_typed_errors() -> None:
    with pytest.raises(InvalidGeometryError):
        iou_pairs(np.tile(UNIT, (3, 1)), np.tile(UNIT, (2, 1)))
    with pytest.raises(InvalidGeometryError):
        bev_iou(np.zeros((2, 5)), UNIT)


coord = st.floats(-4, 4, allow_nan=False)
box_strategy = st.tuples(
    coord,
    coord,
    st.floats(-1, 1),
    st.floats(0.1, 6),
    st.floats(0.1, 3),
    st.floats(0.2, 3),
    st.one_of(
        st.floats(-7, 7), st.sampled_from([0.0, math.pi / 2, math.pi, -math.pi / 2, math.pi / 4])
    ),
)
pairs_strategy = st.lists(st.tuples(box_strategy, box_strategy), min_size=1, max_size=40)


def as_arrays(
    pairs: list[tuple[tuple[float, ...], tuple[float, ...]]],
) -> tuple[NDArray[np.float64], ...]:
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


@settings(max_examples=150, deadline=None)
@given(pairs=pairs_strategy)
def test_bev_iou_equals_shapely_reference(
    pairs: list[tuple[tuple[float, ...], tuple[float, ...]]],
) -> None:
    a, b = as_arrays(pairs)
    assert np.allclose(iou_pairs(a, b, mode="bev"), shapely_bev_iou(a, b), rtol=0, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(pairs=pairs_strategy)
def test_shared_edges_and_corners_match_shapely(
    pairs: list[tuple[tuple[float, ...], tuple[float, ...]]],
) -> None:
    """Boxes snapped to a 0.25 m grid with quarter-turn yaws: many collinear edges."""
    a, b = as_arrays(pairs)
    for boxes in (a, b):
        boxes[:, :5] = np.maximum(np.round(boxes[:, :5] * 4) / 4, [-9, -9, -9, 0.25, 0.25])
        boxes[:, 6] = np.round(boxes[:, 6] / (math.pi / 2)) * (math.pi / 2)
    assert np.allclose(iou_pairs(a, b, mode="bev"), shapely_bev_iou(a, b), rtol=0, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(pairs=pairs_strategy)
def test_iou_is_symmetric_and_invariant_to_equivalent_boxes(
    pairs: list[tuple[tuple[float, ...], tuple[float, ...]]],
) -> None:
    a, b = as_arrays(pairs)
    forward = iou_3d(a, b)
    assert np.allclose(forward, iou_3d(b, a).T, atol=1e-9)
    turned = b + np.array([0, 0, 0, 0, 0, 0, math.pi])
    swapped = b[:, [0, 1, 2, 4, 3, 5, 6]] + np.array([0, 0, 0, 0, 0, 0, math.pi / 2])
    assert np.allclose(forward, iou_3d(a, turned), atol=1e-9)
    assert np.allclose(forward, iou_3d(a, swapped), atol=1e-9)
    assert np.allclose(np.diag(iou_3d(a, a)), 1.0, atol=1e-9)
    assert ((forward >= 0) & (forward <= 1)).all()


@settings(max_examples=60, deadline=None)
@given(pairs=pairs_strategy)
def test_3d_iou_relates_to_bev_iou(
    pairs: list[tuple[tuple[float, ...], tuple[float, ...]]],
) -> None:
    a, b = as_arrays(pairs)
    same_height = b.copy()
    same_height[:, 5] = a[:, 5]
    assert (iou_pairs(a, same_height) <= iou_pairs(a, same_height, mode="bev") + 1e-9).all()
    same_z = same_height.copy()
    same_z[:, 2] = a[:, 2]
    assert np.allclose(iou_pairs(a, same_z), iou_pairs(a, same_z, mode="bev"), atol=1e-9)


def test_pairs_match_the_diagonal_of_the_all_pairs_matrix() -> None:
    rng = np.random.default_rng(5)
    a = np.c_[rng.uniform(-5, 5, (50, 3)), rng.uniform(0.5, 4, (50, 3)), rng.uniform(-4, 4, 50)]
    b = a + rng.normal(0, 0.5, a.shape) * [1, 1, 1, 0.1, 0.1, 0.1, 1]
    assert np.allclose(iou_pairs(a, b), np.diag(iou_3d(a, b)))
    assert np.allclose(iou_pairs(a, b, mode="bev"), np.diag(bev_iou(a, b)))
    assert np.allclose(bev_intersection_pairs(a, a), a[:, 3] * a[:, 4])


def test_pitch_and_roll_are_ignored() -> None:
    rng = np.random.default_rng(9)
    a = np.c_[rng.uniform(-3, 3, (20, 3)), rng.uniform(0.5, 4, (20, 3)), rng.uniform(-4, 4, 20)]
    tilted = np.c_[a, rng.uniform(-0.3, 0.3, (20, 2))]
    assert np.array_equal(iou_3d(tilted, tilted[::-1]), iou_3d(a, a[::-1]))


def test_chunked_all_pairs_equal_one_shot(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    a = np.c_[rng.uniform(-8, 8, (120, 3)), rng.uniform(0.5, 4, (120, 3)), rng.uniform(-4, 4, 120)]
    whole = iou_3d(a, a[:70])
    monkeypatch.setattr(iou_module, "CHUNK_PAIRS", 100)
    assert np.array_equal(iou_3d(a, a[:70]), whole)
    assert iou_3d(np.zeros((0, 7)), a).shape == (0, 120)
