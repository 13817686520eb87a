"""Ingest on a Dask cluster (server/bulk.py): the same bytes and rows as in process,
nothing stored when a frame fails, clear errors for a cluster that is not there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import Client
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pointcloud.errors import HeaderMismatchError
from pointcloud.synth import generate_sequence
from server.bulk import DaskError, dask_client, dask_encoder
from server.cli import main
from server.config import Settings, get_settings
from server.db import make_engine
from server.ingest import ingest
from server.launch import free_port
from server.models import Frame, Scene, Task
from tests.conftest import use_in_cli

NODE_POINTS = 1500
"""Small octree nodes, so that each small generated frame has several tiles."""


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[Client]:
    """A local cluster of two worker processes, shared by this module, closed after it."""
    with dask_client(workers=2) as client:
        yield client


@pytest.fixture(scope="module")
def sequence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's 40-frame sequence as ``pointlabel demo`` generates it, at a lower
    horizontal resolution (about 11k points a frame)."""
    return generate_sequence(tmp_path_factory.mktemp("seq"), frames=40, azimuth_steps=200)


def stored_files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by its path relative to it."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def rows(engine: Engine) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The scenes and frames, without what differs by nature (ids, storage folder, time)."""
    with Session(engine) as db:
        scenes = [
            s.model_dump(exclude={"id", "storage", "created_at"}) for s in db.exec(select(Scene))
        ]
        frames = [
            f.model_dump(exclude={"id", "scene_id"})
            for f in db.exec(select(Frame).order_by(Frame.index))
        ]  # type: ignore[arg-type]
    return scenes, frames


def test_dask_ingest_of_the_demo_sequence_is_byte_identical_to_in_process(
    settings: Settings, engine: Engine, tmp_path: Path, sequence: Path, dask_cluster: Client
) -> None:
    local = settings.model_copy(update={"max_node_points": NODE_POINTS})
    on_dask = Settings(data_dir=tmp_path / "dask", max_node_points=NODE_POINTS)
    dask_engine = make_engine(on_dask.db_url)
    lines: list[str] = []
    first = ingest(engine, local, sequence)
    second = ingest(
        dask_engine, on_dask, sequence, encoder=dask_encoder(dask_cluster, lines.append)
    )

    assert (second.frames, second.points) == (first.frames, first.points) == (40, first.points)
    tiles = stored_files(local.tiles_dir)
    assert len(tiles) > 2 * 40  # several tiles a frame, a gzip and a brotli copy of each
    assert stored_files(on_dask.tiles_dir) == tiles
    local_files, dask_files = (
        stored_files(s.frames_dir / next(s.frames_dir.iterdir()).name) for s in (local, on_dask)
    )
    assert dask_files == local_files and len(local_files) == 80  # 40 hierarchies, 40 .npy
    assert rows(dask_engine) == rows(engine)
    digests = {n["tile"] for i in range(40) for n in json.loads(local_files[f"{i}.json"])["nodes"]}
    assert {name.split("/")[1].split(".")[0] for name in tiles} == digests
    # one line per finished frame, and both workers did some of them
    assert len(lines) == 40 and all(line.startswith("frame ") for line in lines)
    assert {line.split(" done: ")[0] for line in lines} == {f"frame {n}/40" for n in range(1, 41)}
    assert len({line.rsplit("encoded by ", 1)[1] for line in lines}) == 2
    dask_engine.dispose()


def test_a_frame_that_fails_on_a_worker_stores_nothing(
    settings: Settings, engine: Engine, tmp_path: Path, dask_cluster: Client
) -> None:
    seq = generate_sequence(tmp_path / "seq", frames=6, azimuth_steps=100)
    broken = seq / "lidar/000004.pcd"
    broken.write_bytes(broken.read_bytes()[:-500])  # the header promises more points
    with pytest.raises(HeaderMismatchError) as caught:  # raised on a worker, passed on as it is
        ingest(engine, settings, seq, encoder=dask_encoder(dask_cluster))
    assert caught.value.code == "header_mismatch" and "000004.pcd" in str(caught.value)
    with Session(engine) as db:
        assert db.exec(select(Scene)).all() == []
        assert db.exec(select(Frame)).all() == []
        assert db.exec(select(Task)).all() == []
    assert not settings.frames_dir.exists() or list(settings.frames_dir.iterdir()) == []


