"""Streaming LOD build: every point once, the same full-resolution file, bounded memory.

The generated LAS file puts every point on a 1 cm lattice (with some exact
duplicates), so a decoded point (error at most 1 mm) rounds back to its source
point and the tiles can be compared with the source exactly, as multisets.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import laspy
import numpy as np
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

import pointcloud.stream
from pointcloud.io.las import open_las_chunks, read_las
from pointcloud.stream import StreamedFrame, stream_tiles
from pointcloud.tile_codec import entry_quant
from pointcloud.tiles import Tile, build_tiles, decode_node
from server.config import Settings
from server.ingest import frame_file, ingest
from server.models import Frame, Scene
from tests.conftest import SQLITE_ONLY

REPO_ROOT = Path(__file__).resolve().parents[1]
POINTS = 1_200_000
LATTICE = 0.01
CAP = 8192
CELL_POINTS = 150_000


@pytest.fixture(scope="module")
def lattice_las(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded georeferenced LAS file: terrain, roofs and 2% exact duplicates on a 1 cm lattice."""
    rng = np.random.default_rng(21)
    n = POINTS - POINTS // 50
    cells = np.c_[rng.integers(0, 60_000, n), rng.integers(0, 40_000, n)]
    height = 3 * np.sin(cells[:, 0] / 4000) + rng.normal(0, 0.05, n)
    height[(cells[:, 0] % 3000 < 1200) & (cells[:, 1] % 2500 < 900)] += 6.0
    cells = np.c_[cells, np.round(height / LATTICE)].astype(np.int64)
    cells = np.vstack([cells, cells[rng.integers(0, n, POINTS - n)]])
    header = laspy.LasHeader(point_format=3, version="1.2")
    header.offsets = np.array([500_000.0, 5_000_000.0, 100.0])
    header.scales = np.array([0.001, 0.001, 0.001])
    las = laspy.LasData(header)
    las.x = 500_000.0 + cells[:, 0] * LATTICE
    las.y = 5_000_000.0 + cells[:, 1] * LATTICE
    las.z = 100.0 + cells[:, 2] * LATTICE
    las.intensity = rng.integers(0, 3000, POINTS).astype(np.uint16)
    las.red = rng.integers(0, 65535, POINTS).astype(np.uint16)
    las.green = las.red // 2
    las.blue = 65535 - las.red
    path = tmp_path_factory.mktemp("stream") / "lattice.las"
    las.write(path)
    return path


def streamed(
    path: Path, out: Path, *, chunk_points: int = 100_000, cell_points: int = CELL_POINTS
) -> tuple[StreamedFrame, dict[str, bytes]]:
    """Stream ``path`` into ``out``; the result and the tiles by name."""
    out.mkdir(parents=True, exist_ok=True)
    tiles: dict[str, bytes] = {}

    def keep(tile: Tile) -> None:
        tiles[tile.digest] = tile.payload

    with open_las_chunks(path, chunk_points=chunk_points) as chunks:
        frame = stream_tiles(
            chunks,
            chunks.total,
            out / "points.npy",
            keep,
            tmp_dir=out,
            max_node_points=CAP,
            cell_points=cell_points,
        )
    return frame, tiles


