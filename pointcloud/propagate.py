"""Carry a box from one frame to the next: ego motion, a constant-velocity prior, ICP of its points.

Frames are (M, 3) point arrays in metres in their own sensor frame (z up).
A pose is a 4x4 frame-to-world matrix; a box is ``[cx, cy, cz, l, w, h, yaw]``
(metres, radians) as in :mod:`pointcloud.boxes`. Registration uses open3d's
point-to-point ICP.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pointcloud.boxes import as_points, normalize_yaw, points_in_box

__all__ = [
    "ego_motion",
    "move_box",
    "propagate_box",
    "register_object",
]

EGO_VOXEL = 0.4
"""Metres: both scans are thinned to this voxel before scan-to-scan ICP."""
EGO_REACH = 12.0
"""Metres: the first, coarse scan-to-scan ICP pass pairs points up to this far apart."""
EGO_MAX_DISTANCE = 1.5
"""Metres: ICP correspondences further apart than this are ignored (scan to scan)."""
OBJECT_SEARCH = 1.0
"""Metres: the next frame's points within the predicted box grown by this are the target."""
OBJECT_MAX_DISTANCE = 0.6
"""Metres: ICP correspondences further apart than this are ignored (object)."""
GROUND_CLEARANCE = 0.25
"""Metres above a box's bottom below which points are taken as ground and not registered."""
MAX_TURN = math.radians(20.0)
"""Radians: an ICP result turning the box more than this from the prediction is not trusted."""
MIN_OBJECT_POINTS = 10
MAX_SPEED = 15.0
"""m/s: the fastest an object of unknown velocity is looked for (along its heading)."""
MAX_SMALL_SPEED = 3.0
"""m/s: the fastest a small object (shorter than SMALL metres) is looked for, in any direction."""
SMALL = 2.5
"""Metres: an object this short (pedestrian, cyclist) may head anywhere; its yaw says little."""
"""Fewer object points than this: the prediction is kept as it is."""


def _yaw_of(matrix: NDArray[np.float64]) -> float:
    return math.atan2(float(matrix[1, 0]), float(matrix[0, 0]))


def move_box(box: ArrayLike, transform: ArrayLike) -> NDArray[np.float64]:
    """``box`` (7,) moved by the 4x4 rigid ``transform`` (only its yaw part turns the box)."""
    b = np.array(box, dtype=np.float64).reshape(7)
    t = np.asarray(transform, dtype=np.float64).reshape(4, 4)
    b[:3] = t[:3, :3] @ b[:3] + t[:3, 3]
    b[6] = normalize_yaw(b[6] + _yaw_of(t))
    return b


def _cloud(points: NDArray[np.float64]) -> object:
    import open3d as o3d

    cloud = o3d.geometry.PointCloud()
    cloud.points = o3d.utility.Vector3dVector(np.ascontiguousarray(points, dtype=np.float64))
    return cloud


def _icp(
    source: NDArray[np.float64], target: NDArray[np.float64], init: NDArray[np.float64], dist: float
) -> tuple[NDArray[np.float64], float]:
    """(4x4 transform, fitness) of point-to-point ICP from ``source`` to ``target``."""
    import open3d as o3d

    reg = o3d.pipelines.registration
    result = reg.registration_icp(
        _cloud(source), _cloud(target), dist, init, reg.TransformationEstimationPointToPoint(),
        reg.ICPConvergenceCriteria(max_iteration=40),
    )  # fmt: skip
    return np.asarray(result.transformation, dtype=np.float64), float(result.fitness)


def _level(transform: NDArray[np.float64]) -> NDArray[np.float64]:
    """The yaw-and-translation part of a rigid transform (pitch and roll dropped)."""
    yaw = _yaw_of(transform)
    out = np.eye(4)
    out[:2, :2] = [[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]]
    out[:3, 3] = transform[:3, 3]
    return out


def _above_ground(points: NDArray[np.float64]) -> NDArray[np.float64]:
    """``points`` thinned to EGO_VOXEL without the dominant ground plane (RANSAC, fixed seed)."""
    import open3d as o3d

    o3d.utility.random.seed(0)
    cloud = _cloud(points).voxel_down_sample(EGO_VOXEL)  # type: ignore[attr-defined]
    if len(cloud.points) < 10:
        return np.asarray(cloud.points)
    _, ground = cloud.segment_plane(0.2, 3, 200)
    keep = np.ones(len(cloud.points), dtype=np.bool_)
    keep[np.asarray(ground, dtype=np.int64)] = False
    return np.asarray(cloud.points)[keep]


def ego_motion(previous: ArrayLike, following: ArrayLike) -> NDArray[np.float64]:
    """The 4x4 transform from the ``previous`` scan's frame to the ``following`` one's, by ICP.

    For scenes without poses. The ground (which slides along itself and
    tells nothing about motion along the road) is removed, both scans are
    thinned to EGO_VOXEL metres, and ICP runs coarse to fine: correspondences
    within EGO_REACH, then a tenth of it, then EGO_MAX_DISTANCE. Moving
    objects are a minority of the points and do not pull the result far.
    """
    src, dst = (_above_ground(as_points(p).astype(np.float64)) for p in (previous, following))
    transform = np.eye(4)
    if min(src.shape[0], dst.shape[0]) < 10:
        return transform
    for dist in (EGO_REACH, EGO_REACH / 4.0, EGO_MAX_DISTANCE, EGO_MAX_DISTANCE / 3.0):
        transform, _ = _icp(src, dst, transform, dist)
    return _level(transform)


