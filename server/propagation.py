"""Track a box forward through a scene's frames: ego poses (or scan ICP), constant velocity, ICP.

Boxes are in each frame's absolute coordinates (metres, radians), like the
rest of the API. The maths lives in :mod:`pointcloud.propagate`.
"""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pointcloud.propagate import ego_motion, move_box, propagate_box
from server.frames import FrameStore
from server.models import Frame

DEFAULT_DT = 0.1
"""Seconds between frames when the scene has no timestamps (10 Hz lidar)."""


def _frames(engine: Engine, scene_id: int, first: int, last: int) -> dict[int, Frame]:
    with Session(engine) as session:
        rows = session.exec(
            select(Frame).where(
                Frame.scene_id == scene_id, Frame.index >= first, Frame.index <= last
            )
        ).all()
    return {f.index: f for f in rows}


def _points(store: FrameStore, storage: str, frame: Frame) -> NDArray[np.float64]:
    local = store.local_points(storage, frame.index).astype(np.float64)
    return local + np.array([frame.offset_x, frame.offset_y, frame.offset_z])


_ICP_MOTIONS: OrderedDict[tuple[str, int, int], NDArray[np.float64]] = OrderedDict()
_ICP_LOCK = Lock()
ICP_CACHE = 64
"""Scan-to-scan motions kept (a frame pair's scans do not change)."""


def _motion(
    storage: str, a: Frame, b: Frame, pa: NDArray[np.float64], pb: NDArray[np.float64]
) -> tuple[NDArray[np.float64], str]:
    """Frame a -> frame b coordinates, and where it came from ("poses" or "icp")."""
    if a.pose is not None and b.pose is not None:
        to_b = np.linalg.inv(np.asarray(b.pose, np.float64))
        return to_b @ np.asarray(a.pose, np.float64), "poses"
    key = (storage, a.index, b.index)
    with _ICP_LOCK:
        if key in _ICP_MOTIONS:
            return _ICP_MOTIONS[key], "icp"
    motion = ego_motion(pa, pb)
    with _ICP_LOCK:
        _ICP_MOTIONS[key] = motion
        while len(_ICP_MOTIONS) > ICP_CACHE:
            _ICP_MOTIONS.popitem(last=False)
    return motion, "icp"


def _dt(a: Frame, b: Frame) -> float:
    if a.timestamp is not None and b.timestamp is not None and b.timestamp > a.timestamp:
        return float(b.timestamp - a.timestamp)
    return DEFAULT_DT * (b.index - a.index)


def propagate(
    engine: Engine,
    store: FrameStore,
    *,
    scene_id: int,
    storage: str,
    index: int,
    box: list[float],
    count: int,
    previous: tuple[int, list[float]] | None = None,
) -> list[dict[str, Any]]:
    """The box in frames ``index + 1 .. index + count`` (fewer at the scene's end).

    ``box`` is ``[cx, cy, cz, l, w, h, yaw]`` in frame ``index``; ``previous``
    is (frame, box) of the same track in an earlier frame, which gives the
    starting velocity. Each step: frame-to-frame motion from the ego poses
    (or scan-to-scan ICP without them), the track's velocity so far, then
    ICP of the box's points (:func:`pointcloud.propagate.propagate_box`).
    Each result is ``{frame, center, size, yaw, motion}``.
    """
    first = previous[0] if previous is not None else index
    rows = _frames(engine, scene_id, min(first, index), index + count)
    out: list[dict[str, Any]] = []
    current = np.asarray(box, dtype=np.float64)
    points = _points(store, storage, rows[index])
    velocity: NDArray[np.float64] | None = None
    if previous is not None and previous[0] in rows and previous[0] < index:
        back = rows[previous[0]]
        motion, _ = _motion(storage, back, rows[index], _points(store, storage, back), points)
        moved = move_box(np.asarray(previous[1], dtype=np.float64), motion)
        velocity = (current[:2] - moved[:2]) / _dt(back, rows[index])
    for k in range(index + 1, index + count + 1):
        if k not in rows:
            break
        following = _points(store, storage, rows[k])
        motion, source = _motion(storage, rows[k - 1], rows[k], points, following)
        dt = _dt(rows[k - 1], rows[k])
        nxt = propagate_box(current, points, following, motion=motion, velocity=velocity, dt=dt)
        velocity = (nxt[:2] - move_box(current, motion)[:2]) / dt
        out.append({"frame": k, "center": [float(v) for v in nxt[:3]],
                    "size": [float(v) for v in nxt[3:6]], "yaw": float(nxt[6]),
                    "motion": source})  # fmt: skip
        current, points = nxt, following
    return out
