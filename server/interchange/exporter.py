"""Read a scene's current annotations from the database into an :class:`AnnotationSet`."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pointcloud.io.sequence import format_of_name, natural_key
from server.cameras import SUFFIXES, image_path
from server.config import Settings
from server.interchange.importer import external_id
from server.interchange.model import (
    AnnotationSet,
    Box,
    FrameMeta,
    InterchangeError,
    Report,
    Tag,
    Track,
)
from server.interchange.model import frame_key as key_of
from server.models import Frame, FrameCamera, Scene
from server.progress import Progress, no_progress
from server.state import load_scene

FLOAT32_TOLERANCE_M = 0.001
"""How far (m) writing a point as float32 may move it before an export refuses to."""


@dataclass
class SceneData:
    """A scene's annotations with the facts writers need: name, storage, where points live."""

    scene_id: int
    name: str
    storage: str
    labels: AnnotationSet
    settings: Settings
    offsets: list[tuple[float, float, float]]
    progress: Progress = no_progress
    cameras: dict[int, list[FrameCamera]] = field(default_factory=dict)
    """Frame index -> its camera images (server/cameras.py)."""

    def camera(self, index: int, name: str | None = None) -> FrameCamera | None:
        """The frame's camera ``name`` (None: its first camera), if it has one."""
        rows = self.cameras.get(index, [])
        return next((r for r in rows if name is None or r.name == name), None)

    def copy_image(self, row: FrameCamera, target: Path) -> None:
        """Copy a stored camera image to ``target`` (``target``'s suffix is replaced by
        the image's own, .jpg or .png)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        source = image_path(self.settings, row.image, row.media_type)
        shutil.copyfile(source, target.with_suffix(SUFFIXES[row.media_type]))

    def local_points(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """A frame's stored points: (N, 3) float32 local coordinates and the float64 offset."""
        pts = np.load(self.settings.frames_dir / self.storage / f"{index}.npy")
        return pts, np.array(self.offsets[index], dtype=np.float64)

    def float32_points(self, index: int) -> np.ndarray | None:
        """A frame's points in the file's frame as float32 (what a KITTI ``.bin`` holds),
        or None when float32 would move some point by more than :data:`FLOAT32_TOLERANCE_M`
        (georeferenced coordinates: float32 keeps ~7 digits)."""
        local, offset = self.local_points(index)
        xyz = local.astype(np.float64) + offset
        f32 = xyz.astype(np.float32)
        if len(xyz) and float(np.max(np.abs(f32.astype(np.float64) - xyz))) > FLOAT32_TOLERANCE_M:
            return None
        return f32

    def float32_refusal(self, report: Report, fmt: str) -> bool:
        """Whether every frame's points fit float32 within tolerance; if not, says in
        ``report.lost`` that no points were written (docs/formats.md) and returns False."""
        for i, f in enumerate(self.labels.frames):
            if (
                f.source is not None
                and f.source.is_file()
                and format_of_name(f.source.name) == "kitti"
            ):
                continue  # a KITTI .bin is copied as it is
            if self.float32_points(i) is None:
                o = self.offsets[i]
                report.lost.append(
                    f"point clouds: not written. {fmt} stores absolute float32 coordinates, which "
                    f"would move this georeferenced scene's points (offset {o[0]:.0f}, {o[1]:.0f}, "
                    f"{o[2]:.0f} m in frame {i + 1}) by more than {FLOAT32_TOLERANCE_M * 1000:.0f} mm; "
                    "export with PointLabel JSON or OpenLABEL to keep them, or the labels alone"
                )
                report.counts["point_frames_refused"] = len(self.labels.frames)
                return False
        return True

    def copy_points(self, folder: Path, report: Report) -> None:
        """Copy each frame's source file into ``folder`` (kept name); files no longer
        there are counted in ``report.dropped["missing_point_files"]``."""
        folder.mkdir(parents=True, exist_ok=True)
        missing = 0
        for i, f in enumerate(self.labels.frames):
            if f.source is None or not f.source.is_file():
                missing += 1
            else:
                shutil.copyfile(f.source, folder / f.source.name)
            self.progress("points", i + 1, len(self.labels.frames))
        if missing:
            report.dropped["missing_point_files"] = missing


def load(engine: Engine, settings: Settings, task_id: int) -> SceneData:
    """A task's committed label set as an :class:`AnnotationSet` (format track ids)."""
    with engine.connect() as conn:
        st = load_scene(conn, task_id)
    if st is None:
        raise InterchangeError(f"task {task_id} does not exist")
    scene_id = st.scene_id
    with Session(engine) as session:
        scene = session.get(Scene, scene_id)
        rows = session.exec(
            select(Frame).where(Frame.scene_id == scene_id).order_by(Frame.index)  # type: ignore[arg-type]
        ).all()
        cams: dict[int, list[FrameCamera]] = {}
        for cam in session.exec(
            select(FrameCamera)
            .where(FrameCamera.scene_id == scene_id)
            .order_by(col(FrameCamera.name))
        ):
            cams.setdefault(cam.frame_index, []).append(cam)
    if scene is None:
        raise InterchangeError(f"scene {scene_id} does not exist")
    frames = [
        FrameMeta(key_of(r.source_file), r.timestamp, r.pose, Path(r.source_file)) for r in rows
    ]
    ext = {tid: external_id(scene_id, tid) for tid in st.objects["track"]}
    tracks = [
        Track(ext[t["id"]], t["label"], dict(t["attributes"])) for t in st.objects["track"].values()
    ]
    tracks.sort(key=lambda t: natural_key(t.id))
    boxes = [
        Box(
            ext[c["track_id"]],
            c["frame"],
            tuple(c["center"]),
            tuple(c["size"]),
            c["yaw"],
            c["pitch"],
            c["roll"],
            dict(c["attributes"]),
            c["keyframe"],
            c["source"],
        )  # fmt: skip
        for c in st.objects["cuboid"].values()
    ]
    boxes.sort(key=lambda b: (b.frame, natural_key(b.track_id)))
    tags = [
        Tag(
            g["tag"],
            g["subject"],
            g["first_frame"],
            g["last_frame"],
            ext.get(g["track_id"]) if g["track_id"] else None,
            ext.get(g["related_track_id"]) if g["related_track_id"] else None,
            dict(g["attributes"]),
            bool(g.get("related_ego")),
        )  # fmt: skip
        for g in st.objects["tag"].values()
    ]
    tags.sort(key=lambda g: (g.first_frame, g.tag, g.track_id or ""))
    offsets = [(r.offset_x, r.offset_y, r.offset_z) for r in rows]
    labels = AnnotationSet(frames, tracks, boxes, tags)
    return SceneData(scene_id, scene.name, scene.storage, labels, settings, offsets, cameras=cams)
