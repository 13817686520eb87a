"""OpenLABEL in, as the standard means it: coordinate systems, transform chains, quaternions,
foreign attributes, static actions, frame matching and reported drops.

The fixture is written by the test from the OpenLABEL 1.0 specification: a
KITTI-tracking-like rig (``odom`` <- ``vehicle-iso8855`` <- ``velo_top`` /
``cam_left``) with per-frame ``vehicle-iso8855 -> odom`` ego transforms.
Expected boxes come from an independent numpy construction of the same boxes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from sqlalchemy.engine import Engine

from pointcloud.io.pcd import write_pcd
from server.config import Settings
from server.interchange import export_scene, import_scene
from server.interchange.exporter import load
from server.taxonomy import default_document
from tests.conftest import publish_taxonomy

Mat = NDArray[np.float64]
FRAMES = 3


def _rot(yaw: float, pitch: float, roll: float) -> Mat:
    cy, sy, cp, sp, cr, sr = (f(a) for a in (yaw, pitch, roll) for f in (math.cos, math.sin))
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    return rz @ ry @ rx


def _pose(r: Mat, t: list[float]) -> Mat:
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = r, t
    return m


def _quat_xyzw(r: Mat) -> list[float]:
    """A rotation matrix as a unit quaternion (x, y, z, w), by Shepperd's method."""
    tr = np.trace(r)
    if tr > 0:
        s = 2 * math.sqrt(1 + tr)
        w, x, y, z = (
            s / 4,
            (r[2, 1] - r[1, 2]) / s,
            (r[0, 2] - r[2, 0]) / s,
            (r[1, 0] - r[0, 1]) / s,
        )
    else:
        i = int(np.argmax(np.diag(r)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2 * math.sqrt(1 + r[i, i] - r[j, j] - r[k, k])
        q = [0.0, 0.0, 0.0]
        q[i], q[j], q[k] = s / 4, (r[j, i] + r[i, j]) / s, (r[k, i] + r[i, k]) / s
        w = (r[k, j] - r[j, k]) / s
        x, y, z = q
    return [x, y, z, w]


def _zyx(r: Mat) -> tuple[float, float, float]:
    """(rx, ry, rz) with r = Rz(rz) @ Ry(ry) @ Rx(rx)."""
    return math.atan2(r[2, 1], r[2, 2]), math.asin(-r[2, 0]), math.atan2(r[1, 0], r[0, 0])


# The rig: velo_top and cam_left in vehicle-iso8855 (x forward, y left, z up).
VELO_TO_VEH = _pose(_rot(0.01, -0.005, 0.003), [0.81, -0.32, 1.73])
CAM_AXES = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])  # x right, y down, z fwd
CAM_TO_VEH = _pose(_rot(-0.02, 0.015, 0.0) @ CAM_AXES, [1.1, 0.2, 1.65])


def _veh_to_odom(f: int) -> Mat:
    return _pose(_rot(0.3 + 0.05 * f, 0.0, 0.0), [100.0 + 5.0 * f, -20.0 + 0.5 * f, 3.0])


# Truth in the lidar frame: (name, type, frame, centre, (l, w, h), (yaw, pitch, roll), cs).
TRUTH: list[tuple[str, str, int, list[float], tuple[float, float, float], tuple[float, float, float], str]] = [
    ("car-1", "car", f, [12.0 + f, 3.0, -0.8], (4.2, 1.8, 1.5), (0.4 + 0.1 * f, 0.02, -0.01), "cam_left")
    for f in range(FRAMES)
] + [
    ("car-2", "Car", f, [-6.0, -8.0 + f, -0.9], (4.6, 1.9, 1.6), (-2.9, -0.03, 0.02), cs)
    for f, cs in zip(range(FRAMES), ("velo_top", "vehicle-iso8855", "odom"), strict=True)
] + [
    ("ped-1", "pedestrian", f, [7.0, -4.0 - 0.5 * f, -0.9], (0.6, 0.7, 1.75), (3.0, 0.0, 0.0), "cam_left")
    for f in range(FRAMES)
]  # fmt: skip


