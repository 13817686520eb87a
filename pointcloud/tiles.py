"""Level-of-detail tiles: an octree of voxel-downsampled nodes per frame.

Each node covers a cube of the frame's local coordinates and holds a subset of
the points: one point per cell of a ``grid``^3 voxel grid over its cube, and
the points it did not keep go down to its eight children. A node with at most
``max_node_points`` points keeps all of them and has no children. Every input
point is therefore stored exactly once across all nodes; drawing the root gives
an overview and each level refines it. The binary encoding is in docs/tiles.md.

The octree is built from one sort: every point gets a Morton code of its cell
at a fine resolution (``_CELL_BITS`` per axis below the pass's top node), the
codes are sorted once, and then each node is a contiguous run of the sorted
codes and each voxel of a node a run of a longer prefix. A level is a few
linear passes over the points still unassigned. Nodes too deep for the
resolution start a new pass of their own.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pointcloud.cloud import PointCloud
from pointcloud.tile_codec import (
    Quant,
    attribute_planes,
    brotli_bytes,
    decode_positions,
    find_grid,
    gzip_bytes,
    node_quant,
    ordered_positions,
)

MAX_DEPTH = 24


@dataclass
class Node:
    """One octree node: ``key`` is the path from the root ('r', 'r0', 'r07', ...).

    ``lo`` (local frame, metres) and ``size`` (edge, metres) give the node's cube;
    ``indices`` are the input points it stores, in the order they are encoded.
    """

    key: str
    lo: NDArray[np.float64]
    size: float
    indices: NDArray[np.int64]
    children: list[str] = field(default_factory=list)


@dataclass
class Tile:
    """An encoded node: its gzip (``payload``) and brotli (``br``) copies, named by
    ``digest`` (the first 32 hex digits of the SHA-256 of the uncompressed tile);
    ``grid`` is the frame's grid (None: not on one)."""

    node: Node
    payload: bytes
    digest: str
    br: bytes
    grid: float | None = None

    @property
    def quant(self) -> Quant:
        """How the tile's positions are stored."""
        return node_quant(self.node.lo, self.node.size, self.grid)


def build_octree(
    local: NDArray[np.float32], *, max_node_points: int = 65536, grid: int = 128
) -> list[Node]:
    """Split points (N, 3) into octree nodes, parents before children (breadth first).

    ``grid`` is the voxel grid per node edge, a power of two from 2 to 1024.
    Returns nodes whose ``indices`` partition ``range(N)``; each node's indices
    are in Morton order of the points' cells (spatially coherent). A node that
    is split keeps, per occupied voxel, the point whose cell comes first in
    Morton order.
    """
    gbits = int(grid).bit_length() - 1
    if grid < 2 or grid != 1 << gbits or gbits > 10:
        raise ValueError(f"grid must be a power of two from 2 to 1024, not {grid}")
    if not len(local):
        return [Node("r", np.zeros(3), 1.0, np.zeros(0, dtype=np.int64))]
    lo, size = root_cube(*_bounds(local))
    top = Node("r", lo, size, np.arange(len(local), dtype=np.int64))
    return build_subtree(local, top, max_node_points=max_node_points, grid=grid)


def root_cube(lo: list[float], hi: list[float]) -> tuple[NDArray[np.float64], float]:
    """Low corner and edge (metres, local frame) of the root cube of points with
    per-axis bounds ``lo`` and ``hi``: the bounding box's largest edge, grown by 1e-6."""
    low = np.array(lo, dtype=np.float64)
    size = float((np.array(hi, dtype=np.float64) - low).max()) or 1.0
    return low, size * (1.0 + 1e-6)


def build_subtree(
    local: NDArray[np.float32], top: Node, *, max_node_points: int = 65536, grid: int = 128
) -> list[Node]:
    """Split the points ``top.indices`` of ``local`` (N, 3) into the subtree under ``top``.

    As :func:`build_octree`, with the top node (key, cube, points) given: keys
    below it extend ``top.key``, and depths (``MAX_DEPTH``) count from the root
    'r'. Returns the nodes, ``top`` first, parents before children, with their
    ``children`` set; ``top.indices`` must be non-empty.
    """
    gbits = int(grid).bit_length() - 1
    if grid < 2 or grid != 1 << gbits or gbits > 10:
        raise ValueError(f"grid must be a power of two from 2 to 1024, not {grid}")
    cols = [np.ascontiguousarray(local[:, axis]) for axis in range(3)]
    nodes: list[Node] = []
    pending = [top]
    while pending:
        _octree_pass(cols, pending.pop(), max_node_points, gbits, nodes, pending)
    nodes.sort(key=lambda n: (len(n.key), n.key))
    by_key = {n.key: n for n in nodes}
    for n in nodes[1:]:
        by_key[n.key[:-1]].children.append(n.key)
    return nodes