def cli(args: list[str], settings: Settings, monkeypatch: pytest.MonkeyPatch) -> int:
    """Run ``pointlabel ARGS`` on ``settings``' data directory."""
    use_in_cli(monkeypatch, settings)
    get_settings.cache_clear()
    try:
        return main(args)
    finally:
        get_settings.cache_clear()


def test_cli_ingest_of_several_paths_on_a_given_scheduler_stores_a_scene_each(
    settings: Settings,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    dask_cluster: Client,
) -> None:
    seq = generate_sequence(tmp_path / "seq", frames=3, azimuth_steps=100)
    single = [seq / f"lidar/00000{i}.pcd" for i in range(3)]
    paths = [str(p) for p in (seq, *single)]
    address = dask_cluster.scheduler.address
    assert (
        cli(["ingest", *paths, "--dask-scheduler", address, "--json"], settings, monkeypatch) == 0
    )
    out = capsys.readouterr()
    results = [json.loads(line) for line in out.out.splitlines()]
    assert [(r["frames"], r["existing"]) for r in results] == [
        (3, False),
        (1, False),
        (1, False),
        (1, False),
    ]
    assert [r["name"] for r in results] == ["seq", "000000.pcd", "000001.pcd", "000002.pcd"]
    # a line per finished frame: 3 of the sequence, then 1 of each file
    assert sorted(line.split(" done: ")[0] for line in out.err.splitlines()) == sorted(
        ["frame 1/3", "frame 2/3", "frame 3/3"] + ["frame 1/1"] * 3
    )
    with Session(engine) as db:
        for r in results:
            frames = db.exec(select(Frame).where(Frame.scene_id == r["scene_id"])).all()
            assert len(frames) == r["frames"]
    # again, with --skip-existing: every one is reported, none stored twice
    assert (
        cli(["ingest", *paths, "--dask", "--skip-existing", "--json"], settings, monkeypatch) == 0
    )
    again = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["scene_id"], r["existing"]) for r in again] == [
        (r["scene_id"], True) for r in results
    ]


def test_bulk_ingest_stops_at_a_broken_scene_and_keeps_the_ones_before(
    settings: Settings,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    dask_cluster: Client,
) -> None:
    seq = generate_sequence(tmp_path / "seq", frames=3, azimuth_steps=100)
    broken = tmp_path / "broken.pcd"
    broken.write_bytes((seq / "lidar/000001.pcd").read_bytes()[:-500])
    address = dask_cluster.scheduler.address
    args = ["ingest", str(seq / "lidar/000000.pcd"), str(broken), str(seq / "lidar/000002.pcd")]
    assert cli([*args, "--dask-scheduler", address, "--json"], settings, monkeypatch) == 2
    out = capsys.readouterr()
    [stored] = [json.loads(line) for line in out.out.splitlines()]
    assert stored["name"] == "000000.pcd"
    assert json.loads(out.err.splitlines()[-1])["error"] == "header_mismatch"
    with Session(engine) as db:
        assert [s.name for s in db.exec(select(Scene))] == ["000000.pcd"]
        assert len(db.exec(select(Frame)).all()) == 1
    assert len(list(settings.frames_dir.iterdir())) == 1  # the stored scene's folder only
    two = ["ingest", str(seq), str(broken), "--name", "x"]
    assert cli(two, settings, monkeypatch) == 2
    assert json.loads(capsys.readouterr().err)["error"] == "name_needs_one_path"


def test_a_scheduler_that_does_not_answer_is_a_clear_error_before_anything_is_stored(
    settings: Settings,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with (
        pytest.raises(DaskError) as caught,
        dask_client(f"tcp://127.0.0.1:{free_port()}", timeout_s=1),
    ):
        pass
    assert (caught.value.status, caught.value.code) == (503, "dask_unreachable")
    seq = generate_sequence(tmp_path / "seq", frames=2, azimuth_steps=100)
    monkeypatch.setenv("POINTLABEL_DASK_SCHEDULER", "http://example:80/")
    assert cli(["ingest", str(seq), "--dask"], settings, monkeypatch) == 2
    error = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert error["error"] == "invalid_dask_scheduler"
    with Session(engine) as db:
        assert db.exec(select(Scene)).all() == []