def _cuboid(
    centre: list[float], size: tuple[float, ...], angles: tuple[float, ...], cs: str, f: int
) -> dict[str, Any]:
    """The truth box as an OpenLABEL cuboid in ``cs``, built with plain numpy."""
    p_lidar = _pose(_rot(*angles), centre)
    if cs == "cam_left":
        # KITTI-style object axes in the camera: x = heading, y = down, z = left.
        relabel = np.c_[[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]]
        p = np.linalg.inv(CAM_TO_VEH) @ VELO_TO_VEH @ p_lidar @ _pose(relabel, [0, 0, 0])
        rx, ry, rz = _zyx(p[:3, :3])
        length, w, h = size
        val = [*p[:3, 3], rx, ry, rz, length, h, w]
    else:
        to = {
            "velo_top": np.eye(4),
            "vehicle-iso8855": VELO_TO_VEH,
            "odom": _veh_to_odom(f) @ VELO_TO_VEH,
        }[cs]
        p = to @ p_lidar
        val = [*p[:3, 3], *_quat_xyzw(p[:3, :3]), *size]
    return {"name": "shape", "coordinate_system": cs, "val": [float(v) for v in val]}


def _document(uris: list[str]) -> dict[str, Any]:
    names = sorted({t[0] for t in TRUTH})
    uid = {n: str(i) for i, n in enumerate(names)}
    types = {t[0]: t[1] for t in TRUTH}
    frames: dict[str, Any] = {}
    for f in range(FRAMES):
        props: dict[str, Any] = {
            "timestamp": 0.1 * f,
            "streams": {"velo_top": {"uri": uris[f]}},
            "transforms": {"vehicle-iso8855_to_odom": {
                "src": "vehicle-iso8855", "dst": "odom",
                "transform_src_to_dst": {"matrix4x4": [float(v) for v in _veh_to_odom(f).ravel()]},
            }},
        }  # fmt: skip
        frames[str(f)] = {"frame_properties": props, "objects": {}}
    for name, _type, f, centre, size, angles, cs in TRUTH:
        od: dict[str, Any] = {"cuboid": [_cuboid(centre, size, angles, cs, f)]}
        if name != "ped-1":
            od["num"] = [{"name": "truncated", "val": 0.3}, {"name": "occluded", "val": 1},
                         {"name": "alpha", "val": -1.2}]  # fmt: skip
            od["text"] = [{"name": "occlusion", "val": "partial"}]
        frames[str(f)]["objects"][uid[name]] = {"object_data": od}
    q_cam = _quat_xyzw(CAM_TO_VEH[:3, :3])
    velo_euler = list(reversed(_zyx(VELO_TO_VEH[:3, :3])))  # (rz, ry, rx) for sequence ZYX
    doc = {
        "metadata": {"schema_version": "1.0.0"},
        "coordinate_systems": {
            "odom": {"type": "scene_cs", "parent": "", "children": ["vehicle-iso8855"]},
            "vehicle-iso8855": {"type": "local_cs", "parent": "odom", "children": ["velo_top", "cam_left"]},
            "velo_top": {"type": "sensor_cs", "parent": "vehicle-iso8855", "children": [],
                         "pose_wrt_parent": {"euler_angles": velo_euler, "sequence": "ZYX",
                                             "translation": list(VELO_TO_VEH[:3, 3])}},
            "cam_left": {"type": "sensor_cs", "parent": "vehicle-iso8855", "children": [],
                         "pose_wrt_parent": {"quaternion": q_cam, "translation": list(CAM_TO_VEH[:3, 3])}},
        },
        "streams": {"velo_top": {"type": "lidar"}, "cam_left": {"type": "camera"}},
        "frame_intervals": [{"frame_start": 0, "frame_end": FRAMES - 1}],
        "frames": frames,
        "objects": {
            uid[n]: {"name": n, "type": types[n], "frame_intervals": [{"frame_start": 0, "frame_end": FRAMES - 1}],
                     **({"object_data": {"text": [{"name": "color", "val": "red"}]}} if n == "car-2" else {})}
            for n in names
        },
        "actions": {
            "0": {"name": "night", "type": "night"},
            "1": {"name": "cut_in", "type": "cut_in", "frame_intervals": [{"frame_start": 1, "frame_end": 2}],
                  "action_data": {"text": [{"name": "side", "val": "left"}], "num": [{"name": "confidence", "val": 0.9}]}},
        },
        "relations": {"0": {"name": "subject", "type": "isSubjectOfAction",
                            "rdf_subjects": [{"uid": uid["car-1"], "type": "object"}],
                            "rdf_objects": [{"uid": "1", "type": "action"}]}},
    }  # fmt: skip
    return {"openlabel": doc}


