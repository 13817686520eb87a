"""Interchange: importing labelled scenes, exporting them, and importing the export again."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from pointcloud.boxes import count_points_in_boxes
from pointcloud.io import read_cloud
from pointcloud.synth import generate_sequence
from server.config import Settings
from server.interchange import export_scene, import_scene
from server.interchange.exporter import SceneData, load
from server.interchange.geometry import euler_to_quat, quat_to_euler

SUSTECH_BOXES = [19, 21, 23, 24]


def _boxes_by_key(data: SceneData) -> dict[tuple[str, str], Any]:
    return {(data.labels.frames[b.frame].key, b.track_id): b for b in data.labels.boxes}


def _same_boxes(a: SceneData, b: SceneData, *, flags: bool = True) -> None:
    ba, bb = _boxes_by_key(a), _boxes_by_key(b)
    assert ba.keys() == bb.keys()
    for k, x in ba.items():
        y = bb[k]
        assert np.allclose(x.center, y.center, atol=1e-6), k
        assert np.allclose(x.size, y.size, atol=1e-6), k
        assert math.isclose(math.remainder(x.yaw - y.yaw, 2 * math.pi), 0, abs_tol=1e-6), k
        assert np.allclose([x.pitch, x.roll], [y.pitch, y.roll], atol=1e-6), k
        if flags:
            assert (x.attributes, x.keyframe) == (y.attributes, y.keyframe), k


def _same_tracks(a: SceneData, b: SceneData) -> None:
    assert {(t.id, t.label, json.dumps(t.attributes, sort_keys=True)) for t in a.labels.tracks} == {
        (t.id, t.label, json.dumps(t.attributes, sort_keys=True)) for t in b.labels.tracks
    }


def _tag_set(d: SceneData) -> set[tuple[Any, ...]]:
    return {
        (g.tag, g.subject, g.track_id, g.related_track_id, g.first_frame, g.last_frame,
         json.dumps(g.attributes, sort_keys=True))
        for g in d.labels.tags
    }  # fmt: skip


def _same_poses(a: SceneData, b: SceneData) -> None:
    for fa, fb in zip(a.labels.frames, b.labels.frames, strict=True):
        assert fa.timestamp == pytest.approx(fb.timestamp)
        assert (fa.pose is None) == (fb.pose is None)
        if fa.pose is not None:
            assert np.allclose(fa.pose, fb.pose, atol=1e-7)


def _roundtrip(engine: Engine, settings: Settings, scene_id: int, fmt: str, out: Path) -> int:
    summary = export_scene(engine, settings, scene_id, fmt, out)
    assert summary["counts"]["boxes"] >= 0
    return import_scene(engine, settings, fmt, out).task_id


def test_sustech_imports_as_one_scene_with_every_box_and_track_id(
    engine: Engine, settings: Settings, shared_data: Path
) -> None:
    folder = shared_data / "sustech"
    result = import_scene(engine, settings, "sustech", folder)
    assert result.frames == 4
    assert result.report.counts["cuboids"] == sum(SUSTECH_BOXES)
    assert not result.report.dropped
    assert result.report.class_map == {"Rider": "Cyclist", "Motor": "Motorcycle"}
    data = load(engine, settings, result.task_id)
    per_frame = [sum(b.frame == i for b in data.labels.boxes) for i in range(4)]
    assert per_frame == SUSTECH_BOXES
    for i, f in enumerate(data.labels.frames):
        raw = json.loads((folder / "label" / f"{f.key}.json").read_text())
        assert {b.track_id for b in data.labels.boxes if b.frame == i} == {x["obj_id"] for x in raw}
        cloud = read_cloud(f.source)  # type: ignore[arg-type]
        boxes = [
            [*b.center, *b.size, b.yaw, b.pitch, b.roll] for b in data.labels.boxes if b.frame == i
        ]
        xyz = cloud.local.astype(np.float64) + cloud.offset
        assert count_points_in_boxes(xyz, boxes).min() > 0


def test_kitti_boxes_contain_points_and_export_reproduces_label_2(
    engine: Engine, settings: Settings, shared_data: Path, tmp_path: Path
) -> None:
    folder = shared_data / "kitti"
    result = import_scene(engine, settings, "kitti", folder)
    assert result.report.dropped == {"DontCare": 4}
    data = load(engine, settings, result.task_id)
    assert len(data.labels.boxes) == 4
    for i, f in enumerate(data.labels.frames):
        pts = np.fromfile(folder / "velodyne" / f"{f.key}.bin", dtype=np.float32).reshape(-1, 4)
        boxes = [[*b.center, *b.size, b.yaw] for b in data.labels.boxes if b.frame == i]
        assert count_points_in_boxes(pts[:, :3].astype(np.float64), boxes).min() > 0
    export_scene(engine, settings, result.task_id, "kitti", tmp_path / "out", points=False)
    for f in data.labels.frames:
        want = [
            line.split()
            for line in (folder / "label_2" / f"{f.key}.txt").read_text().splitlines()
            if not line.startswith("DontCare")
        ]
        got = [
            line.split()
            for line in (tmp_path / "out" / "label_2" / f"{f.key}.txt").read_text().splitlines()
        ]
        assert [w[:3] for w in want] == [g[:3] for g in got]
        w3d = np.array([w[8:15] for w in want], dtype=float)
        g3d = np.array([g[8:15] for g in got], dtype=float)
        assert np.abs(w3d[:, :6] - g3d[:, :6]).max() <= 0.01 + 1e-9
        assert np.abs(w3d[:, 6] - g3d[:, 6]).max() <= 0.01 + 1e-9


def test_kitti_round_trip_keeps_geometry_classes_and_occlusion(
    engine: Engine, settings: Settings, shared_data: Path, tmp_path: Path
) -> None:
    first = import_scene(engine, settings, "kitti", shared_data / "kitti").task_id
    second = _roundtrip(engine, settings, first, "kitti", tmp_path / "kitti")
    a, b = load(engine, settings, first), load(engine, settings, second)
    _same_tracks(a, b)
    ba, bb = _boxes_by_key(a), _boxes_by_key(b)
    assert ba.keys() == bb.keys()
    for k, x in ba.items():
        assert np.allclose(x.center, bb[k].center, atol=1e-6)
        assert x.attributes == bb[k].attributes


@pytest.mark.parametrize("fmt", ["sustech", "openlabel", "pointlabel-json"])
def test_sustech_scene_round_trips(
    engine: Engine, settings: Settings, shared_data: Path, tmp_path: Path, fmt: str
) -> None:
    first = import_scene(engine, settings, "sustech", shared_data / "sustech").task_id
    second = _roundtrip(engine, settings, first, fmt, tmp_path / fmt)
    a, b = load(engine, settings, first), load(engine, settings, second)
    _same_tracks(a, b)
    _same_boxes(a, b)


def _ground_truth_as_nuscenes(folder: Path) -> None:
    """Write the generated sequence's ground truth as nuScenes-style annotations.json,
    marking odd frames as interpolated and adding attributes, to exercise every field."""
    truth = json.loads((folder / "ground_truth.json").read_text())
    poses = json.loads((folder / "poses.json").read_text())["frames"]
    instances, annotations = [], []
    for t in truth["tracks"]:
        attrs = {"parked": False} if t["class"] in ("Car", "Truck") else {}
        instances.append({"token": t["track_id"], "category": t["class"], "attributes": attrs})
        for c in t["cuboids"]:
            length, w, h = c["size"]
            annotations.append({
                "instance_token": t["track_id"], "frame": c["frame"], "translation": c["center"],
                "size": [w, length, h], "rotation": list(euler_to_quat(c["yaw"], 0.0, 0.0)),
                "attributes": {"occlusion": "partial"} if c["points"] < 50 else {},
                "keyframe": c["frame"] % 2 == 0,
            })  # fmt: skip
    tags = [
        {"tag": g["tag"], "subject": "track", "instance_token": g["track_id"],
         "first_frame": g["first_frame"], "last_frame": g["last_frame"],
         "attributes": {"side": "left"} if g["tag"] == "cut_in" else {}}
        for g in truth["tags"]
    ] + [{"tag": "hard_braking", "subject": "ego", "first_frame": 1, "last_frame": 3,
          "attributes": {"severity": "moderate"}}]  # fmt: skip
    frames = [{"index": p["frame"], "file": p["file"], "timestamp": p["timestamp"]} for p in poses]
    doc = {"format": "pointlabel-json", "version": 1, "frames": frames,
           "instances": instances, "annotations": annotations, "tags": tags}  # fmt: skip
    (folder / "annotations.json").write_text(json.dumps(doc))


@pytest.fixture
def generated_scene(engine: Engine, settings: Settings, tmp_path: Path) -> int:
    folder = generate_sequence(tmp_path / "seq", frames=20, azimuth_steps=300)
    _ground_truth_as_nuscenes(folder)
    result = import_scene(engine, settings, "pointlabel-json", folder)
    truth = json.loads((folder / "ground_truth.json").read_text())
    assert result.report.counts["cuboids"] == sum(len(t["cuboids"]) for t in truth["tracks"])
    assert result.report.counts["tags"] == len(truth["tags"]) + 1
    assert not result.report.dropped
    return result.task_id


@pytest.mark.parametrize("fmt", ["openlabel", "pointlabel-json", "sustech"])
def test_generated_sequence_round_trips_with_tags_flags_and_poses(
    engine: Engine, settings: Settings, generated_scene: int, tmp_path: Path, fmt: str
) -> None:
    second = _roundtrip(engine, settings, generated_scene, fmt, tmp_path / fmt)
    a, b = load(engine, settings, generated_scene), load(engine, settings, second)
    assert any(not x.keyframe for x in a.labels.boxes)
    assert all(f.pose is not None for f in a.labels.frames)
    _same_tracks(a, b)
    _same_boxes(a, b)
    _same_poses(a, b)
    if fmt == "sustech":
        assert not b.labels.tags
    else:
        assert _tag_set(a) == _tag_set(b)
        assert {g.tag for g in a.labels.tags} == {"cut_in", "hard_braking"}


def test_euler_quaternion_round_trip() -> None:
    rng = np.random.default_rng(1)
    for yaw, pitch, roll in rng.uniform([-3, -1.2, -1.2], [3, 1.2, 1.2], (50, 3)):
        assert np.allclose(quat_to_euler(euler_to_quat(yaw, pitch, roll)), (yaw, pitch, roll))


def test_generated_sequence_openlabel_passes_vcd_checks(
    engine: Engine, settings: Settings, generated_scene: int, tmp_path: Path
) -> None:
    core = pytest.importorskip("vcd.core")
    sanity = pytest.importorskip("vcd.sanity")
    export_scene(engine, settings, generated_scene, "openlabel", tmp_path / "ol", points=False)
    v = core.VCD()
    v.load_from_file(str(tmp_path / "ol" / "openlabel.json"), validation=True)
    assert sanity.check_frame_intervals(v) and sanity.check_frames_elements(v)
    data = load(engine, settings, generated_scene)
    assert len(v.get_actions()) == len(data.labels.tags)
    assert len(v.get_relations()) == sum(g.track_id is not None for g in data.labels.tags)
