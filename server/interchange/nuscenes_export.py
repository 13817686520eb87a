"""Write a scene as nuScenes v1.0 tables (the reader is ``nuscenes.py``).

Every frame becomes a keyframe: a ``sample`` and a lidar ``sample_data``
(``samples/LIDAR_TOP/<file>.pcd.bin``) with its ``ego_pose``; boxes become
``sample_annotation`` rows in the global frame (``global = pose @ box``, size
``[w, l, h]``, rotation quaternion ``[w, x, y, z]``), tracks ``instance`` rows.
When the scene was imported from a nuScenes dataroot that is still there, its
tables give back every token, the calibrated sensor and the log; otherwise the
lidar is the ego frame (identity ``calibrated_sensor``) and tokens are uuid5
hashes of the scene name and the object, stable from one export to the next.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from server.interchange.classes import export_type, record_mapping
from server.interchange.exporter import SceneData
from server.interchange.geometry import euler_to_quat, pose_to_tq, tq_to_pose
from server.interchange.model import Box, FrameMeta, Report
from server.interchange.nuscenes import TABLES, Table
from server.validation import IMPORTED

LOST = [
    "behaviour tags",
    "keyframe flags and box sources",
    "track ids that are not nuScenes tokens (instance tokens are uuid5 hashes of them)",
    "track attributes other than parked (vehicle.parked on every box)",
    "sweeps (every frame is a keyframe)",
]
VISIBILITY = [
    {"token": "1", "level": "v0-40", "description": "visibility of whole object is between 0 and 40%"},
    {"token": "2", "level": "v40-60", "description": "visibility of whole object is between 40 and 60%"},
    {"token": "3", "level": "v60-80", "description": "visibility of whole object is between 60 and 80%"},
    {"token": "4", "level": "v80-100", "description": "visibility of whole object is between 80 and 100%"},
]  # fmt: skip
VISIBILITY_OF_OCCLUSION = {"none": "4", "partial": "3", "heavy": "1"}
TOKEN = re.compile(r"^[0-9a-f]{32}$")


class _Original:
    """The nuScenes tables a scene was imported from, when they are still there."""

    def __init__(self, frames: list[FrameMeta]) -> None:
        self.vdir = "v1.0-pointlabel"
        self.t: dict[str, Table] = {name: {} for name in TABLES}
        self.by_file: dict[str, dict[str, Any]] = {}
        try:
            self._load(frames)
        except (OSError, ValueError, KeyError, TypeError):
            self.t = {name: {} for name in TABLES}
            self.by_file = {}

    def _load(self, frames: list[FrameMeta]) -> None:
        """Read the source dataroot's tables (any failure: as if there were none)."""
        src = frames[0].source if frames else None
        if src is None or len(src.parents) < 3:
            return
        root = src.parents[2]
        found = sorted(p for p in root.glob("v1.0-*") if (p / "sample_data.json").is_file())
        if len(found) != 1:
            return
        self.vdir = found[0].name
        for name in TABLES:
            file = found[0] / f"{name}.json"
            if file.is_file():
                self.t[name] = {str(r["token"]): r for r in json.loads(file.read_text())}
        self.by_file = {Path(sd["filename"]).name: sd for sd in self.t["sample_data"].values()}

    def token_of(self, table: str, name: str) -> str | None:
        return next((k for k, r in self.t[table].items() if r.get("name") == name), None)


