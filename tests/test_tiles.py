"""LOD tiles: every point stored exactly once, decoded within the quantisation step."""

from __future__ import annotations

import gzip

import brotli
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pointcloud.cloud import PointCloud
from pointcloud.tile_codec import GRID, STEP
from pointcloud.tiles import (
    Tile,
    build_octree,
    build_tiles,
    decode_node,
)


def _cloud(n: int, seed: int, extent: float = 100.0) -> PointCloud:
    rng = np.random.default_rng(seed)
    xyz = rng.normal(0, extent / 4, (n, 3))
    xyz[: n // 2, 2] = rng.normal(-1.7, 0.05, n // 2)  # a dense ground layer
    return PointCloud.from_xyz(xyz, {"intensity": rng.uniform(0, 100, n).astype(np.float32)})


def _decoded_error(cloud: PointCloud, tile: Tile) -> float:
    """Largest per-axis distance (metres) between a tile's decoded points and its sources."""
    node = tile.node
    raw = gzip.decompress(tile.payload)
    pts, _ = decode_node(raw, tile.quant, len(node.indices))
    return float(np.abs(pts - cloud.local[node.indices].astype(np.float64)).max(initial=0.0))


def test_octree_partitions_points_and_bounds_node_size() -> None:
    cloud = _cloud(150_000, seed=1)
    nodes = build_octree(cloud.local, max_node_points=8_000, grid=32)
    all_idx = np.sort(np.concatenate([n.indices for n in nodes]))
    assert np.array_equal(all_idx, np.arange(len(cloud)))
    assert max(len(n.indices) for n in nodes) <= 8_000
    assert len(nodes) > 8  # deep enough to have several levels


def test_nodes_are_listed_parents_first_and_contain_their_points() -> None:
    cloud = _cloud(60_000, seed=3)
    nodes = build_octree(cloud.local, max_node_points=2_000, grid=16)
    position = {n.key: i for i, n in enumerate(nodes)}
    for i, node in enumerate(nodes):
        assert all(position[child] > i for child in node.children)
        assert all(child[:-1] == node.key for child in node.children)
        pts = cloud.local[node.indices].astype(np.float64)
        slack = 1e-6 * node.size
        assert np.all(pts >= node.lo - slack) and np.all(pts <= node.lo + node.size + slack)
    assert {c for n in nodes for c in n.children} == {n.key for n in nodes[1:]}


def test_points_much_denser_than_one_sort_resolves_still_split_to_bounded_nodes() -> None:
    rng = np.random.default_rng(4)
    far = rng.uniform(-2_000, 2_000, (2_000, 3))
    dense = rng.normal(0, 0.01, (40_000, 3))  # a 1 cm blob: far below the first pass's cells
    cloud = PointCloud.from_xyz(np.concatenate([far, dense]))
    nodes = build_octree(cloud.local, max_node_points=500, grid=8)
    assert max(len(n.indices) for n in nodes) <= 500
    assert sum(len(n.indices) for n in nodes) == len(cloud)
    assert max(len(n.key) for n in nodes) > 16


def test_duplicate_points_stop_at_max_depth() -> None:
    cloud = PointCloud.from_xyz(np.zeros((3_000, 3)) + [5.0, 5.0, 5.0])
    nodes = build_octree(cloud.local, max_node_points=100, grid=8)
    assert sum(len(n.indices) for n in nodes) == 3_000


def test_grid_must_be_a_power_of_two() -> None:
    with pytest.raises(ValueError, match="power of two"):
        build_octree(_cloud(100, seed=0).local, grid=100)


def test_empty_cloud_gives_one_empty_node() -> None:
    cloud = PointCloud.from_xyz(np.zeros((0, 3)))
    hierarchy, tiles = build_tiles(cloud)
    assert hierarchy["points"] == 0 and [n["count"] for n in hierarchy["nodes"]] == [0]
    assert _decoded_error(cloud, tiles[0]) == 0.0


def test_georeferenced_kilometre_cloud_decodes_within_a_millimetre_per_axis() -> None:
    rng = np.random.default_rng(6)
    xyz = rng.uniform(0, 5_000, (200_000, 3)) + [636_000.0, 849_000.0, 0.0]
    xyz[:, 2] = rng.normal(100.0, 20.0, len(xyz))
    xyz[:100_000, :2] = rng.uniform(2_000, 2_050, (100_000, 2)) + [636_000.0, 849_000.0]
    cloud = PointCloud.from_xyz(xyz, {"intensity": rng.uniform(0, 1, len(xyz))})
    hierarchy, tiles = build_tiles(cloud, max_node_points=20_000)
    assert {n["bits"] for n in hierarchy["nodes"]} == {16, 32}
    slack = 2.5e-4  # float32 storage of ``local`` at 2.5 km
    assert max(_decoded_error(cloud, t) for t in tiles) <= STEP / 2 + slack


def test_root_is_a_coarse_overview_of_the_whole_cloud() -> None:
    cloud = _cloud(100_000, seed=2)
    root = build_octree(cloud.local, max_node_points=5_000, grid=16)[0]
    kept = cloud.local[root.indices]
    span = cloud.local.max(axis=0) - cloud.local.min(axis=0)
    assert np.all(kept.max(axis=0) - kept.min(axis=0) > 0.5 * span)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 3_000),
    extent=st.floats(0.01, 5_000),
    seed=st.integers(0, 2**16),
    max_node=st.integers(16, 512),
)
def test_tiles_reassemble_to_exactly_the_input_points(
    n: int, extent: float, seed: int, max_node: int
) -> None:
    cloud = _cloud(n, seed, extent)
    hierarchy, tiles = build_tiles(cloud, max_node_points=max_node, grid=8)
    assert hierarchy["points"] == n == sum(node["count"] for node in hierarchy["nodes"])
    stored = np.sort(np.concatenate([t.node.indices for t in tiles]))
    assert np.array_equal(stored, np.arange(n))  # every point exactly once
    for tile, entry in zip(tiles, hierarchy["nodes"], strict=True):
        quant = tile.quant
        assert (entry["bits"], entry["step"], entry["origin"]) == (
            quant.bits,
            quant.step,
            list(quant.origin),
        )
        step = quant.step
        assert step in (STEP, GRID)
        assert _decoded_error(cloud, tile) <= step / 2 + 1e-6 * max(1.0, extent)


