"""Consensus of k label sets of one scene: objects found across the sets, how well the
sets agree on each, and a merged label set (majority class, median box).

Objects are *clusters*: the sets are matched one after another, class-blind, against the
clusters found so far (Hungarian on 3D IoU per frame, :func:`pointcloud.matching.
match_label_sets`, IoU > ``min_iou``), each cluster standing for its first member's box.
A cluster holds at most one box per set. Its *agreement* is the mean 3D IoU over all k(k-1)/2
pairs of sets, a set without a box in the cluster giving 0 with every other set; its
*class agreement* the share of the k sets whose class is the cluster's majority class
(a missing box disagrees).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from numpy.typing import NDArray

from pointcloud.iou import iou_pairs
from pointcloud.matching import LabelSet, match_label_sets

__all__ = ["Cluster", "clusters_of", "merge"]


@dataclass
class Cluster:
    """One object seen by one or more sets in one frame: ``members`` maps a set's index
    to its box's row in that set."""

    frame: int
    members: dict[int, int] = field(default_factory=dict)
    agreement: float = 0.0
    class_agreement: float = 0.0
    label: str = ""


def clusters_of(sets: list[LabelSet], *, min_iou: float = 0.1) -> list[Cluster]:
    """The objects of ``sets`` (k >= 2 label sets of one scene), each with its agreement
    and majority class, in the order found."""
    found: list[Cluster] = []
    anchor_rows: list[tuple[int, int]] = []  # (set, row) of each cluster's first member
    for s, current in enumerate(sets):
        if anchor_rows:
            anchors = LabelSet.of([sets[a].frame[r] for a, r in anchor_rows],
                                  np.array([sets[a].boxes[r, :7] for a, r in anchor_rows]))  # fmt: skip
            m = match_label_sets(anchors, current, class_aware=False, min_iou=min_iou)
            for a, b in zip(m.a.tolist(), m.b.tolist(), strict=True):
                found[a].members[s] = b
            matched = set(m.b.tolist())
        else:
            matched = set()
        for row in range(len(current)):
            if row not in matched:
                found.append(Cluster(int(current.frame[row]), {s: row}))
                anchor_rows.append((s, row))
    k = len(sets)
    for c in found:
        _score(c, sets, k)
    return found


def _score(c: Cluster, sets: list[LabelSet], k: int) -> None:
    labels = Counter(str(sets[s].label[r]) for s, r in c.members.items())
    best = max(labels.values())
    c.label = sorted(name for name, n in labels.items() if n == best)[0]
    c.class_agreement = labels[c.label] / k
    pairs = [(a, b) for a, b in combinations(sorted(c.members), 2)]
    if not pairs:
        c.agreement = 0.0
        return
    left = np.array([sets[a].boxes[c.members[a], :7] for a, _ in pairs])
    right = np.array([sets[b].boxes[c.members[b], :7] for _, b in pairs])
    c.agreement = float(iou_pairs(left, right).sum()) / (k * (k - 1) / 2)


def _median_yaw(yaws: NDArray[np.float64]) -> float:
    """The median of angles unwrapped around the first one, wrapped into (-pi, pi]."""
    rel = (yaws - yaws[0] + np.pi) % (2 * np.pi) - np.pi
    out = float(yaws[0] + np.median(rel))
    return float(np.pi - ((np.pi - out) % (2 * np.pi)))


def merge(
    sets: list[LabelSet], clusters: list[Cluster]
) -> list[tuple[int, NDArray[np.float64], str, tuple[int, str]]]:
    """The consensus label set: every cluster that a majority of the k sets (more than
    half) drew, as (frame, box [cx, cy, cz, l, w, h, yaw] = the per-parameter median of its
    members (yaw: circular), majority class, track key). The track key is (set, track id)
    of the cluster's member in its lowest set, so a track keeps one key across frames
    where that set drew it."""
    k = len(sets)
    out = []
    for c in clusters:
        if len(c.members) * 2 <= k:
            continue
        rows = np.array([sets[s].boxes[r, :7] for s, r in sorted(c.members.items())])
        box = np.median(rows, axis=0)
        box[6] = _median_yaw(rows[:, 6])
        first = min(c.members)
        out.append((c.frame, box, c.label, (first, str(sets[first].track[c.members[first]]))))
    return out
