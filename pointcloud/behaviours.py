"""A rule-based behaviour detector, and the scores that say whether it can be trusted.

The detector proposes ``cut_in`` and ``hard_braking`` tags from tracked boxes and the ego
poses, each with a confidence in [0, 1]; :func:`score_detector` compares its proposals with
reference (human, golden) tags: precision / recall / F1 at temporal-IoU thresholds, the
mean temporal IoU, and a calibration curve of the confidence (per confidence bin, the
share of proposals that match a reference tag).

Frames: box centres are in each frame's sensor coordinates (metres); ``poses[f]`` maps
frame ``f``'s sensor coordinates to the world (4 x 4); ``times`` are seconds. The road
direction is taken as ego's mean direction of travel over the sequence, so *lateral*
means across a straight road. Pure numpy; no server imports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pointcloud.matching import InvalidLabelsError, LabelSet
from pointcloud.temporal import TagSet, compare_tags

__all__ = ["Calibration", "DetectorScore", "Proposal", "detect_behaviours", "score_detector"]

BRAKE_MIN = 1.0
"""m/s^2: a deceleration above this for 3 or more frames is a hard-braking candidate."""
BRAKE_MID, BRAKE_SPREAD = 3.5, 0.6
"""m/s^2: the confidence is 0.5 at a mean deceleration of ``BRAKE_MID`` (logistic)."""
LANE_HALF = 1.65
"""m: half a lane; a cut-in ends with the car within this of ego's lane centre."""
CUT_MOVE = 0.3
"""m/s: lateral speed towards ego's lane that makes a frame part of a cut-in."""
CUT_MID, CUT_SPREAD = 1.5, 0.4
"""m: the confidence is 0.5 at a lateral move of ``CUT_MID`` towards ego's lane."""
AHEAD = (0.0, 40.0)
"""m: a cut-in car ends this far ahead of ego (along the road)."""


@dataclass(frozen=True)
class Proposal:
    """A proposed tag on a track: frames ``first..last`` inclusive, ``confidence`` 0..1."""

    tag: str
    subject: str
    first: int
    last: int
    confidence: float


def _logistic(x: float, mid: float, spread: float) -> float:
    return 1.0 / (1.0 + math.exp(-(x - mid) / spread))


def _runs(mask: NDArray[np.bool_], min_len: int) -> list[tuple[int, int]]:
    """Inclusive index ranges of the True runs of ``mask`` at least ``min_len`` long."""
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    return [
        (int(a), int(b) - 1)
        for a, b in zip(edges[::2], edges[1::2], strict=True)
        if b - a >= min_len
    ]


