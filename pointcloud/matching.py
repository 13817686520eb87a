"""Box matching between two label sets of a sequence: Hungarian on 3D IoU, per frame.

A :class:`LabelSet` is the boxes of one label set over a sequence, one row
per box: the frame index, the box (``[cx, cy, cz, length, width, height,
yaw]`` in metres and radians, see :mod:`pointcloud.boxes`), the class name
and the track id. Two label sets of the same scene are matched frame by
frame: a maximum-total-IoU one-to-one assignment (the Hungarian method,
``scipy.optimize.linear_sum_assignment``) over the pairs of the same frame
whose 3D IoU is above ``min_iou`` (and, when class-aware, of the same class).

Everything is vectorised over the whole sequence. Candidate pairs come from
one sort of the candidate set by (frame, x cell, y) and window searches, so no
(N, M) matrix is built; their IoU comes from :func:`pointcloud.iou.iou_pairs`. The
assignment decomposes over the connected components of the candidate graph:
a component with a single pair is that match (the common case when two
annotators agree), one where a single box has several rivals takes its best
pair, and only the remaining components go through the Hungarian method, each
on its own small matrix. The result is the same as
running the Hungarian method on every frame's full IoU matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pointcloud.boxes import as_boxes
from pointcloud.errors import PointCloudError
from pointcloud.iou import iou_pairs

__all__ = [
    "InvalidLabelsError",
    "LabelSet",
    "Matches",
    "assign",
    "match_boxes",
    "match_label_sets",
]

CHUNK_PAIRS = 1_000_000
"""Upper bound on the candidate pairs expanded at once (memory stays bounded)."""
IOU_CHUNK = 16_384
"""Pairs per :func:`pointcloud.iou.iou_pairs` call."""


class InvalidLabelsError(PointCloudError):
    """Label arrays disagree in length or hold a value the metrics cannot use."""

    code = "invalid_labels"


def _ids(values: ArrayLike) -> NDArray[Any]:
    """A new 1-D array of names or ids: integers stay integers, anything else becomes str."""
    arr = np.array(values).reshape(-1)
    return arr if arr.dtype.kind in "iu" else arr.astype(str)


@dataclass(frozen=True)
class LabelSet:
    """The boxes of one label set, one row per box (arrays are copies made by :meth:`of`).

    ``frame`` (N,) int frame indices; ``boxes`` (N, 7) or (N, 9) float64 in
    metres and radians, in the frame's coordinates; ``label`` (N,) class names;
    ``track`` (N,) track ids. Names and ids stay integers when given as
    integers (much faster to sort than strings), else become strings.
    """

    frame: NDArray[np.int64]
    boxes: NDArray[np.float64]
    label: NDArray[Any]
    track: NDArray[Any]

    @classmethod
    def of(
        cls,
        frame: ArrayLike,
        boxes: ArrayLike,
        label: ArrayLike | None = None,
        track: ArrayLike | None = None,
    ) -> LabelSet:
        """Validate and copy; ``label`` defaults to "" and ``track`` to the row number."""
        b = np.array(as_boxes(boxes) if np.size(boxes) else np.zeros((0, 7)), dtype=np.float64)
        n = b.shape[0]
        f = np.array(frame, dtype=np.int64).reshape(-1)
        lab = _ids([""] * n if label is None else label)
        trk = _ids(np.arange(n) if track is None else track)
        if not f.shape[0] == lab.shape[0] == trk.shape[0] == n:
            raise InvalidLabelsError(
                f"frame, boxes, label and track need one row per box: "
                f"{f.shape[0]}, {n}, {lab.shape[0]}, {trk.shape[0]}"
            )
        return cls(f, b, lab, trk)

    def __len__(self) -> int:
        return int(self.boxes.shape[0])


@dataclass(frozen=True)
class Matches:
    """Matched pairs: row ``a[k]`` of the reference with row ``b[k]`` of the candidate.

    ``iou`` (K,) is each pair's 3D IoU; ``n_a``, ``n_b`` are the sizes of the
    two sets. Pairs are sorted by reference row.
    """

    a: NDArray[np.intp]
    b: NDArray[np.intp]
    iou: NDArray[np.float64]
    n_a: int
    n_b: int


def _half_extents(boxes: NDArray[np.float64]) -> NDArray[np.float64]:
    """Half-sizes (x, y, z) in metres of each box's axis-aligned bounding box (yaw only)."""
    c, s = np.abs(np.cos(boxes[:, 6])), np.abs(np.sin(boxes[:, 6]))
    half = boxes[:, 3:6] / 2.0
    return np.column_stack(
        [c * half[:, 0] + s * half[:, 1], s * half[:, 0] + c * half[:, 1], half[:, 2]]
    )


