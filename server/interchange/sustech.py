"""SUSTechPOINTS scenes: ``lidar/<frame>.pcd`` and ``label/<frame>.json``.

A label file is a JSON array of ``{"psr": {"position": {x, y, z}, "scale":
{x, y, z}, "rotation": {x, y, z}}, "obj_type": str, "obj_id": str}`` in the
lidar frame: ``position`` is the centre, ``scale`` the full size (x = length,
y = width, z = height), ``rotation`` roll / pitch / yaw in radians. PointLabel
adds an optional ``"pointlabel"`` key per box (``label``, ``attributes``,
``track_attributes``, ``keyframe``) that SUSTechPOINTS ignores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pointcloud.io.sequence import list_frames
from server.interchange.cameras import sustech_shots
from server.interchange.classes import export_type, to_class
from server.interchange.exporter import SceneData
from server.interchange.importer import Parsed
from server.interchange.model import (
    AnnotationSet,
    Box,
    FrameMeta,
    InterchangeError,
    Report,
    Track,
    frame_key,
)
from server.interchange.paths import ImportFolder
from server.interchange.poses import write_poses
from server.taxonomy import Taxonomy

LOST = ["behaviour tags", "ego poses and timestamps (written to poses.json beside lidar/)"]


def read(folder: ImportFolder, taxonomy: Taxonomy) -> Parsed:
    """Read a SUSTechPOINTS scene folder (``lidar/``, ``label/``, ``calib/``, ``camera/``)."""
    report = Report()
    frames = [FrameMeta(frame_key(f)) for f in list_frames(folder.root)]
    labels = AnnotationSet(frames=frames)
    index_of = {f.key: i for i, f in enumerate(frames)}
    tracks: dict[str, Track] = {}
    for file in folder.files("label", "*.json"):
        items = _load(folder, file)
        if file.stem not in index_of:
            report.drop("label_without_point_cloud", len(items))
            continue
        for n, item in enumerate(items):
            box = _box(item, index_of[file.stem], f"{file.stem}-{n}", tracks, taxonomy, report)
            if box is not None:
                labels.boxes.append(box)
    labels.tracks = list(tracks.values())
    cameras = sustech_shots(folder, [f.key for f in frames])
    return Parsed(folder.root, labels, report, cameras=cameras)


def _load(folder: ImportFolder, file: Path) -> list[Any]:
    try:
        items = json.loads(folder.read_text(file))
    except json.JSONDecodeError as exc:
        raise InterchangeError(f"{folder.rel(file)}: not JSON: {exc}") from exc
    if not isinstance(items, list):
        raise InterchangeError(f"{folder.rel(file)}: expected a JSON array of boxes")
    return items


def _box(
    item: Any, frame: int, fallback_id: str, tracks: dict[str, Track], tax: Taxonomy, r: Report
) -> Box | None:
    try:
        psr = item["psr"]
        p, s, rot = (psr[k] for k in ("position", "scale", "rotation"))
        center = (float(p["x"]), float(p["y"]), float(p["z"]))
        size = (float(s["x"]), float(s["y"]), float(s["z"]))
        angles = (float(rot["z"]), float(rot.get("y", 0.0)), float(rot.get("x", 0.0)))
        obj_type = str(item.get("obj_type") or "Unknown")
    except (KeyError, TypeError, ValueError, AttributeError):
        r.drop("malformed_box")
        return None
    ext = item.get("pointlabel") if isinstance(item.get("pointlabel"), dict) else {}
    track_id = str(item.get("obj_id") or "")
    if not track_id:
        r.counts["boxes_without_obj_id"] += 1
        track_id = fallback_id
    if track_id not in tracks:
        label, attrs = (
            (ext["label"], {})
            if ext.get("label") in tax.classes
            else to_class("sustech", obj_type, tax, r)
        )
        tracks[track_id] = Track(track_id, label, {**attrs, **ext.get("track_attributes", {})})
    return Box(
        track_id, frame, center, size, *angles,
        attributes=dict(ext.get("attributes", {})), keyframe=bool(ext.get("keyframe", True)),
    )  # fmt: skip


def write(data: SceneData, out: Path, *, points: bool) -> Report:
    """Write ``label/<frame>.json`` (every frame, empty arrays included), ``calib/<camera>.json``
    for each stored camera, and optionally ``lidar/`` and ``camera/<camera>/<frame>.jpg``."""
    report = Report(lost=list(LOST))
    labels = data.labels
    tracks = {t.id: t for t in labels.tracks}
    per_frame: list[list[dict[str, Any]]] = [[] for _ in labels.frames]
    for b in labels.boxes:
        t = tracks[b.track_id]
        obj_type = export_type("sustech", t.label, t.attributes, report)
        per_frame[b.frame].append(
            {
                "psr": {
                    "position": dict(zip("xyz", b.center, strict=True)),
                    "scale": dict(zip("xyz", b.size, strict=True)),
                    "rotation": {"x": b.roll, "y": b.pitch, "z": b.yaw},
                },
                "obj_type": obj_type,
                "obj_id": b.track_id,
                "pointlabel": {
                    "label": t.label,
                    "track_attributes": t.attributes,
                    "attributes": b.attributes,
                    "keyframe": b.keyframe,
                },
            }  # fmt: skip
        )
    (out / "label").mkdir(parents=True, exist_ok=True)
    for f, items in zip(labels.frames, per_frame, strict=True):
        (out / "label" / f"{f.key}.json").write_text(json.dumps(items, indent=1))
    report.counts.update(boxes=len(labels.boxes), frames=len(labels.frames))
    if labels.tags:
        report.dropped["tags"] = len(labels.tags)
    _write_cameras(data, out, report, images=points)
    if points:
        data.copy_points(out / "lidar", report)
        write_poses(labels, out, "lidar")
    return report


def _write_cameras(data: SceneData, out: Path, report: Report, *, images: bool) -> None:
    """SUSTechPOINTS holds one calibration per camera for the scene: the first frame's."""
    calibs: dict[str, Any] = {}
    for i, f in enumerate(data.labels.frames):
        for cam in data.cameras.get(i, []):
            calib = {
                "extrinsic": [v for row in cam.lidar_to_camera for v in row],
                "intrinsic": [v for row in cam.intrinsic for v in row],
                **({"distortion": cam.distortion} if cam.distortion else {}),
            }
            if calibs.setdefault(cam.name, calib) != calib:
                report.counts["camera_calibration_changes_dropped"] += 1
            if images:
                data.copy_image(cam, out / "camera" / cam.name / f"{f.key}.jpg")
                report.counts["camera_images"] += 1
    for name, calib in calibs.items():
        (out / "calib").mkdir(parents=True, exist_ok=True)
        (out / "calib" / f"{name}.json").write_text(json.dumps(calib, indent=1))