def write(data: SceneData, out: Path, *, points: bool) -> Report:
    report = Report(lost=list(LOST))
    labels = data.labels
    orig = _Original(labels.frames)

    def tok(*parts: object) -> str:
        return uuid.uuid5(
            uuid.NAMESPACE_URL, "/".join(["pointlabel", data.name, *map(str, parts)])
        ).hex

    tables: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
    sensor = next((r for r in orig.t["sensor"].values() if r.get("modality") == "lidar"), None)
    sensor = sensor or {"token": tok("sensor"), "channel": "LIDAR_TOP", "modality": "lidar"}
    tables["sensor"].append(sensor)
    old_scene = next(iter(orig.t["scene"].values()), None)
    scene_token = old_scene["token"] if old_scene else tok("scene")
    log = orig.t["log"].get(old_scene["log_token"]) if old_scene else None
    log = log or {
        "token": tok("log"),
        "logfile": "",
        "vehicle": "",
        "date_captured": "",
        "location": "",
    }
    tables["log"].append(log)
    poses, samples = [], []
    for i, f in enumerate(labels.frames):
        sd, pose, stamp = _frame(f, i, orig, tok, tables, sensor["token"], report)
        poses.append(pose)
        samples.append({"token": sd["sample_token"], "timestamp": stamp, "prev": "", "next": "",
                        "scene_token": scene_token})  # fmt: skip
        tables["sample_data"].append(sd)
        if points:
            _points(data, i, f, out / sd["filename"])
    _link(samples)
    _link(tables["sample_data"])
    tables["sample"] = samples
    tables["scene"].append({
        "token": scene_token, "log_token": log["token"], "nbr_samples": len(samples),
        "first_sample_token": samples[0]["token"] if samples else "",
        "last_sample_token": samples[-1]["token"] if samples else "",
        "name": old_scene["name"] if old_scene else data.name,
        "description": old_scene.get("description", "") if old_scene else "",
    })  # fmt: skip
    _boxes(data, orig, tok, tables, poses, [s["token"] for s in samples], report)
    tables["visibility"] = list(VISIBILITY)
    folder = out / orig.vdir
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in {**tables, "map": []}.items():
        (folder / f"{name}.json").write_text(json.dumps(rows, indent=1))
    if labels.tags:
        report.dropped["tags"] = len(labels.tags)
    report.counts.update(boxes=len(labels.boxes), frames=len(labels.frames))
    return report


def _frame(
    f: FrameMeta, i: int, orig: _Original, tok: Any, tables: dict[str, list[dict[str, Any]]],
    sensor: str, report: Report,
) -> tuple[dict[str, Any], np.ndarray, int]:  # fmt: skip
    """A frame's sample_data row (ego pose and calibrated sensor appended), lidar pose, µs."""
    old = orig.by_file.get(f.source.name) if f.source else None
    cal = orig.t["calibrated_sensor"].get(old["calibrated_sensor_token"]) if old else None
    if cal is None:
        cal = {"token": tok("calibrated_sensor"), "sensor_token": sensor, "translation": [0.0, 0.0, 0.0],
               "rotation": [1.0, 0.0, 0.0, 0.0], "camera_intrinsic": []}  # fmt: skip
    if cal not in tables["calibrated_sensor"]:
        tables["calibrated_sensor"].append(cal)
    if f.pose is None:
        report.counts["frames_without_pose"] += 1
    pose = np.asarray(f.pose if f.pose is not None else np.eye(4), dtype=np.float64)
    c = np.asarray(tq_to_pose(cal["translation"], cal["rotation"]))
    if f.timestamp is not None:
        stamp = int(round(f.timestamp * 1e6))
    else:
        stamp = int(old["timestamp"]) if old else i * 500_000
    old_ego = orig.t["ego_pose"].get(old["ego_pose_token"]) if old else None
    if old_ego and np.allclose(
        np.asarray(tq_to_pose(old_ego["translation"], old_ego["rotation"])) @ c, pose, atol=1e-9
    ):
        ego = dict(old_ego)
    else:
        t, q = pose_to_tq([list(r) for r in pose @ np.linalg.inv(c)])
        ego = {
            "token": old_ego["token"] if old_ego else tok("ego_pose", f.key),
            "translation": t,
            "rotation": q,
        }
    ego["timestamp"] = stamp
    tables["ego_pose"].append(ego)
    name = (
        f.source.name
        if f.source and f.source.name.lower().endswith(".pcd.bin")
        else f"{f.key}.pcd.bin"
    )
    sd = {
        "token": old["token"] if old else tok("sample_data", f.key),
        "sample_token": old["sample_token"] if old else tok("sample", f.key),
        "ego_pose_token": ego["token"], "calibrated_sensor_token": cal["token"], "timestamp": stamp,
        "fileformat": "pcd", "is_key_frame": True, "height": 0, "width": 0,
        "filename": old["filename"] if old else f"samples/LIDAR_TOP/{name}", "prev": "", "next": "",
    }  # fmt: skip
    return sd, pose, stamp


