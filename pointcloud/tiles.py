"""Level-of-detail tiles: an octree of voxel-downsampled nodes per frame.

Each node covers a cube of the frame's local coordinates and holds a subset of
the points: one point per cell of a ``grid``^3 voxel grid over its cube, and
the points it did not keep go down to its eight children. A node with at most
``max_node_points`` points keeps all of them and has no children. Every input
point is therefore stored exactly once across all nodes; drawing the root gives
an overview and each level refines it. The binary encoding is in docs/tiles.md.
"""

from __future__ import annotations

import gzip
import hashlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pointcloud.cloud import PointCloud

QUANT = 65535
MAX_DEPTH = 24


@dataclass
class Node:
    """One octree node: ``key`` is the path from the root ('r', 'r0', 'r07', ...)."""

    key: str
    lo: NDArray[np.float64]
    size: float
    indices: NDArray[np.int64]
    children: list[str] = field(default_factory=list)


@dataclass
class Tile:
    """An encoded node: gzip-compressed payload plus its content hash."""

    node: Node
    payload: bytes
    digest: str


def build_octree(
    local: NDArray[np.float32], *, max_node_points: int = 65536, grid: int = 128
) -> list[Node]:
    """Split points (N, 3) into octree nodes, parents before children.

    Returns nodes whose ``indices`` partition ``range(N)``.
    """
    lo = local.min(axis=0).astype(np.float64)
    size = float((local.max(axis=0) - lo).max()) or 1.0
    size *= 1.0 + 1e-6
    pending = deque([Node("r", lo, size, np.arange(len(local), dtype=np.int64))])
    nodes: list[Node] = []
    while pending:
        node = pending.popleft()
        nodes.append(node)
        if len(node.indices) <= max_node_points or len(node.key) > MAX_DEPTH:
            continue
        pts = local[node.indices].astype(np.float64)
        keep = _one_per_voxel(pts, node.lo, node.size, grid, max_node_points)
        rest = np.ones(len(pts), dtype=bool)
        rest[keep] = False
        octant = _octants(pts[rest], node.lo, node.size)
        rest_idx = node.indices[rest]
        node.indices = node.indices[keep]
        half = node.size / 2.0
        for o in np.unique(octant):
            child_lo = node.lo + half * np.array([(o >> 2) & 1, (o >> 1) & 1, o & 1])
            child = Node(f"{node.key}{o}", child_lo, half, rest_idx[octant == o])
            node.children.append(child.key)
            pending.append(child)
    return nodes


def _one_per_voxel(
    pts: NDArray[np.float64], lo: NDArray[np.float64], size: float, grid: int, cap: int
) -> NDArray[np.int64]:
    """Indices of the first point in each occupied voxel, at most ``cap`` of them."""
    cell = np.clip(((pts - lo) / size * grid).astype(np.int64), 0, grid - 1)
    keys = (cell[:, 0] * grid + cell[:, 1]) * grid + cell[:, 2]
    _, first = np.unique(keys, return_index=True)
    first = np.sort(first)
    if len(first) > cap:
        first = first[np.linspace(0, len(first) - 1, cap).astype(np.int64)]
    return first


def _octants(pts: NDArray[np.float64], lo: NDArray[np.float64], size: float) -> NDArray[np.int64]:
    """Child octant 0-7 of each point: bit 2 for x, bit 1 for y, bit 0 for z."""
    upper = (pts - lo) >= size / 2.0
    return (upper[:, 0] * 4 + upper[:, 1] * 2 + upper[:, 2]).astype(np.int64)


def encode_node(cloud: PointCloud, node: Node, intensity_range: tuple[float, float]) -> bytes:
    """Encode a node's points: uint16 x,y,z quantised in the node cube, then uint8 intensity.

    Little-endian, positions interleaved (N, 3), then intensity (N,), then, when
    the cloud has ``rgb``, uint8 (N, 3) colours.
    """
    pts = cloud.local[node.indices].astype(np.float64)
    q = np.rint((pts - node.lo) / node.size * QUANT)
    parts = [np.clip(q, 0, QUANT).astype("<u2").tobytes()]
    inten = cloud.attributes["intensity"][node.indices].astype(np.float64)
    i_lo, i_hi = intensity_range
    scaled = (inten - i_lo) / (i_hi - i_lo) * 255.0 if i_hi > i_lo else np.zeros_like(inten)
    parts.append(np.clip(np.rint(scaled), 0, 255).astype(np.uint8).tobytes())
    if "rgb" in cloud.attributes:
        parts.append(
            np.ascontiguousarray(cloud.attributes["rgb"][node.indices], np.uint8).tobytes()
        )
    return b"".join(parts)


def decode_node(
    raw: bytes, lo: NDArray[np.float64], size: float, count: int
) -> tuple[NDArray[np.float64], NDArray[np.uint8]]:
    """Inverse of :func:`encode_node` for positions and intensity (local frame, metres)."""
    q = np.frombuffer(raw, dtype="<u2", count=count * 3).reshape(count, 3)
    pts = lo + q.astype(np.float64) / QUANT * size
    inten = np.frombuffer(raw, dtype=np.uint8, count=count, offset=count * 6)
    return pts, inten


def _robust_range(z: NDArray[np.float32]) -> list[float]:
    """The 2nd and 98th percentile of heights (local frame): a colour ramp that
    outliers far below or above the scene do not flatten."""
    if not len(z):
        return [0.0, 0.0]
    sample = z[:: max(1, len(z) // 200_000)]
    lo, hi = np.percentile(sample, [2.0, 98.0])
    return [float(lo), float(hi)]


def build_tiles(
    cloud: PointCloud, *, max_node_points: int = 65536, grid: int = 128
) -> tuple[dict[str, Any], list[Tile]]:
    """Build the octree of ``cloud`` and encode it.

    Returns the hierarchy document (see docs/tiles.md) and the encoded tiles,
    each gzip-compressed and named by the SHA-256 of its compressed bytes.
    """
    if "intensity" not in cloud.attributes:
        cloud.attributes["intensity"] = np.zeros(len(cloud), dtype=np.float32)
    inten = cloud.attributes["intensity"]
    i_range = (float(inten.min()), float(inten.max())) if len(cloud) else (0.0, 0.0)
    nodes = build_octree(cloud.local, max_node_points=max_node_points, grid=grid)
    tiles = []
    for node in nodes:
        payload = gzip.compress(encode_node(cloud, node, i_range), compresslevel=6, mtime=0)
        tiles.append(Tile(node, payload, hashlib.sha256(payload).hexdigest()[:32]))
    hierarchy = {
        "version": 1,
        "points": len(cloud),
        "offset": [float(v) for v in cloud.offset],
        "bounds": {
            "min": [float(v) for v in cloud.local.min(axis=0)],
            "max": [float(v) for v in cloud.local.max(axis=0)],
        },
        "intensity_range": list(i_range),
        "z_range": _robust_range(cloud.local[:, 2]),
        "attributes": ["position", "intensity"] + (["rgb"] if "rgb" in cloud.attributes else []),
        "nodes": [
            {
                "key": t.node.key,
                "lo": [float(v) for v in t.node.lo],
                "size": t.node.size,
                "count": len(t.node.indices),
                "children": t.node.children,
                "tile": t.digest,
                "bytes": len(t.payload),
            }
            for t in tiles
        ],
    }
    return hierarchy, tiles
