"""The Supervisely point-cloud project format, as CVAT's "Sly Point Cloud Format" writes it.

A project folder holds ``meta.json`` (classes with shape ``cuboid_3d``, tag
metas), ``key_id_map.json`` (object / figure / frame keys -> ids) and one
dataset folder with ``pointcloud/<frame>.pcd``, ``ann/<frame>.pcd.json`` and
optionally ``related_images/<frame>_pcd/`` (camera images and their JSON).
An annotation lists ``objects`` (``key``, ``classTitle``, ``tags``) and
``figures`` (``objectKey``, ``geometryType: cuboid_3d``, ``geometry`` with
``position`` = the centre, ``rotation`` x/y/z = roll/pitch/yaw in radians and
``dimensions`` x/y/z = the size along the box's own axes: length, width,
height), in the lidar frame. An object key that recurs across frames is one
track: its id is the key. Object tags (``name``, ``value``) are attributes:
track attributes when the taxonomy declares them on the class, else box
attributes; undeclared ones are kept raw in ``imported``.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from pointcloud.io.pcd import write_pcd
from pointcloud.io.sequence import list_frames
from server.interchange.classes import export_type, to_class
from server.interchange.exporter import SceneData
from server.interchange.importer import Parsed
from server.interchange.model import (
    AnnotationSet,
    Attrs,
    Box,
    FrameMeta,
    InterchangeError,
    Report,
    Track,
)
from server.interchange.model import frame_key as key_of
from server.interchange.openlabel_read import split_attributes
from server.interchange.paths import ImportFolder
from server.taxonomy import Taxonomy
from server.validation import IMPORTED

DATASET = "ds0"
KEY = re.compile(r"^[0-9a-f]{32}$")
LOST = [
    "keyframe flags and box sources",
    "track ids that are not 32-hex keys (the key is a uuid5 of the id)",
    "behaviour tags",
    "ego poses and timestamps",
    "camera images unless the scene's source project had related_images",
]


def _dataset(folder: ImportFolder) -> str:
    found = sorted(
        p.name
        for p in folder.root.iterdir()
        if folder.is_dir(f"{p.name}/ann") and folder.is_dir(f"{p.name}/pointcloud")
    )
    if len(found) != 1:
        raise InterchangeError(
            f"expected one dataset folder with ann/ and pointcloud/, found {len(found)} ({', '.join(found[:5])})"
        )
    return found[0]


def _json(folder: ImportFolder, rel: str) -> Any:
    try:
        return json.loads(folder.read_text(rel))
    except json.JSONDecodeError as exc:
        raise InterchangeError(f"{rel}: not JSON: {exc}") from exc


def _bools(
    entries: list[tuple[str, str, Any]], tax: Taxonomy, label: str
) -> list[tuple[str, str, Any]]:
    """Tag values "true" / "false" for attributes the class declares as bool become booleans."""
    cls = tax.classes.get(label)
    declared = (
        {a.name for a in (*cls.track_attributes, *cls.cuboid_attributes) if a.kind == "bool"}
        if cls
        else set()
    )
    return [
        (n, k, {"true": True, "false": False}.get(str(v).lower(), v) if n in declared else v)
        for n, k, v in entries
    ]


def read(folder: ImportFolder, taxonomy: Taxonomy) -> Parsed:
    """Read the project's one dataset: point clouds and per-frame annotations."""
    ds = _dataset(folder)
    if not folder.is_file("meta.json"):
        raise InterchangeError("meta.json: missing")
    _json(folder, "meta.json")
    report = Report()
    files = list_frames(folder.path(f"{ds}/pointcloud"))
    labels = AnnotationSet(frames=[FrameMeta(key_of(f)) for f in files])
    tracks: dict[str, Track] = {}
    for i, f in enumerate(files):
        rel = f"{ds}/ann/{f.name}.json"
        if not folder.is_file(rel):
            continue
        ann = _json(folder, rel)
        if not isinstance(ann, dict):
            raise InterchangeError(f"{rel}: expected a JSON object")
        objects = {str(o.get("key")): o for o in ann.get("objects", []) if isinstance(o, dict)}
        seen: set[str] = set()
        for fig in ann.get("figures", []):
            box = _figure(fig, i, objects, seen, tracks, taxonomy, report)
            if box is not None:
                labels.boxes.append(box)
    labels.tracks = list(tracks.values())
    if folder.is_dir(f"{ds}/related_images"):
        report.notes.append("related_images/ are not imported (camera context is another issue)")
    return Parsed(folder.path(f"{ds}/pointcloud"), labels, report)


def _figure(
    fig: Any, frame: int, objects: dict[str, Any], seen: set[str], tracks: dict[str, Track],
    tax: Taxonomy, r: Report,
) -> Box | None:  # fmt: skip
    if not isinstance(fig, dict) or fig.get("geometryType") != "cuboid_3d":
        r.drop("figure_not_cuboid_3d")
        return None
    key = str(fig.get("objectKey"))
    obj = objects.get(key)
    if obj is None:
        r.drop("figure_without_object")
        return None
    if key in seen:
        r.drop("second_cuboid_same_object_and_frame")
        return None
    try:
        g = fig["geometry"]
        p, rot, d = (g[k] for k in ("position", "rotation", "dimensions"))
        centre = (float(p["x"]), float(p["y"]), float(p["z"]))
        size = (float(d["x"]), float(d["y"]), float(d["z"]))
        roll, pitch, yaw = float(rot["x"]), float(rot["y"]), float(rot["z"])
    except (KeyError, TypeError, ValueError):
        r.drop("malformed_figure")
        return None
    seen.add(key)
    if key not in tracks:
        label, extra = to_class("supervisely", str(obj.get("classTitle", "Unknown")), tax, r)
        tracks[key] = Track(key, label, extra)
    track = tracks[key]
    entries = [
        (str(t.get("name")), "tag", t.get("value", True))
        for t in obj.get("tags", [])
        if isinstance(t, dict)
    ]
    entries = _bools(entries, tax, track.label)
    cls = tax.classes.get(track.label)
    track_names = {a.name for a in cls.track_attributes} if cls else set()
    on_track = split_attributes(
        [e for e in entries if e[0] in track_names],
        cls.track_attributes if cls else (),
        track.label,
        r,
    )
    for name, value in on_track.items():
        track.attributes.setdefault(name, value)
    attrs = split_attributes(
        [e for e in entries if e[0] not in track_names],
        cls.cuboid_attributes if cls else (),
        track.label,
        r,
    )
    return Box(key, frame, centre, size, yaw, pitch, roll, attrs)


