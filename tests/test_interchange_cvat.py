"""Coming from CVAT: KITTI raw tracklets and the Supervisely point-cloud format, each written by
the test from the format's public description, imported, exported and read back."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine

from pointcloud.io.pcd import write_pcd
from server.cli import IMPORTS
from server.config import Settings
from server.interchange import EXPORT_FORMATS, IMPORT_FORMATS, export_scene, import_scene
from server.interchange.exporter import load

FRAMES = 5
# Tracklets: type, (h, w, l), first_frame, poses (tx, ty, tz, rx, ry, rz, state, occlusion, truncation)
TRACKLETS: list[tuple[str, tuple[float, float, float], int, list[tuple[float, ...]]]] = [
    ("Car", (1.52, 1.71, 4.05), 0, [(8.0 + k, -2.5, -1.72, 0.0, 0.0, 0.12 + 0.01 * k, 2 if k in (0, 3, 4) else 1, k % 3, 0) for k in range(5)]),
    ("Pedestrian", (1.76, 0.62, 0.85), 1, [(5.2, 3.1, -1.65, 0.0, 0.0, -1.4, 2, 0, 0), (0, 0, 0, 0, 0, 0, 0, -1, -1), (5.6, 2.7, -1.66, 0.0, 0.0, -1.35, 2, 1, 1)]),
    ("Cyclist", (1.69, 0.58, 1.77), 2, [(-9.5, 4.0, -1.7, 0.01, -0.02, 2.9, 2, 0, -1), (-9.0, 4.1, -1.7, 0.01, -0.02, 2.95, 1, 2, 2)]),
]  # fmt: skip
FIELDS = ("tx", "ty", "tz", "rx", "ry", "rz", "state", "occlusion", "truncation")


def _rot(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cy, sy, cp, sp, cr, sr = (f(a) for a in (yaw, pitch, roll) for f in (math.cos, math.sin))
    return (
        np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
        @ np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
        @ np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    )


def _drive(root: Path) -> Path:
    """A KITTI raw drive: velodyne_points/data/*.bin and a boost-serialised tracklet_labels.xml."""
    data = root / "velodyne_points" / "data"
    data.mkdir(parents=True)
    rng = np.random.default_rng(8)
    for f in range(FRAMES):
        pts = np.c_[
            rng.uniform([-30, -30, -2.5], [30, 30, 1.5], (4000, 3)), rng.uniform(0, 1, 4000)
        ]
        pts.astype(np.float32).tofile(data / f"{f:010d}.bin")
    items = []
    for kind, (h, w, length), first, poses in TRACKLETS:
        pose_xml = "".join(
            "<item>" + "".join(f"<{k}>{v}</{k}>" for k, v in zip(FIELDS, p, strict=True))
            + "<occlusion_kf>0</occlusion_kf><amt_occlusion>-1</amt_occlusion><amt_occlusion_kf>-1</amt_occlusion_kf>"
            "<amt_border_l>-1</amt_border_l><amt_border_r>-1</amt_border_r><amt_border_kf>-1</amt_border_kf></item>"
            for p in poses
        )  # fmt: skip
        items.append(f"<item><objectType>{kind}</objectType><h>{h}</h><w>{w}</w><l>{length}</l>"
                     f"<first_frame>{first}</first_frame><poses><count>{len(poses)}</count>"
                     f"<item_version>2</item_version>{pose_xml}</poses><finished>1</finished></item>")  # fmt: skip
    xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>\n<!DOCTYPE boost_serialization>\n'
           '<boost_serialization signature="serialization::archive" version="9">'
           f'<tracklets class_id="0" tracking_level="0" version="0"><count>{len(items)}</count>'
           f'<item_version>1</item_version>{"".join(items)}</tracklets></boost_serialization>')  # fmt: skip
    (root / "tracklet_labels.xml").write_text(xml)
    return root


def test_kitti_raw_tracklets_import_with_bottom_centres_states_and_gaps(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    result = import_scene(engine, settings, "kitti-raw", _drive(tmp_path / "drive"))
    assert result.report.dropped == {}
    data = load(engine, settings, result.task_id)
    assert [(t.id, t.label) for t in data.labels.tracks] == [
        ("0", "Car"),
        ("1", "Pedestrian"),
        ("2", "Cyclist"),
    ]
    boxes = {(b.track_id, b.frame): b for b in data.labels.boxes}
    assert len(boxes) == sum(sum(1 for p in poses if p[6]) for *_x, poses in TRACKLETS)
    for n, (_kind, (h, w, length), first, poses) in enumerate(TRACKLETS):
        for k, (tx, ty, tz, rx, ry, rz, state, occ, trunc) in enumerate(poses):
            if state == 0:
                assert (str(n), first + k) not in boxes
                continue
            b = boxes[(str(n), first + k)]
            want = np.array([tx, ty, tz]) + _rot(rz, ry, rx) @ [0, 0, h / 2]
            assert np.abs(np.subtract(b.center, want)).max() < 1e-9
            assert b.size == (length, w, h) and (b.yaw, b.pitch, b.roll) == (rz, ry, rx)
            assert b.keyframe is (state == 2)
            assert b.attributes.get("occlusion") == (
                None if occ < 0 else ("none", "partial", "heavy")[occ]
            )
            assert b.attributes.get("truncated") == (None if trunc < 0 else trunc > 0)


def _poses(xml: Path) -> list[tuple[str, list[float], int, list[list[float]]]]:
    root = ET.parse(xml).getroot()
    out = []
    for item in root.find("tracklets").findall("item"):  # type: ignore[union-attr]
        size = [float(item.findtext(k)) for k in ("h", "w", "l")]  # type: ignore[arg-type]
        poses = [[float(p.findtext(k)) for k in FIELDS] for p in item.find("poses").findall("item")]  # type: ignore[arg-type, union-attr]
        out.append((item.findtext("objectType"), size, int(item.findtext("first_frame")), poses))  # type: ignore[arg-type]
    return out  # type: ignore[return-value]


def test_kitti_raw_round_trips_every_tracklet_field(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    folder = _drive(tmp_path / "drive")
    first = import_scene(engine, settings, "kitti-raw", folder).task_id
    out = tmp_path / "out"
    export_scene(engine, settings, first, "kitti-raw", out, points=True)
    want, got = _poses(folder / "tracklet_labels.xml"), _poses(out / "tracklet_labels.xml")
    assert [(k, s, f) for k, s, f, _ in got] == [(k, s, f) for k, s, f, _ in want]
    for (*_a, pw), (*_b, pg) in zip(want, got, strict=True):
        for a, b in zip(pw, pg, strict=True):
            if a[6] == 0:
                assert b[6] == 0
                continue
            assert np.abs(np.subtract(a[:6], b[:6])).max() < 1e-9 and a[6:] == b[6:]
    second = import_scene(engine, settings, "kitti-raw", out).task_id
    x, y = load(engine, settings, first), load(engine, settings, second)
    assert [(t.id, t.label) for t in x.labels.tracks] == [(t.id, t.label) for t in y.labels.tracks]
    assert [(b.track_id, b.frame, b.keyframe, b.attributes) for b in x.labels.boxes] == [
        (b.track_id, b.frame, b.keyframe, b.attributes) for b in y.labels.boxes
    ]
    assert np.abs(np.array([[*b.center, *b.size, b.yaw] for b in x.labels.boxes])
                  - np.array([[*b.center, *b.size, b.yaw] for b in y.labels.boxes])).max() < 1e-9  # fmt: skip


CAR, PED, TRUCK = "a" * 32, "b" * 32, "c" * 32
SLY: dict[int, list[tuple[str, str, list[dict[str, Any]], tuple[float, ...]]]] = {
    0: [(CAR, "Car", [{"name": "parked", "value": "false"}, {"name": "occlusion", "value": "partial"}, {"name": "score", "value": 0.87}], (10.0, 2.0, -0.9, 0.0, 0.01, 0.3, 4.4, 1.8, 1.5)),
        (TRUCK, "truck", [], (-12.0, 5.0, -0.4, 0.0, 0.0, -2.0, 9.0, 2.5, 3.2))],
    1: [(CAR, "Car", [{"name": "parked", "value": "false"}, {"name": "truncated", "value": "true"}], (10.6, 2.1, -0.9, 0.0, 0.01, 0.31, 4.4, 1.8, 1.5)),
        (PED, "Pedestrian", [{"name": "age", "value": "child"}], (4.0, -3.0, -1.0, 0.0, 0.0, 1.2, 0.5, 0.5, 1.2))],
    2: [(PED, "Pedestrian", [{"name": "age", "value": "child"}], (4.3, -3.2, -1.0, 0.0, 0.0, 1.25, 0.5, 0.5, 1.2))],
}  # fmt: skip


def _project(root: Path) -> Path:
    """A Supervisely point-cloud project with one dataset, object keys across frames and a camera."""
    ds = root / "ds0"
    rng = np.random.default_rng(9)
    key_map: dict[str, dict[str, int]] = {"tags": {}, "objects": {}, "figures": {}, "videos": {}}
    for f, entries in SLY.items():
        (ds / "pointcloud").mkdir(parents=True, exist_ok=True)
        (ds / "ann").mkdir(exist_ok=True)
        write_pcd(
            ds / "pointcloud" / f"{f:06d}.pcd",
            rng.uniform([-30, -30, -2.5], [30, 30, 2], (3000, 3)),
        )
        cam = ds / "related_images" / f"{f:06d}_pcd"
        cam.mkdir(parents=True)
        (cam / "front.png").write_bytes(b"\x89PNG\r\n\x1a\nnot a real image")
        (cam / "front.png.json").write_text(
            json.dumps({"name": "front.png", "meta": {"sensorsData": {}}})
        )
        ann = {"description": "", "key": f"{f:032x}", "tags": [], "objects": [], "figures": []}
        for key, title, tags, (x, y, z, rx, ry, rz, dx, dy, dz) in entries:
            ann["objects"].append({"key": key, "classTitle": title, "tags": tags})  # type: ignore[attr-defined]
            fig = f"{f:016x}{key[:16]}"
            key_map["objects"].setdefault(key, len(key_map["objects"]) + 100)
            key_map["figures"][fig] = len(key_map["figures"]) + 500
            ann["figures"].append({"key": fig, "objectKey": key, "geometryType": "cuboid_3d", "geometry": {  # type: ignore[attr-defined]
                "position": {"x": x, "y": y, "z": z}, "rotation": {"x": rx, "y": ry, "z": rz},
                "dimensions": {"x": dx, "y": dy, "z": dz}}})  # fmt: skip
        (ds / "ann" / f"{f:06d}.pcd.json").write_text(json.dumps(ann))
    meta = {"classes": [{"title": t, "shape": "cuboid_3d", "color": "#ff0000", "geometry_config": {}} for t in ("Car", "truck", "Pedestrian")],
            "tags": [], "projectType": "point_clouds"}  # fmt: skip
    (root / "meta.json").write_text(json.dumps(meta))
    (root / "key_id_map.json").write_text(json.dumps(key_map))
    return root


def test_supervisely_project_imports_object_keys_as_tracks(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    result = import_scene(engine, settings, "supervisely", _project(tmp_path / "sly"))
    assert result.report.dropped == {} and result.report.class_map == {"truck": "Truck"}
    assert result.report.foreign_attributes == {"score": "not declared for Car"}
    data = load(engine, settings, result.task_id)
    tracks = {t.id: t for t in data.labels.tracks}
    assert {k: t.label for k, t in tracks.items()} == {
        CAR: "Car",
        TRUCK: "Truck",
        PED: "Pedestrian",
    }
    assert tracks[CAR].attributes == {"parked": False} and tracks[PED].attributes == {
        "age": "child"
    }
    boxes = {(b.track_id, b.frame): b for b in data.labels.boxes}
    for f, entries in SLY.items():
        for key, _title, _tags, (x, y, z, rx, ry, rz, dx, dy, dz) in entries:
            b = boxes[(key, f)]
            assert (*b.center, b.roll, b.pitch, b.yaw, *b.size) == (x, y, z, rx, ry, rz, dx, dy, dz)
    assert boxes[(CAR, 0)].attributes == {"occlusion": "partial", "imported": {"score": 0.87}}
    assert boxes[(CAR, 1)].attributes == {"truncated": True}


def test_supervisely_round_trips_keys_boxes_attributes_and_related_images(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    first = import_scene(engine, settings, "supervisely", _project(tmp_path / "sly")).task_id
    out = tmp_path / "out"
    export_scene(engine, settings, first, "supervisely", out, points=True)
    key_map = json.loads((out / "key_id_map.json").read_text())
    assert set(key_map["objects"]) == {CAR, TRUCK, PED}
    meta = json.loads((out / "meta.json").read_text())
    assert {c["title"] for c in meta["classes"]} == {"Car", "Truck", "Pedestrian"}
    assert all(c["shape"] == "cuboid_3d" for c in meta["classes"])
    ann = json.loads((out / "ds0" / "ann" / "000001.pcd.json").read_text())
    assert {o["key"] for o in ann["objects"]} == {CAR, PED}
    assert (out / "ds0" / "related_images" / "000001_pcd" / "front.png.json").is_file()
    second = import_scene(engine, settings, "supervisely", out).task_id
    x, y = load(engine, settings, first), load(engine, settings, second)
    assert [(t.id, t.label, t.attributes) for t in x.labels.tracks] == [
        (t.id, t.label, t.attributes) for t in y.labels.tracks
    ]
    assert [
        (b.track_id, b.frame, b.center, b.size, b.yaw, b.pitch, b.roll, b.attributes)
        for b in x.labels.boxes
    ] == [
        (b.track_id, b.frame, b.center, b.size, b.yaw, b.pitch, b.roll, b.attributes)
        for b in y.labels.boxes
    ]


def test_the_cli_offers_every_format() -> None:
    assert set(IMPORTS) == set(IMPORT_FORMATS)
    assert set(EXPORT_FORMATS) == {*IMPORTS, "csv"}
