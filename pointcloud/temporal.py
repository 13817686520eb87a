"""Behaviour tags compared by temporal IoU: matching, scores and boundary errors.

A tag covers the frames ``first..last`` (inclusive) of a subject: a track id,
``"ego"`` or ``"scene"``. The temporal IoU of two tags is the number of frames
both cover over the number either covers. Two tags may match when they have
the same tag type and subject and overlap; the matching maximises the summed
temporal IoU (Hungarian, :func:`pointcloud.matching.assign`).

Annotators name tracks independently, so before comparing tags on tracks,
translate the candidate's track ids to the reference's with
:func:`track_correspondence` (from the box matching).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pointcloud.matching import InvalidLabelsError, LabelSet, Matches, assign
from pointcloud.metrics import THRESHOLDS, DetectionScore, detection_scores

__all__ = [
    "TagAgreement",
    "TagSet",
    "compare_tags",
    "match_tags",
    "temporal_iou",
    "track_correspondence",
]


@dataclass(frozen=True)
class TagSet:
    """Behaviour tags, one row per tag: ``tag`` type, ``subject``, frame range ``first..last``."""

    tag: NDArray[np.str_]
    subject: NDArray[np.str_]
    first: NDArray[np.int64]
    last: NDArray[np.int64]

    @classmethod
    def of(cls, tag: ArrayLike, subject: ArrayLike, first: ArrayLike, last: ArrayLike) -> TagSet:
        """Validate and copy; raises InvalidLabelsError for unequal lengths or ``last < first``."""
        t, s = np.array(tag, dtype=str).reshape(-1), np.array(subject, dtype=str).reshape(-1)
        f, la = (
            np.array(first, dtype=np.int64).reshape(-1),
            np.array(last, dtype=np.int64).reshape(-1),
        )
        if not t.shape[0] == s.shape[0] == f.shape[0] == la.shape[0]:
            raise InvalidLabelsError("tag, subject, first and last need one row per tag")
        if (la < f).any():
            raise InvalidLabelsError("a tag ends before it starts (last < first)")
        return cls(t, s, f, la)

    def __len__(self) -> int:
        return int(self.tag.shape[0])

    def with_subjects(self, mapping: dict[str, str]) -> TagSet:
        """A copy whose subjects are renamed through ``mapping`` (others kept)."""
        subject = np.array([mapping.get(str(s), str(s)) for s in self.subject], dtype=str)
        return TagSet(self.tag.copy(), subject.reshape(-1), self.first.copy(), self.last.copy())


@dataclass(frozen=True)
class TagAgreement:
    """Tag matches (rows ``a[k]`` and ``b[k]``), their temporal IoU, scores and boundary errors.

    ``start_error``/``end_error`` (K,) are candidate minus reference frames.
    """

    a: NDArray[np.intp]
    b: NDArray[np.intp]
    tiou: NDArray[np.float64]
    scores: tuple[DetectionScore, ...]
    start_error: NDArray[np.int64]
    end_error: NDArray[np.int64]

    @property
    def mean_tiou(self) -> float:
        return float(self.tiou.mean()) if self.tiou.size else float("nan")


def temporal_iou(
    first_a: ArrayLike, last_a: ArrayLike, first_b: ArrayLike, last_b: ArrayLike
) -> NDArray[np.float64]:
    """Temporal IoU of aligned inclusive frame ranges: a new float64 array, 0..1."""
    fa, la = np.asarray(first_a, dtype=np.int64), np.asarray(last_a, dtype=np.int64)
    fb, lb = np.asarray(first_b, dtype=np.int64), np.asarray(last_b, dtype=np.int64)
    inter = np.maximum(np.minimum(la, lb) - np.maximum(fa, fb) + 1, 0)
    union = (la - fa + 1) + (lb - fb + 1) - inter
    return np.asarray(inter / union, dtype=np.float64)


def match_tags(
    ref: TagSet, cand: TagSet
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]:
    """Pairs (reference row, candidate row, temporal IoU), same tag and subject, IoU > 0."""
    key_a = np.char.add(np.char.add(ref.tag, "\x00"), ref.subject)
    key_b = np.char.add(np.char.add(cand.tag, "\x00"), cand.subject)
    _, codes = np.unique(np.r_[key_a, key_b], return_inverse=True)
    code_a, code_b = codes[: len(ref)], codes[len(ref) :]
    order = np.argsort(code_b, kind="stable")
    lo = np.searchsorted(code_b[order], code_a, side="left")
    hi = np.searchsorted(code_b[order], code_a, side="right")
    counts = hi - lo
    i = np.repeat(np.arange(len(ref)), counts)
    offset = np.arange(i.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
    j = order[np.repeat(lo, counts) + offset]
    tiou = temporal_iou(ref.first[i], ref.last[i], cand.first[j], cand.last[j])
    keep = tiou > 0
    i, j, tiou = i[keep].astype(np.intp), j[keep].astype(np.intp), tiou[keep]
    k = assign(i, j, tiou, len(ref), len(cand))
    k = k[np.argsort(i[k], kind="stable")]
    return i[k], j[k], tiou[k]


def compare_tags(
    ref: TagSet, cand: TagSet, *, thresholds: tuple[float, ...] = THRESHOLDS
) -> TagAgreement:
    """Match tags and score them: precision/recall/F1 at temporal-IoU thresholds."""
    a, b, tiou = match_tags(ref, cand)
    return TagAgreement(
        a=a,
        b=b,
        tiou=tiou,
        scores=detection_scores(tiou, len(ref), len(cand), thresholds=thresholds),
        start_error=cand.first[b] - ref.first[a],
        end_error=cand.last[b] - ref.last[a],
    )


def track_correspondence(ref: LabelSet, cand: LabelSet, matches: Matches) -> dict[str, str]:
    """Candidate track id -> the reference track id its boxes were matched to most often."""
    votes = Counter(zip(cand.track[matches.b].tolist(), ref.track[matches.a].tolist(), strict=True))
    best: dict[str, tuple[int, str]] = {}
    for (c_id, r_id), count in votes.items():
        if str(c_id) not in best or count > best[str(c_id)][0]:
            best[str(c_id)] = (count, str(r_id))
    return {c_id: r_id for c_id, (_, r_id) in best.items()}
