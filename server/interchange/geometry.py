"""Rotations for the interchange formats: Euler angles, quaternions and 4x4 poses.

Euler angles are (yaw, pitch, roll) in radians with rotation
``Rz(yaw) @ Ry(pitch) @ Rx(roll)``. Quaternions are (w, x, y, z) unless a
function says otherwise.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from server.validation import normalize_yaw

Quat = tuple[float, float, float, float]


def euler_to_quat(yaw: float, pitch: float, roll: float) -> Quat:
    """The unit quaternion (w, x, y, z) of ``Rz(yaw) @ Ry(pitch) @ Rx(roll)``."""
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    return (
        cr * cp * cy + sr * sp * sy,
        sr * cp * cy - cr * sp * sy,
        cr * sp * cy + sr * cp * sy,
        cr * cp * sy - sr * sp * cy,
    )


def quat_to_euler(q: Quat) -> tuple[float, float, float]:
    """(yaw, pitch, roll) of a quaternion (w, x, y, z); normalised first."""
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    roll = math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = math.asin(max(-1.0, min(1.0, 2 * (w * y - z * x))))
    yaw = math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return normalize_yaw(yaw), pitch, roll


def quat_to_matrix(q: Quat) -> NDArray[np.float64]:
    """The 3x3 rotation matrix of a quaternion (w, x, y, z)."""
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def matrix_to_quat(m: NDArray[np.float64]) -> Quat:
    """The quaternion (w, x, y, z) of a 3x3 rotation matrix (w >= 0)."""
    yaw = math.atan2(m[1, 0], m[0, 0])
    pitch = math.asin(max(-1.0, min(1.0, -m[2, 0])))
    roll = math.atan2(m[2, 1], m[2, 2])
    w, x, y, z = euler_to_quat(yaw, pitch, roll)
    return (w, x, y, z) if w >= 0 else (-w, -x, -y, -z)


def pose_to_tq(pose: list[list[float]]) -> tuple[list[float], list[float]]:
    """A 4x4 pose as (translation [x, y, z], rotation quaternion [w, x, y, z])."""
    m = np.asarray(pose, dtype=np.float64)
    return [float(v) for v in m[:3, 3]], [float(v) for v in matrix_to_quat(m[:3, :3])]


def tq_to_pose(translation: list[float], rotation: list[float]) -> list[list[float]]:
    """A row-major 4x4 pose from a translation and a quaternion (w, x, y, z)."""
    m = np.eye(4)
    m[:3, :3] = quat_to_matrix(tuple(float(v) for v in rotation))  # type: ignore[arg-type]
    m[:3, 3] = [float(v) for v in translation]
    return [[float(v) for v in row] for row in m]