def _link(rows: list[dict[str, Any]]) -> None:
    for a, b in zip(rows, rows[1:], strict=False):
        a["next"], b["prev"] = b["token"], a["token"]


def _boxes(
    data: SceneData, orig: _Original, tok: Any, tables: dict[str, list[dict[str, Any]]],
    poses: list[np.ndarray], sample_tokens: list[str], report: Report,
) -> None:  # fmt: skip
    labels = data.labels
    by_track: dict[str, list[Box]] = {}
    for b in labels.boxes:
        by_track.setdefault(b.track_id, []).append(b)
    attribute_rows: dict[str, dict[str, Any]] = {}
    categories: dict[str, dict[str, Any]] = {}
    for t in labels.tracks:
        raw = _raw(t.attributes)
        kept = raw.get("category")  # the category the scene was imported with
        if kept:
            name = record_mapping(report, t.label, str(kept))
        else:
            name = export_type("nuscenes-v1", t.label, t.attributes, report)
        cat = categories.setdefault(name, {"token": orig.token_of("category", name) or tok("category", name),
                                           "name": name, "description": ""})  # fmt: skip
        inst = t.id if TOKEN.match(t.id) else tok("instance", t.id)
        rows = []
        for b in sorted(by_track.get(t.id, []), key=lambda x: x.frame):
            braw = _raw(b.attributes)
            names = braw.get("attributes")
            if not isinstance(names, list):
                names = ["vehicle.parked"] if t.attributes.get("parked") is True else []
            for n in names:
                attribute_rows.setdefault(n, {"token": orig.token_of("attribute", n) or tok("attribute", n),
                                              "name": n, "description": ""})  # fmt: skip
            g = poses[b.frame] @ np.asarray(
                tq_to_pose(list(b.center), list(euler_to_quat(b.yaw, b.pitch, b.roll)))
            )
            translation, rotation = pose_to_tq([list(r) for r in g])
            visibility = braw.get("visibility") or VISIBILITY_OF_OCCLUSION.get(
                str(b.attributes.get("occlusion")), ""
            )
            rows.append({
                "token": str(braw.get("token") or tok("annotation", t.id, b.frame)),
                "sample_token": sample_tokens[b.frame], "instance_token": inst,
                "visibility_token": visibility,
                "attribute_tokens": [attribute_rows[n]["token"] for n in names],
                "translation": translation, "size": [b.size[1], b.size[0], b.size[2]], "rotation": rotation,
                "prev": "", "next": "", "num_lidar_pts": int(braw.get("num_lidar_pts", 0)),
                "num_radar_pts": int(braw.get("num_radar_pts", 0)),
            })  # fmt: skip
        _link(rows)
        tables["sample_annotation"] += rows
        tables["instance"].append({
            "token": inst, "category_token": cat["token"], "nbr_annotations": len(rows),
            "first_annotation_token": rows[0]["token"] if rows else "",
            "last_annotation_token": rows[-1]["token"] if rows else "",
        })  # fmt: skip
    tables["category"] = list(categories.values())
    tables["attribute"] = list(attribute_rows.values())


def _raw(attributes: dict[str, Any]) -> dict[str, Any]:
    value = attributes.get(IMPORTED)
    return value if isinstance(value, dict) else {}


def _points(data: SceneData, index: int, f: FrameMeta, target: Path) -> None:
    """The frame's file as nuScenes ``.pcd.bin`` (float32 x, y, z, intensity, ring)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if f.source is not None and f.source.is_file() and f.source.name.lower().endswith(".pcd.bin"):
        target.write_bytes(f.source.read_bytes())
    else:
        local, offset = data.local_points(index)
        xyz = local.astype(np.float64) + offset
        np.c_[xyz, np.zeros((len(xyz), 2))].astype(np.float32).tofile(target)
    data.progress("points", index + 1, len(data.labels.frames))