_CELL_BITS = 16
"""Most cell bits per axis in one pass (the Morton code plus the point's rank fit 64 bits)."""
_CHUNK = 1 << 19
"""Points per chunk of temporaries: small enough to stay in cache and be reused."""
_SPREAD = np.zeros(1 << _CELL_BITS, dtype=np.uint64)
for _bit in range(_CELL_BITS):
    _SPREAD |= ((np.arange(1 << _CELL_BITS, dtype=np.uint64) >> _bit) & 1) << (3 * _bit)


def _sorted_morton(
    cols: list[NDArray[np.float32]], top: Node, bits: int
) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
    """Morton codes (x in the high bit of each triple) of the cells of ``top.indices``
    in a ``2**bits`` grid over ``top``'s cube, sorted, and the point indices in that
    order (ties by index, so the order is fully determined). Codes are computed
    in two halves on two threads."""
    n = len(top.indices)
    rank_bits = max(1, (n - 1).bit_length())
    code = np.empty(n, dtype=np.uint64)
    whole = n == len(cols[0])

    def fill(start: int, stop: int) -> None:
        for lo in range(start, stop, _CHUNK):
            hi = min(lo + _CHUNK, stop)
            out = code[lo:hi]
            out[:] = np.arange(lo, hi, dtype=np.uint64)
            sel = slice(lo, hi) if whole else top.indices[lo:hi]
            for axis in range(3):
                cell = cols[axis][sel].astype(np.float64)
                cell -= top.lo[axis]
                cell *= (1 << bits) / top.size
                np.clip(cell, 0, (1 << bits) - 1, out=cell)
                part = _SPREAD[cell.astype(np.uint16)]
                part <<= np.uint64(rank_bits + 2 - axis)
                out |= part

    if n < 2 * _CHUNK:
        fill(0, n)
    else:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for job in [pool.submit(fill, a, b) for a, b in ((0, n // 2), (n // 2, n))]:
                job.result()
    code.sort()
    rank = (code & np.uint64((1 << rank_bits) - 1)).astype(np.int64)
    code >>= np.uint64(rank_bits)
    return code, top.indices[rank]


def _octree_pass(
    cols: list[NDArray[np.float32]],
    top: Node,
    cap: int,
    gbits: int,
    nodes: list[Node],
    pending: list[Node],
) -> None:
    """Build the subtree under ``top`` down to the depth one sort resolves.

    Appends finished nodes to ``nodes`` and nodes that need a finer sort to
    ``pending``. Below the top level, two halves of the points (split at a node
    boundary) are processed on two threads.
    """
    n = len(top.indices)
    bits = min(_CELL_BITS, (64 - max(1, (n - 1).bit_length())) // 3)
    code, idx = _sorted_morton(cols, top, bits)
    args = (top, bits, cap, gbits)
    code, idx = _octree_level(code, idx, 0, args, nodes, pending)
    if len(code) < 100_000:
        _octree_levels(code, idx, 1, args, nodes, pending)
        return
    node_code = code >> np.uint64(3 * (bits - 1))
    cut = int(np.searchsorted(node_code, node_code[len(code) // 2]))
    if cut == 0:
        cut = int(np.searchsorted(node_code, node_code[len(code) // 2], side="right"))
    halves = [(code[:cut], idx[:cut]), (code[cut:], idx[cut:])]
    outs: list[tuple[list[Node], list[Node]]] = [([], []), ([], [])]
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [
            pool.submit(_octree_levels, c, i, 1, args, *out)
            for (c, i), out in zip(halves, outs, strict=True)
        ]
        for job in jobs:
            job.result()
    for done, deferred in outs:
        nodes += done
        pending += deferred


_PassArgs = tuple[Node, int, int, int]
"""The pass's top node, cell bits per axis, ``max_node_points`` and log2 of ``grid``."""


def _octree_levels(
    code: NDArray[np.uint64],
    idx: NDArray[np.int64],
    level: int,
    args: _PassArgs,
    nodes: list[Node],
    pending: list[Node],
) -> None:
    """Run :func:`_octree_level` from ``level`` down until every point is placed."""
    while len(code):
        code, idx = _octree_level(code, idx, level, args, nodes, pending)
        level += 1


def _octree_level(
    code: NDArray[np.uint64],
    idx: NDArray[np.int64],
    level: int,
    args: _PassArgs,
    nodes: list[Node],
    pending: list[Node],
) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
    """Place the nodes ``level`` below the pass's top; return the points left for deeper levels.

    ``code`` (sorted Morton codes) and ``idx`` are the points not yet placed. A
    node with at most ``cap`` points (or at ``MAX_DEPTH``) keeps them all; a
    larger one keeps the first point (in Morton order) of each occupied voxel,
    evenly thinned to ``cap``; one too deep for the pass's resolution is pending.
    """
    top, bits, cap, gbits = args
    sampled = level + gbits <= bits
    vshift = 3 * (bits - level - gbits) if sampled else 3 * (bits - level)
    first = np.empty(len(code), dtype=bool)
    first[0] = True
    for a in range(1, len(code), _CHUNK):
        b = min(a + _CHUNK, len(code))
        diff = code[a:b] ^ code[a - 1 : b - 1]
        diff >>= np.uint64(vshift)
        np.not_equal(diff, 0, out=first[a:b])
    vstarts = np.flatnonzero(first)
    node_code = code[vstarts] >> np.uint64(3 * (bits - level))
    starts = vstarts[_run_starts(node_code)]
    counts = np.diff(starts, append=len(code))
    leaf = (counts <= cap) | (len(top.key) - 1 + level >= MAX_DEPTH)
    rest = ~first
    cell_size = top.size / (1 << level)
    for s, c, is_leaf in zip(starts.tolist(), counts.tolist(), leaf.tolist(), strict=True):
        key, lo = node_place(top, int(code[s] >> np.uint64(3 * (bits - level))), level, cell_size)
        part = idx[s : s + c]
        if is_leaf or not sampled:
            rest[s : s + c] = False
            if is_leaf:
                nodes.append(Node(key, lo, cell_size, part))
            else:
                pending.append(Node(key, lo, cell_size, part))
            continue
        kept = np.flatnonzero(first[s : s + c])
        if len(kept) > cap:
            rest[s + kept] = True
            kept = kept[np.linspace(0, len(kept) - 1, cap).astype(np.int64)]
            rest[s + kept] = False
        nodes.append(Node(key, lo, cell_size, part[kept]))
    return code[rest], idx[rest]


def _run_starts(values: NDArray[np.uint64]) -> NDArray[np.int64]:
    """Start positions of the runs of equal values in a sorted array."""
    change = np.flatnonzero(values[1:] != values[:-1]) + 1
    return np.concatenate([[0], change]).astype(np.int64)


def node_place(top: Node, code: int, level: int, size: float) -> tuple[str, NDArray[np.float64]]:
    """Key and low corner of the node at ``level`` below ``top`` with Morton prefix ``code``
    (``level`` octal digits, x in the high bit of each); ``size`` is its edge,
    ``top.size / 2**level``."""
    cell = [0, 0, 0]
    for i in range(level):
        triple = (code >> (3 * i)) & 7
        for axis in range(3):
            cell[axis] |= ((triple >> (2 - axis)) & 1) << i
    digits = format(code, f"0{level}o") if level else ""
    return top.key + digits, top.lo + size * np.array(cell, dtype=np.float64)


def encode_node(
    cloud: PointCloud, node: Node, intensity_range: tuple[float, float], grid: float | None = None
) -> bytes:
    """Encode a node's points (docs/tiles.md); sets ``node.indices`` to the stored order.

    Positions are quantised by :func:`~pointcloud.tile_codec.node_quant` (on
    ``grid`` when the frame is on one), in file or Morton order, whichever is
    smaller; then the attribute planes (:func:`~pointcloud.tile_codec.attribute_planes`).
    """
    quant = node_quant(node.lo, node.size, grid)
    node.indices, positions = ordered_positions(cloud.local, node.indices, quant)
    return positions + attribute_planes(cloud.attributes, node.indices, intensity_range)


def decode_node(
    raw: bytes, quant: Quant, count: int
) -> tuple[NDArray[np.float64], NDArray[np.uint8]]:
    """Inverse of :func:`encode_node` for positions and intensity.

    ``raw`` is the decompressed tile of ``count`` points stored with ``quant``.
    Returns new arrays: positions (count, 3) float64 in the local frame, metres,
    and intensity (count,) uint8.
    """
    pts = decode_positions(raw, quant, count)
    inten = np.frombuffer(raw, np.uint8, count, 3 * (quant.bits // 8) * count).copy()
    return pts, inten


def robust_range(z: NDArray[np.float32]) -> list[float]:
    """The 2nd and 98th percentile of heights (local frame): a colour ramp that
    outliers far below or above the scene do not flatten."""
    if not len(z):
        return [0.0, 0.0]
    sample = z[:: max(1, len(z) // 200_000)]
    lo, hi = np.percentile(sample, [2.0, 98.0])
    return [float(lo), float(hi)]


def encode_tile(
    cloud: PointCloud, node: Node, intensity_range: tuple[float, float], grid: float | None = None
) -> Tile:
    """Encode one node, compress it (gzip and brotli) and name it by its content."""
    raw = encode_node(cloud, node, intensity_range, grid)
    gz = gzip_bytes(raw)
    return Tile(node, gz, hashlib.sha256(raw).hexdigest()[:32], brotli_bytes(raw), grid)


def build_tiles(
    cloud: PointCloud, *, max_node_points: int = 65536, grid: int = 128
) -> tuple[dict[str, Any], list[Tile]]:
    """Build the octree of ``cloud`` and encode it.

    Returns the hierarchy document (see docs/tiles.md) and the encoded tiles,
    each compressed with gzip and brotli and named by the SHA-256 of its bytes.
    Nodes are encoded on a few threads (numpy, zlib and brotli release the GIL);
    the output does not depend on the thread count.
    """
    if "intensity" not in cloud.attributes:
        cloud.attributes["intensity"] = np.zeros(len(cloud), dtype=np.float32)
    inten = cloud.attributes["intensity"]
    i_range = (float(inten.min()), float(inten.max())) if len(cloud) else (0.0, 0.0)
    lo, hi = _bounds(cloud.local)
    nodes = build_octree(cloud.local, max_node_points=max_node_points, grid=grid)
    step_grid = find_grid(cloud.local)
    workers = min(4, os.cpu_count() or 1, len(nodes))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        tiles = list(pool.map(lambda node: encode_tile(cloud, node, i_range, step_grid), nodes))
    hierarchy = hierarchy_document(
        cloud.offset,
        (lo, hi),
        i_range,
        robust_range(cloud.local[:, 2]),
        [node_entry(t) for t in tiles],
        rgb="rgb" in cloud.attributes,
        classification="classification" in cloud.attributes,
        grid=step_grid,
    )
    return hierarchy, tiles


def hierarchy_document(
    offset: NDArray[np.float64],
    bounds: tuple[list[float], list[float]],
    intensity_range: tuple[float, float],
    z_range: list[float],
    nodes: list[dict[str, Any]],
    *,
    rgb: bool,
    classification: bool = False,
    grid: float | None = None,
) -> dict[str, Any]:
    """The version 3 hierarchy document (docs/tiles.md) of a frame.

    ``bounds`` are the per-axis minimum and maximum of the local points and
    ``nodes`` the :func:`node_entry` of each node, parents first; ``points`` is
    the sum of their counts; ``grid`` the frame's position grid (metres) or None.
    """
    return {
        "version": 3,
        "grid": grid,
        "points": sum(int(n["count"]) for n in nodes),
        "offset": [float(v) for v in offset],
        "bounds": {"min": bounds[0], "max": bounds[1]},
        "intensity_range": list(intensity_range),
        "z_range": z_range,
        "attributes": ["position", "intensity"]
        + (["rgb"] if rgb else [])
        + (["classification"] if classification else []),
        "nodes": nodes,
    }


def _bounds(local: NDArray[np.floating]) -> tuple[list[float], list[float]]:
    """Per-axis minimum and maximum of points (N, 3); zeros when there are none."""
    if not len(local):
        return [0.0] * 3, [0.0] * 3
    cols = [local[:, axis] for axis in range(3)]
    return [float(c.min()) for c in cols], [float(c.max()) for c in cols]


def node_entry(tile: Tile) -> dict[str, Any]:
    """The hierarchy entry of one tile's node (docs/tiles.md)."""
    node = tile.node
    quant = tile.quant
    return {
        "key": node.key,
        "lo": [float(v) for v in node.lo],
        "size": node.size,
        "count": len(node.indices),
        "children": node.children,
        "tile": tile.digest,
        "bytes": len(tile.br),
        "bits": quant.bits,
        "step": quant.step,
        "origin": list(quant.origin),
    }
