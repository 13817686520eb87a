"""LOD tiles: every point stored exactly once, decoded within the quantisation step."""

from __future__ import annotations

import gzip

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pointcloud.cloud import PointCloud
from pointcloud.tiles import QUANT, build_octree, build_tiles, decode_node


def _cloud(n: int, seed: int, extent: float = 100.0) -> PointCloud:
    rng = np.random.default_rng(seed)
    xyz = rng.normal(0, extent / 4, (n, 3))
    xyz[: n // 2, 2] = rng.normal(-1.7, 0.05, n // 2)  # a dense ground layer
    return PointCloud.from_xyz(xyz, {"intensity": rng.uniform(0, 100, n).astype(np.float32)})


def test_octree_partitions_points_and_bounds_node_size() -> None:
    cloud = _cloud(150_000, seed=1)
    nodes = build_octree(cloud.local, max_node_points=8_000, grid=32)
    all_idx = np.sort(np.concatenate([n.indices for n in nodes]))
    assert np.array_equal(all_idx, np.arange(len(cloud)))
    assert max(len(n.indices) for n in nodes) <= 8_000
    assert len(nodes) > 8  # deep enough to have several levels


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
    for tile in tiles:
        node = tile.node
        pts, _ = decode_node(gzip.decompress(tile.payload), node.lo, node.size, len(node.indices))
        error = np.abs(pts - cloud.local[node.indices].astype(np.float64)).max(initial=0.0)
        assert error <= node.size / QUANT


def test_identical_content_gives_identical_tile_names() -> None:
    h1, _ = build_tiles(_cloud(20_000, seed=5), max_node_points=4_000)
    h2, _ = build_tiles(_cloud(20_000, seed=5), max_node_points=4_000)
    assert [n["tile"] for n in h1["nodes"]] == [n["tile"] for n in h2["nodes"]]
