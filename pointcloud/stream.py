"""Streaming LOD build: the tiles and full-resolution points of a cloud larger than memory.

The points arrive in chunks and go to disk at once; memory holds one chunk or
one *cell* at a time. A cell is a node of a coarse octree over the root cube,
split until it holds at most ``cell_points`` points. Passes:

1. *Spool*: chunks -> the full-resolution ``.npy`` (float32 local, (N, 3)),
   intensity, colour and classification scratch files, bounds, intensity range,
   a height sample, and whether every point is on the LAS grid.
2. *Count*: points per cube of a ``2**COUNT_DEPTH`` grid over the root cube;
   the cells are chosen from these counts.
3. *Bucket*: every point's data is copied to its cell's run in scratch files,
   in input order (a counting sort on disk).
4. *Cells*: each cell's subtree is built in memory (:func:`build_subtree`) and
   encoded, except its top node, whose points are candidates for the levels
   above the cells.
5. *Upper levels*, bottom up: a node above the cells keeps, of its children's
   top-node points, the first (in Morton order) per voxel of its grid, evenly
   thinned to ``max_node_points``; the points it keeps leave the child. Then the
   cells' top nodes and the upper nodes are encoded.

Tiles go to ``sink`` as they are made. docs/tiles.md ("Streaming build") says
how the result differs from :func:`~pointcloud.tiles.build_tiles`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from pointcloud.cloud import PointCloud
from pointcloud.tile_codec import GRID, find_grid
from pointcloud.tiles import (
    Node,
    Tile,
    build_subtree,
    encode_tile,
    hierarchy_document,
    node_entry,
    node_place,
    robust_range,
    root_cube,
)

CELL_POINTS = 4_000_000
"""Most points per cell (a cell's subtree is built in memory: about 80 bytes per point).
Only cells at ``COUNT_DEPTH`` may hold more."""
COUNT_DEPTH = 7
"""Depth of the finest cells: points are counted per cube of a 128^3 grid."""
CODE_BITS = 21
"""Cell bits per axis of the Morton codes that order the upper levels (63-bit codes)."""
SCRATCH_POINTS = 2_000_000
"""Points per read of the scratch files in the count and bucket passes."""
Z_SAMPLE = 200_000
"""About this many heights are kept for ``z_range`` (the sample of :func:`robust_range`)."""

TileSink = Callable[[Tile], None]
"""Receives each tile as it is made (to store it); nothing keeps it afterwards."""

_SPREAD = np.zeros(1 << 11, dtype=np.uint64)
for _bit in range(11):
    _SPREAD |= ((np.arange(1 << 11, dtype=np.uint64) >> _bit) & 1) << (3 * _bit)


@dataclass
class StreamedFrame:
    """What a streaming build made: the hierarchy and the facts of the frame row.

    ``offset`` (float64 (3,), metres) plus local is the file's frame; ``lo`` and
    ``hi`` are the per-axis bounds of the local points.
    """

    hierarchy: dict[str, Any]
    offset: NDArray[np.float64]
    points: int
    lo: NDArray[np.float64]
    hi: NDArray[np.float64]


@dataclass
class _Spool:
    """What the spool pass learnt, and the scratch folder it wrote."""

    work: Path
    npy: Path
    npy_header: int
    total: int
    offset: NDArray[np.float64]
    lo: NDArray[np.float32]
    hi: NDArray[np.float32]
    i_range: tuple[float, float]
    rgb: bool
    rgb_wide: bool
    z_sample: NDArray[np.float32]
    classification: bool = False
    grid: float | None = None


@dataclass
class _Cells:
    """The chosen cells, in Morton order: depth, Morton code at that depth, first point
    in the bucket files, point count, and the first finest-grid code each covers."""

    depth: NDArray[np.int64]
    code: NDArray[np.int64]
    start: NDArray[np.int64]
    count: NDArray[np.int64]
    first: NDArray[np.int64]

    def of(self, finest: NDArray[np.int64]) -> NDArray[np.int64]:
        """The cell of each finest-grid Morton code (every code counted has one)."""
        return np.searchsorted(self.first, finest, side="right") - 1


def stream_tiles(
    chunks: Iterable[PointCloud],
    total: int,
    npy_path: Path,
    sink: TileSink,
    *,
    tmp_dir: Path,
    max_node_points: int = 65536,
    grid: int = 128,
    cell_points: int | None = None,
    scratch_points: int = SCRATCH_POINTS,
) -> StreamedFrame:
    """Build the LOD tiles of a cloud given as chunks of ``total`` points in all.

    Each chunk is a :class:`PointCloud` with finite points, the same ``offset``,
    float32 ``local`` and optionally ``intensity``, ``classification`` and ``rgb`` ((n, 3) uint8 or
    uint16; the whole cloud's colours are shifted down 8 bits when any exceeds
    255, as :func:`~pointcloud.io.las.read_las` does). Writes the full-resolution
    local points to ``npy_path`` ((total, 3) float32, memory-mappable), sends
    every tile to ``sink`` and returns the hierarchy (docs/tiles.md). Scratch
    files (about 46 bytes per point) live in a temporary folder under
    ``tmp_dir``, removed on return or failure. Raises ValueError when the chunks
    do not hold exactly ``total`` points. ``cell_points`` defaults to ``CELL_POINTS``;
    ``scratch_points`` is the points per read in the count and bucket passes.
    """
    gbits = int(grid).bit_length() - 1
    if grid < 2 or grid != 1 << gbits or gbits > 10:
        raise ValueError(f"grid must be a power of two from 2 to 1024, not {grid}")
    if total < 1:
        raise ValueError("a streaming build needs at least one point")
    with tempfile.TemporaryDirectory(prefix=".stream-", dir=tmp_dir) as work:
        spool = _spool(chunks, total, npy_path, Path(work))
        lo, size = root_cube(spool.lo.tolist(), spool.hi.tolist())
        root = Node("r", lo, size, np.zeros(0, dtype=np.int64))
        counted = _count(spool, root, scratch_points)
        cells = _choose_cells(*counted, cell_points or CELL_POINTS)
        _bucket(spool, root, cells, scratch_points)
        build = _Build(spool, root, cells, sink, max_node_points, gbits)
        entries = build.run()
    i_range = spool.i_range
    bounds = (spool.lo.astype(np.float64).tolist(), spool.hi.astype(np.float64).tolist())
    z_range = robust_range(spool.z_sample)
    hierarchy = hierarchy_document(
        spool.offset, bounds, i_range, z_range, entries,
        rgb=spool.rgb, classification=spool.classification, grid=spool.grid,
    )  # fmt: skip
    return StreamedFrame(
        hierarchy, spool.offset, total, spool.lo.astype(np.float64), spool.hi.astype(np.float64)
    )


def _spool(chunks: Iterable[PointCloud], total: int, npy_path: Path, work: Path) -> _Spool:
    """Pass 1: write the ``.npy`` and the intensity, colour and class scratch files."""
    step = max(1, total // Z_SAMPLE)
    lo = np.full(3, np.inf, dtype=np.float32)
    hi = np.full(3, -np.inf, dtype=np.float32)
    i_lo, i_hi, rgb_max = np.inf, -np.inf, 0
    samples: list[NDArray[np.float32]] = []
    offset: NDArray[np.float64] | None = None
    rgb = classes = False
    on_grid = True
    done = 0
    with (
        open(npy_path, "wb") as npy,
        open(work / "intensity.f4", "wb") as inten_file,
        open(work / "rgb.u2", "wb") as rgb_file,
        open(work / "classification.u1", "wb") as class_file,
    ):
        header = {"descr": "<f4", "fortran_order": False, "shape": (total, 3)}
        np.lib.format.write_array_header_1_0(npy, header)
        npy_header = npy.tell()
        for chunk in chunks:
            count = len(chunk)
            if not count:
                continue
            if done + count > total:
                raise ValueError(f"the chunks hold more than the {total} points declared")
            if offset is None:
                offset, rgb = np.asarray(chunk.offset, np.float64), "rgb" in chunk.attributes
                classes = "classification" in chunk.attributes
            elif not np.array_equal(offset, chunk.offset):
                raise ValueError("every chunk must have the same offset")
            local = np.ascontiguousarray(chunk.local, dtype="<f4")
            npy.write(local.tobytes())
            on_grid = on_grid and find_grid(local) is not None
            np.minimum(lo, local.min(axis=0), out=lo)
            np.maximum(hi, local.max(axis=0), out=hi)
            samples.append(local[(-done) % step :: step, 2].copy())
            inten = chunk.attributes.get("intensity")
            inten = np.zeros(count, "<f4") if inten is None else np.asarray(inten, "<f4")
            inten_file.write(inten.tobytes())
            i_lo, i_hi = min(i_lo, float(inten.min())), max(i_hi, float(inten.max()))
            if rgb:
                colours = np.asarray(chunk.attributes["rgb"], "<u2")
                rgb_file.write(colours.tobytes())
                rgb_max = max(rgb_max, int(colours.max()))
            if classes:
                class_file.write(np.asarray(chunk.attributes["classification"], "u1").tobytes())
            done += count
    if done != total or offset is None:
        raise ValueError(f"the chunks hold {done} points, not the {total} declared")
    return _Spool(
        work,
        npy_path,
        npy_header,
        total,
        offset,
        lo,
        hi,
        (i_lo, i_hi),
        rgb,
        rgb_max > 255,
        np.concatenate(samples),
        classes,
        GRID if on_grid else None,
    )


def _has(spool: _Spool, name: str) -> bool:
    """Whether the frame has the bucket field ``name`` (colour and class are optional)."""
    return {"rgb": spool.rgb, "classification": spool.classification}.get(name, True)


def _read(file: BinaryIO, start: int, count: int, dtype: str, width: int = 1) -> NDArray[Any]:
    """``count`` records of ``width`` values from byte ``start`` of ``file`` (a new array)."""
    file.seek(start)
    values = np.fromfile(file, dtype=dtype, count=count * width)
    if len(values) != count * width:
        raise OSError(f"{file.name}: short read at byte {start}")
    return values.reshape(count, width) if width > 1 else values


def _codes(local: NDArray[np.floating], root: Node, bits: int) -> NDArray[np.uint64]:
    """Morton codes (x in the high bit of each triple) of the cells of points (n, 3)
    in a ``2**bits`` grid over ``root``'s cube; ``bits`` at most ``CODE_BITS``."""
    code = np.zeros(len(local), dtype=np.uint64)
    for axis in range(3):
        cell = local[:, axis].astype(np.float64)
        cell -= root.lo[axis]
        cell *= (1 << bits) / root.size
        np.clip(cell, 0, (1 << bits) - 1, out=cell)
        whole = cell.astype(np.uint64)
        part = _SPREAD[whole & np.uint64(0x7FF)] | (
            _SPREAD[whole >> np.uint64(11)] << np.uint64(33)
        )
        part <<= np.uint64(2 - axis)
        code |= part
    return code


def _count(spool: _Spool, root: Node, step: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Pass 2: the occupied cubes of the finest cell grid (Morton codes, ascending) and
    their point counts."""
    codes: list[NDArray[np.int64]] = []
    counts: list[NDArray[np.int64]] = []
    with open(spool.npy, "rb") as npy:
        for a in range(0, spool.total, step):
            n = min(step, spool.total - a)
            local = _read(npy, spool.npy_header + 12 * a, n, "<f4", 3)
            code, count = np.unique(_codes(local, root, COUNT_DEPTH), return_counts=True)
            codes.append(code.astype(np.int64))
            counts.append(count)
            if len(codes) > 16:
                codes, counts = _merge_counts(codes, counts)
    merged_codes, merged_counts = _merge_counts(codes, counts)
    return merged_codes[0], merged_counts[0]


def _merge_counts(
    codes: list[NDArray[np.int64]], counts: list[NDArray[np.int64]]
) -> tuple[list[NDArray[np.int64]], list[NDArray[np.int64]]]:
    """Sum the counts of equal codes across the lists' arrays (one array each)."""
    code, where = np.unique(np.concatenate(codes), return_inverse=True)
    total = np.bincount(where, weights=np.concatenate(counts), minlength=len(code))
    return [code], [total.astype(np.int64)]


def _choose_cells(code: NDArray[np.int64], count: NDArray[np.int64], cell_points: int) -> _Cells:
    """Split the root while a cube holds more than ``cell_points`` points (down to
    ``COUNT_DEPTH``); the occupied cubes that are not split are the cells.
    ``code`` and ``count`` are the occupied finest cubes, ascending."""
    cumulative = np.concatenate([[0], np.cumsum(count)])
    depth, cell, points, first = [], [], [], []
    stack = [(0, 0)]
    while stack:
        d, c = stack.pop()
        shift = 3 * (COUNT_DEPTH - d)
        a, b = np.searchsorted(code, [c << shift, (c + 1) << shift])
        n = int(cumulative[b] - cumulative[a])
        if n > cell_points and d < COUNT_DEPTH:
            stack += [(d + 1, 8 * c + k) for k in range(7, -1, -1)]
        elif n:
            depth.append(d)
            cell.append(c)
            points.append(n)
            first.append(c << shift)
    sizes = np.array(points, dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    return _Cells(np.array(depth), np.array(cell), start, sizes, np.array(first))


_FIELDS = (
    ("pos", "<f4", 3),
    ("intensity", "<f4", 1),
    ("rgb", "u1", 3),
    ("classification", "u1", 1),
)
"""The bucket files: positions (local, metres), intensity, 8-bit colour and class per point."""


def _bucket(spool: _Spool, root: Node, cells: _Cells, step: int) -> None:
    """Pass 3: copy each point's data to its cell's run of the bucket files, in input order."""
    cursor = cells.start.copy()
    names = [name for name, _, _ in _FIELDS if _has(spool, name)]
    outs = {
        name: os.open(spool.work / f"{name}.bucket", os.O_WRONLY | os.O_CREAT, 0o600)
        for name in names
    }
    try:
        with (
            open(spool.npy, "rb") as npy,
            open(spool.work / "intensity.f4", "rb") as inten_file,
            open(spool.work / "rgb.u2", "rb") as rgb_file,
            open(spool.work / "classification.u1", "rb") as class_file,
        ):
            for a in range(0, spool.total, step):
                n = min(step, spool.total - a)
                local = _read(npy, spool.npy_header + 12 * a, n, "<f4", 3)
                cell = cells.of(_codes(local, root, COUNT_DEPTH).astype(np.int64))
                order = np.argsort(cell, kind="stable")
                data = {"pos": local[order], "intensity": _read(inten_file, 4 * a, n, "<f4")[order]}
                if spool.rgb:
                    rgb16 = _read(rgb_file, 6 * a, n, "<u2", 3)[order]
                    data["rgb"] = (rgb16 >> 8 if spool.rgb_wide else rgb16).astype(np.uint8)
                if spool.classification:
                    data["classification"] = _read(class_file, a, n, "u1")[order]
                sorted_cell = cell[order]
                bounds = np.flatnonzero(np.diff(sorted_cell)) + 1
                for s, e in zip(np.r_[0, bounds].tolist(), np.r_[bounds, n].tolist(), strict=True):
                    c = int(sorted_cell[s])
                    for name, dtype, width in _FIELDS:
                        if name in outs:
                            itemsize = np.dtype(dtype).itemsize * width
                            os.pwrite(
                                outs[name], data[name][s:e].tobytes(), int(cursor[c]) * itemsize
                            )
                    cursor[c] += e - s
    finally:
        for fd in outs.values():
            os.close(fd)


class _Build:
    """Passes 4 and 5: the cells' subtrees, then the levels above them."""

    def __init__(
        self, spool: _Spool, root: Node, cells: _Cells, sink: TileSink, cap: int, gbits: int
    ) -> None:
        self.spool, self.root, self.cells, self.sink = spool, root, cells, sink
        self.cap, self.gbits = cap, gbits
        self.entries: list[dict[str, Any]] = []
        self.tops: list[tuple[Node, bool]] = []
        self.candidates: list[dict[str, NDArray[Any]]] = []

    def run(self) -> list[dict[str, Any]]:
        """Build and send every tile; return the node entries, parents first."""
        for i in range(len(self.cells.count)):
            self._cell(i)
        self._upper()
        return _link(self.entries)

    def _place(self, depth: int, code: int) -> Node:
        key, lo = node_place(self.root, code, depth, self.root.size / (1 << depth))
        return Node(key, lo, self.root.size / (1 << depth), np.zeros(0, dtype=np.int64))

    def _cloud(self, data: dict[str, NDArray[Any]]) -> PointCloud:
        attrs = {k: v for k, v in data.items() if k != "pos"}
        return PointCloud(self.spool.offset, data["pos"], attrs)

    def _encode(self, cloud: PointCloud, nodes: list[Node]) -> None:
        """Encode ``nodes`` of ``cloud`` on a few threads and send them, in order."""
        if not nodes:
            return
        i_range = self.spool.i_range
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1, len(nodes))) as pool:
            tiles = pool.map(lambda node: encode_tile(cloud, node, i_range, self.spool.grid), nodes)
            for tile in tiles:
                self.sink(tile)
                self.entries.append(node_entry(tile))

    def _cell(self, i: int) -> None:
        """Build cell ``i``'s subtree; encode all but its top node, keep that as candidates."""
        start, count = int(self.cells.start[i]), int(self.cells.count[i])
        data: dict[str, NDArray[Any]] = {}
        for name, dtype, width in _FIELDS:
            if _has(self.spool, name):
                size = np.dtype(dtype).itemsize * width
                with open(self.spool.work / f"{name}.bucket", "rb") as f:
                    data[name] = _read(f, start * size, count, dtype, width)
        top = self._place(int(self.cells.depth[i]), int(self.cells.code[i]))
        top.indices = np.arange(count, dtype=np.int64)
        nodes = build_subtree(data["pos"], top, max_node_points=self.cap, grid=1 << self.gbits)
        self._encode(self._cloud(data), nodes[1:])
        kept = nodes[0].indices
        self.candidates.append({k: v[kept] for k, v in data.items()})
        self.tops.append((nodes[0], bool(nodes[0].children)))

    def _upper(self) -> None:
        """Pass 5: choose the upper levels' points bottom up, then encode them and the tops."""
        data = {k: np.concatenate([c[k] for c in self.candidates]) for k in self.candidates[0]}
        self.candidates.clear()
        sizes = [len(top.indices) for top, _ in self.tops]
        cell_of = np.repeat(np.arange(len(sizes)), sizes)
        home = self.cells.depth[cell_of]
        code = _codes(data["pos"], self.root, CODE_BITS)
        order = np.argsort(code, kind="stable")
        code = code[order]
        owner = home[order]
        for level in range(int(home.max()) - 1, -1, -1):
            self._select(code, owner, level)
        depth = np.empty_like(owner)
        depth[order] = owner
        upper = owner < home[order]
        nodes = self._upper_nodes(code[upper], order[upper], owner[upper])
        start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        for i, (top, _) in enumerate(self.tops):
            span = np.arange(start[i], start[i + 1])
            top.indices = span[depth[span] == home[span]]
            nodes.append(top)
        self._encode(self._cloud(data), self._non_empty(nodes))

    def _non_empty(self, nodes: list[Node]) -> list[Node]:
        """``nodes`` (cell tops and upper nodes) without those left with no point and
        no child: a cell's few points may all have gone up."""
        needed = {top.key for top, has_children in self.tops if has_children}
        kept: list[Node] = []
        for node in sorted(nodes, key=lambda n: -len(n.key)):
            if len(node.indices) or node.key in needed or node.key == "r":
                kept.append(node)
                needed.add(node.key[:-1])
        return kept

    def _select(self, code: NDArray[np.uint64], owner: NDArray[Any], level: int) -> None:
        """The nodes at ``level`` take, from the points their children hold (owner
        ``level + 1``), the first per voxel, evenly thinned to the node size limit."""
        avail = np.flatnonzero(owner == level + 1)
        if not len(avail):
            return
        sub = code[avail]
        vshift = np.uint64(3 * (CODE_BITS - level - self.gbits))
        voxel = sub >> vshift
        first = np.flatnonzero(np.r_[True, voxel[1:] != voxel[:-1]])
        node = sub[first] >> np.uint64(3 * (CODE_BITS - level))
        runs = np.flatnonzero(np.r_[True, node[1:] != node[:-1]])
        for a, b in zip(runs.tolist(), np.r_[runs[1:], len(first)].tolist(), strict=True):
            kept = first[a:b]
            if len(kept) > self.cap:
                kept = kept[np.linspace(0, len(kept) - 1, self.cap).astype(np.int64)]
            owner[avail[kept]] = level

    def _upper_nodes(
        self, code: NDArray[np.uint64], index: NDArray[np.int64], owner: NDArray[Any]
    ) -> list[Node]:
        """Every node above the cells, with the candidates it took (in Morton order)."""
        nodes: dict[str, Node] = {}
        for d, c in zip(self.cells.depth.tolist(), self.cells.code.tolist(), strict=True):
            for level in range(d):
                node = self._place(level, c >> (3 * (d - level)))
                nodes.setdefault(node.key, node)
        for level in np.unique(owner).tolist():
            at = np.flatnonzero(owner == level)
            prefix = code[at] >> np.uint64(3 * (CODE_BITS - level))
            runs = np.flatnonzero(np.r_[True, prefix[1:] != prefix[:-1]])
            for a, b in zip(runs.tolist(), np.r_[runs[1:], len(at)].tolist(), strict=True):
                key = self._place(level, int(prefix[a])).key
                nodes[key].indices = index[at[a:b]]
        return list(nodes.values())


def _link(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sort node entries parents first (breadth first, then key) and set their children."""
    entries.sort(key=lambda e: (len(e["key"]), e["key"]))
    by_key = {e["key"]: e for e in entries}
    for e in entries:
        e["children"] = []
    for e in entries[1:]:
        by_key[e["key"][:-1]]["children"].append(e["key"])
    return entries
