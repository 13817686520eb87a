"""KITTI tracking: a sequence written by the test from the tracking devkit's description
(``label_02/<seq>.txt`` with track ids, ``calib/<seq>.txt``, ``oxts/<seq>.txt``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from sqlalchemy.engine import Engine

from server.cli import main
from server.config import Settings
from server.interchange import export_scene, import_scene
from server.interchange.exporter import load
from tests.conftest import use_in_cli

SEQ = "0003"
CALIB = (
    "P0: 7.215377e+02 0 6.095593e+02 0 0 7.215377e+02 1.728540e+02 0 0 0 1 0\n"
    "P1: 7.215377e+02 0 6.095593e+02 -3.875744e+02 0 7.215377e+02 1.728540e+02 0 0 0 1 0\n"
    "P2: 7.215377e+02 0 6.095593e+02 4.485728e+01 0 7.215377e+02 1.728540e+02 2.163791e-01 0 0 1 2.745884e-03\n"
    "P3: 7.215377e+02 0 6.095593e+02 -3.395242e+02 0 7.215377e+02 1.728540e+02 2.199936e+00 0 0 1 2.729905e-03\n"
    "R_rect 9.999239e-01 9.837760e-03 -7.445048e-03 -9.869795e-03 9.999421e-01 -4.278459e-03 "
    "7.402527e-03 4.351614e-03 9.999631e-01\n"
    "Tr_velo_cam 7.533745e-03 -9.999714e-01 -6.166020e-04 -4.069766e-03 1.480249e-02 "
    "7.280733e-04 -9.998902e-01 -7.631618e-02 9.998621e-01 7.523790e-03 1.480755e-02 -2.717806e-01\n"
    "Tr_imu_velo 9.999976e-01 7.553071e-04 -2.035826e-03 -8.086759e-01 -7.854027e-04 "
    "9.998898e-01 -1.482298e-02 3.195559e-01 2.024406e-03 1.482454e-02 9.998881e-01 -7.997231e-01\n"
)  # fmt: skip
# frame track type truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y
LABELS = [
    (0, 0, "Car", 0, 0, 1.52, 1.63, 3.88, -2.61, 1.70, 12.37, -1.58),
    (1, 0, "Car", 0, 0, 1.52, 1.63, 3.88, -2.55, 1.71, 13.10, -1.57),
    (2, 0, "Car", 0, 1, 1.52, 1.63, 3.88, -2.49, 1.71, 13.84, -1.55),
    (3, 0, "Car", 1, 2, 1.52, 1.63, 3.88, -2.43, 1.72, 14.55, -1.54),
    (1, 1, "Pedestrian", 0, 0, 1.79, 0.62, 0.88, 3.10, 1.62, 9.40, 1.21),
    (2, 1, "Pedestrian", 0, 0, 1.79, 0.62, 0.88, 3.02, 1.62, 9.95, 1.25),
    (3, 1, "Pedestrian", 0, 3, 1.79, 0.62, 0.88, 2.95, 1.63, 10.51, 1.30),
    (0, 5, "Cyclist", 0, 0, 1.74, 0.55, 1.76, 5.80, 1.66, 21.30, -3.01),
    (1, 5, "Cyclist", 0, 1, 1.74, 0.55, 1.76, 5.71, 1.66, 20.70, 3.12),
]
FRAMES = 4


def _line(v: tuple) -> str:  # type: ignore[type-arg]
    f, tid, kind, trunc, occ, h, w, length, x, y, z, ry = v
    return (f"{f} {tid} {kind} {trunc} {occ} -1.57 600.0 150.0 700.0 250.0 "
            f"{h:.2f} {w:.2f} {length:.2f} {x:.2f} {y:.2f} {z:.2f} {ry:.2f}")  # fmt: skip


def _oxts(f: int) -> list[float]:
    lat, lon = 49.011 + 1.2e-5 * f, 8.4165 + 1.5e-5 * f
    return [lat, lon, 112.5 + 0.03 * f, 0.02, -0.01 + 0.002 * f, 0.4 + 0.01 * f] + [0.0] * 24


def _sequence(root: Path) -> Path:
    rng = np.random.default_rng(2)
    (root / "velodyne" / SEQ).mkdir(parents=True)
    for sub in ("label_02", "calib", "oxts"):
        (root / sub).mkdir()
    for f in range(FRAMES):
        pts = np.c_[rng.uniform([-5, -30, -2], [45, 30, 2], (4000, 3)), np.zeros(4000)]
        pts.astype(np.float32).tofile(root / "velodyne" / SEQ / f"{f:06d}.bin")
    lines = [_line(v) for v in LABELS] + [
        "2 -1 DontCare -1 -1 -10 0 0 50 50 -1 -1 -1 -1000 -1000 -1000 -10"
    ]
    (root / "label_02" / f"{SEQ}.txt").write_text("\n".join(lines) + "\n")
    (root / "calib" / f"{SEQ}.txt").write_text(CALIB)
    (root / "oxts" / f"{SEQ}.txt").write_text(
        "".join(" ".join(map(repr, _oxts(f))) + "\n" for f in range(FRAMES))
    )
    return root


def _calib(key: str) -> NDArray[np.float64]:
    line = next(x for x in CALIB.splitlines() if x.startswith(key + " "))
    values = [float(v) for v in line.split()[1:]]
    m = np.eye(4)
    if len(values) == 9:
        m[:3, :3] = np.reshape(values, (3, 3))
    else:
        m[:3, :4] = np.reshape(values, (3, 4))
    return m


def _expected_pose(f: int) -> NDArray[np.float64]:
    """The devkit's oxts -> pose (Mercator, relative to frame 0), then IMU -> lidar."""

    def mercator(v: list[float], scale: float) -> NDArray[np.float64]:
        lat, lon, alt, roll, pitch, yaw = v[:6]
        er = 6378137.0
        t = [
            scale * lon * math.pi * er / 180,
            scale * er * math.log(math.tan((90 + lat) * math.pi / 360)),
            alt,
        ]
        rx = np.array(
            [[1, 0, 0], [0, math.cos(roll), -math.sin(roll)], [0, math.sin(roll), math.cos(roll)]]
        )
        ry = np.array(
            [
                [math.cos(pitch), 0, math.sin(pitch)],
                [0, 1, 0],
                [-math.sin(pitch), 0, math.cos(pitch)],
            ]
        )
        rz = np.array(
            [[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0], [0, 0, 1]]
        )
        m = np.eye(4)
        m[:3, :3], m[:3, 3] = rz @ ry @ rx, t
        return m

    scale = math.cos(_oxts(0)[0] * math.pi / 180)
    imu = np.linalg.inv(mercator(_oxts(0), scale)) @ mercator(_oxts(f), scale)
    return np.asarray(imu @ np.linalg.inv(_calib("Tr_imu_velo")))


