"""Calibrated cameras: project lidar points and box wireframes into an image.

A camera is a pinhole with intrinsics ``K`` (3x3, pixels), an extrinsic
``lidar_to_camera`` (4x4: lidar frame, metres -> camera frame: x right, y
down, z forward) and optional Brown-Conrady distortion ``(k1, k2, p1, p2,
k3)``. Pixel coordinates are (u, v) with the origin at the top-left corner
of the top-left pixel's centre, as in OpenCV and the KITTI devkit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pointcloud.boxes import box_corners

__all__ = [
    "BOX_EDGES",
    "Camera",
    "box_wireframe",
    "kitti_camera",
    "project_points",
    "sustech_camera",
]

NEAR = 0.1
"""Metres in front of the camera: the near plane where wireframes are clipped."""
BOX_EDGES = (
    (0, 1), (1, 2), (2, 3), (3, 0),  # bottom face
    (4, 5), (5, 6), (6, 7), (7, 4),  # top face
    (0, 4), (1, 5), (2, 6), (3, 7),  # verticals
)  # fmt: skip
"""The 12 edges of a box as pairs of :func:`pointcloud.boxes.box_corners` indices."""


@dataclass(frozen=True)
class Camera:
    """One calibrated camera (see the module docstring); ``size`` is (width, height) in pixels."""

    name: str
    intrinsic: NDArray[np.float64]
    lidar_to_camera: NDArray[np.float64]
    size: tuple[int, int]
    distortion: tuple[float, ...] = field(default=())

    def to_camera(self, points: ArrayLike) -> NDArray[np.float64]:
        """(N, 3) lidar points in the camera frame (metres, z forward)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        t = self.lidar_to_camera
        return np.asarray(pts @ t[:3, :3].T + t[:3, 3], dtype=np.float64)

    def pixels(self, cam: NDArray[np.float64]) -> NDArray[np.float64]:
        """(N, 2) pixels of camera-frame points with z > 0 (distortion applied when given)."""
        x, y = cam[:, 0] / cam[:, 2], cam[:, 1] / cam[:, 2]
        if self.distortion:
            k1, k2, p1, p2, k3 = (list(self.distortion) + [0.0] * 5)[:5]
            r2 = x * x + y * y
            radial = 1 + k1 * r2 + k2 * r2 * r2 + k3 * r2 * r2 * r2
            x, y = (
                x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x),
                y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y,
            )
        k = self.intrinsic
        return np.c_[k[0, 0] * x + k[0, 1] * y + k[0, 2], k[1, 1] * y + k[1, 2]]


def project_points(
    points: ArrayLike, camera: Camera
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Pixels (N, 2), depth (N,) in metres along the optical axis, and (N,) True where the
    point is in front of the camera (depth > NEAR) and inside the image."""
    cam = camera.to_camera(points)
    depth = cam[:, 2]
    front = depth > NEAR
    uv = np.full((cam.shape[0], 2), np.nan)
    uv[front] = camera.pixels(cam[front])
    w, h = camera.size
    with np.errstate(invalid="ignore"):
        inside = front & (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
    return uv, depth, np.asarray(inside)


def box_wireframe(box: ArrayLike, camera: Camera, *, near: float = NEAR) -> NDArray[np.float64]:
    """The box's edges in the image: (S, 2, 2) pixel segments, at most 12.

    Each edge is clipped to the part in front of the plane ``z = near``
    (metres, camera frame) before it is projected: an edge wholly behind the
    camera is left out, and one crossing the plane ends on it. Nothing is
    projected from behind the camera, so a box around or behind the camera
    never draws mirrored lines. Segments are not clipped to the image
    rectangle (the canvas does that).
    """
    corners = camera.to_camera(box_corners(np.asarray(box, dtype=np.float64).reshape(1, -1))[0])
    segments = []
    for a, b in BOX_EDGES:
        p, q = corners[a], corners[b]
        if p[2] < near and q[2] < near:
            continue
        if p[2] < near or q[2] < near:
            t = (near - p[2]) / (q[2] - p[2])
            cut = p + t * (q - p)
            p, q = (cut, q) if p[2] < near else (p, cut)
        segments.append(camera.pixels(np.array([p, q])))
    return np.array(segments, dtype=np.float64).reshape(-1, 2, 2)


def kitti_camera(calib: Mapping[str, Sequence[float]], *, camera: str = "P2",
                 size: tuple[int, int] = (1242, 375)) -> Camera:  # fmt: skip
    """A KITTI object-benchmark camera (default: the left colour camera, image_2).

    The devkit projects a lidar point X with ``P2 @ R0_rect @ Tr_velo_to_cam @ X``.
    ``P2 = K @ [I | t]`` carries the offset from the reference camera, so the
    intrinsic is ``P2[:, :3]`` and the extrinsic is
    ``[I | K^-1 P2[:, 3]] @ R0_rect @ Tr_velo_to_cam``.
    """
    p = np.reshape(np.asarray(calib[camera], dtype=np.float64), (3, 4))
    r0, tr, offset = np.eye(4), np.eye(4), np.eye(4)
    r0[:3, :3] = np.reshape(np.asarray(calib["R0_rect"], dtype=np.float64), (3, 3))
    tr[:3, :4] = np.reshape(np.asarray(calib["Tr_velo_to_cam"], dtype=np.float64), (3, 4))
    k = p[:, :3]
    offset[:3, 3] = np.linalg.solve(k, p[:, 3])
    return Camera(camera, k, offset @ r0 @ tr, size)


def sustech_camera(
    calib: Mapping[str, Sequence[float]], name: str, size: tuple[int, int]
) -> Camera:
    """A SUSTechPOINTS camera from ``calib/<name>.json``: ``extrinsic`` (16 numbers, row-major,
    lidar to camera) and ``intrinsic`` (9 numbers, row-major)."""
    extrinsic = np.reshape(np.asarray(calib["extrinsic"], dtype=np.float64), (4, 4))
    intrinsic = np.reshape(np.asarray(calib["intrinsic"], dtype=np.float64), (3, 3))
    return Camera(name, intrinsic, extrinsic, size)
