"""Prior-aware fits (pointcloud.fitting.grow_to_prior, pointcloud.objectfit) and their measure
on the real human boxes (benchmarks.assist)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from benchmarks.assist import fit_figures
from benchmarks.labelled import sustech_frames
from pointcloud.fitting import FitError, grow_to_prior
from pointcloud.iou import iou_pairs
from pointcloud.objectfit import fit_object, object_points

CAR = (4.5, 1.9, 1.6)


def rear_face(centre: tuple[float, float], yaw: float, n: int = 300) -> NDArray[np.float64]:
    """Points on the rear face (1.8 m wide, 0.3-1.4 m high) of a car at ``centre`` heading ``yaw``."""
    rng = np.random.default_rng(0)
    v = rng.uniform(-0.9, 0.9, n)
    z = rng.uniform(0.3, 1.4, n)
    back = np.array(centre) - 2.25 * np.array([math.cos(yaw), math.sin(yaw)])
    side = np.array([-math.sin(yaw), math.cos(yaw)])
    xy = back + v[:, None] * side
    return np.c_[xy, z]


def test_grow_to_prior_keeps_the_face_nearest_the_sensor_and_grows_away() -> None:
    # A 0.2 m deep slab 10 m ahead of the sensor, facing it: the car extends further ahead.
    seen = np.array([10.1, 0.0, 0.8, 0.2, 1.8, 1.2, 0.0])
    grown = grow_to_prior(seen, CAR, sensor=(0.0, 0.0), bottom=0.0)
    assert grown[3:6] == pytest.approx([4.5, 1.9, 1.6])
    assert grown[0] - grown[3] / 2 == pytest.approx(10.0)  # the near face stays
    assert grown[2] - grown[5] / 2 == pytest.approx(0.0)  # stands on the ground
    # Seen from the other side, it grows the other way.
    behind = grow_to_prior(seen, CAR, sensor=(20.0, 0.0))
    assert behind[0] + behind[3] / 2 == pytest.approx(10.2)


def test_grow_to_prior_keeps_sides_longer_than_the_prior() -> None:
    bus_like = np.array([0.0, 8.0, 1.5, 11.0, 2.5, 3.0, 0.3])
    assert grow_to_prior(bus_like, CAR)[3:6] == pytest.approx([11.0, 2.5, 3.0])


def test_fit_object_of_a_rear_face_recovers_the_whole_car() -> None:
    truth = np.array([15.0, 3.0, 0.8, *CAR, 0.2])
    pts = rear_face((15.0, 3.0), 0.2)
    rough = truth.copy()
    rough[:2] += [0.5, -0.3]
    rough[6] += math.radians(10)
    plain, _ = fit_object(pts, rough)
    prior, count = fit_object(pts, rough, prior=CAR, bottom=0.0)
    assert count >= 0.95 * len(pts)
    assert plain[3] < 0.5  # without the prior: only the face
    assert iou_pairs(prior[None], truth[None])[0] > 0.8


def test_object_points_drops_a_neighbour_reaching_into_the_margin() -> None:
    own = rear_face((10.0, 0.0), 0.0)
    neighbour = rear_face((10.0, 2.6), 0.0) + [0.0, 0.0, 0.0]
    neighbour = np.r_[neighbour, neighbour + [0.0, 1.0, 0.0]]  # mostly beyond the margin
    rough = np.array([10.0, 0.0, 0.8, *CAR, 0.0])
    kept = object_points(np.r_[own, neighbour], rough, margin=0.5)
    assert len(kept) == len(own)


def test_fit_object_without_points_raises() -> None:
    with pytest.raises(FitError):
        fit_object(np.zeros((0, 3)), np.array([0, 0, 0, *CAR, 0.0]))


def test_fit_improves_hurried_boxes_of_real_sustech_cars(shared_data: Path) -> None:
    frames = sustech_frames(shared_data)[:1]
    figures = fit_figures(frames)
    assert figures["fit_boxes"]["Car"] >= 5
    assert figures["fit_iou_after"]["Car"] > figures["fit_iou_before"]["Car"] + 0.05
