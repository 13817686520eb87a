"""nuScenes v1.0 tables: one scene of a dataroot (docs/formats.md, "nuScenes").

A dataroot holds ``v1.0-<version>/<table>.json`` (``scene``, ``sample``,
``sample_data``, ``sample_annotation``, ``instance``, ``category``,
``attribute``, ``visibility``, ``ego_pose``, ``calibrated_sensor``,
``sensor``, ``log``) and the lidar files named by ``sample_data.filename``
(``samples/LIDAR_TOP/*.pcd.bin`` keyframes, ``sweeps/LIDAR_TOP/*`` sweeps).
Boxes are in the global frame: ``translation`` is the centre (m), ``size`` is
``[w, l, h]``, ``rotation`` a quaternion ``[w, x, y, z]``. A keyframe's lidar
pose (lidar -> global) is ``ego_pose @ calibrated_sensor``; timestamps are
microseconds. Only keyframes (samples) become frames; sweeps are counted.
Tokens are kept: instance tokens become track ids, and each box keeps its
annotation token, visibility, attribute names and point counts as raw
``imported`` values, so that an export writes the same tables back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from server.interchange.classes import to_class
from server.interchange.geometry import quat_to_matrix, tq_to_pose
from server.interchange.importer import Parsed
from server.interchange.model import AnnotationSet, Box, FrameMeta, InterchangeError, Report, Track
from server.interchange.model import frame_key as key_of
from server.interchange.openlabel_read import split_attributes
from server.interchange.paths import ImportFolder
from server.taxonomy import Taxonomy
from server.validation import IMPORTED, normalize_yaw

TABLES = (
    "scene", "sample", "sample_data", "sample_annotation", "instance", "category", "attribute",
    "visibility", "ego_pose", "calibrated_sensor", "sensor", "log",
)  # fmt: skip
OCCLUSION_OF_VISIBILITY = {
    "v0-40": "heavy",
    "v40-60": "partial",
    "v60-80": "partial",
    "v80-100": "none",
}
Table = dict[str, dict[str, Any]]


def version_dir(folder: ImportFolder) -> str:
    """The dataroot's one ``v1.0-*`` folder holding ``scene.json``."""
    found = sorted(
        p.name for p in folder.root.glob("v1.0-*") if folder.is_file(f"{p.name}/scene.json")
    )
    if len(found) != 1:
        raise InterchangeError(
            f"expected one v1.0-* folder with scene.json, found {len(found)} ({', '.join(found[:5])})"
        )
    return found[0]


def load_tables(folder: ImportFolder, vdir: str) -> dict[str, Table]:
    """Each table as token -> row (missing optional tables are empty)."""
    tables: dict[str, Table] = {}
    for name in TABLES:
        rel = f"{vdir}/{name}.json"
        if not folder.is_file(rel):
            if name in ("attribute", "visibility", "log"):
                tables[name] = {}
                continue
            raise InterchangeError(f"{rel}: missing")
        try:
            rows = json.loads(folder.read_text(rel))
            tables[name] = {str(r["token"]): r for r in rows}
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InterchangeError(f"{rel}: not a nuScenes table: {exc!r}") from exc
    return tables


def lidar_pose(t: dict[str, Table], sd: dict[str, Any]) -> NDArray[np.float64]:
    """A lidar sample_data's lidar -> global pose: ``ego_pose @ calibrated_sensor``."""
    ego = t["ego_pose"][sd["ego_pose_token"]]
    cal = t["calibrated_sensor"][sd["calibrated_sensor_token"]]
    e = np.asarray(tq_to_pose(ego["translation"], ego["rotation"]))
    c = np.asarray(tq_to_pose(cal["translation"], cal["rotation"]))
    return np.asarray(e @ c, dtype=np.float64)


def _euler(r: NDArray[np.float64]) -> tuple[float, float, float]:
    yaw = float(np.arctan2(r[1, 0], r[0, 0]))
    pitch = float(np.arcsin(np.clip(-r[2, 0], -1.0, 1.0)))
    roll = float(np.arctan2(r[2, 1], r[2, 2]))
    return normalize_yaw(yaw), pitch, roll


def _scene(t: dict[str, Table]) -> dict[str, Any]:
    scenes = list(t["scene"].values())
    if len(scenes) != 1:
        names = ", ".join(str(s.get("name")) for s in scenes[:5])
        raise InterchangeError(
            f"scene.json holds {len(scenes)} scenes ({names}): import a dataroot with one scene"
        )
    return scenes[0]


