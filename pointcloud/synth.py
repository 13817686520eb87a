"""Deterministic demo data: a simulated 64-beam spinning lidar driving down a street.

``generate_sequence`` writes one binary PCD per frame, the ego poses and the
ground-truth cuboids and behaviour tags (formats in ``docs/demo-data.md``).
Rays are cast with numpy into the scene of ``pointcloud.synth_scene``: the
ground (road, curbs, sidewalks) analytically, every box (buildings, poles and
the parts of vehicles and people) with the slab method, each box only against
the azimuth columns it covers. Points and cuboids are in each frame's sensor
frame (x forward, y left, z up, origin at the lidar); poses map sensor to world.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pointcloud.boxes import count_points_in_boxes
from pointcloud.io.pcd import write_pcd
from pointcloud.synth_scene import (
    CURB_HEIGHT,
    CURB_V,
    FRAME_DT,
    MARKINGS,
    SENSOR_HEIGHT,
    Box,
    Scene,
    actor_boxes,
    actor_state,
    build_scene,
    ego_state,
    road_rotation,
    wrap_angle,
)

FloatArray = NDArray[np.float64]

HDL64_ELEVATIONS_DEG: FloatArray = np.concatenate(
    [np.linspace(2.0, -8.33, 32), np.linspace(-8.87, -24.8, 32)]
)
"""Beam elevations in degrees, top to bottom, like a Velodyne HDL-64E."""
AZIMUTH_STEPS = 1750
MAX_RANGE = 120.0
MIN_RANGE = 1.0
RANGE_NOISE = 0.02
LABEL_RANGE = 80.0
"""Cuboids are written for objects whose centre is within this horizontal range (m)."""
_ASPHALT, _PAINT, _SIDEWALK, _CURB = 0.1, 0.65, 0.28, 0.38


@dataclass
class Hits:
    """Nearest hit per ray, each (A, B): range in metres (inf if none), albedo, |cos incidence|."""

    t: FloatArray
    refl: FloatArray
    cos: FloatArray

    def merge(
        self, cols: NDArray[np.intp], t: FloatArray, refl: FloatArray, cos: FloatArray
    ) -> None:
        """Keep, for the rays of columns ``cols``, whichever hit is nearer (in place)."""
        nearer = t < self.t[cols]
        self.t[cols] = np.where(nearer, t, self.t[cols])
        self.refl[cols] = np.where(nearer, refl, self.refl[cols])
        self.cos[cols] = np.where(nearer, cos, self.cos[cols])


@dataclass(frozen=True)
class Frame:
    """One simulated sweep, all in the sensor frame of that frame.

    ``points`` (N, 3) float32 metres; ``intensity`` (N,) float32 in 0..1;
    ``pose`` (4, 4) sensor-to-world; ``cuboids`` maps track id to its cuboid
    record (centre, size, yaw, points) for objects within LABEL_RANGE.
    """

    points: NDArray[np.float32]
    intensity: NDArray[np.float32]
    pose: FloatArray
    cuboids: dict[str, dict[str, Any]]


def beam_directions(azimuth_steps: int = AZIMUTH_STEPS) -> FloatArray:
    """Unit ray directions (A, B, 3) in the sensor frame.

    Column ``a`` is at azimuth ``2 pi a / A`` from +x towards +y; row ``b`` is
    beam ``b`` of HDL64_ELEVATIONS_DEG.
    """
    az = 2 * np.pi * np.arange(azimuth_steps) / azimuth_steps
    el = np.radians(HDL64_ELEVATIONS_DEG)
    ca, sa = np.cos(az)[:, None], np.sin(az)[:, None]
    ce, se = np.cos(el)[None, :], np.sin(el)[None, :]
    return np.stack(np.broadcast_arrays(ca * ce, sa * ce, se + 0 * ca), axis=-1)


def sensor_pose(t: float) -> FloatArray:
    """Sensor-to-world transform (4, 4) at time ``t`` seconds; world = pitched road frame."""
    u, v, yaw = ego_state(t)
    c, s = math.cos(yaw), math.sin(yaw)
    rz = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    road = road_rotation()
    pose = np.eye(4)
    pose[:3, :3] = road @ rz
    pose[:3, 3] = road @ np.array([u, v, SENSOR_HEIGHT])
    return pose


def _marking_albedo(u: FloatArray, v: FloatArray) -> FloatArray:
    """Albedo of the road surface at road-frame (u, v): asphalt or lane paint."""
    albedo = np.full(u.shape, _ASPHALT)
    dash = np.mod(u, 9.0) < 3.0
    for center, half, dashed in MARKINGS:
        on = np.abs(v - center) < half
        albedo[on & dash if dashed else on] = _PAINT
    return albedo


def _cast_ground(origin: FloatArray, dirs: FloatArray) -> Hits:
    """Hits on the road (w = 0), the curb faces (|v| = CURB_V) and the sidewalks (road frame)."""
    du, dv, dw = dirs[..., 0], dirs[..., 1], dirs[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        t_road = np.where(dw < 0, -origin[2] / dw, np.inf)
        t_walk = np.where(dw < 0, (CURB_HEIGHT - origin[2]) / dw, np.inf)
        t_curb = (np.copysign(CURB_V, dv) - origin[1]) / dv
    t_road[np.abs(origin[1] + t_road * dv) > CURB_V] = np.inf
    t_walk[np.abs(origin[1] + t_walk * dv) <= CURB_V] = np.inf
    w_curb = origin[2] + t_curb * dw
    t_curb[~((t_curb > 0) & (w_curb >= 0) & (w_curb <= CURB_HEIGHT))] = np.inf
    t = np.minimum(np.minimum(t_road, t_walk), t_curb)
    refl = np.where(t == t_walk, _SIDEWALK, _CURB)
    road = (t == t_road) & np.isfinite(t)
    refl[road] = _marking_albedo(origin[0] + t[road] * du[road], origin[1] + t[road] * dv[road])
    cos = np.where(t == t_curb, np.abs(dv), np.abs(dw))
    return Hits(t, refl, cos)


def _box_columns(origin: FloatArray, box: Box, yaw: float, steps: int) -> NDArray[np.intp]:
    """Azimuth columns whose rays can hit ``box`` from a sensor at ``origin`` with ``yaw``."""
    c, s = math.cos(box.yaw), math.sin(box.yaw)
    hx, hy = box.size[0] / 2, box.size[1] / 2
    corners = np.array([[hx, hy], [hx, -hy], [-hx, hy], [-hx, -hy]])
    du = box.center[0] - origin[0] + c * corners[:, 0] - s * corners[:, 1]
    dv = box.center[1] - origin[1] + s * corners[:, 0] + c * corners[:, 1]
    mid = math.atan2(box.center[1] - origin[1], box.center[0] - origin[0]) - yaw
    spread = np.mod(np.arctan2(dv, du) - yaw - mid + np.pi, 2 * np.pi) - np.pi
    step = 2 * np.pi / steps
    first = math.ceil((mid + float(spread.min())) / step)
    last = math.floor((mid + float(spread.max())) / step)
    return np.mod(np.arange(first, last + 1), steps)


def _cast_box(origin: FloatArray, dirs: FloatArray, box: Box, yaw: float, hits: Hits) -> None:
    """Slab-test ``box`` (road frame) against the rays of the columns it covers; merge hits."""
    cols = _box_columns(origin, box, yaw, dirs.shape[0])
    if cols.size == 0:
        return
    c, s = math.cos(box.yaw), math.sin(box.yaw)
    rot = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    local_origin = rot @ (origin - np.asarray(box.center))
    local_dirs = dirs[cols] @ rot.T
    local_dirs[local_dirs == 0] = 1e-12
    half = np.asarray(box.size) / 2
    inv = 1.0 / local_dirs
    t1, t2 = (-half - local_origin) * inv, (half - local_origin) * inv
    near_axes = np.minimum(t1, t2)
    near, far = near_axes.max(axis=-1), np.maximum(t1, t2).min(axis=-1)
    near[(near > far) | (near <= 0)] = np.inf
    axis = near_axes.argmax(axis=-1)[..., None]
    cos = np.abs(np.take_along_axis(local_dirs, axis, axis=-1))[..., 0]
    hits.merge(cols, near, np.full(near.shape, box.reflectivity), cos)


def _visible(origin: FloatArray, box: Box) -> bool:
    """Whether any part of ``box`` can lie within MAX_RANGE of ``origin``."""
    reach = float(np.linalg.norm(np.asarray(box.size))) / 2
    return float(np.linalg.norm(np.asarray(box.center) - origin)) - reach < MAX_RANGE


def cast_rays(scene: Scene, t: float, dirs: FloatArray) -> Hits:
    """Cast the sensor-frame rays ``dirs`` (A, B, 3) into ``scene`` at time ``t`` seconds."""
    u, v, yaw = ego_state(t)
    origin = np.array([u, v, SENSOR_HEIGHT])
    c, s = math.cos(yaw), math.sin(yaw)
    road_dirs = dirs @ np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    hits = _cast_ground(origin, road_dirs)
    boxes = list(scene.statics)
    for actor in scene.actors:
        boxes += actor_boxes(actor, actor_state(actor, t))
    for box in boxes:
        if _visible(origin, box):
            _cast_box(origin, road_dirs, box, yaw, hits)
    return hits


def _returns(
    hits: Hits, dirs: FloatArray, rng: np.random.Generator
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Noisy returns from ``hits``: points (N, 3) float32 sensor frame, intensity (N,) 0..1.

    Range gets gaussian noise (RANGE_NOISE); dark, far returns drop out more
    often; rays without a hit within MAX_RANGE give no point.
    """
    shape = hits.t.shape
    noise, drop, speckle = (
        rng.normal(0, RANGE_NOISE, shape),
        rng.random(shape),
        rng.normal(0, 0.01, shape),
    )
    with np.errstate(invalid="ignore"):
        rng_m = hits.t + noise
        reach = np.clip(hits.t / MAX_RANGE, 0.0, 1.0)
    p_drop = 0.002 + 0.3 * reach**2 * (1 - hits.refl)
    keep = np.isfinite(hits.t) & (rng_m >= MIN_RANGE) & (rng_m <= MAX_RANGE) & (drop >= p_drop)
    level = hits.refl * (0.3 + 0.7 * hits.cos) * (1 - 0.2 * reach) + speckle
    points = (rng_m[keep][:, None] * dirs[keep]).astype(np.float32)
    return points, np.clip(level[keep], 0.0, 1.0).astype(np.float32)