def _tag_meta(name: str, values: list[Any]) -> dict[str, Any]:
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        kind: dict[str, Any] = {"value_type": "any_number"}
    elif all(isinstance(v, bool) for v in values):
        kind = {"value_type": "oneof_string", "values": ["true", "false"]}
    else:
        kind = {"value_type": "any_string"}
    return {
        "name": name,
        **kind,
        "color": "#808080",
        "applicable_type": "objectsOnly",
        "classes": [],
    }


def _tag_value(value: Any) -> Any:
    return ("true" if value else "false") if isinstance(value, bool) else value


def write(data: SceneData, out: Path, *, points: bool) -> Report:
    """Write the project (dataset ``ds0``): meta, key map, ann/ and optionally pointcloud/."""
    report = Report(lost=list(LOST))
    labels = data.labels

    def key(*parts: object) -> str:
        return uuid.uuid5(
            uuid.NAMESPACE_URL, "/".join(["pointlabel", data.name, *map(str, parts)])
        ).hex

    tracks = {t.id: t for t in labels.tracks}
    obj_key = {t.id: t.id if KEY.match(t.id) else key("object", t.id) for t in labels.tracks}
    per_frame: list[list[Box]] = [[] for _ in labels.frames]
    for b in labels.boxes:
        per_frame[b.frame].append(b)
    ds = out / DATASET
    (ds / "ann").mkdir(parents=True, exist_ok=True)
    key_map: dict[str, dict[str, int]] = {"tags": {}, "objects": {}, "figures": {}, "videos": {}}
    tag_values: dict[str, list[Any]] = {}
    classes: dict[str, str] = {}
    for i, f in enumerate(labels.frames):
        name = (
            f.source.name
            if f.source is not None and f.source.name.lower().endswith(".pcd")
            else f"{f.key}.pcd"
        )
        ann: dict[str, Any] = {
            "description": "",
            "key": key("frame", f.key),
            "tags": [],
            "objects": [],
            "figures": [],
        }
        key_map["videos"][ann["key"]] = i
        for b in per_frame[i]:
            t = tracks[b.track_id]
            title = classes.setdefault(t.label, export_type("supervisely", t.label, {}, report))
            attrs: Attrs = {**t.attributes, **b.attributes}
            raw = attrs.pop(IMPORTED, {})
            attrs.update(
                {k: v for k, v in raw.items() if not isinstance(v, list | dict) and v is not None}
            )
            tags = [{"name": n, "value": _tag_value(v)} for n, v in attrs.items()]
            for n, v in attrs.items():
                tag_values.setdefault(n, []).append(v)
            ok = obj_key[b.track_id]
            ann["objects"].append({"key": ok, "classTitle": title, "tags": tags})
            key_map["objects"].setdefault(ok, len(key_map["objects"]))
            fig = key("figure", b.track_id, i)
            key_map["figures"][fig] = len(key_map["figures"])
            ann["figures"].append({"key": fig, "objectKey": ok, "geometryType": "cuboid_3d", "geometry": {
                "position": dict(zip("xyz", b.center, strict=True)),
                "rotation": {"x": b.roll, "y": b.pitch, "z": b.yaw},
                "dimensions": dict(zip("xyz", b.size, strict=True)),
            }})  # fmt: skip
        (ds / "ann" / f"{name}.json").write_text(json.dumps(ann, indent=1))
        if points:
            _points(data, i, f, ds / "pointcloud" / name)
    meta = {
        "classes": [{"title": title, "shape": "cuboid_3d", "color": "#4fc3f7", "geometry_config": {}, "hotkey": ""}
                    for title in sorted(set(classes.values()))],
        "tags": [_tag_meta(n, vs) for n, vs in sorted(tag_values.items())],
        "projectType": "point_clouds",
    }  # fmt: skip
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    (out / "key_id_map.json").write_text(json.dumps(key_map, indent=1))
    if labels.tags:
        report.dropped["tags"] = len(labels.tags)
    report.counts.update(boxes=len(labels.boxes), frames=len(labels.frames))
    return report


def _points(data: SceneData, index: int, f: FrameMeta, target: Path) -> None:
    """The frame's PCD (copied, or written from the stored points) and its related images."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if f.source is not None and f.source.is_file() and f.source.name.lower().endswith(".pcd"):
        shutil.copyfile(f.source, target)
        images = f.source.parent.parent / "related_images" / f"{f.source.name.replace('.', '_')}"
        if images.is_dir() and not images.is_symlink():
            shutil.copytree(
                images, target.parent.parent / "related_images" / images.name, dirs_exist_ok=True
            )
    else:
        local, offset = data.local_points(index)
        write_pcd(target, local.astype(np.float64) + offset)
    data.progress("points", index + 1, len(data.labels.frames))
