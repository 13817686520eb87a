"""Import and export labelled scenes: SUSTechPOINTS, KITTI object and tracking,
nuScenes v1.0 tables, PointLabel JSON, ASAM OpenLABEL 1.0 and CSV (docs/formats.md)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from pointcloud.errors import PointCloudError
from pointcloud.io.sequence import list_frames
from server.annotations import Writer
from server.config import Settings
from server.interchange import (
    csv_export,
    kitti,
    kitti_raw,
    kitti_tracking,
    nuscenes,
    nuscenes_export,
    openlabel,
    openlabel_read,
    pointlabel_json,
    supervisely,
    sustech,
)
from server.interchange.cameras import generic_shots
from server.interchange.exporter import SceneData, load
from server.interchange.importer import ImportResult, Parsed, import_parsed
from server.interchange.model import InterchangeError, Report, frame_key
from server.interchange.paths import (
    ImportFolder,
    MalformedImportError,
    MissingFileError,
    PathEscapesError,
)
from server.progress import Progress, no_progress
from server.tasks import DEFAULT_PROJECT_ID
from server.taxonomies import Taxonomies
from server.taxonomy import Taxonomy

Reader = Callable[[ImportFolder, Taxonomy], Parsed]
WriterFn = Callable[..., Report]

READERS: dict[str, Reader] = {
    "sustech": sustech.read,
    "kitti": kitti.read,
    "nuscenes": nuscenes.read,
    "pointlabel-json": pointlabel_json.read,
    "openlabel": openlabel_read.read,
    "kitti-tracking": kitti_tracking.read,
    "kitti-raw": kitti_raw.read,
    "supervisely": supervisely.read,
}
WRITERS: dict[str, WriterFn] = {
    "sustech": sustech.write,
    "kitti": kitti.write,
    "nuscenes": nuscenes_export.write,
    "pointlabel-json": pointlabel_json.write,
    "openlabel": openlabel.write,
    "kitti-tracking": kitti_tracking.write,
    "kitti-raw": kitti_raw.write,
    "supervisely": supervisely.write,
    "csv": csv_export.write,
}
IMPORT_FORMATS = tuple(READERS)
EXPORT_FORMATS = tuple(WRITERS)

__all__ = [
    "EXPORT_FORMATS",
    "IMPORT_FORMATS",
    "ImportResult",
    "InterchangeError",
    "PathEscapesError",
    "Report",
    "export_scene",
    "export_zip",
    "import_scene",
]


class UnknownFormatError(InterchangeError):
    """A format name that is not one of the import or export formats."""

    code = "unknown_format"


def import_scene(
    engine: Engine,
    settings: Settings,
    fmt: str,
    path: Path,
    *,
    name: str | None = None,
    user: str | None = None,
    writer: Writer | None = None,
    progress: Progress = no_progress,
) -> ImportResult:
    """Import a labelled scene in ``fmt`` from ``path`` (a folder; docs/formats.md).

    ``progress(stage, done, total)`` hears of each frame ingested ("frames")
    and of the label batches applied ("labels"). A symlink in the folder that
    leads outside it is refused (:class:`PathEscapesError`) before anything is
    read or stored; error messages name files relative to the folder.
    """
    if fmt not in READERS:
        raise UnknownFormatError(f"cannot import {fmt!r}; formats: {', '.join(IMPORT_FORMATS)}")
    path = Path(path).resolve()
    if not path.exists():
        raise FileNotFoundError(path)
    folder = ImportFolder(path.parent, path.name) if path.is_file() else ImportFolder(path)
    taxonomies = writer.taxonomies if writer is not None else Taxonomies(engine)
    taxonomy = taxonomies.current_of(DEFAULT_PROJECT_ID)[1]  # the new task's version
    try:
        folder.check_tree()
        try:
            parsed = READERS[fmt](folder, taxonomy)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            key = f" {exc.args[0]!r}" if isinstance(exc, KeyError) and exc.args else ""
            raise MalformedImportError(
                f"not a readable {fmt} folder: {type(exc).__name__}{key}"
            ) from exc
        if not parsed.cameras:
            keys = [frame_key(f) for f in (parsed.files or list_frames(parsed.points))]
            parsed.cameras = generic_shots(folder, keys)
        return import_parsed(
            engine, settings, parsed, name=name, user=user, writer=writer,
            progress=progress,
        )  # fmt: skip
    except (InterchangeError, PointCloudError) as exc:
        exc.args = (folder.scrub(str(exc)),)
        raise
    except FileNotFoundError as exc:
        name = exc.filename or (exc.args[0] if len(exc.args) == 1 else None)
        missing = folder.rel(name) if isinstance(name, str | Path) else "a file"
        raise MissingFileError(f"{missing}: not found in the import folder") from exc


def export_scene(
    engine: Engine,
    settings: Settings,
    task_id: int,
    fmt: str,
    out: Path,
    *,
    points: bool = True,
    progress: Progress = no_progress,
) -> dict[str, Any]:
    """Write a task's current label set in ``fmt`` into the folder ``out``.

    With ``points`` the frames' point clouds are copied too (``progress`` hears
    of each, as "points"), so that ``out`` can be imported again. Returns a
    JSON summary (what the format cannot hold is in ``lost``; no server paths).
    """
    if fmt not in WRITERS:
        raise UnknownFormatError(f"cannot export {fmt!r}; formats: {', '.join(EXPORT_FORMATS)}")
    data: SceneData = load(engine, settings, task_id)
    data.progress = progress
    out.mkdir(parents=True, exist_ok=True)
    report = WRITERS[fmt](data, out, points=points)
    for label in sorted({t.label for t in data.labels.tracks}):
        # Every class the export wrote: also those it kept as they are (Car -> Car).
        if not any(k == label or k.startswith(f"{label}:") for k in report.class_map):
            report.class_map[label] = label
    return {"task_id": task_id, "scene_id": data.scene_id, "format": fmt, **report.to_json()}


def export_zip(folder: Path) -> bytes:
    """Every file under ``folder`` as a zip archive (paths relative to ``folder``)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(folder).as_posix())
    return buf.getvalue()
