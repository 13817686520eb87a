"""Ingest: point-cloud files -> frames on disk (tiles, full resolution) -> scene rows.

Files are processed one frame at a time into a new storage folder; only when
every frame is written are the scene and its frames inserted, in one short
transaction. A failure leaves no rows and removes the folder. A frame is read
whole into memory, except a LAS/LAZ file of more than ``STREAM_MIN_POINTS``
points: it is streamed (``pointcloud.stream``), so memory stays bounded
whatever its size.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pointcloud.io import detect_format, read_cloud
from pointcloud.io.las import LasChunks, open_las_chunks
from pointcloud.io.sequence import FRAME_FOLDERS, list_frames, read_poses
from pointcloud.stream import stream_tiles
from pointcloud.tiles import Tile, build_tiles
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
) -> IngestResult:
    """Ingest a file or a folder of frames as one scene.

    ``files`` names the frames (in order) when not all of the folder's are
    wanted (an importer picking one scene of a dataset).

    With ``skip_existing`` a scene already ingested from the same path is
    returned instead of a new one. ``name`` is cleaned (server/names.py; raises
    :class:`~server.names.InvalidNameError`); the default is the file or folder
    name. LAS/LAZ frames of more than ``stream_min_points`` points are streamed
    (bounded memory; the tiles differ slightly from the in-memory build,
    docs/tiles.md).
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
        frames = []
        for i, f in enumerate(files):
            pose = poses.get(_rel(f, path))
            frames.append(_store_frame(settings, folder, i, f, pose, stream_min_points))
            progress("frames", i + 1, len(files))
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


def _rel(f: Path, root: Path) -> str:
    return f.relative_to(root).as_posix() if root.is_dir() else f.name


def _store_frame(
    settings: Settings,
    folder: Path,
    index: int,
    file: Path,
    pose: Pose | None,
    stream_min_points: int,
) -> Frame:
    if detect_format(file) == "las":
        with open_las_chunks(file, chunk_points=STREAM_CHUNK_POINTS) as chunks:
            if chunks.total > stream_min_points:
                return _stream_frame(settings, folder, index, file, pose, chunks)
    cloud = read_cloud(file)
    hierarchy, tiles = build_tiles(cloud, max_node_points=settings.max_node_points)
    for tile in tiles:
        _write_tile(settings, tile)
    (folder / f"{index}.json").write_text(json.dumps(hierarchy))
    np.save(folder / f"{index}.npy", cloud.local)
    lo = cloud.local.min(axis=0).astype(np.float64)
    hi = cloud.local.max(axis=0).astype(np.float64)
    return _frame_row(index, file, pose, cloud.offset, (lo, hi), len(cloud), cloud.dropped)


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


def _write_tile(settings: Settings, tile: Tile) -> None:
    """Store a tile's gzip and brotli copies under its content hash (each atomically;
    kept if already there)."""
    store = settings.tile_store
    for encoding, payload in (("br", tile.br), ("gzip", tile.payload)):
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
