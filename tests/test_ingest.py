"""Ingest of real and generated files: exact counts, positions equal to the source."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import laspy
import numpy as np
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pointcloud.errors import HeaderMismatchError
from pointcloud.tile_codec import entry_quant
from pointcloud.tiles import build_octree, decode_node
from server.config import Settings
from server.ingest import frame_file, ingest
from server.models import Frame, Scene


def served_error(settings: Settings, scene: Scene, index: int, local: np.ndarray) -> float:
    """Largest distance between a served (decoded) point and its source point.

    ``local`` is the source in the frame's local coordinates; the octree is
    rebuilt from it to pair each tile with the source points it must hold.
    """
    hierarchy = json.loads(frame_file(settings, scene, index, ".json").read_text())
    nodes = build_octree(local.astype(np.float32), max_node_points=settings.max_node_points)
    assert [n.key for n in nodes] == [h["key"] for h in hierarchy["nodes"]]
    assert sum(h["count"] for h in hierarchy["nodes"]) == len(local)
    worst = 0.0
    for node, h in zip(nodes, hierarchy["nodes"], strict=True):
        raw = gzip.decompress(settings.tile_store.path(h["tile"]).read_bytes())
        pts, _ = decode_node(raw, entry_quant(h), h["count"])
        # stored in Morton (the rebuilt node's) or file order, whichever was smaller
        worst = max(worst, min(
            float(np.abs(pts - local[order]).max(initial=0.0))
            for order in (node.indices, np.sort(node.indices))
        ))  # fmt: skip
        assert worst <= h["step"] / 2 + 1e-4  # per axis; float32 local at a few km
    return worst


def load_scene(engine: Engine, scene_id: int) -> tuple[Scene, list[Frame]]:
    with Session(engine) as session:
        scene = session.get(Scene, scene_id)
        assert scene is not None
        frames = session.exec(select(Frame).where(Frame.scene_id == scene_id)).all()
        return scene, sorted(frames, key=lambda f: f.index)


def test_kitti_frame_ingests_with_exact_count_and_positions(
    engine: Engine, settings: Settings, shared_data: Path
) -> None:
    src = shared_data / "kitti/velodyne/000000.bin"
    result = ingest(engine, settings, src)
    assert (result.frames, result.points) == (1, 115_384)
    scene, frames = load_scene(engine, result.scene_id)
    raw = np.fromfile(src, dtype=np.float32).reshape(-1, 4)[:, :3]
    full = np.load(frame_file(settings, scene, 0, ".npy")) + np.array(
        [frames[0].offset_x, frames[0].offset_y, frames[0].offset_z]
    )
    assert np.array_equal(full.astype(np.float32), raw)
    assert served_error(settings, scene, 0, raw.astype(np.float64)) < 0.005


@pytest.mark.parametrize("name", ["autzen_trim.las", "autzen_trim.laz", "simple.laz"])
def test_las_ingests_with_exact_count_and_georeferenced_positions(
    engine: Engine, settings: Settings, shared_data: Path, name: str
) -> None:
    src = shared_data / "las" / name
    las = laspy.read(src)
    result = ingest(engine, settings, src)
    assert result.points == len(las.points)
    scene, frames = load_scene(engine, result.scene_id)
    offset = np.array([frames[0].offset_x, frames[0].offset_y, frames[0].offset_z])
    assert np.abs(offset).max() > 1e4 or name == "simple.laz"  # stays georeferenced
    truth = np.c_[las.x, las.y, las.z]
    full = np.load(frame_file(settings, scene, 0, ".npy")).astype(np.float64) + offset
    assert np.abs(full - truth).max() < 1e-3
    # Within the quantisation step of each node (asserted inside served_error).
    served_error(settings, scene, 0, full - offset)


def test_sustech_folder_ingests_as_one_scene_of_four_frames(
    engine: Engine, settings: Settings, shared_data: Path
) -> None:
    result = ingest(engine, settings, shared_data / "sustech/lidar")
    assert result.frames == 4
    _, frames = load_scene(engine, result.scene_id)
    assert [f.point_count for f in frames] == [68_242, 66_781, 66_899, 67_153]
    assert result.points == 269_075
    assert result.name == "sustech"


def test_a_corrupt_file_stores_nothing(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pcd"
    bad.write_bytes(
        b"VERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 100\nHEIGHT 1\n"
        b"POINTS 100\nDATA binary\n" + b"\0" * 120
    )
    with pytest.raises(HeaderMismatchError):
        ingest(engine, settings, bad)
    with Session(engine) as session:
        assert session.exec(select(Scene)).all() == []
    assert list(settings.frames_dir.iterdir()) == []


def test_skip_existing_returns_the_scene_already_ingested(
    engine: Engine, settings: Settings, small_cloud_file: Path
) -> None:
    first = ingest(engine, settings, small_cloud_file)
    again = ingest(engine, settings, small_cloud_file, skip_existing=True)
    assert (again.scene_id, again.existing) == (first.scene_id, True)


def test_las_and_laz_of_the_same_points_give_identical_tiles(
    engine: Engine, settings: Settings, shared_data: Path
) -> None:
    hierarchies = []
    for name in ("autzen_trim.las", "autzen_trim.laz"):
        scene, _ = load_scene(engine, ingest(engine, settings, shared_data / "las" / name).scene_id)
        hierarchies.append(json.loads(frame_file(settings, scene, 0, ".json").read_text()))
    las, laz = hierarchies
    assert [n["tile"] for n in las["nodes"]] == [n["tile"] for n in laz["nodes"]]
    assert las == laz


README_COUNTS = {
    "kitti/velodyne/000000.bin": 115_384,
    "kitti/velodyne/000001.bin": 120_268,
    "las/simple.las": 1_065,
    "las/simple.laz": 1_065,
    "las/autzen_trim.las": 110_000,
    "las/autzen_trim.laz": 110_000,
    "las/sample_c.las": 14_408,
    "las/bcts_1.laz": 531_662,
    "las/bcts_merged.laz": 2_834_350,
    "sustech/lidar/000950.pcd": 68_242,
}


@pytest.mark.parametrize("name,count", README_COUNTS.items())
def test_every_shared_file_ingests_with_its_readme_point_count(
    engine: Engine, settings: Settings, shared_data: Path, name: str, count: int
) -> None:
    result = ingest(engine, settings, shared_data / name)
    assert (result.frames, result.points, result.dropped) == (1, count, 0)
    scene, _ = load_scene(engine, result.scene_id)
    hierarchy = json.loads(frame_file(settings, scene, 0, ".json").read_text())
    assert sum(n["count"] for n in hierarchy["nodes"]) == count
    assert len(np.load(frame_file(settings, scene, 0, ".npy"), mmap_mode="r")) == count