def _folder(tmp_path: Path, uris: list[str]) -> Path:
    folder = tmp_path / "ol"
    (folder / "lidar").mkdir(parents=True)
    rng = np.random.default_rng(11)
    for f in range(FRAMES):
        xyz = rng.uniform([-40, -40, -3], [40, 40, 3], (6000, 3)).astype(np.float32)
        write_pcd(folder / "lidar" / f"{f:06d}.pcd", xyz, {})
    (folder / "openlabel.json").write_text(json.dumps(_document(uris)))
    return folder


@pytest.fixture(autouse=True)
def night_tag(engine: Engine) -> None:
    """The project's taxonomy has a ``night`` scene tag (a published version 2)."""
    doc = default_document()
    doc["tags"].append({"name": "night", "subjects": ["scene"]})
    publish_taxonomy(engine, doc)


def _angle(a: float, b: float) -> float:
    return abs(math.remainder(a - b, 2 * math.pi))


@pytest.mark.parametrize("matched", ["uri", "order"])
def test_camera_frame_quaternion_and_world_cuboids_land_in_the_lidar_frame(
    engine: Engine, settings: Settings, tmp_path: Path, matched: str
) -> None:
    # By uri, the OpenLABEL frames name their files in reverse; by order, the uris are empty.
    uris = (
        [f"lidar/{FRAMES - 1 - f:06d}.pcd" for f in range(FRAMES)]
        if matched == "uri"
        else [""] * FRAMES
    )
    folder = _folder(tmp_path, uris)
    result = import_scene(engine, settings, "openlabel", folder)
    report = result.report
    assert report.dropped == {}, report.to_json()
    assert report.frame_match == matched
    assert report.counts["cuboids"] == len(TRUTH)
    assert report.class_map == {"car": "Car", "pedestrian": "Pedestrian"}
    assert {"truncated", "occluded", "alpha", "color"} <= set(report.foreign_attributes)
    data = load(engine, settings, result.task_id)
    scene_frame = {f: (FRAMES - 1 - f if matched == "uri" else f) for f in range(FRAMES)}
    boxes = {(b.track_id, b.frame): b for b in data.labels.boxes}
    assert len(boxes) == len(TRUTH)
    for name, _type, f, centre, size, (yaw, pitch, roll), _cs in TRUTH:
        b = boxes[(name, scene_frame[f])]
        assert np.abs(np.subtract(b.center, centre)).max() < 1e-6, (name, f)
        assert np.abs(np.subtract(b.size, size)).max() < 1e-6, (name, f)
        assert (
            _angle(b.yaw, yaw) < 1e-6 and abs(b.pitch - pitch) < 1e-6 and abs(b.roll - roll) < 1e-6
        )
        if name != "ped-1":
            assert b.attributes == {"occlusion": "partial",
                                    "imported": {"truncated": 0.3, "occluded": 1, "alpha": -1.2}}  # fmt: skip
    tracks = {t.id: t for t in data.labels.tracks}
    assert tracks["car-1"].label == "Car" and tracks["ped-1"].label == "Pedestrian"
    assert tracks["car-2"].attributes == {"imported": {"color": "red"}}
    for f in range(FRAMES):
        want = _veh_to_odom(f) @ VELO_TO_VEH
        frame = data.labels.frames[scene_frame[f]]
        assert frame.pose is not None
        assert np.abs(np.asarray(frame.pose) - want).max() < 1e-9
        assert frame.timestamp == pytest.approx(0.1 * f)
    tags = {g.tag: g for g in data.labels.tags}
    assert len(data.labels.tags) == 2
    night, cut_in = tags["night"], tags["cut_in"]
    assert (night.subject, night.first_frame, night.last_frame) == ("scene", 0, FRAMES - 1)
    first, last = sorted(scene_frame[f] for f in (1, 2))
    assert (cut_in.subject, cut_in.track_id, cut_in.first_frame, cut_in.last_frame) == (
        "track",
        "car-1",
        first,
        last,
    )
    assert cut_in.attributes == {"side": "left", "imported": {"confidence": 0.9}}
    assert report.counts["static_actions"] == 1


