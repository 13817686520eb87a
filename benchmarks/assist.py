"""The assist suite: auto-fit from a hurried box, propagation one frame forward, pre-labels.

Measured on the real human boxes of ../shared/data (SUSTechPOINTS and KITTI);
figures are None with a note when the data is absent. IoU is 3D IoU
(yaw-only, :mod:`pointcloud.iou`) unless named BEV. Random perturbations use
fixed seeds, so runs are comparable.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from benchmarks.labelled import LabelledFrame, kitti_frames, sustech_frames
from pointcloud.fitting import FitError
from pointcloud.iou import iou_pairs
from pointcloud.propagate import ego_motion, move_box, propagate_box
from pointcloud.spatial import GridIndex
from server.geometry import fit_in_frame
from server.priors import size_prior

REPORTED = ("Car", "Pedestrian", "Truck", "Bus")
"""Classes reported separately; ``all`` covers every box."""
CENTRE_ERROR = 0.7
"""Metres: a hurried box's centre is off by up to this (uniform in a disc)."""
YAW_ERROR = math.radians(15.0)
"""Radians: a hurried box's yaw is off by up to this (uniform)."""


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