def read(folder: ImportFolder, taxonomy: Taxonomy) -> Parsed:
    """Read the dataroot's one scene: keyframe lidar files, poses, instances and boxes."""
    if folder.is_file("annotations.json"):
        from server.interchange import pointlabel_json

        parsed = pointlabel_json.read(folder, taxonomy)
        parsed.report.notes.append("annotations.json is the pointlabel-json layout: read as such")
        return parsed
    vdir = version_dir(folder)
    t = load_tables(folder, vdir)
    report = Report()
    scene = _scene(t)
    samples = sorted(
        (s for s in t["sample"].values() if s.get("scene_token") == scene["token"]),
        key=lambda s: int(s["timestamp"]),
    )
    in_scene = {s["token"] for s in samples}
    lidar_cals = {
        c for c, row in t["calibrated_sensor"].items()
        if t["sensor"].get(str(row.get("sensor_token")), {}).get("modality") == "lidar"
    }  # fmt: skip
    keyframes: dict[str, dict[str, Any]] = {}
    sweeps = 0
    for sd in t["sample_data"].values():
        if sd.get("sample_token") in in_scene and sd.get("calibrated_sensor_token") in lidar_cals:
            if sd.get("is_key_frame"):
                keyframes.setdefault(sd["sample_token"], sd)
            else:
                sweeps += 1
    if sweeps:
        report.notes.append(
            f"{sweeps} lidar sweeps (non-keyframes) are not imported: keyframes only"
        )
    files: list[Path] = []
    labels = AnnotationSet()
    frame_of: dict[str, int] = {}
    poses: list[NDArray[np.float64]] = []
    for s in samples:
        found = keyframes.get(s["token"])
        if found is None or not folder.is_file(str(found["filename"])):
            report.drop("sample_without_lidar" if found is None else "lidar_file_missing")
            continue
        files.append(folder.path(str(found["filename"])))
        pose = lidar_pose(t, found)
        frame_of[s["token"]] = len(labels.frames)
        poses.append(pose)
        labels.frames.append(FrameMeta(key_of(found["filename"]), int(found["timestamp"]) / 1e6,
                                       [[float(v) for v in row] for row in pose]))  # fmt: skip
    _annotations(t, frame_of, poses, labels, taxonomy, report)
    report.counts["sweeps_not_imported"] = sweeps
    return Parsed(folder.root, labels, report, files)


def _annotations(
    t: dict[str, Table], frame_of: dict[str, int], poses: list[NDArray[np.float64]],
    labels: AnnotationSet, taxonomy: Taxonomy, report: Report,
) -> None:  # fmt: skip
    tracks: dict[str, Track] = {}
    parked: dict[str, list[bool]] = {}
    for a in t["sample_annotation"].values():
        frame = frame_of.get(a.get("sample_token", ""))
        if frame is None:
            continue
        inst = t["instance"].get(a.get("instance_token", ""))
        if inst is None:
            report.drop("annotation_without_instance")
            continue
        token = str(inst["token"])
        if token not in tracks:
            cat = t["category"].get(str(inst.get("category_token")), {})
            category = str(cat.get("name", "unknown"))
            label, extra = to_class("nuscenes", category, taxonomy, report)
            tracks[token] = Track(token, label, {**extra, IMPORTED: {"category": category}})
        names = [
            str(t["attribute"].get(x, {}).get("name", x)) for x in a.get("attribute_tokens", [])
        ]
        parked.setdefault(token, []).append("vehicle.parked" in names)
        g = np.eye(4)
        g[:3, :3] = quat_to_matrix(tuple(float(v) for v in a["rotation"]))  # type: ignore[arg-type]
        g[:3, 3] = [float(v) for v in a["translation"]]
        local = np.linalg.inv(poses[frame]) @ g
        w, length, h = (float(v) for v in a["size"])
        level = t["visibility"].get(str(a.get("visibility_token", "")), {}).get("level")
        raw = {"token": str(a["token"]), "visibility": str(a.get("visibility_token", "")),
               "attributes": names, "num_lidar_pts": int(a.get("num_lidar_pts", 0)),
               "num_radar_pts": int(a.get("num_radar_pts", 0))}  # fmt: skip
        cls = taxonomy.classes.get(tracks[token].label)
        entries = (
            [("occlusion", "text", OCCLUSION_OF_VISIBILITY[level])]
            if level in OCCLUSION_OF_VISIBILITY
            else []
        )
        attrs = split_attributes(entries, cls.cuboid_attributes if cls else (), "", report)
        attrs[IMPORTED] = {**attrs.get(IMPORTED, {}), **raw}
        centre = (float(local[0, 3]), float(local[1, 3]), float(local[2, 3]))
        labels.boxes.append(Box(token, frame, centre, (length, w, h), *_euler(local[:3, :3]),
                                attributes=attrs))  # fmt: skip
    for token, track in tracks.items():
        cls = taxonomy.classes.get(track.label)
        declares = cls is not None and any(a.name == "parked" for a in cls.track_attributes)
        if declares and all(parked[token]):
            track.attributes["parked"] = True
    labels.tracks = list(tracks.values())