@pytest.fixture(scope="module")
def stream_run(
    lattice_las: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[StreamedFrame, dict[str, bytes], Path]:
    out = tmp_path_factory.mktemp("streamed")
    frame, tiles = streamed(lattice_las, out)
    return frame, tiles, out


def decoded_lattice(hierarchy: dict[str, Any], tiles: dict[str, bytes]) -> np.ndarray:
    """Every decoded point rounded to the lattice (int64 (N, 3)), checking on the way
    that each lies in its node's cube and within half its node's step of the lattice
    (both up to half a step: the quantised cube's top cell straddles its edge)."""
    parts = []
    for node in hierarchy["nodes"]:
        lo = np.array(node["lo"])
        raw = gzip.decompress(tiles[node["tile"]])
        pts, _ = decode_node(raw, entry_quant(node), node["count"])
        slack = node["step"] / 2 + 1e-6
        assert np.all(pts >= lo - slack) and np.all(pts <= lo + node["size"] + slack)
        cells = np.round(pts / LATTICE)
        assert np.abs(pts - cells * LATTICE).max(initial=0) <= node["step"] / 2 + 1e-4
        parts.append(cells.astype(np.int64))
    return np.concatenate(parts)


def multiset(rows: np.ndarray) -> np.ndarray:
    """Rows sorted lexicographically: equal multisets give equal arrays."""
    return rows[np.lexsort(rows.T[::-1])]


def test_streamed_tiles_hold_every_source_point_exactly_once(
    lattice_las: Path, stream_run: tuple[StreamedFrame, dict[str, bytes], Path]
) -> None:
    frame, tiles, _ = stream_run
    source = read_las(lattice_las)
    assert np.all(np.abs(source.local) < 1e4)  # offset 502000, 5002000, ...: small local
    truth = np.round(source.local.astype(np.float64) / LATTICE).astype(np.int64)
    got = decoded_lattice(frame.hierarchy, tiles)
    assert len(got) == len(truth) == frame.points == POINTS
    assert np.array_equal(multiset(got), multiset(truth))


def test_streamed_hierarchy_is_parents_first_bounded_and_linked(
    stream_run: tuple[StreamedFrame, dict[str, bytes], Path],
) -> None:
    nodes = stream_run[0].hierarchy["nodes"]
    keys = [n["key"] for n in nodes]
    assert keys[0] == "r" and keys == sorted(keys, key=lambda k: (len(k), k))
    assert len(set(keys)) == len(keys)
    assert sum(n["count"] for n in nodes) == POINTS
    assert all(n["count"] <= CAP for n in nodes)
    assert all(n["count"] or n["children"] for n in nodes)  # no empty leaf
    by_key = {n["key"]: n for n in nodes}
    for n in nodes[1:]:
        parent = by_key[n["key"][:-1]]
        assert n["key"] in parent["children"]
        assert np.isclose(n["size"], parent["size"] / 2)
    assert sum(len(n["children"]) for n in nodes) == len(nodes) - 1
    assert max(len(k) for k in keys) > 4  # several cells, with levels above them


def test_streamed_npy_and_metadata_equal_the_in_memory_read(
    lattice_las: Path, stream_run: tuple[StreamedFrame, dict[str, bytes], Path]
) -> None:
    frame, _, out = stream_run
    cloud = read_las(lattice_las)
    points = np.load(out / "points.npy", mmap_mode="r")
    assert points.dtype == np.float32 and np.array_equal(points, cloud.local)
    las = laspy.read(lattice_las)
    absolute = points.astype(np.float64) + frame.offset
    assert np.abs(absolute - np.c_[las.x, las.y, las.z]).max() < 1e-4
    memory, _ = build_tiles(cloud, max_node_points=CAP)
    for key in ("version", "points", "offset", "bounds", "intensity_range", "z_range"):
        assert frame.hierarchy[key] == memory[key], key
    assert (
        frame.hierarchy["attributes"]
        == memory["attributes"]
        == ["position", "intensity", "rgb", "classification"]
    )
    assert sorted(p.name for p in out.iterdir()) == ["points.npy"]  # scratch removed


def test_streamed_build_is_deterministic_whatever_the_chunk_size(
    lattice_las: Path,
    stream_run: tuple[StreamedFrame, dict[str, bytes], Path],
    tmp_path: Path,
) -> None:
    again, tiles = streamed(lattice_las, tmp_path, chunk_points=333_333)
    assert json.dumps(again.hierarchy) == json.dumps(stream_run[0].hierarchy)
    assert tiles == stream_run[1]


def test_one_cell_stream_equals_the_in_memory_build(lattice_las: Path, tmp_path: Path) -> None:
    frame, tiles = streamed(lattice_las, tmp_path, cell_points=POINTS)
    cloud = read_las(lattice_las)
    memory, memory_tiles = build_tiles(cloud, max_node_points=CAP)
    assert json.dumps(frame.hierarchy) == json.dumps(memory)
    assert tiles == {t.digest: t.payload for t in memory_tiles}


@SQLITE_ONLY  # streamed ingest is the subject, not the engine
def test_large_las_ingest_streams_into_the_usual_files_and_rows(
    engine: Engine,
    settings: Settings,
    lattice_las: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pointcloud.stream, "CELL_POINTS", CELL_POINTS)
    result = ingest(engine, settings, lattice_las, stream_min_points=POINTS // 2)
    assert (result.frames, result.points, result.dropped) == (1, POINTS, 0)
    with Session(engine) as session:
        scene = session.get(Scene, result.scene_id)
        assert scene is not None
        frame = session.exec(select(Frame).where(Frame.scene_id == scene.id)).one()
        storage = settings.frames_dir / scene.storage
        assert sorted(p.name for p in storage.iterdir()) == ["0.json", "0.npy"]
        hierarchy = json.loads(frame_file(settings, scene, 0, ".json").read_text())
        tiles = {
            n["tile"]: settings.tile_store.path(n["tile"]).read_bytes() for n in hierarchy["nodes"]
        }
        points = np.load(frame_file(settings, scene, 0, ".npy"), mmap_mode="r")
    cloud = read_las(lattice_las)
    assert np.array_equal(points, cloud.local)
    assert [frame.offset_x, frame.offset_y, frame.offset_z] == cloud.offset.tolist()
    assert frame.min_x == float(cloud.local[:, 0].min()) + cloud.offset[0]
    assert frame.max_z == float(cloud.local[:, 2].max()) + cloud.offset[2]
    truth = np.round(cloud.local.astype(np.float64) / LATTICE).astype(np.int64)
    assert np.array_equal(multiset(decoded_lattice(hierarchy, tiles)), multiset(truth))


@SQLITE_ONLY  # streamed ingest is the subject, not the engine
def test_a_failed_streamed_ingest_stores_nothing(
    engine: Engine,
    settings: Settings,
    lattice_las: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written = []

    def failing_sink(settings: Settings, tile: Tile) -> None:
        written.append(tile.digest)
        if len(written) == 20:
            raise OSError("disk full")

    monkeypatch.setattr("server.ingest._write_tile", failing_sink)
    with pytest.raises(OSError, match="disk full"):
        ingest(engine, settings, lattice_las, stream_min_points=POINTS // 2)
    with Session(engine) as session:
        assert session.exec(select(Scene)).all() == []
    assert list(settings.frames_dir.iterdir()) == []


_MEMORY_CHILD = """
import sys
from pathlib import Path
import numpy as np
from pointcloud.io.las import open_las_chunks, read_las
from pointcloud.stream import stream_tiles
from pointcloud.tiles import build_tiles

def status_mb(field):
    lines = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in lines if line.startswith(field)) / 1024

path, out, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
base = status_mb("VmRSS:")
if mode == "stream":
    with open_las_chunks(path, chunk_points=100_000) as chunks:
        stream_tiles(chunks, chunks.total, out / "s.npy", lambda tile: None, tmp_dir=out,
                     max_node_points=8192, cell_points=100_000, scratch_points=100_000)
else:
    cloud = read_las(path)
    hierarchy, tiles = build_tiles(cloud, max_node_points=8192)
    np.save(out / "m.npy", cloud.local)
print(status_mb("VmHWM:") - base)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_streaming_peak_memory_is_far_below_the_in_memory_build(
    lattice_las: Path, tmp_path: Path
) -> None:
    def growth(mode: str) -> float:
        """Peak resident memory (MiB) a child adds over its size after imports. (Not
        ``ru_maxrss``: on Linux a child's starts at the parent's size at fork.)"""
        argv = [sys.executable, "-c", _MEMORY_CHILD, str(lattice_las), str(tmp_path), mode]
        done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, check=True)
        return float(done.stdout.strip())

    streaming, whole = growth("stream"), growth("memory")
    assert streaming < 0.5 * whole, (streaming, whole)
