"""Label-quality metrics (pointcloud.matching, pointcloud.metrics, pointcloud.temporal) on the
real SUSTechPOINTS labels against copies perturbed by known amounts; the expected values are
computed here independently, with shapely polygons for the IoU."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import shapely
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from pointcloud.matching import (
    InvalidLabelsError,
    LabelSet,
    assign,
    match_boxes,
    match_label_sets,
)
from pointcloud.metrics import compare
from pointcloud.temporal import TagSet, compare_tags, temporal_iou, track_correspondence

CAR = [0.0, 0.0, -1.0, 4.5, 1.8, 1.5, 0.0]


def sustech_labels(root: Path) -> LabelSet:
    """Every box of the SUSTechPOINTS example scene: one frame per label file, in name order."""
    frames, boxes, labels, tracks = [], [], [], []
    for index, path in enumerate(sorted((root / "sustech" / "label").glob("*.json"))):
        for obj in json.loads(path.read_text()):
            psr = obj["psr"]
            p, s, r = psr["position"], psr["scale"], psr["rotation"]
            frames.append(index)
            boxes.append([p["x"], p["y"], p["z"], s["x"], s["y"], s["z"], r["z"]])
            labels.append(obj["obj_type"])
            tracks.append(obj["obj_id"])
    return LabelSet.of(frames, boxes, labels, tracks)


def shapely_iou_3d(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """3D IoU of aligned pairs: GEOS footprint intersection x z-overlap over the union volume."""

    def footprint(box: NDArray[np.float64]) -> shapely.Polygon:
        c, s = math.cos(box[6]), math.sin(box[6])
        corners = [
            (dx * box[3] / 2, dy * box[4] / 2) for dx, dy in ((1, -1), (1, 1), (-1, 1), (-1, -1))
        ]
        return shapely.Polygon(
            [(box[0] + c * x - s * y, box[1] + s * x + c * y) for x, y in corners]
        )

    out = []
    for p, q in zip(a, b, strict=True):
        area = footprint(p).intersection(footprint(q)).area
        dz = min(p[2] + p[5] / 2, q[2] + q[5] / 2) - max(p[2] - p[5] / 2, q[2] - q[5] / 2)
        inter = area * max(dz, 0.0)
        out.append(inter / (p[3] * p[4] * p[5] + q[3] * q[4] * q[5] - inter))
    return np.array(out)


def perturbed(ref: LabelSet, seed: int) -> tuple[LabelSet, NDArray[np.intp], NDArray[np.float64]]:
    """A copy with known changes: each kept box moved 0-0.4 m, resized 0-20 %, turned
    +-(0-0.15) rad; every 6th box dropped and two false boxes added far away. Returns the
    copy, the reference row of each of its first rows (the kept boxes) and the yaw turns."""
    rng = np.random.default_rng(seed)
    keep = np.flatnonzero(np.arange(len(ref)) % 6 != 5)
    boxes = ref.boxes[keep].copy()
    n = keep.shape[0]
    boxes[:, 0:3] += rng.uniform(-0.4, 0.4, (n, 3)) / math.sqrt(3)
    boxes[:, 3:6] *= rng.uniform(0.8, 1.2, (n, 3))
    turn = rng.uniform(-0.15, 0.15, n)
    boxes[:, 6] += turn
    false = np.array(
        [[200.0, 200.0, 0.0, 4.0, 2.0, 1.5, 0.0], [-200.0, 0.0, 0.0, 1.0, 1.0, 2.0, 1.0]]
    )
    copy = LabelSet.of(
        np.r_[ref.frame[keep], [0, 1]],
        np.vstack([boxes, false]),
        np.r_[ref.label[keep], ["Car", "Pedestrian"]],
        np.r_[ref.track[keep], ["x1", "x2"]],
    )
    return copy, keep, np.abs(turn)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_real_labels_against_perturbed_copies_match_shapely_figures(
    shared_data: Path, seed: int
) -> None:
    ref = sustech_labels(shared_data)
    assert len(ref) == 19 + 21 + 23 + 24
    cand, keep, turn = perturbed(ref, seed)
    expected_iou = shapely_iou_3d(ref.boxes[keep], cand.boxes[: keep.shape[0]])
    assert (expected_iou > 0).all()  # every kept box still overlaps its original

    result = compare(ref, cand)

    assert result.matches.a.tolist() == keep.tolist()  # the Hungarian finds the known pairs
    assert result.matches.b.tolist() == list(range(keep.shape[0]))
    assert result.mean_iou == pytest.approx(expected_iou.mean(), abs=1e-9)
    for score in result.scores:
        tp = int((expected_iou >= score.threshold).sum())
        assert (score.tp, score.fn, score.fp) == (tp, len(ref) - tp, len(cand) - tp)
        assert score.f1 == pytest.approx(2 * tp / (len(ref) + len(cand)))
        assert score.precision == pytest.approx(tp / len(cand))
        assert score.recall == pytest.approx(tp / len(ref))
    assert result.errors.mean_yaw_rad == pytest.approx(turn.mean(), abs=1e-9)
    size = cand.boxes[: keep.shape[0], 3:6] - ref.boxes[keep, 3:6]
    assert np.allclose(result.errors.size_m, size)
    centre = np.linalg.norm(cand.boxes[: keep.shape[0], :3] - ref.boxes[keep, :3], axis=1)
    assert result.errors.mean_centre_m == pytest.approx(centre.mean())


def test_identical_real_labels_agree_perfectly(shared_data: Path) -> None:
    ref = sustech_labels(shared_data)
    result = compare(ref, ref, per_class=True)
    assert result.mean_iou == pytest.approx(1.0)
    assert all(s.f1 == 1.0 for s in result.scores)
    assert result.errors.mean_yaw_rad == 0.0 and result.errors.mean_centre_m == 0.0
    assert (result.tracks.id_switches, result.tracks.fragmentations) == (0, 0)
    assert set(result.per_class) == {"Car", "Bus", "Truck", "Pedestrian", "Rider", "Motor"} & set(
        ref.label.tolist()
    )


def test_a_track_renamed_mid_sequence_is_one_id_switch_and_a_gap_is_one_fragmentation(
    shared_data: Path,
) -> None:
    ref = sustech_labels(shared_data)
    counts = {t: int((ref.track == t).sum()) for t in set(ref.track.tolist())}
    whole = sorted(t for t, n in counts.items() if n == 4)  # tracks in all four frames
    renamed, gapped = whole[0], whole[1]
    track = ref.track.copy()
    track[(ref.track == renamed) & (ref.frame >= 2)] = "renamed"
    drop = (ref.track == gapped) & (ref.frame == 1)
    cand = LabelSet.of(ref.frame[~drop], ref.boxes[~drop], ref.label[~drop], track[~drop])
    tracks = compare(ref, cand).tracks
    assert (tracks.id_switches, tracks.fragmentations) == (1, 1)


def test_a_box_whose_class_changed_matches_only_when_matching_ignores_classes() -> None:
    ref = LabelSet.of([0], [CAR], ["Car"])
    cand = LabelSet.of([0], [CAR], ["Truck"])
    aware, blind = compare(ref, cand), compare(ref, cand, class_aware=False)
    assert aware.score_at(0.5).tp == 0 and (aware.score_at(0.5).fp, aware.score_at(0.5).fn) == (
        1,
        1,
    )
    assert blind.score_at(0.5).tp == 1 and blind.mean_iou == pytest.approx(1.0)


def test_matching_maximises_total_iou_like_a_dense_hungarian_per_frame() -> None:
    rng = np.random.default_rng(5)

    def boxes(n: int) -> NDArray[np.float64]:
        return np.column_stack([rng.uniform(0, 12, (n, 2)), rng.uniform(-1, 0, n),
                                rng.uniform(1, 5, (n, 3)), rng.uniform(-3, 3, n)])  # fmt: skip

    a, b = boxes(120), boxes(100)
    fa, fb = rng.integers(0, 3, 120), rng.integers(0, 3, 100)
    got = match_label_sets(LabelSet.of(fa, a), LabelSet.of(fb, b), class_aware=False)
    total = 0.0
    for f in range(3):
        ia, ib = np.flatnonzero(fa == f), np.flatnonzero(fb == f)
        m = np.array(shapely_iou_3d(np.repeat(a[ia], len(ib), 0), np.tile(b[ib], (len(ia), 1))))
        m = m.reshape(len(ia), len(ib))
        r, c = linear_sum_assignment(m, maximize=True)
        total += m[r, c].sum()
    assert got.iou.sum() == pytest.approx(total, abs=1e-9)
    assert len(set(got.a.tolist())) == len(got.a) and len(set(got.b.tolist())) == len(got.b)


def test_one_frame_matching_prefers_the_better_overlap_for_each_box() -> None:
    a = np.array([CAR, [10.0, 0, -1, 4.5, 1.8, 1.5, 0]])
    b = np.array([[10.3, 0, -1, 4.5, 1.8, 1.5, 0], [0.5, 0, -1, 4.5, 1.8, 1.5, 0]])
    m = match_boxes(a, b)
    assert list(zip(m.a.tolist(), m.b.tolist(), strict=True)) == [(0, 1), (1, 0)]
    assert m.iou[1] == pytest.approx((4.5 - 0.3) / (4.5 + 0.3))


def test_empty_sides_score_as_documented() -> None:
    empty = LabelSet.of([], np.zeros((0, 7)))
    one = LabelSet.of([0], [CAR])
    missed = compare(one, empty).score_at(0.5)
    assert (missed.precision, missed.recall, missed.f1) == (1.0, 0.0, 0.0)
    assert compare(empty, empty).score_at(0.5).f1 == 1.0
    assert math.isnan(compare(one, empty).mean_iou)


def test_label_arrays_of_unequal_length_are_refused() -> None:
    with pytest.raises(InvalidLabelsError):
        LabelSet.of([0, 1], [CAR], ["Car"])


def test_temporal_iou_of_overlapping_ranges_counts_inclusive_frames() -> None:
    # frames 10..19 and 15..24: 5 shared frames (15..19) out of the 15 covered (10..24)
    assert temporal_iou([10], [19], [15], [24])[0] == pytest.approx(5 / 15)
    assert temporal_iou([0], [4], [5], [9])[0] == 0.0
    assert temporal_iou([3], [3], [3], [3])[0] == 1.0


def test_tags_match_by_type_and_subject_with_boundary_errors() -> None:
    ref = TagSet.of(
        ["cut_in", "hard_braking", "cut_in"], ["7", "ego", "9"], [10, 0, 40], [19, 5, 50]
    )
    cand = TagSet.of(
        ["cut_in", "hard_braking", "lane_change"], ["7", "ego", "9"], [12, 0, 40], [21, 9, 50]
    )
    result = compare_tags(ref, cand)
    assert result.a.tolist() == [0, 1] and result.b.tolist() == [0, 1]
    assert result.tiou.tolist() == pytest.approx([8 / 12, 6 / 10])
    assert result.start_error.tolist() == [2, 0] and result.end_error.tolist() == [2, 4]
    at_half = next(s for s in result.scores if s.threshold == 0.5)
    assert (at_half.tp, at_half.fp, at_half.fn) == (2, 1, 1)
    assert next(s for s in result.scores if s.threshold == 0.7).tp == 0


def test_candidate_track_ids_translate_to_the_reference_before_tags_compare() -> None:
    ref = LabelSet.of([0, 1], [CAR, CAR], ["Car", "Car"], ["a", "a"])
    cand = LabelSet.of([0, 1], [CAR, CAR], ["Car", "Car"], ["17", "17"])
    mapping = track_correspondence(ref, cand, match_label_sets(ref, cand))
    assert mapping == {"17": "a"}
    tags = TagSet.of(["cut_in"], ["17"], [0], [1]).with_subjects(mapping)
    assert compare_tags(TagSet.of(["cut_in"], ["a"], [0], [1]), tags).tiou.tolist() == [1.0]


def test_a_tag_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(InvalidLabelsError):
        TagSet.of(["cut_in"], ["ego"], [5], [4])


def test_assignment_beats_greedy_and_a_box_drawn_twice_keeps_its_better_copy() -> None:
    # reference 0 overlaps candidates 0 (0.9) and 1 (0.8); reference 1 only candidate 0 (0.7):
    # greedy takes 0.9 and strands reference 1; the optimum is 0.8 + 0.7
    i, j = np.array([0, 0, 1]), np.array([0, 1, 0])
    chosen = assign(i, j, np.array([0.9, 0.8, 0.7]), 2, 2)
    assert sorted(zip(i[chosen].tolist(), j[chosen].tolist(), strict=True)) == [(0, 1), (1, 0)]
    # one reference box, two candidate copies (and an unrelated lone pair)
    i, j = np.array([0, 0, 1]), np.array([0, 1, 2])
    chosen = assign(i, j, np.array([0.6, 0.95, 0.5]), 2, 3)
    assert sorted(zip(i[chosen].tolist(), j[chosen].tolist(), strict=True)) == [(0, 1), (1, 2)]