def _windows(
    ref: LabelSet, cand: LabelSet, ha: NDArray[np.float64], hb: NDArray[np.float64]
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
    """Candidate boxes sorted into (frame, x cell, y) order, and for each reference box three
    ranges of that order (its own x cell and both neighbours, within reach in y).

    Cells are as wide as the largest footprint reach, so any box whose footprint can
    touch a reference box lies in one of its three cells. Returns ``order`` and, per
    range, its reference row, first and end positions.
    """
    a, b = ref.boxes, cand.boxes
    cell = max(float(ha[:, 0].max() + hb[:, 0].max()), 1e-6)
    x0 = min(a[:, 0].min(), b[:, 0].min())
    y0 = min(a[:, 1].min(), b[:, 1].min())
    reach_y = ha[:, 1] + hb[:, 1].max()
    y_span = max(a[:, 1].max(), b[:, 1].max()) - y0 + 2.0 * float(reach_y.max()) + 1.0
    cells = int(np.floor((max(a[:, 0].max(), b[:, 0].max()) - x0) / cell)) + 3
    cell_a = np.floor((a[:, 0] - x0) / cell) + 1
    key_b = (cand.frame * cells + np.floor((b[:, 0] - x0) / cell) + 1) * y_span + (b[:, 1] - y0)
    order = np.argsort(key_b, kind="stable")
    sorted_key = key_b[order]
    owner, lo, hi = [], [], []
    for shift in (-1.0, 0.0, 1.0):
        key_a = (ref.frame * cells + cell_a + shift) * y_span + (a[:, 1] - y0)
        owner.append(np.arange(a.shape[0]))
        lo.append(np.searchsorted(sorted_key, key_a - reach_y, side="left"))
        hi.append(np.searchsorted(sorted_key, key_a + reach_y, side="right"))
    return order, np.concatenate(owner), np.concatenate(lo), np.concatenate(hi)


def _window_pairs(
    ref: LabelSet, cand: LabelSet, same_class: bool
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Same-frame pairs whose axis-aligned bounding boxes overlap, without an (N, M) matrix."""
    a, b = ref.boxes, cand.boxes
    ha, hb = _half_extents(a), _half_extents(b)
    order, owner, lo, hi = _windows(ref, cand, ha, hb)
    out_i: list[NDArray[np.intp]] = []
    out_j: list[NDArray[np.intp]] = []
    counts = hi - lo
    ends = np.cumsum(counts)
    start = 0
    while start < owner.shape[0]:
        base = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, base + CHUNK_PAIRS, side="right")), start + 1)
        c = counts[start:stop]
        i = np.repeat(owner[start:stop], c)
        offset = np.arange(i.shape[0]) - np.repeat(np.cumsum(c) - c, c)
        j = order[np.repeat(lo[start:stop], c) + offset]
        keep = ref.frame[i] == cand.frame[j]
        keep &= np.abs(a[i, 0] - b[j, 0]) <= ha[i, 0] + hb[j, 0]
        keep &= np.abs(a[i, 1] - b[j, 1]) <= ha[i, 1] + hb[j, 1]
        keep &= np.abs(a[i, 2] - b[j, 2]) <= ha[i, 2] + hb[j, 2]
        if same_class:
            keep &= ref.label[i] == cand.label[j]
        out_i.append(i[keep])
        out_j.append(j[keep])
        start = stop
    return np.concatenate(out_i).astype(np.intp), np.concatenate(out_j).astype(np.intp)


def assign(
    i: NDArray[np.intp], j: NDArray[np.intp], weight: NDArray[np.float64], n_a: int, n_b: int
) -> NDArray[np.intp]:
    """Maximum-total-weight one-to-one matching of candidate edges ``(i[k], j[k], weight[k])``.

    ``i`` indexes ``range(n_a)``, ``j`` ``range(n_b)``; weights must be > 0 and
    each (i, j) appear once. Returns the positions ``k`` of the chosen edges
    (a new array, sorted). Solved per connected component: single-edge and
    one-node-a-side components directly, the others with ``linear_sum_assignment``.
    """
    if i.shape[0] == 0:
        return np.zeros(0, dtype=np.intp)
    graph = coo_matrix((np.ones(i.shape[0]), (i, n_a + j)), shape=(n_a + n_b, n_a + n_b))
    _, comp = connected_components(graph, directed=False)
    edge_comp = comp[i]
    per_comp = np.bincount(edge_comp, minlength=int(comp.max()) + 1)
    single = per_comp[edge_comp] == 1
    chosen = [np.flatnonzero(single)]
    multi = np.flatnonzero(~single)
    star = _is_star(multi, i, j, edge_comp, per_comp.shape[0])
    chosen.append(_best_per_component(multi[star], weight, edge_comp))
    if (~star).any():
        chosen.append(_assign_groups(multi[~star], i, j, weight, edge_comp))
    return np.sort(np.concatenate(chosen)).astype(np.intp)


def _is_star(
    edges: NDArray[np.intp],
    i: NDArray[np.intp],
    j: NDArray[np.intp],
    edge_comp: NDArray[np.intp],
    n_comp: int,
) -> NDArray[np.bool_]:
    """Per edge: its component has one node on a side (one box and its rivals), so the
    heaviest edge alone is the optimal matching."""
    comp = edge_comp[edges]
    single_side = np.zeros(n_comp, dtype=bool)
    for node in (i[edges], j[edges]):
        pairs = np.unique(np.column_stack([comp, node]), axis=0)
        single_side |= np.bincount(pairs[:, 0], minlength=n_comp) == 1
    return np.asarray(single_side[comp], dtype=np.bool_)


def _best_per_component(
    edges: NDArray[np.intp], weight: NDArray[np.float64], edge_comp: NDArray[np.intp]
) -> NDArray[np.intp]:
    """The heaviest edge of each component among ``edges``."""
    if edges.size == 0:
        return edges
    order = np.lexsort((-weight[edges], edge_comp[edges]))
    ranked = edges[order]
    first = np.r_[True, edge_comp[ranked][1:] != edge_comp[ranked][:-1]]
    return ranked[first]


def _local_index(comp: NDArray[np.intp], node: NDArray[np.intp]) -> NDArray[np.intp]:
    """Each node's 0-based rank among the distinct nodes of its component (edges sorted by comp)."""
    span = int(node.max()) + 1
    _, dense = np.unique(comp * span + node, return_inverse=True)
    first = np.r_[0, np.flatnonzero(np.diff(comp)) + 1]
    start = np.repeat(np.minimum.reduceat(dense, first), np.diff(np.r_[first, comp.shape[0]]))
    return (dense - start).astype(np.intp)


def _assign_groups(
    edges: NDArray[np.intp],
    i: NDArray[np.intp],
    j: NDArray[np.intp],
    weight: NDArray[np.float64],
    edge_comp: NDArray[np.intp],
) -> NDArray[np.intp]:
    """The Hungarian method on each component with competing edges; the chosen edge positions."""
    edges = edges[np.argsort(edge_comp[edges], kind="stable")]
    comp = edge_comp[edges].astype(np.int64)
    ri, ci = _local_index(comp, i[edges]), _local_index(comp, j[edges])
    bounds = np.flatnonzero(np.diff(comp)) + 1
    starts, stops = np.r_[0, bounds], np.r_[bounds, edges.shape[0]]
    chosen: list[NDArray[np.intp]] = []
    for lo, hi in zip(starts.tolist(), stops.tolist(), strict=True):
        r, c = ri[lo:hi], ci[lo:hi]
        matrix = np.zeros((int(r.max()) + 1, int(c.max()) + 1))
        matrix[r, c] = weight[edges[lo:hi]]
        lookup = np.full(matrix.shape, -1, dtype=np.intp)
        lookup[r, c] = edges[lo:hi]
        picked = lookup[linear_sum_assignment(matrix, maximize=True)]
        chosen.append(picked[picked >= 0])
    return np.concatenate(chosen)


def match_label_sets(
    ref: LabelSet, cand: LabelSet, *, class_aware: bool = True, min_iou: float = 0.0
) -> Matches:
    """Match ``cand`` to ``ref`` frame by frame (Hungarian on 3D IoU, yaw only).

    Only pairs in the same frame with IoU > ``min_iou`` (and the same class when
    ``class_aware``) may match; the assignment maximises the summed IoU of
    each frame. Returns the pairs sorted by reference row.
    """
    n_a, n_b = len(ref), len(cand)
    empty = np.zeros(0, dtype=np.intp)
    if n_a == 0 or n_b == 0:
        return Matches(empty, empty, np.zeros(0), n_a, n_b)
    i, j = _window_pairs(ref, cand, class_aware)
    iou = np.zeros(i.shape[0])
    for lo in range(0, i.shape[0], IOU_CHUNK):  # cache-sized blocks run several times faster
        sl = slice(lo, lo + IOU_CHUNK)
        iou[sl] = iou_pairs(ref.boxes[i[sl]], cand.boxes[j[sl]])
    keep = iou > min_iou
    i, j, iou = i[keep], j[keep], iou[keep]
    k = assign(i, j, iou, n_a, n_b)
    order = np.argsort(i[k], kind="stable")
    k = k[order]
    return Matches(i[k], j[k], iou[k], n_a, n_b)


def match_boxes(
    a: ArrayLike,
    b: ArrayLike,
    *,
    labels_a: ArrayLike | None = None,
    labels_b: ArrayLike | None = None,
    min_iou: float = 0.0,
) -> Matches:
    """Match the boxes of one frame: ``a`` (N, 7|9) against ``b`` (M, 7|9).

    Class-aware when both ``labels_a`` and ``labels_b`` are given.
    """
    aa = as_boxes(a) if np.size(a) else np.zeros((0, 7))
    bb = as_boxes(b) if np.size(b) else np.zeros((0, 7))
    ref = LabelSet.of(np.zeros(aa.shape[0]), aa, labels_a)
    cand = LabelSet.of(np.zeros(bb.shape[0]), bb, labels_b)
    aware = labels_a is not None and labels_b is not None
    return match_label_sets(ref, cand, class_aware=aware, min_iou=min_iou)
