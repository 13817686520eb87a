"""Ingest: point-cloud files -> frames on disk (tiles, full resolution) -> scene rows.

Files are processed one frame at a time into a new storage folder; only when
every frame is written are the scene and its frames inserted, in one short
transaction. A failure leaves no rows and removes the folder. A frame is read
whole into memory, except a LAS/LAZ file of more than ``STREAM_MIN_POINTS``
points: it is streamed (``pointcloud.stream``), so memory stays bounded
whatever its size.

The expensive part of a frame (reading, LOD building, encoding:
``pointcloud.frame_job.encode_frame``) is handed to a :data:`FrameEncoder`: in
this process by default, on a Dask cluster with ``server/bulk.py``. Whatever
encodes, this process writes the files and the rows, so the stored bytes are
the same and a failed frame leaves no rows.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pointcloud.errors import PointCloudError
from pointcloud.frame_job import EncodedFrame, EncodedTile, encode_frame
from pointcloud.io import detect_format
from pointcloud.io.las import LasChunks, open_las_chunks
from pointcloud.io.sequence import FRAME_FOLDERS, list_frames, read_poses
from pointcloud.stream import stream_tiles
from pointcloud.tiles import Tile
from server.config import Settings
from server.models import Frame, Scene, Task
from server.names import clean_scene_name, name_from_path
from server.progress import Progress, no_progress
from server.tasks import create_task

STREAM_MIN_POINTS = 20_000_000
"""LAS/LAZ frames with more points than this are streamed rather than read whole."""
STREAM_CHUNK_POINTS = 2_000_000
"""Points per chunk read from a streamed file."""

Pose = tuple[float | None, np.ndarray | None]

FrameJob = tuple[int, Path]
"""A frame to encode: its index in the scene and its file."""
FrameEncoder = Callable[[list[FrameJob], int], Generator[tuple[int, EncodedFrame], None, None]]
"""Encodes ``jobs`` with octree nodes of at most ``max_node_points`` points and yields
``(index, encoded)`` as each finishes, in any order; raises the first frame's error.
Closing the iterator early abandons the frames not yet yielded."""


AHEAD_FRAMES = 64
"""Frames of the next scenes a bulk ingest keeps submitted ahead to a
:class:`Prefetching` encoder (bounds the memory that finished, not yet stored
frames take on the workers: a few MB each)."""


@runtime_checkable
class Prefetching(Protocol):
    """An encoder that can start on frames before an ingest asks for them."""

    def prefetch(self, files: list[Path], max_node_points: int) -> None:
        """Start encoding ``files``; a later call for the same file takes its result."""

    def cancel(self) -> None:
        """Cancel the prefetched frames no ingest asked for."""


def encode_in_process(
    jobs: list[FrameJob], max_node_points: int
) -> Generator[tuple[int, EncodedFrame], None, None]:
    """The default :data:`FrameEncoder`: one frame after the other, in this process."""
    for index, file in jobs:
        yield index, encode_frame(file, max_node_points=max_node_points)


@dataclass
class IngestResult:
    scene_id: int
    name: str
    frames: int
    points: int
    dropped: int
    existing: bool = False
    task_id: int | None = None
    """The open task ingest gives every new scene (its first label set)."""
    camera_images: int = 0
    """Camera images stored with the frames (the generic ``cameras/`` layout)."""

    def to_json(self) -> dict[str, Any]:
        return vars(self)


def ingest(
    engine: Engine,
    settings: Settings,
    path: Path,
    *,
    name: str | None = None,
    skip_existing: bool = False,
    stream_min_points: int = STREAM_MIN_POINTS,
    progress: Progress = no_progress,
    files: list[Path] | None = None,
    encoder: FrameEncoder = encode_in_process,
) -> IngestResult:
    """Ingest a file or a folder of frames as one scene.

    ``files`` names the frames (in order) when not all of the folder's are
    wanted (an importer picking one scene of a dataset).

    With ``skip_existing`` a scene already ingested from the same path is
    returned instead of a new one. ``name`` is cleaned (server/names.py; raises
    :class:`~server.names.InvalidNameError`); the default is the file or folder
    name. LAS/LAZ frames of more than ``stream_min_points`` points are streamed
    (bounded memory; the tiles differ slightly from the in-memory build,
    docs/tiles.md), always in this process; every other frame is encoded by
    ``encoder`` (in this process by default; ``server.bulk.dask_encoder``).
    """
    path = path.resolve()
    name = clean_scene_name(name) if name else ""
    name = name or name_from_path(path.parent.name if path.name in FRAME_FOLDERS else path.name)
    if skip_existing:
        with Session(engine) as session:
            scene = session.exec(select(Scene).where(Scene.source == str(path))).first()
            if scene is not None:
                assert scene.id is not None
                first = session.exec(
                    select(Task.id).where(Task.scene_id == scene.id).order_by(Task.id)  # type: ignore[arg-type]
                ).first()
                return IngestResult(
                    scene.id, scene.name, scene.frame_count, scene.point_count, 0,
                    existing=True, task_id=first,
                )  # fmt: skip
    files = list_frames(path) if files is None else files
    poses = read_poses(path) if path.is_dir() else {}
    storage = uuid.uuid4().hex
    folder = settings.frames_dir / storage
    folder.mkdir(parents=True)
    try:
        rows: dict[int, Frame] = {}

        def stored(index: int, row: Frame) -> None:
            rows[index] = row
            progress("frames", len(rows), len(files))

        streams = [_streams(f, stream_min_points) for f in files]
        streamed = [i for i, big in enumerate(streams) if big]
        jobs = [(i, f) for i, (f, big) in enumerate(zip(files, streams, strict=True)) if not big]
        with closing(encoder(jobs, settings.max_node_points)) as encoded:
            for i, result in encoded:
                pose = poses.get(_rel(files[i], path))
                stored(i, _store_encoded(settings, folder, i, files[i], pose, result))
        for i in streamed:
            with open_las_chunks(files[i], chunk_points=STREAM_CHUNK_POINTS) as chunks:
                pose = poses.get(_rel(files[i], path))
                stored(i, _stream_frame(settings, folder, i, files[i], pose, chunks))
        frames = [rows[i] for i in range(len(files))]
        points = sum(f.point_count for f in frames)
        dropped = sum(f.dropped_points for f in frames)
        scene = Scene(
            name=name,
            source=str(path),
            storage=storage,
            frame_count=len(frames),
            point_count=points,
        )
        with Session(engine) as session:
            session.add(scene)
            session.flush()
            for frame in frames:
                frame.scene_id = scene.id  # type: ignore[assignment]
                session.add(frame)
            task_id = create_task(session, scene, None).id
            session.commit()
            scene_id = scene.id
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    assert scene_id is not None and task_id is not None
    return IngestResult(scene_id, name, len(frames), points, dropped, task_id=task_id)


def frames_to_encode(path: Path, stream_min_points: int = STREAM_MIN_POINTS) -> list[Path]:
    """The frame files of ``path`` that :func:`ingest` hands to its encoder (all but the
    streamed ones), as it names them; ``[]`` when ``path`` has no frames."""
    try:
        return [f for f in list_frames(path.resolve()) if not _streams(f, stream_min_points)]
    except (PointCloudError, OSError):
        return []  # ingest itself refuses it, with its error


def ingested_from(engine: Engine, path: Path) -> bool:
    """Whether a scene was already ingested from ``path`` (what ``skip_existing`` looks for)."""
    with Session(engine) as session:
        source = str(path.resolve())
        return session.exec(select(Scene.id).where(Scene.source == source)).first() is not None


def _rel(f: Path, root: Path) -> str:
    return f.relative_to(root).as_posix() if root.is_dir() else f.name


def _streams(file: Path, stream_min_points: int) -> bool:
    """Whether ``file`` is a LAS/LAZ file of more than ``stream_min_points`` points."""
    if detect_format(file) != "las":
        return False
    with open_las_chunks(file, chunk_points=STREAM_CHUNK_POINTS) as chunks:
        return chunks.total > stream_min_points


def _store_encoded(
    settings: Settings,
    folder: Path,
    index: int,
    file: Path,
    pose: Pose | None,
    frame: EncodedFrame,
) -> Frame:
    """Write an encoded frame's tiles, hierarchy and points; return its row."""
    for tile in frame.tiles:
        _write_tile(settings, tile)
    (folder / f"{index}.json").write_text(json.dumps(frame.hierarchy))
    np.save(folder / f"{index}.npy", frame.local)
    bounds = (frame.lo, frame.hi)
    return _frame_row(index, file, pose, frame.offset, bounds, frame.points, frame.dropped)


