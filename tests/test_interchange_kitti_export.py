"""KITTI export defects found on real data (docs/formats.md): a nuScenes-style
``.pcd.bin`` frame keeps its timestamp and pose through a KITTI round trip; a
georeferenced scene is not written as float32 absolute coordinates that move its
points; and every export's ``class_map`` lists every class it wrote."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from server.config import Settings
from server.ingest import ingest
from server.interchange import export_scene, import_scene
from server.interchange.exporter import FLOAT32_TOLERANCE_M
from server.models import Frame, Task
from tests.test_coordinates import las_file
from tests.test_ws import new_box_ops


def _pose(k: int) -> list[list[float]]:
    yaw = 0.1 * k
    return [[np.cos(yaw), -np.sin(yaw), 0, 400.5 + k], [np.sin(yaw), np.cos(yaw), 0, 1100.25 - k],
            [0, 0, 1, 2.0], [0, 0, 0, 1]]  # fmt: skip


def _frames(engine: Engine, scene_id: int) -> list[Frame]:
    with Session(engine) as s:
        return list(s.exec(select(Frame).where(Frame.scene_id == scene_id).order_by(Frame.index)))  # type: ignore[arg-type]


def _task(engine: Engine, scene_id: int) -> int:
    with Session(engine) as s:
        task = s.exec(select(Task).where(Task.scene_id == scene_id)).first()
        assert task is not None and task.id is not None
        return task.id


def test_a_pcd_bin_frame_keeps_its_timestamp_and_pose_through_kitti(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    rng = np.random.default_rng(5)
    folder = tmp_path / "drive" / "lidar"
    folder.mkdir(parents=True)
    names = [f"n015-2018-07-24__LIDAR_TOP__15{k}.pcd.bin" for k in range(2)]
    for name in names:
        rng.uniform([-30, -30, -2, 0, 0], [30, 30, 2, 100, 31], (4000, 5)).astype(
            np.float32
        ).tofile(folder / name)
    entries = [{"frame": k, "file": f"lidar/{n}", "timestamp": 1532402927.6 + 0.05 * k, "pose": _pose(k)}
               for k, n in enumerate(names)]  # fmt: skip
    (tmp_path / "drive" / "poses.json").write_text(json.dumps({"frames": entries}))
    scene = ingest(engine, settings, tmp_path / "drive").scene_id
    before = _frames(engine, scene)
    assert [f.timestamp for f in before] == [e["timestamp"] for e in entries]

    out = tmp_path / "kitti"
    summary = export_scene(engine, settings, _task(engine, scene), "kitti", out)
    poses = json.loads((out / "poses.json").read_text())["frames"]
    assert [p["file"] for p in poses] == [f"velodyne/{n[: -len('.pcd.bin')]}.bin" for n in names]
    assert all((out / p["file"]).is_file() for p in poses)  # the names poses.json gives exist
    assert not any("not written" in x for x in summary["lost"])
    again = _frames(engine, import_scene(engine, settings, "kitti", out).scene_id)
    assert [f.timestamp for f in again] == [f.timestamp for f in before]
    for a, b in zip(again, before, strict=True):
        np.testing.assert_allclose(np.array(a.pose), np.array(b.pose), atol=1e-12)


def test_a_georeferenced_scene_is_not_written_as_float32_kitti_points(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # UTM-like coordinates: float32 would move points by up to 0.25 m.
    path = las_file(
        tmp_path / "survey.las", scale=0.001, offset=4_000_000.0, raw=list(range(0, 20000, 7))
    )
    scene = ingest(engine, settings, path).scene_id
    out = tmp_path / "kitti"
    summary = export_scene(engine, settings, _task(engine, scene), "kitti", out)
    (refusal,) = [x for x in summary["lost"] if x.startswith("point clouds: not written")]
    assert "georeferenced" in refusal and "1 mm" in refusal and "4000000" in refusal
    assert not (out / "velodyne").exists() and not (out / "poses.json").exists()
    assert (out / "label_2").is_dir()  # the labels are written all the same


@pytest.mark.parametrize("fmt", ["kitti", "kitti-tracking", "kitti-raw"])
def test_a_scene_near_its_origin_keeps_every_point_within_1_mm(
    engine: Engine, settings: Settings, tmp_path: Path, fmt: str
) -> None:
    path = las_file(
        tmp_path / "near.las", scale=0.001, offset=1_000.0, raw=list(range(0, 20000, 7))
    )
    scene = ingest(engine, settings, path).scene_id
    out = tmp_path / fmt
    summary = export_scene(engine, settings, _task(engine, scene), fmt, out)
    assert not any("not written" in x for x in summary["lost"])
    (written,) = [p for p in out.rglob("*.bin")]
    pts = np.fromfile(written, dtype=np.float32).reshape(-1, 4)[:, :3].astype(np.float64)
    raw = np.arange(0, 20000, 7) * 0.001 + 1_000.0
    assert np.max(np.abs(pts[:, 0] - raw)) <= FLOAT32_TOLERANCE_M


@pytest.mark.parametrize("fmt", ["kitti", "csv", "pointlabel-json", "openlabel", "sustech"])
def test_every_export_lists_every_class_it_wrote_in_class_map(
    engine: Engine, settings: Settings, task_id: int, tmp_path: Path, fmt: str
) -> None:
    from server.annotations import Submission, Writer
    from server.frames import FrameStore
    from server.protocol import Ops
    from server.taxonomies import Taxonomies

    writer = Writer(engine, Taxonomies(engine), FrameStore(settings.frames_dir))
    ops, _, _ = new_box_ops()
    ped, _, _ = new_box_ops(size=(0.7, 0.7, 1.7), center=(12.0, 3.0, -0.9))
    ped[0]["data"]["label"] = "Pedestrian"
    msg = Ops.model_validate({"type": "ops", "seq": 1, "client_id": "t", "ops": ops + ped})
    ((reply, _),) = writer.apply_group([Submission(task_id, "tester", msg, trusted=True)])
    assert reply.type == "ack", reply
    summary = export_scene(engine, settings, task_id, fmt, tmp_path / fmt, points=False)
    assert {k.split(":")[0] for k in summary["class_map"]} == {"Car", "Pedestrian"}