def test_every_drop_is_reported_with_the_validators_message(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    folder = _folder(tmp_path, [f"lidar/{f:06d}.pcd" for f in range(FRAMES)])
    doc = json.loads((folder / "openlabel.json").read_text())
    ol = doc["openlabel"]
    box = ol["frames"]["0"]["objects"]["0"]["object_data"]["cuboid"]
    box.append(dict(box[0], name="second"))
    ol["actions"]["1"] = {"name": "moonwalk", "type": "moonwalk"}
    ol["frames"]["1"]["objects"]["1"]["object_data"]["cuboid"][0]["val"][0] += 500.0
    (folder / "openlabel.json").write_text(json.dumps(doc))
    result = import_scene(engine, settings, "openlabel", folder)
    report = result.report
    assert report.dropped == {
        "second_cuboid_same_object_and_frame": 1,
        "tag:unknown_tag": 1,
        "cuboid:center_out_of_bounds": 1,
    }
    messages = {d["code"]: d["message"] for d in report.drops}
    assert messages["unknown_tag"] == "tag type 'moonwalk' is not in the taxonomy"
    assert "outside frame" in messages["center_out_of_bounds"]
    assert report.counts["cuboids"] == len(TRUTH) - 1


def test_export_passes_vcd_validation_and_sanity_checks_and_reads_back(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    core = pytest.importorskip("vcd.core")
    sanity = pytest.importorskip("vcd.sanity")
    scl = pytest.importorskip("vcd.scl")
    folder = _folder(tmp_path, [f"lidar/{f:06d}.pcd" for f in range(FRAMES)])
    first = import_scene(engine, settings, "openlabel", folder).task_id
    out = tmp_path / "out"
    export_scene(engine, settings, first, "openlabel", out, points=True)
    v = core.VCD()
    v.load_from_file(str(out / "openlabel.json"), validation=True)
    assert sanity.check_frame_intervals(v)
    assert sanity.check_frames_elements(v)
    data = load(engine, settings, first)
    objects = v.get_objects()
    uid_of = {obj["name"]: uid for uid, obj in objects.items()}
    for b in data.labels.boxes:
        box = v.get_object_data(uid_of[b.track_id], "box", b.frame)
        assert box["val"] == [*b.center, b.roll, b.pitch, b.yaw, *b.size]
        assert box["coordinate_system"] == "lidar"
        pointers = objects[uid_of[b.track_id]]["object_data_pointers"]
        assert pointers["box"]["type"] == "cuboid"
        assert any(
            i["frame_start"] <= b.frame <= i["frame_end"]
            for i in pointers["box"]["frame_intervals"]
        )
    assert sum(len(v.get_frame(f)["objects"]) for f in range(FRAMES)) == len(data.labels.boxes)
    assert objects[uid_of["car-2"]]["object_data_pointers"]["color"] == {
        "type": "text",
        "frame_intervals": [],
    }
    actions = v.get_actions()
    assert sorted((a["type"], a["frame_intervals"][0]["frame_start"], a["frame_intervals"][0]["frame_end"])
                  for a in actions.values()) == sorted((g.tag, g.first_frame, g.last_frame) for g in data.labels.tags)  # fmt: skip
    (rel,) = v.get_relations().values()
    assert objects[rel["rdf_subjects"][0]["uid"]]["name"] == "car-1"
    assert actions[rel["rdf_objects"][0]["uid"]]["type"] == "cut_in"
    lidar = v.get_root()["coordinate_systems"]["lidar"]
    assert lidar["pose_wrt_parent"]["matrix4x4"] == [float(x) for x in np.eye(4).ravel()]
    scene = scl.Scene(v)
    for f, frame in enumerate(data.labels.frames):
        t, static = scene.get_transform("lidar", "odom", f)
        assert not static and np.allclose(t, frame.pose, atol=1e-9)
    second = import_scene(engine, settings, "openlabel", out)
    assert second.report.dropped == {} and second.report.frame_match == "uri"
    again = load(engine, settings, second.task_id)
    key = lambda b: (b.track_id, b.frame)  # noqa: E731
    for a, b in zip(
        sorted(data.labels.boxes, key=key), sorted(again.labels.boxes, key=key), strict=True
    ):
        assert key(a) == key(b) and a.attributes == b.attributes and a.keyframe == b.keyframe
        assert np.allclose(
            [*a.center, *a.size, a.yaw, a.pitch, a.roll],
            [*b.center, *b.size, b.yaw, b.pitch, b.roll],
            atol=1e-9,
        )
    assert [t.attributes for t in data.labels.tracks] == [t.attributes for t in again.labels.tracks]
    assert sorted((g.tag, g.track_id, g.first_frame, g.last_frame, str(g.attributes)) for g in data.labels.tags) == sorted(
        (g.tag, g.track_id, g.first_frame, g.last_frame, str(g.attributes)) for g in again.labels.tags)  # fmt: skip