def _stream_frame(
    settings: Settings,
    folder: Path,
    index: int,
    file: Path,
    pose: Pose | None,
    chunks: LasChunks,
) -> Frame:
    """Store a large LAS/LAZ frame chunk by chunk; scratch files go to ``folder``."""
    streamed = stream_tiles(
        chunks,
        chunks.total,
        folder / f"{index}.npy",
        lambda tile: _write_tile(settings, tile),
        tmp_dir=folder,
        max_node_points=settings.max_node_points,
    )
    (folder / f"{index}.json").write_text(json.dumps(streamed.hierarchy))
    bounds = (streamed.lo, streamed.hi)
    return _frame_row(index, file, pose, streamed.offset, bounds, streamed.points, 0)


def _write_tile(settings: Settings, tile: Tile | EncodedTile) -> None:
    """Store a tile's gzip and brotli copies under its content hash (each atomically;
    kept if already there)."""
    store = settings.tile_store
    gzip = tile.payload if isinstance(tile, Tile) else tile.gzip
    for encoding, payload in (("br", tile.br), ("gzip", gzip)):
        store.put(tile.digest, encoding, payload)


def _frame_row(
    index: int,
    file: Path,
    pose: Pose | None,
    offset: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray],
    points: int,
    dropped: int,
) -> Frame:
    """The frame's row; ``bounds`` are the per-axis minimum and maximum of its local points."""
    lo, hi = bounds[0] + offset, bounds[1] + offset
    timestamp, matrix = pose if pose else (None, None)
    return Frame(
        scene_id=0,
        index=index,
        source_file=str(file),
        timestamp=timestamp,
        pose=matrix.tolist() if matrix is not None else None,
        point_count=points,
        dropped_points=dropped,
        offset_x=offset[0],
        offset_y=offset[1],
        offset_z=offset[2],
        min_x=lo[0],
        min_y=lo[1],
        min_z=lo[2],
        max_x=hi[0],
        max_y=hi[1],
        max_z=hi[2],
    )