def detect_behaviours(
    labels: LabelSet, poses: ArrayLike, times: ArrayLike, *, min_confidence: float = 0.0
) -> list[Proposal]:
    """Proposals of ``hard_braking`` (a track decelerating by more than 1 m/s^2 for 3 frames
    or more; confidence from the mean deceleration) and ``cut_in`` (a track ahead moving
    across into ego's lane; confidence from how far it moved), sorted by confidence,
    highest first. ``poses`` (F, 4, 4) and ``times`` (F,) are per frame index."""
    pose = np.asarray(poses, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    if pose.ndim != 3 or pose.shape[1:] != (4, 4) or pose.shape[0] != t.shape[0]:
        raise InvalidLabelsError("poses must be (F, 4, 4) with one time per frame")
    if np.any(np.diff(t) <= 0) or not np.all(np.isfinite(pose)):
        raise InvalidLabelsError("frame times must increase and poses be finite")
    if len(labels) and (labels.frame.min() < 0 or labels.frame.max() >= len(t)):
        raise InvalidLabelsError("a box is on a frame without a pose")
    ego = pose[:, :2, 3]
    road = ego[-1] - ego[0]
    road = road / np.linalg.norm(road) if np.linalg.norm(road) > 0 else np.array([1.0, 0.0])
    normal = np.array([-road[1], road[0]])
    out: list[Proposal] = []
    for track in np.unique(labels.track):
        rows = np.flatnonzero(labels.track == track)
        rows = rows[np.argsort(labels.frame[rows], kind="stable")]
        if len(rows) < 4:
            continue
        f = labels.frame[rows]
        local = np.c_[labels.boxes[rows, :3], np.ones(len(rows))]
        world = np.einsum("nij,nj->ni", pose[f], local)[:, :2]
        out += _braking(str(track), f, t[f], world)
        out += _cut_in(str(track), f, t[f], world - ego[f], road, normal)
    out = [p for p in out if p.confidence >= min_confidence]
    return sorted(out, key=lambda p: (-p.confidence, p.subject, p.first))


def _braking(
    track: str, f: NDArray[np.int64], t: NDArray[np.float64], xy: NDArray[np.float64]
) -> list[Proposal]:
    speed = np.linalg.norm(np.diff(xy, axis=0), axis=1) / np.diff(t)  # between frames i, i+1
    decel = -np.diff(speed) / np.diff(t)[1:]  # at frame i + 1
    out = []
    for a, b in _runs(decel > BRAKE_MIN, 3):
        conf = _logistic(float(decel[a : b + 1].mean()), BRAKE_MID, BRAKE_SPREAD)
        out.append(Proposal("hard_braking", track, int(f[a + 1]), int(f[b + 1]), conf))
    return out


def _cut_in(
    track: str,
    f: NDArray[np.int64],
    t: NDArray[np.float64],
    rel: NDArray[np.float64],
    road: NDArray[np.float64],
    normal: NDArray[np.float64],
) -> list[Proposal]:
    along, lateral = rel @ road, rel @ normal
    v = np.diff(lateral) / np.diff(t)
    toward = -np.sign(lateral[:-1]) * v > CUT_MOVE  # moving towards ego's lane centre
    out = []
    for a, b in _runs(toward, 3):
        start, end = abs(lateral[a]), abs(lateral[b + 1])
        if end > LANE_HALF or not AHEAD[0] < along[b + 1] < AHEAD[1] or start < LANE_HALF:
            continue
        out.append(Proposal("cut_in", track, int(f[a]), int(f[b + 1]),
                            _logistic(start - end, CUT_MID, CUT_SPREAD)))  # fmt: skip
    return out


@dataclass(frozen=True)
class Calibration:
    """Per confidence bin ``[edges[i], edges[i + 1])``: proposals, their mean confidence
    and the share that matched a reference tag (NaN for an empty bin)."""

    edges: NDArray[np.float64]
    count: NDArray[np.int64]
    confidence: NDArray[np.float64]
    hit_rate: NDArray[np.float64]
    ece: float
    """Expected calibration error: the count-weighted mean |hit rate - confidence|."""


@dataclass(frozen=True)
class DetectorScore:
    """The detector against reference tags: per tIoU threshold (precision, recall, F1),
    mean temporal IoU of the matches, per-proposal match flags and the calibration."""

    thresholds: tuple[float, ...]
    precision: tuple[float, ...]
    recall: tuple[float, ...]
    f1: tuple[float, ...]
    mean_tiou: float
    matched: NDArray[np.bool_]
    calibration: Calibration
    proposals: int
    references: int


def score_detector(
    reference: TagSet,
    proposals: list[Proposal],
    *,
    thresholds: tuple[float, ...] = (0.3, 0.5, 0.7),
    match_at: float = 0.5,
    bins: int = 5,
) -> DetectorScore:
    """Match the proposals with the reference tags (same type and subject, Hungarian on
    temporal IoU) and score them; a proposal *matches* at temporal IoU >= ``match_at``."""
    cand = TagSet.of([p.tag for p in proposals], [p.subject for p in proposals],
                     [p.first for p in proposals], [p.last for p in proposals])  # fmt: skip
    agreement = compare_tags(reference, cand, thresholds=thresholds)
    matched = np.zeros(len(proposals), dtype=bool)
    matched[agreement.b[agreement.tiou >= match_at]] = True
    conf = np.array([p.confidence for p in proposals], dtype=np.float64)
    return DetectorScore(
        thresholds=thresholds,
        precision=tuple(s.precision for s in agreement.scores),
        recall=tuple(s.recall for s in agreement.scores),
        f1=tuple(s.f1 for s in agreement.scores),
        mean_tiou=agreement.mean_tiou,
        matched=matched,
        calibration=calibration(conf, matched, bins=bins),
        proposals=len(proposals),
        references=len(reference),
    )


def calibration(confidence: ArrayLike, hit: ArrayLike, *, bins: int = 5) -> Calibration:
    """The reliability curve of confidences (N,) in [0, 1] against outcomes (N,) bool."""
    c = np.asarray(confidence, dtype=np.float64).reshape(-1)
    h = np.asarray(hit, dtype=bool).reshape(-1)
    if c.shape != h.shape or bins < 1 or np.any((c < 0) | (c > 1)):
        raise InvalidLabelsError("one outcome per confidence, confidences in [0, 1], bins >= 1")
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, c, side="right") - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_c = np.bincount(which, weights=c, minlength=bins) / count
        rate = np.bincount(which, weights=h.astype(float), minlength=bins) / count
    ece = float(np.nansum(count * np.abs(rate - mean_c)) / count.sum()) if count.sum() else math.nan
    return Calibration(edges, count, mean_c, rate, ece)
