"""Label-quality metrics of a candidate label set against a reference: detection scores,
box errors and track consistency, from the pairs of :func:`pointcloud.matching.match_label_sets`.

Definitions (docs/quality.md says the same for readers):

- At an IoU threshold ``t``: true positives ``TP`` = matched pairs with 3D IoU
  >= t; precision = TP / candidate boxes, recall = TP / reference boxes,
  F1 = 2 TP / (reference + candidate boxes). An empty side scores 1 (nothing
  claimed is nothing wrong); both empty scores 1 everywhere.
- Mean IoU, centre, size and yaw errors are over every matched pair.
  Centre error: Euclidean distance of the centres in metres (3D). Size error:
  candidate minus reference (length, width, height) in metres. Yaw error:
  ``|wrap(yaw_b - yaw_a)|`` in radians, in [0, pi] (a box turned round is pi).
- Track consistency (CLEAR MOT, Bernardin and Stiefelhagen 2008): walking each
  reference track through its frames, an *id switch* is a matched frame whose
  candidate track differs from the one matched last; a *fragmentation* is each
  time the track goes from matched to unmatched and is matched again later.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from pointcloud.boxes import normalize_yaw
from pointcloud.matching import LabelSet, Matches, match_label_sets

__all__ = [
    "THRESHOLDS",
    "Agreement",
    "BoxErrors",
    "DetectionScore",
    "TrackScores",
    "box_errors",
    "compare",
    "detection_scores",
    "track_scores",
]

THRESHOLDS = (0.3, 0.5, 0.7)
"""The IoU thresholds scores are reported at."""


@dataclass(frozen=True)
class DetectionScore:
    """Counts and scores at one IoU threshold (``threshold`` is the IoU, 0..1)."""

    threshold: float
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class BoxErrors:
    """Per-pair errors (new arrays, one row per matched pair) and their means.

    ``centre_m`` (K,) metres; ``size_m`` (K, 3) candidate - reference
    (length, width, height) in metres; ``yaw_rad`` (K,) absolute wrapped yaw
    difference in radians.
    """

    centre_m: NDArray[np.float64]
    size_m: NDArray[np.float64]
    yaw_rad: NDArray[np.float64]

    @property
    def mean_centre_m(self) -> float:
        return _mean(self.centre_m)

    @property
    def mean_abs_size_m(self) -> float:
        return _mean(np.abs(self.size_m))

    @property
    def mean_yaw_rad(self) -> float:
        return _mean(self.yaw_rad)


@dataclass(frozen=True)
class TrackScores:
    """Track-id switches and fragmentations of the candidate over the reference tracks."""

    id_switches: int
    fragmentations: int
    reference_tracks: int


@dataclass(frozen=True)
class Agreement:
    """Everything :func:`compare` measures for one pair of label sets."""

    matches: Matches
    scores: tuple[DetectionScore, ...]
    mean_iou: float
    errors: BoxErrors
    tracks: TrackScores
    per_class: dict[str, tuple[DetectionScore, ...]] = field(default_factory=dict)

    def score_at(self, threshold: float) -> DetectionScore:
        """The score at ``threshold`` (one of the thresholds it was computed at)."""
        return next(s for s in self.scores if s.threshold == threshold)


def _mean(values: NDArray[np.float64]) -> float:
    return float(values.mean()) if values.size else float("nan")


def _ratio(num: int, den: int) -> float:
    return num / den if den else 1.0


def detection_scores(
    iou: NDArray[np.float64], n_a: int, n_b: int, *, thresholds: tuple[float, ...] = THRESHOLDS
) -> tuple[DetectionScore, ...]:
    """Precision, recall and F1 at each threshold from the matched pairs' ``iou`` (K,)."""
    out = []
    for t in thresholds:
        tp = int(np.count_nonzero(iou >= t))
        f1 = _ratio(2 * tp, n_a + n_b)
        out.append(DetectionScore(t, tp, n_b - tp, n_a - tp, _ratio(tp, n_b), _ratio(tp, n_a), f1))
    return tuple(out)