def test_identical_content_gives_identical_tile_names() -> None:
    h1, _ = build_tiles(_cloud(20_000, seed=5), max_node_points=4_000)
    h2, _ = build_tiles(_cloud(20_000, seed=5), max_node_points=4_000)
    assert [n["tile"] for n in h1["nodes"]] == [n["tile"] for n in h2["nodes"]]


def test_large_clouds_built_on_threads_are_deterministic() -> None:
    h1, _ = build_tiles(_cloud(600_000, seed=7), max_node_points=20_000)
    h2, _ = build_tiles(_cloud(600_000, seed=7), max_node_points=20_000)
    assert len(h1["nodes"]) > 20
    assert [n["tile"] for n in h1["nodes"]] == [n["tile"] for n in h2["nodes"]]


def test_rgb_round_trips_exactly() -> None:
    rng = np.random.default_rng(8)
    cloud = _cloud(5_000, seed=8)
    cloud.attributes["rgb"] = rng.integers(0, 256, (5_000, 3), dtype=np.uint8)
    hierarchy, tiles = build_tiles(cloud, max_node_points=1_000, grid=16)
    assert "rgb" in hierarchy["attributes"]
    for tile in tiles:
        raw = gzip.decompress(tile.payload)
        n, width = len(tile.node.indices), tile.quant.bits // 8
        planes = np.frombuffer(raw, np.uint8, 3 * n, (3 * width + 1) * n).reshape(3, n)
        zig = planes.astype(np.int64)
        values = np.cumsum((zig >> 1) ^ -(zig & 1), axis=1) % 256
        green, red, blue = values[0], (values[1] + values[0]) % 256, (values[2] + values[0]) % 256
        expected = cloud.attributes["rgb"][tile.node.indices]
        assert np.array_equal(np.stack([red, green, blue], axis=1), expected)