def frame_file(settings: Settings, scene: Scene, index: int, suffix: str) -> Path:
    """A frame's hierarchy (``.json``) or full-resolution local points (``.npy``)."""
    return settings.frames_dir / scene.storage / f"{index}{suffix}"


def ingest_paths(
    engine: Engine,
    settings: Settings,
    paths: list[Path],
    *,
    encoder: FrameEncoder,
    name: str | None = None,
    skip_existing: bool = False,
    progress: Progress = no_progress,
) -> Generator[IngestResult, None, None]:
    """Ingest each of ``paths`` as its own scene (named ``name``, default its file or
    folder name), in order, yielding each result once stored. Each scene is stored in
    its own transaction: a failure raises after the scenes already yielded. With a
    :class:`Prefetching` encoder (``server.bulk.DaskEncoder``) the frames of the next
    scenes are submitted ahead (up to ``AHEAD_FRAMES``), so many one-frame scenes keep
    every worker busy."""
    queue = [p for p in paths if not (skip_existing and ingested_from(engine, p))]
    submitted: list[int] = []  # frames submitted ahead per queued path, in order
    try:
        for path in paths:
            if isinstance(encoder, Prefetching):
                while len(submitted) < len(queue) and sum(submitted) < AHEAD_FRAMES:
                    files = frames_to_encode(queue[len(submitted)])
                    encoder.prefetch(files, settings.max_node_points)
                    submitted.append(len(files))
            result = ingest(
                engine, settings, path, name=name, skip_existing=skip_existing,
                progress=progress, encoder=encoder,
            )  # fmt: skip
            if not result.existing and submitted:
                queue.pop(0)
                submitted.pop(0)
            yield result
    finally:
        if isinstance(encoder, Prefetching):
            encoder.cancel()
