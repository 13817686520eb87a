"""Smoke test of the benchmark functions on a tiny generated cloud (no timing asserts)."""

from __future__ import annotations

import math

import pytest

from benchmarks.core import (
    bench_generated,
    finest_voxel,
    goals,
    quant_error,
    time_build,
    time_open3d_voxel,
    wire_bytes_per_point,
)
from benchmarks.run import run
from benchmarks.scene import generate_scene

GRID = 32
MAX_NODE_POINTS = 4096


def test_core_measurements_on_tiny_scene_are_finite_and_positive() -> None:
    cloud = generate_scene(50_000, seed=1)
    build = time_build(cloud, repeats=1, max_node_points=MAX_NODE_POINTS, grid=GRID)
    voxel = finest_voxel(build.tiles, grid=GRID)
    assert voxel is not None and voxel > 0
    figures = {
        "mpts_per_s": build.mpts_per_s,
        "open3d_seconds": time_open3d_voxel(cloud.local, voxel, repeats=1),
        "wire": wire_bytes_per_point(build.tiles, len(cloud)),
    }
    for name, value in figures.items():
        assert math.isfinite(value) and value > 0, name
    assert sum(len(t.node.indices) for t in build.tiles) == len(cloud)


def test_quant_error_is_within_half_a_step_of_the_largest_node() -> None:
    cloud = generate_scene(50_000, seed=2)
    build = time_build(cloud, repeats=1, max_node_points=MAX_NODE_POINTS, grid=GRID)
    error = quant_error(cloud, build.tiles)
    half_step = max(t.quant.step for t in build.tiles) / 2
    slack = 1e-5  # float32 storage of ``local`` at ~100 m
    assert error["axis_m"] <= half_step + slack
    assert error["euclid_m"] <= math.sqrt(3) * (half_step + slack)
    assert error["steps"] <= 0.5 + 1e-3


def test_generated_suite_part_reports_ratio_and_goals() -> None:
    out: dict = {"notes": []}
    bench_generated(200_000, out, repeats=1)
    for key in ("points_generated", "tiling_mpts_per_s", "tiling_vs_open3d"):
        assert math.isfinite(out[key]) and out[key] > 0, key
    report = goals(out)
    tiling = report["tiling_mpts_per_s"]
    assert tiling["value"] == out["tiling_mpts_per_s"] and tiling["target"] == ">= 5"
    assert tiling["met"] is (out["tiling_mpts_per_s"] >= 5)
    assert report["max_quant_error_m"]["met"] is None  # not measured in this part


def test_goals_are_judged_against_their_bounds() -> None:
    report = goals({"tiling_mpts_per_s": 4.99, "tiling_vs_open3d": 0.67})
    assert report["tiling_mpts_per_s"]["met"] is False
    assert report["tiling_vs_open3d"]["met"] is True  # "<= 0.67" includes 0.67
    assert goals({"tiling_mpts_per_s": 5.0})["tiling_mpts_per_s"]["met"] is True


def test_unknown_suite_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown benchmark suite"):
        run("nope")