def register_object(
    box: ArrayLike, previous: ArrayLike, following: ArrayLike, predicted: ArrayLike
) -> NDArray[np.float64]:
    """:func:`_register` without its score."""
    return _register(box, previous, following, predicted)[0]


def _register(
    box: ArrayLike, previous: ArrayLike, following: ArrayLike, predicted: ArrayLike
) -> tuple[NDArray[np.float64], float]:
    """The box in the following frame: ``predicted`` refined by ICP of the object's points.

    The object's points are those of ``previous`` inside ``box`` (above its
    bottom GROUND_CLEARANCE); the target is ``following`` within
    ``predicted`` grown by OBJECT_SEARCH metres (same clearance). ICP starts
    at the motion from ``box`` to ``predicted``, runs coarse to fine and is
    kept level (yaw and translation). With too few points on either side, a
    poor match (under 30% of the points paired), or a result more than
    OBJECT_SEARCH metres or MAX_TURN from the prediction, the prediction is
    returned. The score is ICP's fitness (share of the object's points
    paired within OBJECT_MAX_DISTANCE / 3 metres), -1 for a prediction returned as it was.
    """
    b = np.asarray(box, dtype=np.float64).reshape(7)
    p = np.asarray(predicted, dtype=np.float64).reshape(7)
    src = as_points(previous).astype(np.float64)
    src = src[points_in_box(src, b, margin=0.1)]
    src = src[src[:, 2] > b[2] - b[5] / 2 + GROUND_CLEARANCE]
    grown = p.copy()
    grown[3:5] += 2.0 * OBJECT_SEARCH
    grown[5] += 0.4
    dst = as_points(following).astype(np.float64)
    dst = dst[points_in_box(dst, grown)]
    dst = dst[dst[:, 2] > p[2] - p[5] / 2 + GROUND_CLEARANCE]
    if src.shape[0] < MIN_OBJECT_POINTS or dst.shape[0] < MIN_OBJECT_POINTS:
        return p, -1.0
    transform = _box_motion(b, p)
    for dist in (2.0 * OBJECT_MAX_DISTANCE, OBJECT_MAX_DISTANCE, OBJECT_MAX_DISTANCE / 3.0):
        transform, fitness = _icp(src, dst, transform, dist)
    moved = move_box(b, _level(transform))
    moved[2] = p[2]
    jump = float(np.hypot(*(moved[:2] - p[:2])))
    if fitness < 0.3 or jump > OBJECT_SEARCH or abs(normalize_yaw(moved[6] - p[6])) > MAX_TURN:
        return p, -1.0
    return moved, fitness


def _box_motion(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """The level rigid transform taking box ``a``'s pose to box ``b``'s."""
    turn = float(b[6] - a[6])
    c, s = math.cos(turn), math.sin(turn)
    out = np.eye(4)
    out[:2, :2] = [[c, -s], [s, c]]
    out[:3, 3] = b[:3] - out[:3, :3] @ a[:3]
    return out


def propagate_box(
    box: ArrayLike,
    previous: ArrayLike,
    following: ArrayLike,
    *,
    motion: ArrayLike | None = None,
    velocity: ArrayLike | None = None,
    dt: float = 0.1,
) -> NDArray[np.float64]:
    """Where ``box`` (in the ``previous`` frame) is in the ``following`` frame: a new (7,) box.

    ``motion`` is the 4x4 transform from the previous frame's coordinates to
    the following one's: ``inv(pose_following) @ pose_previous`` when the
    scene has ego poses, else :func:`ego_motion` of the two scans is used.
    ``velocity`` (m/s, in the following frame's axes) times ``dt`` (seconds)
    is the object's own constant-velocity step. Without a velocity (a track's
    first step) predictions are tried every OBJECT_SEARCH metres along the
    heading up to MAX_SPEED * dt either way (for a small object also across
    it, up to MAX_SMALL_SPEED * dt). Each prediction is refined by ICP
    (:func:`register_object`) and the best-matching one kept. Size is kept:
    a tracked object does not change size.
    """
    b = np.asarray(box, dtype=np.float64).reshape(7)
    t = ego_motion(previous, following) if motion is None else np.asarray(motion, np.float64)
    still = move_box(b, t)
    heading = np.array([math.cos(still[6]), math.sin(still[6])])
    if velocity is None:
        steps = _trial_steps(heading, float(b[3]), dt)
    else:
        steps = [np.asarray(velocity, dtype=np.float64).reshape(2) * dt]
    best, best_score = still, -math.inf
    for step in steps:
        predicted = still.copy()
        predicted[:2] += step
        moved, score = _register(b, previous, following, predicted)
        if score > best_score + 0.05:
            best, best_score = moved, score
    return best


def _trial_steps(
    heading: NDArray[np.float64], length: float, dt: float
) -> list[NDArray[np.float64]]:
    """Displacements (metres, BEV) to try for an object of unknown velocity, nearest first."""
    reach = MAX_SPEED * dt
    along = np.arange(-reach, reach + 1e-9, OBJECT_SEARCH)
    steps = [heading * d for d in along]
    if length < SMALL:
        side = np.array([-heading[1], heading[0]])
        small = np.arange(-MAX_SMALL_SPEED * dt, MAX_SMALL_SPEED * dt + 1e-9, OBJECT_SEARCH)
        steps = [heading * a + side * c for a in small for c in small] + steps
    return sorted(steps, key=lambda v: float(np.hypot(*v)))