def test_tracking_sequence_imports_with_track_ids_boxes_and_oxts_poses(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    result = import_scene(engine, settings, "kitti-tracking", _sequence(tmp_path / "seq"))
    assert result.report.dropped == {"DontCare": 1}
    assert result.report.counts["cuboids"] == len(LABELS)
    data = load(engine, settings, result.task_id)
    assert {t.id: t.label for t in data.labels.tracks} == {
        "0": "Car",
        "1": "Pedestrian",
        "5": "Cyclist",
    }
    to_lidar = np.linalg.inv(_calib("R_rect") @ _calib("Tr_velo_cam"))
    boxes = {(b.track_id, b.frame): b for b in data.labels.boxes}
    for f, tid, _kind, trunc, occ, h, w, length, x, y, z, ry in LABELS:
        b = boxes[(str(tid), f)]
        want = to_lidar @ [x, y - h / 2, z, 1.0]
        assert np.abs(np.subtract(b.center, want[:3])).max() < 1e-9
        assert b.size == pytest.approx((length, w, h), abs=1e-12)
        assert abs(math.remainder(b.yaw - (-ry - math.pi / 2), 2 * math.pi)) < 1e-12
        assert b.attributes.get("truncated") is (trunc > 0)
        assert b.attributes.get("occlusion") == (
            None if occ == 3 else ("none", "partial", "heavy")[occ]
        )
    for f, frame in enumerate(data.labels.frames):
        assert frame.pose is not None
        assert np.abs(np.asarray(frame.pose) - _expected_pose(f)).max() < 1e-6


def test_tracking_round_trips_at_two_decimals_with_track_ids(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    folder = _sequence(tmp_path / "seq")
    first = import_scene(engine, settings, "kitti-tracking", folder).task_id
    out = tmp_path / "out"
    summary = export_scene(engine, settings, first, "kitti-tracking", out, points=True)
    assert summary["counts"]["boxes"] == len(LABELS)
    assert summary["class_map"] == {"Car": "Car", "Pedestrian": "Pedestrian", "Cyclist": "Cyclist"}
    assert (out / "calib" / "0000.txt").read_text() == CALIB
    got = sorted(line.split() for line in (out / "label_02" / "0000.txt").read_text().splitlines())
    want = sorted(_line(v).split() for v in LABELS)
    assert [g[:5] + g[10:] for g in got] == [w[:5] + w[10:] for w in want]
    second = import_scene(engine, settings, "kitti-tracking", out).task_id
    a, b = load(engine, settings, first), load(engine, settings, second)
    assert [(t.id, t.label) for t in a.labels.tracks] == [(t.id, t.label) for t in b.labels.tracks]
    key = {(x.track_id, x.frame): x for x in b.labels.boxes}
    assert len(key) == len(a.labels.boxes)
    for x in a.labels.boxes:
        y = key[(x.track_id, x.frame)]
        assert (
            np.abs(np.subtract([*x.center, *x.size, x.yaw], [*y.center, *y.size, y.yaw])).max()
            < 1e-9
        )
        assert x.attributes == y.attributes
    for fa, fb in zip(a.labels.frames, b.labels.frames, strict=True):
        assert np.abs(np.asarray(fa.pose) - np.asarray(fb.pose)).max() < 1e-6


def test_folder_with_several_sequences_is_refused_by_the_cli(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from server.config import get_settings

    folder = _sequence(tmp_path / "seq")
    (folder / "label_02" / "0004.txt").write_text("")
    use_in_cli(monkeypatch, settings)
    get_settings.cache_clear()
    try:
        assert main(["import", "kitti-tracking", str(folder), "--json"]) == 2
        err = capsys.readouterr().err
        assert '"interchange_error"' in err and "2 sequences (0003, 0004)" in err
        assert str(tmp_path) not in err
    finally:
        get_settings.cache_clear()
