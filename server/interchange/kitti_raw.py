"""KITTI raw tracklets (``tracklet_labels.xml``), as CVAT's "Kitti Raw Format" writes them.

A drive folder holds ``tracklet_labels.xml`` and ``velodyne_points/data/
<frame:010d>.bin`` (or ``velodyne/`` / ``lidar/``). Each tracklet is one track
(its id is its position in the file, from 0) with **one size** (``h``, ``w``,
``l``), an ``objectType``, a ``first_frame`` and one pose per frame from there
on: ``tx ty tz`` is the **bottom centre** of the box in the velodyne frame
(the box spans z from 0 to h in its own frame), ``rx ry rz`` are roll, pitch,
yaw in radians (``R = Rz Ry Rx``). ``state`` 2 (labelled) / 1 (interpolated)
map to the keyframe flag; state 0 (unset) poses are gaps and hold no box.
``occlusion`` 0/1/2 -> none/partial/heavy (-1 unset); ``truncation`` 1, 2 or
99 -> truncated (levels other than 1 kept raw in ``imported``), 0 -> not, -1
unset. The ``poses.json`` sidecar carries ego
poses and timestamps.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from statistics import median

import numpy as np

from pointcloud.io.sequence import format_of_name, list_frames
from server.interchange.classes import export_type, to_class
from server.interchange.exporter import SceneData
from server.interchange.importer import Parsed
from server.interchange.model import AnnotationSet, Box, FrameMeta, InterchangeError, Report, Track
from server.interchange.model import frame_key as key_of
from server.interchange.paths import ImportFolder
from server.taxonomy import Taxonomy
from server.validation import IMPORTED

FILE = "tracklet_labels.xml"
POINTS = "velodyne_points/data"
OCCLUSION = ("none", "partial", "heavy")
POSE_FIELDS = (
    "tx", "ty", "tz", "rx", "ry", "rz", "state", "occlusion", "occlusion_kf", "truncation",
    "amt_occlusion", "amt_occlusion_kf", "amt_border_l", "amt_border_r", "amt_border_kf",
)  # fmt: skip
LOST = [
    "per-frame sizes (one size per track: the median; boxes that differ are counted)",
    "track ids (a tracklet's id is its position) and track attributes",
    "behaviour tags",
    "box attributes other than occlusion and truncated",
]


def _rot(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cy, sy, cp, sp, cr, sr = (f(a) for a in (yaw, pitch, roll) for f in (math.cos, math.sin))
    return (
        np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
        @ np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
        @ np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    )


def _points_folder(folder: ImportFolder) -> Path:
    return folder.path(POINTS) if folder.is_dir(POINTS) else folder.root


def read(folder: ImportFolder, taxonomy: Taxonomy) -> Parsed:
    """Read ``tracklet_labels.xml`` and the drive's velodyne frames."""
    text = folder.read_text(folder.named or FILE)
    if "<!ENTITY" in text:
        raise InterchangeError(f"{FILE}: entity declarations are not accepted")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise InterchangeError(f"{FILE}: not XML ({exc})") from exc
    tracklets = root.find("tracklets") if root.tag != "tracklets" else root
    if tracklets is None:
        raise InterchangeError(f"{FILE}: no <tracklets>")
    report = Report()
    files = list_frames(_points_folder(folder))
    labels = AnnotationSet(frames=[FrameMeta(key_of(f)) for f in files])
    keys = [f.key for f in labels.frames]
    by_number = {int(k): i for i, k in enumerate(keys) if k.isdigit()}
    index = by_number if len(by_number) == len(keys) else dict(enumerate(range(len(keys))))
    for n, item in enumerate(tracklets.findall("item")):
        try:
            _tracklet(item, str(n), index, labels, taxonomy, report)
        except (TypeError, ValueError, AttributeError):
            report.drop("malformed_tracklet")
    return Parsed(folder.root, labels, report, files)


def _tracklet(
    item: ET.Element, track_id: str, index: dict[int, int], labels: AnnotationSet,
    taxonomy: Taxonomy, report: Report,
) -> None:  # fmt: skip
    h, w, length = (float(item.findtext(k) or "") for k in ("h", "w", "l"))
    first = int(item.findtext("first_frame") or "")
    label, attrs = to_class(
        "kitti", str(item.findtext("objectType") or "Unknown"), taxonomy, report
    )
    labels.tracks.append(Track(track_id, label, attrs))
    poses = item.find("poses")
    for offset, pose in enumerate(poses.findall("item") if poses is not None else []):
        v = {k: float(pose.findtext(k) or "nan") for k in ("tx", "ty", "tz", "rx", "ry", "rz")}
        state = int(float(pose.findtext("state") or "2"))
        if state == 0:
            continue
        frame = index.get(first + offset)
        if frame is None:
            report.drop("pose_without_point_cloud")
            continue
        r = _rot(v["rz"], v["ry"], v["rx"])
        centre = np.array([v["tx"], v["ty"], v["tz"]]) + r @ np.array([0.0, 0.0, h / 2])
        box_attrs: dict[str, object] = {}
        occ = int(float(pose.findtext("occlusion") or "-1"))
        if 0 <= occ < len(OCCLUSION):
            box_attrs["occlusion"] = OCCLUSION[occ]
        trunc = int(float(pose.findtext("truncation") or "-1"))
        if trunc >= 0:
            box_attrs["truncated"] = trunc > 0
        if trunc not in (-1, 0, 1):
            box_attrs[IMPORTED] = {"truncation": trunc}
        c = (float(centre[0]), float(centre[1]), float(centre[2]))
        labels.boxes.append(Box(track_id, frame, c, (length, w, h), v["rz"], v["ry"], v["rx"],
                                box_attrs, keyframe=state == 2))  # fmt: skip


