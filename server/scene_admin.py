"""Managing scenes from the browser (docs/workspace.md): what each scene holds
(size on disk, frames, labels, last edit), renaming, deleting with the tiles no
other scene uses, and spotting a file uploaded twice by its content hash.

A scene's uploaded file's SHA-256 is kept beside its frames, in
``frames/<storage>/source.sha256``; scenes ingested from the command line have
none and are never reported as duplicates.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine

from server.cameras import remove_unused
from server.config import Settings
from server.models import (
    BehaviourTag,
    ConsensusGroup,
    ConsensusTask,
    Cuboid,
    Edit,
    Frame,
    FrameCamera,
    GoldenRun,
    GoldenTask,
    PlantedError,
    ReviewComment,
    ReviewIssue,
    ReviewSample,
    Scene,
    Task,
    TaskTransition,
    Track,
)

T: dict[str, Any] = {
    m.__name__: getattr(m, "__table__")  # noqa: B009 (SQLModel declares no __table__ type)
    for m in (
        BehaviourTag,
        ConsensusGroup,
        ConsensusTask,
        Cuboid,
        Edit,
        Frame,
        FrameCamera,
        GoldenRun,
        GoldenTask,
        PlantedError,
        ReviewComment,
        ReviewIssue,
        ReviewSample,
        Scene,
        Task,
        TaskTransition,
        Track,
    )
}

if TYPE_CHECKING:
    from server.annotations import Writer

HASH_FILE = "source.sha256"
_CHUNK = 1 << 20


def content_hash(path: Path) -> str:
    """The SHA-256 of a file, hex."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def record_hash(settings: Settings, storage: str, digest: str) -> None:
    (settings.frames_dir / storage / HASH_FILE).write_text(digest + "\n")


def find_duplicate(engine: Engine, settings: Settings, digest: str) -> Scene | None:
    """The first scene whose uploaded file had this content, if any."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(T["Scene"].c.id, T["Scene"].c.storage).order_by(T["Scene"].c.id)
        ).all()
    for scene_id, storage in rows:
        try:
            if (settings.frames_dir / storage / HASH_FILE).read_text().strip() == digest:
                with engine.connect() as conn:
                    row = conn.execute(
                        select(T["Scene"]).where(T["Scene"].c.id == scene_id)
                    ).first()
                return Scene.model_validate(dict(row._mapping)) if row else None
        except OSError:
            continue
    return None


def _hierarchy_tiles(folder: Path, frame_count: int) -> dict[str, int]:
    """Tile digest -> bytes, of every tile the scene's hierarchies name."""
    tiles: dict[str, int] = {}
    for index in range(frame_count):
        try:
            nodes = json.loads((folder / f"{index}.json").read_text())["nodes"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for n in nodes:
            if isinstance(n, dict) and isinstance(n.get("tile"), str):
                tiles[n["tile"]] = int(n.get("bytes") or 0)
    return tiles


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*") if p.is_file()) if folder.is_dir() else 0


def summaries(engine: Engine, settings: Settings, scenes: list[Scene]) -> dict[int, dict[str, Any]]:
    """Per scene id: ``bytes`` on disk (its frames and tiles), ``tracks`` and
    ``cuboids`` over all its tasks, ``tasks``, and ``last_edit`` (ISO time or None)."""
    ids = [s.id for s in scenes]

    def count(table: str, what: Any = None) -> dict[int, Any]:
        t = T[table]
        query = select(t.c.scene_id, what if what is not None else func.count())
        query = query.where(t.c.scene_id.in_(ids)).group_by(t.c.scene_id)
        with engine.connect() as conn:
            return {int(r[0]): r[1] for r in conn.execute(query)}

    tracks, cuboids, tasks = count("Track"), count("Cuboid"), count("Task")
    last = count("Edit", func.max(T["Edit"].c.created_at))
    out: dict[int, dict[str, Any]] = {}
    for s in scenes:
        assert s.id is not None
        folder = settings.frames_dir / s.storage
        size = _folder_bytes(folder) + sum(_hierarchy_tiles(folder, s.frame_count).values())
        when = last.get(s.id)
        out[s.id] = {
            "bytes": size,
            "tasks": tasks.get(s.id, 0),
            "tracks": tracks.get(s.id, 0),
            "cuboids": cuboids.get(s.id, 0),
            "last_edit": when.isoformat() if isinstance(when, datetime) else when,
        }
    return out


def delete_scene(
    engine: Engine, settings: Settings, writer: Writer, scene: Scene
) -> dict[str, int]:
    """Delete a scene: its tasks and every label, edit and review issue of theirs,
    its frames, and the tiles no other scene uses. Returns how many tiles were
    removed and how many were kept because another scene uses them.

    The database rows go in one transaction first (under the writer's lock, so no
    edit lands in between); the files follow. A file that cannot be removed is
    left for ``pointlabel doctor`` to report; the scene is gone either way."""
    assert scene.id is not None
    sc = T["Scene"]
    with engine.connect() as conn:
        others = conn.execute(
            select(sc.c.storage, sc.c.frame_count).where(sc.c.id != scene.id)
        ).all()
    mine = _hierarchy_tiles(settings.frames_dir / scene.storage, scene.frame_count)
    shared: set[str] = set()
    for storage, frames in others:
        shared |= set(_hierarchy_tiles(settings.frames_dir / storage, frames)) & set(mine)
    fc = T["FrameCamera"]
    with engine.connect() as conn:
        images = {r[0] for r in conn.execute(select(fc.c.image).where(fc.c.scene_id == scene.id))}
    with writer.locked():
        with engine.begin() as conn:
            task_ids = [
                r[0]
                for r in conn.execute(
                    select(T["Task"].c.id).where(T["Task"].c.scene_id == scene.id)
                )
            ]
            issues = select(T["ReviewIssue"].c.id).where(T["ReviewIssue"].c.task_id.in_(task_ids))
            conn.execute(
                delete(T["ReviewComment"]).where(T["ReviewComment"].c.issue_id.in_(issues))
            )
            for name in ("ReviewIssue", "TaskTransition", "ReviewSample", "GoldenTask"):
                conn.execute(delete(T[name]).where(T[name].c.task_id.in_(task_ids)))
            for name in ("PlantedError", "GoldenRun"):  # copies, and the gold they copy
                t = T[name]
                conn.execute(
                    delete(t).where(t.c.task_id.in_(task_ids) | t.c.golden_task_id.in_(task_ids))
                )
            cg, ct = T["ConsensusGroup"], T["ConsensusTask"]
            groups = select(cg.c.id).where(
                (cg.c.scene_id == scene.id) | cg.c.reference_task_id.in_(task_ids)
            )
            conn.execute(delete(ct).where(ct.c.task_id.in_(task_ids) | ct.c.group_id.in_(groups)))
            conn.execute(delete(cg).where(cg.c.id.in_(groups.scalar_subquery())))
            for name in ("Edit", "BehaviourTag", "Cuboid", "Track", "Task", "Frame", "FrameCamera"):
                conn.execute(delete(T[name]).where(T[name].c.scene_id == scene.id))
            conn.execute(delete(sc).where(sc.c.id == scene.id))
            used = {r[0] for r in conn.execute(select(fc.c.image).where(fc.c.image.in_(images)))}
        writer.forget(task_ids)
    remove_unused(settings, used, images)
    removed = 0
    for digest in set(mine) - shared:  # every copy (gzip and brotli) of each
        removed += settings.tile_store.delete(digest)
    shutil.rmtree(settings.frames_dir / scene.storage, ignore_errors=True)
    return {"removed_tiles": removed, "kept_tiles": len(shared)}