def box_errors(ref: LabelSet, cand: LabelSet, matches: Matches) -> BoxErrors:
    """Centre, size and yaw errors of every matched pair (see the module docstring)."""
    a, b = ref.boxes[matches.a], cand.boxes[matches.b]
    centre = np.linalg.norm(b[:, 0:3] - a[:, 0:3], axis=1)
    yaw = np.abs(normalize_yaw(b[:, 6] - a[:, 6]))
    return BoxErrors(centre, b[:, 3:6] - a[:, 3:6], yaw)


def _fill_last(valid: NDArray[np.bool_], group_start: NDArray[np.intp]) -> NDArray[np.intp]:
    """For each position, the last position <= it in the same group that is valid, else -1."""
    pos = np.where(valid, np.arange(valid.shape[0]), -1)
    last = np.maximum.accumulate(pos) if pos.size else pos
    return np.where(last >= group_start, last, -1)


def track_scores(ref: LabelSet, cand: LabelSet, matches: Matches) -> TrackScores:
    """Id switches and fragmentations (CLEAR MOT) of ``cand`` against the tracks of ``ref``."""
    if len(ref) == 0:
        return TrackScores(0, 0, 0)
    _, cand_code = np.unique(cand.track, return_inverse=True)
    matched = np.full(len(ref), -1, dtype=np.intp)
    matched[matches.a] = cand_code[matches.b]
    _, ref_code = np.unique(ref.track, return_inverse=True)
    order = np.lexsort((ref.frame, ref_code))
    tracks, ids = ref_code[order], matched[order]
    new_track = np.r_[True, tracks[1:] != tracks[:-1]]
    group_start = np.maximum.accumulate(np.where(new_track, np.arange(tracks.shape[0]), 0))
    valid = ids >= 0
    prev = _fill_last(valid, group_start)
    before = np.r_[-1, prev[:-1]]
    before = np.where(new_track, -1, before)
    switches = valid & (before >= 0) & (ids != ids[np.maximum(before, 0)])
    # A fragmentation: matched at p - 1, unmatched at p, matched again later in the track.
    rev_valid, rev_start = valid[::-1], _reverse_group_start(new_track)
    later = _fill_last(rev_valid, rev_start)[::-1] >= 0
    lost = ~valid & np.r_[False, valid[:-1]] & ~new_track
    frags = lost & later
    return TrackScores(int(switches.sum()), int(frags.sum()), int(new_track.sum()))


def _reverse_group_start(new_track: NDArray[np.bool_]) -> NDArray[np.intp]:
    """Group starts of the reversed sequence (each group's last position, mirrored)."""
    n = new_track.shape[0]
    last_of_group = np.r_[new_track[1:], True][::-1]
    return np.maximum.accumulate(np.where(last_of_group, np.arange(n), 0)).astype(np.intp)


def compare(
    ref: LabelSet,
    cand: LabelSet,
    *,
    class_aware: bool = True,
    thresholds: tuple[float, ...] = THRESHOLDS,
    per_class: bool = False,
) -> Agreement:
    """Match ``cand`` to ``ref`` and measure everything: scores, mean IoU, errors, tracks.

    With ``per_class`` (and ``class_aware``), scores per reference class too:
    a candidate box of a class the reference lacks counts against that class.
    """
    matches = match_label_sets(ref, cand, class_aware=class_aware)
    scores = detection_scores(matches.iou, len(ref), len(cand), thresholds=thresholds)
    classes: dict[str, tuple[DetectionScore, ...]] = {}
    if per_class and class_aware:
        matched_label = ref.label[matches.a]
        for name in np.union1d(ref.label, cand.label):
            n_a = int(np.count_nonzero(ref.label == name))
            n_b = int(np.count_nonzero(cand.label == name))
            iou = matches.iou[matched_label == name]
            classes[str(name)] = detection_scores(iou, n_a, n_b, thresholds=thresholds)
    return Agreement(
        matches=matches,
        scores=scores,
        mean_iou=_mean(matches.iou),
        errors=box_errors(ref, cand, matches),
        tracks=track_scores(ref, cand, matches),
        per_class=classes,
    )