def _cuboids(scene: Scene, t: float, points: NDArray[np.float32]) -> dict[str, dict[str, Any]]:
    """Ground-truth cuboids in the sensor frame at time ``t`` for actors within LABEL_RANGE.

    Values are rounded as written to JSON and ``points`` is counted with the
    rounded cuboid, so a reader recounting the PCD gets the same number.
    """
    u, v, yaw = ego_state(t)
    c, s = math.cos(yaw), math.sin(yaw)
    out: dict[str, dict[str, Any]] = {}
    for actor in scene.actors:
        state = actor_state(actor, t)
        du, dv = state.center[0] - u, state.center[1] - v
        if math.hypot(du, dv) > LABEL_RANGE:
            continue
        z = state.center[2] + actor.size[2] / 2 - SENSOR_HEIGHT
        center = [round(c * du + s * dv, 4), round(-s * du + c * dv, 4), round(z, 4)]
        size = [round(x, 4) for x in actor.size]
        box_yaw = round(wrap_angle(state.yaw - yaw), 6)
        out[actor.track_id] = {"center": center, "size": size, "yaw": box_yaw}
    boxes = [[*b["center"], *b["size"], b["yaw"]] for b in out.values()]
    if boxes:
        for record, n in zip(out.values(), count_points_in_boxes(points, boxes), strict=True):
            record["points"] = int(n)
    return out


