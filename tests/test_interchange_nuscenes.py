"""nuScenes v1.0 tables: a dataroot written by the test from the nuScenes schema (one scene,
four samples with known global ego poses, two lidar sweeps and a camera stream)."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from sqlalchemy.engine import Engine

from server.config import Settings
from server.interchange import InterchangeError, export_scene, import_scene
from server.interchange.exporter import load

Mat = NDArray[np.float64]
T0 = 1532402927647951
SAMPLES = 4


def _tok(*parts: object) -> str:
    return hashlib.md5("/".join(map(str, parts)).encode()).hexdigest()


def _rot(yaw: float, pitch: float = 0.0, roll: float = 0.0) -> Mat:
    cy, sy, cp, sp, cr, sr = (f(a) for a in (yaw, pitch, roll) for f in (math.cos, math.sin))
    return (
        np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
        @ np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
        @ np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    )


def _pose(r: Mat, t: list[float]) -> Mat:
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = r, t
    return m


def _wxyz(r: Mat) -> list[float]:
    """Unit quaternion (w, x, y, z) of a rotation matrix (trace method; fine for these)."""
    w = math.sqrt(max(0.0, 1 + np.trace(r))) / 2
    return [
        w,
        (r[2, 1] - r[1, 2]) / (4 * w),
        (r[0, 2] - r[2, 0]) / (4 * w),
        (r[1, 0] - r[0, 1]) / (4 * w),
    ]


def _q2r(q: list[float]) -> Mat:
    w, x, y, z = np.asarray(q) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])  # fmt: skip


LIDAR_IN_EGO = _pose(_rot(-math.pi / 2 + 0.004, 0.002, -0.003), [0.943713, 0.0, 1.84023])


def _ego(k: float) -> Mat:
    return _pose(_rot(0.2 + 0.01 * k, 0.001, 0.0), [411.3 + 2.0 * k, 1180.9 + 0.5 * k, 0.1])


# Truth in the lidar frame: instance, category, samples, centre(k), (l, w, h), angles, attributes, visibility
INSTANCES: list[tuple[str, str, range, Any, tuple[float, float, float], tuple[float, float, float], list[str], str]] = [
    ("car", "vehicle.car", range(4), lambda k: [10.0 + k, -3.0, -1.0], (4.5, 1.9, 1.6), (0.3, 0.02, -0.01), ["vehicle.parked"], "4"),
    ("ped", "human.pedestrian.adult", range(1, 4), lambda k: [-5.0, 6.0 - 0.4 * k, -1.0], (0.7, 0.6, 1.8), (-2.8, 0.0, 0.0), ["pedestrian.moving"], "2"),
    ("barrier", "movable_object.barrier", range(2), lambda k: [3.0, 12.0, -1.3], (0.5, 2.4, 1.0), (1.1, 0.0, 0.0), [], "3"),
]  # fmt: skip


def _dataroot(root: Path) -> Path:
    v = root / "v1.0-mini"
    v.mkdir(parents=True)
    rng = np.random.default_rng(4)
    t: dict[str, list[dict[str, Any]]] = {name: [] for name in (
        "log", "scene", "sensor", "calibrated_sensor", "sample", "sample_data", "ego_pose",
        "instance", "category", "attribute", "visibility", "sample_annotation", "map")}  # fmt: skip
    t["log"].append(
        {
            "token": _tok("log"),
            "logfile": "n015-2018-07-24",
            "vehicle": "n015",
            "date_captured": "2018-07-24",
            "location": "singapore-onenorth",
        }
    )
    t["scene"].append(
        {
            "token": _tok("scene"),
            "log_token": _tok("log"),
            "nbr_samples": SAMPLES,
            "first_sample_token": _tok("sample", 0),
            "last_sample_token": _tok("sample", SAMPLES - 1),
            "name": "scene-0061",
            "description": "parked cars, a pedestrian",
        }
    )
    t["sensor"] += [
        {"token": _tok("sensor", "lidar"), "channel": "LIDAR_TOP", "modality": "lidar"},
        {"token": _tok("sensor", "cam"), "channel": "CAM_FRONT", "modality": "camera"},
    ]
    t["calibrated_sensor"] += [
        {"token": _tok("cal", "lidar"), "sensor_token": _tok("sensor", "lidar"), "translation": list(LIDAR_IN_EGO[:3, 3]), "rotation": _wxyz(LIDAR_IN_EGO[:3, :3]), "camera_intrinsic": []},
        {"token": _tok("cal", "cam"), "sensor_token": _tok("sensor", "cam"), "translation": [1.7, 0.0, 1.5], "rotation": [0.5, -0.5, 0.5, -0.5], "camera_intrinsic": [[1266.4, 0, 816.3], [0, 1266.4, 491.5], [0, 0, 1]]},
    ]  # fmt: skip
    for level, token in (("v0-40", "1"), ("v40-60", "2"), ("v60-80", "3"), ("v80-100", "4")):
        t["visibility"].append({"token": token, "level": level, "description": level})
    for name in ("vehicle.parked", "pedestrian.moving"):
        t["attribute"].append({"token": _tok("attribute", name), "name": name, "description": ""})
    for name in ("vehicle.car", "human.pedestrian.adult", "movable_object.barrier"):
        t["category"].append({"token": _tok("category", name), "name": name, "description": ""})
    lidar = []
    for k in range(SAMPLES):
        stamp = T0 + 500_000 * k
        t["sample"].append({"token": _tok("sample", k), "timestamp": stamp, "prev": _tok("sample", k - 1) if k else "",
                            "next": _tok("sample", k + 1) if k < SAMPLES - 1 else "", "scene_token": _tok("scene")})  # fmt: skip
        frames = [("samples", k, stamp, True)] + (
            [("sweeps", k + 0.3 * j, stamp + 150_000 * j, False) for j in (1, 2)] if k == 0 else []
        )
        for folder, when, ts, key in frames:
            name = f"n015-2018-07-24__LIDAR_TOP__{ts}.pcd.bin"
            (root / folder / "LIDAR_TOP").mkdir(parents=True, exist_ok=True)
            rng.uniform([-30, -30, -3, 0, 0], [30, 30, 3, 100, 31], (3000, 5)).astype(
                np.float32
            ).tofile(root / folder / "LIDAR_TOP" / name)
            ego = _ego(when)
            t["ego_pose"].append(
                {
                    "token": _tok("ego", ts),
                    "timestamp": ts,
                    "translation": list(ego[:3, 3]),
                    "rotation": _wxyz(ego[:3, :3]),
                }
            )
            lidar.append({"token": _tok("sd", ts), "sample_token": _tok("sample", k if key else 1), "ego_pose_token": _tok("ego", ts),
                          "calibrated_sensor_token": _tok("cal", "lidar"), "timestamp": ts, "fileformat": "pcd", "is_key_frame": key,
                          "height": 0, "width": 0, "filename": f"{folder}/LIDAR_TOP/{name}", "prev": "", "next": ""})  # fmt: skip
        t["sample_data"].append({"token": _tok("sd-cam", k), "sample_token": _tok("sample", k), "ego_pose_token": _tok("ego", stamp),
                                 "calibrated_sensor_token": _tok("cal", "cam"), "timestamp": stamp, "fileformat": "jpg", "is_key_frame": True,
                                 "height": 900, "width": 1600, "filename": f"samples/CAM_FRONT/{k}.jpg", "prev": "", "next": ""})  # fmt: skip
    t["sample_data"] += lidar
    for inst, category, ks, centre, size, angles, attrs, vis in INSTANCES:
        rows = []
        for k in ks:
            g = _ego(k) @ LIDAR_IN_EGO @ _pose(_rot(*angles), centre(k))
            rows.append({"token": _tok("ann", inst, k), "sample_token": _tok("sample", k), "instance_token": _tok("inst", inst),
                         "visibility_token": vis, "attribute_tokens": [_tok("attribute", a) for a in attrs],
                         "translation": list(g[:3, 3]), "size": [size[1], size[0], size[2]], "rotation": _wxyz(g[:3, :3]),
                         "prev": _tok("ann", inst, k - 1) if k != ks[0] else "", "next": _tok("ann", inst, k + 1) if k != ks[-1] else "",
                         "num_lidar_pts": 40 + k, "num_radar_pts": 0})  # fmt: skip
        t["sample_annotation"] += rows
        t["instance"].append({"token": _tok("inst", inst), "category_token": _tok("category", category), "nbr_annotations": len(rows),
                              "first_annotation_token": rows[0]["token"], "last_annotation_token": rows[-1]["token"]})  # fmt: skip
    for name, rows in t.items():
        (v / f"{name}.json").write_text(json.dumps(rows))
    return root


def _check_truth(boxes: dict[tuple[str, int], Any], tol: float) -> None:
    for inst, _category, ks, centre, size, (yaw, pitch, roll), _attrs, _vis in INSTANCES:
        for k in ks:
            b = boxes[(_tok("inst", inst), k)]
            assert np.abs(np.subtract(b.center, centre(k))).max() < tol, (inst, k)
            assert np.abs(np.subtract(b.size, size)).max() < tol
            assert abs(math.remainder(b.yaw - yaw, 2 * math.pi)) < tol
            assert abs(b.pitch - pitch) < tol and abs(b.roll - roll) < tol


def test_scene_imports_keyframes_with_boxes_in_the_lidar_frame(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    result = import_scene(engine, settings, "nuscenes", _dataroot(tmp_path / "nuscenes"))
    report = result.report
    assert report.dropped == {} and result.frames == SAMPLES
    assert report.counts["sweeps_not_imported"] == 2
    assert report.class_map == {
        "vehicle.car": "Car",
        "human.pedestrian.adult": "Pedestrian",
        "movable_object.barrier": "Barrier",
    }
    data = load(engine, settings, result.task_id)
    _check_truth({(b.track_id, b.frame): b for b in data.labels.boxes}, 1e-6)
    tracks = {t.id: t for t in data.labels.tracks}
    assert (
        tracks[_tok("inst", "car")].label == "Car"
        and tracks[_tok("inst", "car")].attributes["parked"] is True
    )
    assert tracks[_tok("inst", "barrier")].label == "Barrier"  # the taxonomy's alias
    car0 = next(b for b in data.labels.boxes if b.track_id == _tok("inst", "car") and b.frame == 0)
    assert car0.attributes["occlusion"] == "none"
    assert car0.attributes["imported"]["token"] == _tok("ann", "car", 0)
    for k, frame in enumerate(data.labels.frames):
        assert np.abs(np.asarray(frame.pose) - _ego(k) @ LIDAR_IN_EGO).max() < 1e-9
        assert round(frame.timestamp * 1e6) == T0 + 500_000 * k  # type: ignore[operator]


def _table(folder: Path, name: str) -> dict[str, dict[str, Any]]:
    return {r["token"]: r for r in json.loads((folder / f"{name}.json").read_text())}


def test_export_writes_the_same_tables_and_reimports_the_same_boxes(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    root = _dataroot(tmp_path / "nuscenes")
    first = import_scene(engine, settings, "nuscenes", root).task_id
    out = tmp_path / "out"
    export_scene(engine, settings, first, "nuscenes", out, points=True)
    a, b = root / "v1.0-mini", out / "v1.0-mini"
    lidar_sd = {
        k
        for k, r in _table(a, "sample_data").items()
        if r["is_key_frame"] and "LIDAR" in r["filename"]
    }
    assert set(_table(b, "sample_data")) == lidar_sd
    assert set(_table(b, "ego_pose")) == {
        _table(a, "sample_data")[k]["ego_pose_token"] for k in lidar_sd
    }
    for name in (
        "scene",
        "sample",
        "instance",
        "sample_annotation",
        "category",
        "attribute",
        "log",
        "visibility",
    ):
        assert set(_table(b, name)) == set(_table(a, name)), name
    assert set(_table(b, "calibrated_sensor")) == {_tok("cal", "lidar")}
    for token, want in _table(a, "sample_annotation").items():
        got = _table(b, "sample_annotation")[token]
        for key in (
            "sample_token",
            "instance_token",
            "visibility_token",
            "attribute_tokens",
            "prev",
            "next",
            "num_lidar_pts",
        ):
            assert got[key] == want[key], key
        assert np.allclose(got["translation"], want["translation"], atol=1e-6)
        assert np.allclose(got["size"], want["size"], atol=1e-9)
        assert np.allclose(_q2r(got["rotation"]), _q2r(want["rotation"]), atol=1e-9)
    for token, want in _table(a, "ego_pose").items():
        if token in _table(b, "ego_pose"):
            assert _table(b, "ego_pose")[token] == want
    second = import_scene(engine, settings, "nuscenes", out)
    assert second.report.dropped == {}
    x, y = load(engine, settings, first), load(engine, settings, second.task_id)
    assert [(t.id, t.label, t.attributes) for t in x.labels.tracks] == [
        (t.id, t.label, t.attributes) for t in y.labels.tracks
    ]
    again = {(bx.track_id, bx.frame): bx for bx in y.labels.boxes}
    assert len(again) == len(x.labels.boxes)
    for bx in x.labels.boxes:
        by = again[(bx.track_id, bx.frame)]
        assert (
            np.abs(
                np.subtract(
                    [*bx.center, *bx.size, bx.yaw, bx.pitch, bx.roll],
                    [*by.center, *by.size, by.yaw, by.pitch, by.roll],
                )
            ).max()
            < 1e-9
        )
        assert bx.attributes == by.attributes


def test_pointlabel_json_is_its_own_format_and_still_reads_as_nuscenes(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    first = import_scene(engine, settings, "nuscenes", _dataroot(tmp_path / "nuscenes")).task_id
    out = tmp_path / "pj"
    export_scene(engine, settings, first, "pointlabel-json", out, points=True)
    assert json.loads((out / "annotations.json").read_text())["format"] == "pointlabel-json"
    again = import_scene(engine, settings, "nuscenes", out)
    assert any("pointlabel-json" in n for n in again.report.notes)
    assert again.report.counts["cuboids"] == sum(len(i[2]) for i in INSTANCES)


def test_a_table_missing_a_field_is_a_clear_error_and_stores_nothing(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    root = _dataroot(tmp_path / "nuscenes")
    samples = json.loads((root / "v1.0-mini" / "sample.json").read_text())
    del samples[2]["timestamp"]
    (root / "v1.0-mini" / "sample.json").write_text(json.dumps(samples))
    with pytest.raises(InterchangeError) as err:
        import_scene(engine, settings, "nuscenes", root)
    assert err.value.code == "malformed_import"
    assert str(err.value) == "not a readable nuscenes folder: KeyError 'timestamp'"
    with engine.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from scene").scalar() == 0
