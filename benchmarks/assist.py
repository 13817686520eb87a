"""The assist suite: auto-fit from a hurried box, propagation one frame forward, pre-labels.

Measured on the real human boxes of ../shared/data (SUSTechPOINTS and KITTI);
figures are None with a note when the data is absent. IoU is 3D IoU
(yaw-only, :mod:`pointcloud.iou`) unless named BEV. Random perturbations use
fixed seeds, so runs are comparable.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from benchmarks.labelled import LabelledFrame, kitti_frames, sustech_frames
from pointcloud.fitting import FitError
from pointcloud.iou import bev_iou, iou_pairs
from pointcloud.prelabel import detect
from pointcloud.propagate import ego_motion, move_box, propagate_box
from pointcloud.spatial import GridIndex
from server.geometry import fit_in_frame
from server.priors import class_priors, size_prior

REPORTED = ("Car", "Pedestrian", "Truck", "Bus")
"""Classes reported separately; ``all`` covers every box."""
CENTRE_ERROR = 0.7
"""Metres: a hurried box's centre is off by up to this (uniform in a disc)."""
YAW_ERROR = math.radians(15.0)
"""Radians: a hurried box's yaw is off by up to this (uniform)."""
PRELABEL_RANGE = 40.0
"""Metres: pre-labels and human boxes further from the sensor are not scored."""
KITTI_VIEW = math.radians(40.0)
"""Radians: KITTI labels only what the front camera sees (about +-40 degrees)."""


def hurried_box(human: NDArray[np.float64], label: str, rng: np.random.Generator) -> list[float]:
    """A rough box as a hurried drag makes it: the class default size standing where the human's
    box stands, centre off by up to CENTRE_ERROR, yaw off by up to YAW_ERROR."""
    size = size_prior(label) or (1.0, 1.0, 1.0)
    r, angle = CENTRE_ERROR * math.sqrt(rng.uniform()), rng.uniform(-math.pi, math.pi)
    bottom = human[2] - human[5] / 2
    return [
        float(human[0] + r * math.cos(angle)), float(human[1] + r * math.sin(angle)),
        float(bottom + size[2] / 2), *size, float(human[6] + rng.uniform(-YAW_ERROR, YAW_ERROR)),
    ]  # fmt: skip


def fit_figures(frames: list[LabelledFrame]) -> dict[str, Any]:
    """Mean 3D IoU to the human box of the hurried box (before) and of its auto-fit (after)."""
    rng = np.random.default_rng(13)
    rows: list[tuple[str, float, float]] = []
    for frame in frames:
        grid = GridIndex(frame.points)
        for human, label in zip(frame.boxes, frame.classes, strict=True):
            rough = hurried_box(human, label, rng)
            before = float(iou_pairs(np.array([rough]), human[None])[0])
            try:
                fit = fit_in_frame(grid, (0.0, 0.0, 0.0), rough, label=label)
                box = np.array([[*fit["center"], *fit["size"], fit["yaw"]]])
                after = float(iou_pairs(box, human[None])[0])
            except FitError:
                after = 0.0
            rows.append((label, before, after))
    before_by, after_by, count_by = {}, {}, {}
    for name in (*REPORTED, "all"):
        chosen = [r for r in rows if name in ("all", r[0])]
        count_by[name] = len(chosen)
        before_by[name] = float(np.mean([r[1] for r in chosen])) if chosen else None
        after_by[name] = float(np.mean([r[2] for r in chosen])) if chosen else None
    return {"fit_iou_before": before_by, "fit_iou_after": after_by, "fit_boxes": count_by}


def run_assist(data_dir: Path) -> dict[str, Any]:
    """Run the assist suite on ``data_dir`` (../shared/data) and return JSON-able figures."""
    sustech, kitti = sustech_frames(data_dir), kitti_frames(data_dir)
    out: dict[str, Any] = {"notes": []}
    if not sustech and not kitti:
        out["notes"].append(f"no labelled frames under {data_dir}: assist figures skipped")
        return out
    out.update(fit_figures(sustech + kitti))
    out.update(prelabel_figures(sustech + kitti))
    if len(sustech) >= 2:
        out.update(propagation_figures(sustech))
    return out