def test_classification_travels_with_the_tiles() -> None:
    rng = np.random.default_rng(11)
    xyz = rng.uniform(-20, 20, (5_000, 3))
    classes = rng.integers(0, 20, 5_000).astype(np.uint8)
    cloud = PointCloud.from_xyz(
        xyz, {"intensity": np.zeros(5_000, np.float32), "classification": classes}
    )
    hierarchy, tiles = build_tiles(cloud, max_node_points=1_000, grid=8)
    assert hierarchy["attributes"] == ["position", "intensity", "classification"]
    for tile in tiles:
        raw = gzip.decompress(tile.payload)
        n = len(tile.node.indices)
        assert raw[-n:] == classes[tile.node.indices].tobytes() if n else raw == b""


def test_brotli_copy_decodes_to_exactly_the_gzip_copy() -> None:
    cloud = _cloud(30_000, seed=12)
    cloud.attributes["rgb"] = np.random.default_rng(12).integers(0, 256, (30_000, 3), np.uint8)
    hierarchy, tiles = build_tiles(cloud, max_node_points=5_000, grid=16)
    assert len(tiles) > 3
    for tile, entry in zip(tiles, hierarchy["nodes"], strict=True):
        assert brotli.decompress(tile.br) == gzip.decompress(tile.payload)
        assert entry["bytes"] == len(tile.br) < len(tile.payload)


def test_points_on_the_las_centimetre_grid_are_stored_on_it_losslessly() -> None:
    rng = np.random.default_rng(13)
    cm = rng.integers(0, 300_000, (40_000, 3))  # 3 km, every coordinate a whole centimetre
    xyz = cm * 0.01 + [636_590.0, 849_217.0, 463.0]
    cloud = PointCloud.from_xyz(xyz, {"intensity": np.zeros(len(xyz), np.float32)})
    hierarchy, tiles = build_tiles(cloud, max_node_points=5_000)
    assert hierarchy["grid"] == GRID
    for tile in tiles:
        raw = gzip.decompress(tile.payload)
        pts, _ = decode_node(raw, tile.quant, len(tile.node.indices))
        # decoded positions are the file's own centimetres (up to float64 rounding)
        assert np.array_equal(
            np.round((pts + cloud.offset) * 100),
            cm[tile.node.indices] + [63_659_000, 84_921_700, 46_300],
        )
    off_grid = PointCloud.from_xyz(xyz + 0.003, {"intensity": np.zeros(len(xyz), np.float32)})
    assert build_tiles(off_grid, max_node_points=5_000)[0]["grid"] is None


def test_a_scan_ordered_node_is_stored_in_file_order_and_smaller_for_it() -> None:
    # a spinning-lidar-like ring pattern: consecutive file points are neighbours
    angle = np.linspace(0, 2 * np.pi * 32, 60_000, endpoint=False)
    ring = np.repeat(np.arange(32), 60_000 // 32)
    radius = 5.0 + ring * 0.7
    xyz = np.c_[radius * np.cos(angle), radius * np.sin(angle), -1.7 + ring * 0.05]
    cloud = PointCloud.from_xyz(xyz, {"intensity": np.zeros(len(xyz), np.float32)})
    _, tiles = build_tiles(cloud, max_node_points=100_000)
    (tile,) = tiles
    assert np.array_equal(tile.node.indices, np.arange(len(xyz)))  # file order was chosen
    shuffled = np.random.default_rng(14).permutation(len(xyz))
    mixed = PointCloud.from_xyz(xyz[shuffled], {"intensity": np.zeros(len(xyz), np.float32)})
    (mixed_tile,) = build_tiles(mixed, max_node_points=100_000)[1]
    assert not np.array_equal(mixed_tile.node.indices, np.arange(len(xyz)))  # Morton order
    assert len(tile.br) < len(mixed_tile.br)
