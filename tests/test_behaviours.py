"""The rule-based behaviour detector (pointcloud/behaviours.py) against the demo sequence's
ground-truth tags, on synthetic drives, and the calibration of its confidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pointcloud.behaviours import calibration, detect_behaviours, score_detector
from pointcloud.matching import InvalidLabelsError, LabelSet
from pointcloud.synth import generate_sequence
from pointcloud.temporal import TagSet


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo sequence's ground truth (40 frames; coarse lidar, the labels are the same)."""
    folder = generate_sequence(tmp_path_factory.mktemp("seq") / "seq", frames=40, azimuth_steps=60)
    gt = json.loads((Path(folder) / "ground_truth.json").read_text())
    poses = json.loads((Path(folder) / "poses.json").read_text())["frames"]
    rows = [(c["frame"], [*c["center"], *c["size"], c["yaw"]], t["class"], t["track_id"])
            for t in gt["tracks"] for c in t["cuboids"]]  # fmt: skip
    tags = gt["tags"]
    return {
        "labels": LabelSet.of(*map(list, zip(*rows, strict=True))),
        "poses": np.array([f["pose"] for f in poses]),
        "times": np.array([f["timestamp"] for f in poses]),
        "ref": TagSet.of(
            [g["tag"] for g in tags],
            [g["track_id"] for g in tags],
            [g["first_frame"] for g in tags],
            [g["last_frame"] for g in tags],
        ),  # fmt: skip
    }


def test_the_detector_finds_the_demo_cut_in_and_hard_braking(demo: dict[str, Any]) -> None:
    proposals = detect_behaviours(demo["labels"], demo["poses"], demo["times"])
    found = {(p.tag, p.subject): p for p in proposals}
    assert set(found) == {("cut_in", "car-1"), ("hard_braking", "car-2")}
    assert all(p.confidence > 0.9 for p in proposals)
    score = score_detector(demo["ref"], proposals)
    assert score.recall == (1.0, 1.0, 1.0) and score.precision == (1.0, 1.0, 1.0)
    assert score.mean_tiou > 0.95
    assert score.calibration.count.sum() == 2 and score.calibration.count[-1] == 2


def _drive(speeds: list[float], *, lateral: list[float] | None = None) -> tuple[LabelSet, Any, Any]:
    """One car 20 m ahead of ego (10 m/s along +x) at the given speeds, frames 0.1 s apart."""
    n = len(speeds)
    times = np.arange(n) * 0.1
    ego_x = 10.0 * times
    car_x = 20.0 + np.r_[0.0, np.cumsum(np.asarray(speeds[:-1]) * 0.1)]
    y = np.zeros(n) if lateral is None else np.asarray(lateral)
    poses = np.repeat(np.eye(4)[None], n, axis=0)
    poses[:, 0, 3] = ego_x
    boxes = np.c_[car_x - ego_x, y, np.zeros(n), np.tile([4.5, 1.9, 1.6, 0.0], (n, 1))]
    return LabelSet.of(np.arange(n), boxes, ["Car"] * n, ["c"] * n), poses, times


def test_steady_traffic_gives_no_proposal() -> None:
    assert detect_behaviours(*_drive([10.0] * 30)) == []


def test_the_confidence_grows_with_the_deceleration() -> None:
    mild = detect_behaviours(
        *_drive([12.0] * 5 + [12.0 - 0.15 * i for i in range(1, 15)] + [9.9] * 5)
    )
    hard = detect_behaviours(
        *_drive([12.0] * 5 + [12.0 - 0.65 * i for i in range(1, 15)] + [2.9] * 5)
    )
    assert len(mild) == 1 and len(hard) == 1
    assert mild[0].confidence < 0.1 < 0.9 < hard[0].confidence
    assert (hard[0].first, hard[0].last) == (5, 18)  # the frames whose speed drops


def test_a_car_drifting_into_ego_lane_is_a_cut_in() -> None:
    lateral = [3.3] * 5 + [3.3 - 0.3 * i for i in range(1, 11)] + [0.3] * 5
    (proposal,) = detect_behaviours(*_drive([10.0] * 20, lateral=lateral))
    assert proposal.tag == "cut_in" and proposal.confidence > 0.95
    assert (proposal.first, proposal.last) == (4, 14)  # leaves 3.3 m after frame 4, in lane at 14
    leaving = detect_behaviours(*_drive([10.0] * 20, lateral=lateral[::-1]))
    assert leaving == []  # moving out of ego's lane is no cut-in


def test_calibration_bins_confidences_and_measures_the_gap() -> None:
    cal = calibration([0.1, 0.1, 0.9, 0.9, 0.95], [False, True, True, True, False], bins=5)
    assert cal.count.tolist() == [2, 0, 0, 0, 3]
    assert cal.hit_rate[0] == 0.5 and np.isnan(cal.hit_rate[1])
    assert cal.confidence[4] == pytest.approx(2.75 / 3)
    assert cal.ece == pytest.approx((2 * 0.4 + 3 * abs(2 / 3 - 2.75 / 3)) / 5)


def test_noisy_tracks_lower_precision_and_the_flags_agree_with_it(demo: dict[str, Any]) -> None:
    labels: LabelSet = demo["labels"]
    rng = np.random.default_rng(4)
    boxes = labels.boxes.copy()
    boxes[:, :2] += rng.normal(0, 0.08, (len(labels), 2))
    noisy = LabelSet.of(labels.frame, boxes, labels.label, labels.track)
    proposals = detect_behaviours(noisy, demo["poses"], demo["times"])
    score = score_detector(demo["ref"], proposals)
    assert score.proposals > 2 and score.precision[1] < 1.0
    assert score.precision[1] == pytest.approx(score.matched.sum() / score.proposals)
    assert score.calibration.count.sum() == score.proposals
    top = [p for p, m in zip(proposals, score.matched, strict=True) if m]
    assert {(p.tag, p.subject) for p in top} <= {("cut_in", "car-1"), ("hard_braking", "car-2")}


def test_bad_poses_are_refused(demo: dict[str, Any]) -> None:
    with pytest.raises(InvalidLabelsError):
        detect_behaviours(demo["labels"], demo["poses"][:5], demo["times"][:5])
    with pytest.raises(InvalidLabelsError):
        detect_behaviours(demo["labels"], demo["poses"], demo["times"][::-1])