def propagation_figures(frames: list[LabelledFrame]) -> dict[str, Any]:
    """Mean 3D IoU of human boxes carried one frame forward, against the next frame's human box.

    ``frames`` is one sequence in order (SUSTechPOINTS: frame names are 10 Hz
    numbers). No ego poses: ego motion comes from scan-to-scan ICP. The
    velocity prior is the track's motion over the previous pair when it was
    seen there. ``propagation_iou_copy`` is the same box left where it was
    (the old ``C``).
    """
    ious, copies = [], []
    by_gap: dict[str, list[float]] = {}
    velocity: dict[str, NDArray[np.float64]] = {}
    for prev, nxt in zip(frames, frames[1:], strict=False):
        dt = (int(nxt.name) - int(prev.name)) / 10.0
        motion = ego_motion(prev.points, nxt.points)
        following = dict(zip(nxt.tracks, nxt.boxes, strict=True))
        moved_now: dict[str, NDArray[np.float64]] = {}
        for track, box in zip(prev.tracks, prev.boxes, strict=True):
            if track not in following:
                continue
            v = velocity.get(track)
            out = propagate_box(box, prev.points, nxt.points, motion=motion, velocity=v, dt=dt)
            truth = following[track][None]
            ious.append(float(iou_pairs(out[None], truth)[0]))
            by_gap.setdefault(f"{dt:.1f}", []).append(ious[-1])
            copies.append(float(iou_pairs(box[None], truth)[0]))
            moved_now[track] = (following[track][:2] - move_box(box, motion)[:2]) / dt
        velocity = moved_now
    return {
        "propagation_iou": float(np.mean(ious)) if ious else None,
        "propagation_iou_copy": float(np.mean(copies)) if copies else None,
        "propagation_boxes": len(ious),
        "propagation_iou_by_gap_s": {gap: float(np.mean(v)) for gap, v in by_gap.items()},
    }


def _labelled_view(frame: LabelledFrame, boxes: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Boxes within PRELABEL_RANGE of the sensor and, for KITTI (labelled in the camera's view
    only), in front of it within KITTI_VIEW of straight ahead."""
    centre = boxes[:, :2]
    ok = np.hypot(centre[:, 0], centre[:, 1]) <= PRELABEL_RANGE
    if frame.source == "kitti":
        ok &= np.abs(np.arctan2(centre[:, 1], centre[:, 0])) <= KITTI_VIEW
    return np.asarray(ok)


def prelabel_figures(frames: list[LabelledFrame]) -> dict[str, Any]:
    """Car recall and precision of the CPU pre-labels at BEV IoU >= 0.5 within PRELABEL_RANGE,
    and seconds per frame on the largest frame (best of 3)."""
    priors = class_priors()
    found = missed = wrong = 0
    for frame in frames:
        dets = [d for d in detect(frame.points, priors) if d.label == "Car"]
        ours = np.array([d.box for d in dets]).reshape(-1, 7)
        ours = ours[_labelled_view(frame, ours)]
        human = np.array(
            [b for b, c in zip(frame.boxes, frame.classes, strict=True) if c == "Car"]
        ).reshape(-1, 7)
        human = human[_labelled_view(frame, human)]
        iou = (
            bev_iou(human, ours) if len(human) and len(ours) else np.zeros((len(human), len(ours)))
        )
        hit = iou.max(axis=1) >= 0.5 if len(ours) else np.zeros(len(human), dtype=np.bool_)
        found += int(hit.sum())
        missed += int((~hit).sum())
        wrong += int((iou.max(axis=0) < 0.5).sum()) if len(human) else len(ours)
    biggest = max(frames, key=lambda f: f.points.shape[0])
    seconds = math.inf
    for _ in range(3):
        start = time.perf_counter()
        detect(biggest.points, priors)
        seconds = min(seconds, time.perf_counter() - start)
    return {
        "prelabel_car_recall_iou50": found / (found + missed) if found + missed else None,
        "prelabel_car_precision_iou50": found / (found + wrong) if found + wrong else None,
        "prelabel_car_boxes": found + missed,
        "prelabel_s_per_frame": seconds,
        "prelabel_frame_points": int(biggest.points.shape[0]),
    }