def _sub(parent: ET.Element, tag: str, text: object) -> None:
    ET.SubElement(parent, tag).text = str(text)


def write(data: SceneData, out: Path, *, points: bool) -> Report:
    """Write ``tracklet_labels.xml`` (one tracklet per track with boxes) and optionally
    ``velodyne_points/data/<index:010d>.bin`` with a ``poses.json`` sidecar."""
    report = Report(lost=list(LOST))
    labels = data.labels
    boxes: dict[str, list[Box]] = {}
    for b in labels.boxes:
        boxes.setdefault(b.track_id, []).append(b)
    tracklets = ET.Element("tracklets", {"class_id": "0", "tracking_level": "0", "version": "0"})
    written = [t for t in labels.tracks if t.id in boxes]
    _sub(tracklets, "count", len(written))
    _sub(tracklets, "item_version", 1)
    for n, t in enumerate(written):
        mine = sorted(boxes[t.id], key=lambda b: b.frame)
        size = tuple(median(b.size[i] for b in mine) for i in range(3))
        report.counts["sizes_changed"] += sum(
            1 for b in mine if max(abs(b.size[i] - size[i]) for i in range(3)) > 1e-9
        )
        attrs = {"class_id": "1", "tracking_level": "0", "version": "1"} if n == 0 else {}
        item = ET.SubElement(tracklets, "item", attrs)
        _sub(
            item,
            "objectType",
            "_".join(export_type("kitti", t.label, t.attributes, report).split()),
        )
        for tag, dim in zip(("h", "w", "l"), (size[2], size[1], size[0]), strict=True):
            _sub(item, tag, repr(float(dim)))
        first = mine[0].frame
        _sub(item, "first_frame", first)
        poses = ET.SubElement(
            item,
            "poses",
            {"class_id": "2", "tracking_level": "0", "version": "0"} if n == 0 else {},
        )
        at = {b.frame: b for b in mine}
        span = range(first, mine[-1].frame + 1)
        _sub(poses, "count", len(span))
        _sub(poses, "item_version", 2)
        for k, frame in enumerate(span):
            pose = ET.SubElement(
                poses,
                "item",
                {"class_id": "3", "tracking_level": "0", "version": "2"} if n == k == 0 else {},
            )
            for tag, value in zip(POSE_FIELDS, _pose_values(at.get(frame), size[2]), strict=True):
                _sub(pose, tag, value)
        _sub(item, "finished", 1)
    doc = ET.Element("boost_serialization", {"signature": "serialization::archive", "version": "9"})
    doc.append(tracklets)
    ET.indent(doc, "\t")
    head = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>\n<!DOCTYPE boost_serialization>\n'
    )
    (out / FILE).write_text(head + ET.tostring(doc, encoding="unicode") + "\n")
    if points and data.float32_refusal(report, "KITTI raw velodyne_points/*.bin"):
        _points(data, out)
    if labels.tags:
        report.dropped["tags"] = len(labels.tags)
    report.counts.update(boxes=len(labels.boxes), frames=len(labels.frames))
    return report


def _pose_values(b: Box | None, h: float) -> list[str]:
    """A pose's fields: bottom centre, angles, state, occlusion, truncation (-1 = unset)."""
    if b is None:
        return ["0", "0", "0", "0", "0", "0", "0", "-1", "-1", "-1", "-1", "-1", "-1", "-1", "-1"]
    bottom = np.asarray(b.center) - _rot(b.yaw, b.pitch, b.roll) @ np.array([0.0, 0.0, h / 2])
    occ = b.attributes.get("occlusion")
    trunc = b.attributes.get("truncated")
    return [
        *(repr(float(v)) for v in (*bottom, b.roll, b.pitch, b.yaw)),
        "2" if b.keyframe else "1",
        str(OCCLUSION.index(occ)) if occ in OCCLUSION else "-1",
        "0",
        _truncation(trunc, b.attributes.get(IMPORTED)),
        "-1", "-1", "-1", "-1", "-1",
    ]  # fmt: skip


def _truncation(truncated: object, raw: object) -> str:
    """-1 unset, 0 / 1 from the bool; a level the import kept raw (2 out of image, 99 behind)
    when it agrees with the bool."""
    if not isinstance(truncated, bool):
        return "-1"
    level = raw.get("truncation") if isinstance(raw, dict) else None
    if isinstance(level, int) and (level > 0) == truncated:
        return str(level)
    return "1" if truncated else "0"


def _points(data: SceneData, out: Path) -> None:
    folder = out / POINTS
    folder.mkdir(parents=True, exist_ok=True)
    frames = []
    for i, f in enumerate(data.labels.frames):
        target = folder / f"{i:010d}.bin"
        if f.source is not None and f.source.is_file() and format_of_name(f.source.name) == "kitti":
            target.write_bytes(f.source.read_bytes())
        else:
            xyz = data.float32_points(i)
            assert xyz is not None  # write() checked every frame first
            np.c_[xyz, np.zeros(len(xyz), np.float32)].tofile(target)
        frames.append(
            {
                "frame": i,
                "file": f"{POINTS}/{target.name}",
                "timestamp": f.timestamp,
                "pose": f.pose,
            }
        )
        data.progress("points", i + 1, len(data.labels.frames))
    if any(f["pose"] is not None or f["timestamp"] is not None for f in frames):
        (out / "poses.json").write_text(json.dumps({"frames": frames}, indent=1))
