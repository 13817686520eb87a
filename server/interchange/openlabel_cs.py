"""OpenLABEL coordinate systems: transform chains and cuboid values.

Conventions (ASAM OpenLABEL 1.0, as the ``vcd`` reference implementation reads
them): a coordinate system's ``pose_wrt_parent`` is the transform that maps
points in the child into the parent (pose of A w.r.t. B = transform A -> B).
A transform is a row-major ``matrix4x4``, a ``quaternion`` (x, y, z, w) with a
``translation``, or ``euler_angles`` with a ``translation`` and a
``sequence`` (default ``ZYX``: angles (rz, ry, rx), ``R = Rz @ Ry @ Rx``).
A frame's ``frame_properties.transforms`` entries (``src``, ``dst``,
``transform_src_to_dst``) replace the static pose of that edge in that frame,
or add an edge. A 9-value cuboid is (x, y, z, rx, ry, rz, sx, sy, sz) with
``R = Rz(rz) @ Ry(ry) @ Rx(rx)``; a 10-value cuboid is (x, y, z, qx, qy, qz,
qw, sx, sy, sz). Lengths in metres, angles in radians.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np
from numpy.typing import NDArray

from server.interchange.geometry import quat_to_matrix

Matrix4 = NDArray[np.float64]
Edges = dict[tuple[str, str], Matrix4]


def _axis(name: str, angle: float) -> NDArray[np.float64]:
    c, s = math.cos(angle), math.sin(angle)
    if name == "X":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]], dtype=np.float64)
    if name == "Y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=np.float64)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=np.float64)


def transform_matrix(data: Any) -> Matrix4 | None:
    """The 4x4 matrix of an OpenLABEL transform (``pose_wrt_parent`` or
    ``transform_src_to_dst``), or None when it is not one."""
    if not isinstance(data, dict):
        return None
    try:
        if "matrix4x4" in data:
            m = np.asarray(data["matrix4x4"], dtype=np.float64).reshape(4, 4)
        elif "quaternion" in data:
            qx, qy, qz, qw = (float(v) for v in data["quaternion"])
            m = np.eye(4)
            m[:3, :3] = quat_to_matrix((qw, qx, qy, qz))
            m[:3, 3] = [float(v) for v in data.get("translation", (0, 0, 0))]
        elif "euler_angles" in data:
            seq = str(data.get("sequence", "ZYX")).upper()
            angles = [float(v) for v in data["euler_angles"]]
            if len(seq) != 3 or set(seq) - set("XYZ") or len(angles) != 3:
                return None
            m = np.eye(4)
            m[:3, :3] = (
                _axis(seq[0], angles[0]) @ _axis(seq[1], angles[1]) @ _axis(seq[2], angles[2])
            )
            m[:3, 3] = [float(v) for v in data.get("translation", (0, 0, 0))]
        else:
            return None
    except (TypeError, ValueError):
        return None
    return m if np.all(np.isfinite(m)) else None


def cuboid_pose(val: list[float]) -> tuple[Matrix4, tuple[float, float, float]]:
    """A 9- or 10-value cuboid as (object -> coordinate system 4x4 pose, (sx, sy, sz))."""
    m = np.eye(4)
    m[:3, 3] = val[:3]
    if len(val) == 10:
        qx, qy, qz, qw = val[3:7]
        m[:3, :3] = quat_to_matrix((qw, qx, qy, qz))
    else:
        rx, ry, rz = val[3:6]
        m[:3, :3] = _axis("Z", rz) @ _axis("Y", ry) @ _axis("X", rx)
    sx, sy, sz = val[-3:]
    return m, (sx, sy, sz)


def upright(
    pose: Matrix4, size: tuple[float, float, float]
) -> tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]:
    """The same cuboid as (centre, (length, width, height), (yaw, pitch, roll)) with its
    height along the object axis nearest to +z.

    A cuboid declared in a camera frame has its height along the camera's y
    axis; relabelling the object's axes (and permuting the size to match)
    gives the identical box in PointLabel's convention. The object's x axis
    (its heading) is kept unless it is the vertical one.
    """
    r = pose[:3, :3]
    up = int(np.argmax(np.abs(r[2, :])))
    fwd = 0 if up != 0 else 1
    z = r[:, up] * math.copysign(1.0, r[2, up])
    x = r[:, fwd]
    y = np.cross(z, x)
    rot = np.c_[x, y, z]
    side = 3 - up - fwd
    dims = (size[fwd], size[side], size[up])
    yaw = math.atan2(rot[1, 0], rot[0, 0])
    pitch = math.asin(max(-1.0, min(1.0, -rot[2, 0])))
    roll = math.atan2(rot[2, 1], rot[2, 2])
    centre = (float(pose[0, 3]), float(pose[1, 3]), float(pose[2, 3]))
    return centre, (float(dims[0]), float(dims[1]), float(dims[2])), (yaw, pitch, roll)


class CoordinateSystems:
    """The declared coordinate systems of a document and their static edges."""

    def __init__(self, doc: dict[str, Any]) -> None:
        declared = doc.get("coordinate_systems") or {}
        self.names: set[str] = set(declared) if isinstance(declared, dict) else set()
        self.static: Edges = {}
        self.assumed_identity: list[str] = []
        for name in sorted(self.names):
            cs = declared[name] if isinstance(declared[name], dict) else {}
            parent = cs.get("parent") or ""
            if parent not in self.names:
                continue
            m = transform_matrix(cs.get("pose_wrt_parent"))
            if m is None:
                self.assumed_identity.append(name)
                m = np.eye(4)
            self.static[(name, parent)] = m
        self.types = {
            n: str(declared[n].get("type", "")) for n in self.names if isinstance(declared[n], dict)
        }

    def frame_edges(self, frame: dict[str, Any]) -> tuple[Edges, set[tuple[str, str]]]:
        """The static edges overridden by a frame's transforms, and which edges are dynamic."""
        edges = dict(self.static)
        dynamic: set[tuple[str, str]] = set()
        props = frame.get("frame_properties") or {}
        for tr in (props.get("transforms") or {}).values():
            if not isinstance(tr, dict):
                continue
            src, dst = tr.get("src"), tr.get("dst")
            m = transform_matrix(tr.get("transform_src_to_dst"))
            if src in self.names and dst in self.names and m is not None:
                edges.pop((dst, src), None)
                edges[(src, dst)] = m
                dynamic.add((src, dst))
        return edges, dynamic

    def transform(
        self, src: str, dst: str, edges: Edges, dynamic: set[tuple[str, str]]
    ) -> tuple[Matrix4, bool] | None:
        """The src -> dst transform through ``edges`` (shortest chain), and whether any
        step of it is a per-frame transform; None when they are not connected."""
        if src == dst:
            return np.eye(4), False
        nxt: dict[str, list[tuple[str, Matrix4, bool]]] = {}
        for (a, b), m in edges.items():
            moving = (a, b) in dynamic
            nxt.setdefault(a, []).append((b, m, moving))
            nxt.setdefault(b, []).append(
                (a, np.asarray(np.linalg.inv(m), dtype=np.float64), moving)
            )
        seen = {src: (np.eye(4), False)}
        queue = deque([src])
        while queue:
            here = queue.popleft()
            m_here, moved = seen[here]
            for there, m, moving in nxt.get(here, []):
                if there not in seen:
                    seen[there] = (m @ m_here, moved or moving)
                    queue.append(there)
        return seen.get(dst)

    def world(self, lidar: str | None) -> str | None:
        """The world frame ego poses are given in: ``odom``, else a root ``scene_cs``,
        else ``world`` / ``map``."""
        if "odom" in self.names:
            return "odom"
        children = {c for c, _ in self.static}
        roots = [n for n in sorted(self.names) if n not in children and n != lidar]
        for n in roots:
            if self.types.get(n) == "scene_cs":
                return n
        for n in ("world", "map"):
            if n in self.names:
                return n
        return None