def simulate_frame(scene: Scene, index: int, *, seed: int, dirs: FloatArray) -> Frame:
    """Simulate frame ``index`` (at ``index * FRAME_DT`` s) of ``scene`` with rays ``dirs``."""
    t = index * FRAME_DT
    hits = cast_rays(scene, t, dirs)
    points, intensity = _returns(hits, dirs, np.random.default_rng([seed, index]))
    return Frame(points, intensity, sensor_pose(t), _cuboids(scene, t, points))


def _tag_records(scene: Scene, frames: int) -> list[dict[str, Any]]:
    """Behaviour tags as frame ranges clipped to the sequence; tags that never start are omitted."""
    records = []
    for tag in scene.tags:
        first = math.ceil(tag.start / FRAME_DT - 1e-9)
        last = min(math.floor(tag.end / FRAME_DT + 1e-9), frames - 1)
        if first > last:
            continue
        record: dict[str, Any] = {"tag": tag.tag, "track_id": tag.track_id}
        record.update(first_frame=first, last_frame=last)
        if tag.related is not None:
            record["related"] = tag.related
        records.append(record)
    return records


def _track_records(scene: Scene, cuboids: list[dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """One record per actor seen in at least one frame, cuboids in frame order."""
    tracks = []
    for actor in scene.actors:
        seen = [
            {"frame": i, **frame[actor.track_id]}
            for i, frame in enumerate(cuboids)
            if actor.track_id in frame
        ]
        if seen:
            tracks.append({"track_id": actor.track_id, "class": actor.label, "cuboids": seen})
    return tracks


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON with a trailing newline (deterministic bytes)."""
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def generate_sequence(
    out_dir: str | Path, *, frames: int = 40, seed: int = 7, azimuth_steps: int = AZIMUTH_STEPS
) -> Path:
    """Write the demo sequence into ``out_dir`` and return it as a Path.

    Writes ``lidar/NNNNNN.pcd`` (x, y, z, intensity; sensor frame),
    ``poses.json`` (timestamps in seconds, 4x4 sensor-to-world poses) and
    ``ground_truth.json`` (cuboids per track and behaviour tags). The same
    ``seed`` gives byte-identical files. ``azimuth_steps`` lowers the
    horizontal resolution (for fast tests); the default gives ~100k points.
    """
    if not 1 <= frames <= 200:
        raise ValueError(f"frames must be within 1..200, got {frames}")
    out = Path(out_dir)
    (out / "lidar").mkdir(parents=True, exist_ok=True)
    scene = build_scene(seed=seed, duration=frames * FRAME_DT)
    dirs = beam_directions(azimuth_steps)
    poses, cuboids = [], []
    for i in range(frames):
        frame = simulate_frame(scene, i, seed=seed, dirs=dirs)
        name = f"lidar/{i:06d}.pcd"
        write_pcd(out / name, frame.points, {"intensity": frame.intensity})
        pose = [[round(float(x), 9) for x in row] for row in frame.pose]
        poses.append({"frame": i, "file": name, "timestamp": round(i * FRAME_DT, 6), "pose": pose})
        cuboids.append(frame.cuboids)
    _write_json(out / "poses.json", {"frames": poses})
    truth: dict[str, Any] = {"version": 1, "seed": seed, "frames": frames}
    truth.update(tracks=_track_records(scene, cuboids), tags=_tag_records(scene, frames))
    _write_json(out / "ground_truth.json", truth)
    return out
