"""KITTI object layout: ``velodyne/<frame>.bin``, ``label_2/<frame>.txt``, ``calib/<frame>.txt``.

A label line is ``type truncated occluded alpha x1 y1 x2 y2 h w l x y z
rotation_y`` with (x, y, z) the bottom centre in the rectified camera frame
(y down). With ``M = R0_rect @ Tr_velo_to_cam`` the lidar centre is
``inv(M) @ (x, y - h/2, z)``, the lidar yaw is ``-rotation_y - pi/2``, and
the size is (l, w, h). ``DontCare`` lines are skipped and counted.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from pointcloud.boxes import box_corners
from pointcloud.io.sequence import format_of_name, list_frames
from server.interchange.cameras import kitti_shots
from server.interchange.classes import export_type, to_class
from server.interchange.exporter import SceneData
from server.interchange.importer import Parsed
from server.interchange.model import AnnotationSet, Box, FrameMeta, InterchangeError, Report, Track
from server.interchange.model import frame_key as key_of
from server.interchange.paths import ImportFolder
from server.interchange.poses import write_poses
from server.models import FrameCamera
from server.taxonomy import Taxonomy
from server.validation import normalize_yaw

OCCLUSION = ("none", "partial", "heavy")
DEFAULT_IMAGE = (1242, 375)
LOST = [
    "track ids (each box becomes its own track on import)",
    "behaviour tags",
    "track attributes",
    "keyframe flags",
    "pitch and roll",
    "truncation as a fraction (PointLabel keeps a bool: > 0)",
    "occlusion level 3 (unknown)",
    "ego poses and timestamps (written to poses.json beside velodyne/)",
]
# A nominal lidar-to-camera calibration for scenes that have none (x fwd, y left, z up -> x right, y down, z fwd).
NOMINAL_CALIB: dict[str, list[float]] = {
    "P0": [721.5377, 0, 609.5593, 0, 0, 721.5377, 172.854, 0, 0, 0, 1, 0],
    "P1": [721.5377, 0, 609.5593, 0, 0, 721.5377, 172.854, 0, 0, 0, 1, 0],
    "P2": [721.5377, 0, 609.5593, 0, 0, 721.5377, 172.854, 0, 0, 0, 1, 0],
    "P3": [721.5377, 0, 609.5593, 0, 0, 721.5377, 172.854, 0, 0, 0, 1, 0],
    "R0_rect": [1, 0, 0, 0, 1, 0, 0, 0, 1],
    "Tr_velo_to_cam": [0, -1, 0, 0, 0, 0, -1, 0, 1, 0, 0, 0],
    "Tr_imu_to_velo": [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0],
}


def read_calib(text: str, name: str) -> dict[str, list[float]]:
    """A KITTI calibration file's ``text`` as key -> numbers (``name`` names it in errors).

    Errors give the line number, never the file's content."""
    calib: dict[str, list[float]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if ":" in line:
            key, values = line.split(":", 1)
            try:
                calib[key.strip()] = [float(v) for v in values.split()]
            except ValueError as exc:
                raise InterchangeError(f"{name}: line {n}: not numbers") from exc
    if "R0_rect" not in calib or "Tr_velo_to_cam" not in calib:
        raise InterchangeError(f"{name}: needs R0_rect and Tr_velo_to_cam")
    for key, size in (("R0_rect", 9), ("Tr_velo_to_cam", 12)):
        if len(calib[key]) != size:
            raise InterchangeError(f"{name}: {key} needs {size} numbers")
    return calib


def velo_to_rect(calib: dict[str, list[float]]) -> NDArray[np.float64]:
    """The 4x4 matrix ``R0_rect @ Tr_velo_to_cam`` (lidar -> rectified camera)."""
    r0, tr = np.eye(4), np.eye(4)
    r0[:3, :3] = np.reshape(calib["R0_rect"], (3, 3))
    tr[:3, :4] = np.reshape(calib["Tr_velo_to_cam"], (3, 4))
    return r0 @ tr


def read(folder: ImportFolder, taxonomy: Taxonomy) -> Parsed:
    """Read a KITTI object folder (``velodyne/``, ``label_2/``, ``calib/``)."""
    report = Report()
    files = list_frames(folder.root)
    labels = AnnotationSet(frames=[FrameMeta(key_of(f)) for f in files])
    keys = {f.key for f in labels.frames}
    calibs: dict[str, dict[str, list[float]]] = {}
    for file in folder.files("label_2", "*.txt"):
        if file.stem not in keys:
            report.drop("label_without_point_cloud", len(folder.read_text(file).splitlines()))
    for meta in labels.frames:
        calib_file = f"calib/{meta.key}.txt"
        if folder.is_file(calib_file):
            calibs[meta.key] = read_calib(folder.read_text(calib_file), calib_file)
    for i, meta in enumerate(labels.frames):
        label_file = f"label_2/{meta.key}.txt"
        if not folder.is_file(label_file):
            continue
        calib_file = f"calib/{meta.key}.txt"
        calib = calibs.get(meta.key) or read_calib(folder.read_text(calib_file), calib_file)
        to_lidar = np.asarray(np.linalg.inv(velo_to_rect(calib)), dtype=np.float64)
        for n, line in enumerate(folder.read_text(label_file).splitlines()):
            if line.strip():
                _line(line, i, f"{meta.key}-{n}", to_lidar, labels, taxonomy, report)
    cameras = kitti_shots(folder, [f.key for f in labels.frames], calibs)
    return Parsed(folder.root, labels, report, cameras=cameras)


def _line(
    line: str, frame: int, track_id: str, to_lidar: NDArray[np.float64],
    labels: AnnotationSet, tax: Taxonomy, r: Report,
) -> None:  # fmt: skip
    parts = line.split()
    if parts[0] == "DontCare":
        r.drop("DontCare")
        return
    try:
        trunc, occ = float(parts[1]), int(float(parts[2]))
        h, w, length, x, y, z, ry = (float(v) for v in parts[8:15])
    except (ValueError, IndexError):
        r.drop("malformed_line")
        return
    label, attrs = to_class("kitti", parts[0], tax, r)
    centre = to_lidar @ np.array([x, y - h / 2, z, 1.0])
    box_attrs: dict[str, object] = {"truncated": trunc > 0}
    if 0 <= occ < len(OCCLUSION):
        box_attrs["occlusion"] = OCCLUSION[occ]
    labels.tracks.append(Track(track_id, label, attrs))
    yaw = normalize_yaw(-ry - math.pi / 2)
    labels.boxes.append(
        Box(track_id, frame, tuple(float(v) for v in centre[:3]), (length, w, h), yaw,  # type: ignore[arg-type]
            attributes=box_attrs)
    )  # fmt: skip


def write(data: SceneData, out: Path, *, points: bool) -> Report:
    """Write ``label_2/``, ``calib/`` (the scene's own when it came from KITTI, else one
    from the frame's stored camera, else a nominal one) and optionally ``velodyne/``
    (copied ``.bin`` or written from the stored points with reflectance 0) and
    ``image_2/`` (the frame's stored camera image)."""
    report = Report(lost=list(LOST))
    labels = data.labels
    tracks = {t.id: t for t in labels.tracks}
    points = points and data.float32_refusal(report, "KITTI velodyne/*.bin")
    for folder in ("label_2", "calib"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(labels.frames):
        cam = data.camera(i, "image_2") or data.camera(i)
        calib_text, calib = _calib_for(f.source, report, cam)
        (out / "calib" / f"{f.key}.txt").write_text(calib_text)
        size = (cam.width, cam.height) if cam else _image_size(f.source)
        if points and cam is not None:
            data.copy_image(cam, out / "image_2" / f"{f.key}.png")
            report.counts["camera_images"] += 1
            if cam.distortion:
                report.counts["camera_distortion_dropped"] += 1
        lines = [
            label_line(b, tracks[b.track_id], calib, size, report)
            for b in labels.boxes
            if b.frame == i
        ]
        (out / "label_2" / f"{f.key}.txt").write_text("".join(x + "\n" for x in lines))
        if points:
            _write_velodyne(data, i, f, out / "velodyne")
    report.counts.update(boxes=len(labels.boxes), frames=len(labels.frames))
    if labels.tags:
        report.dropped["tags"] = len(labels.tags)
    if points:
        write_poses(labels, out, "velodyne", name=lambda f: f"{f.key}.bin")
    return report


def _calib_for(
    source: Path | None, report: Report, cam: FrameCamera | None = None
) -> tuple[str, dict[str, list[float]]]:
    """The source's calib file; else one from the stored camera (``P2 = K [I | 0]``,
    ``R0_rect = I``, ``Tr_velo_to_cam`` its extrinsic); else the nominal one."""
    if source is not None:
        file = source.parent.parent / "calib" / f"{key_of(source)}.txt"
        if file.is_file():
            text = file.read_text()
            return text, read_calib(text, f"calib/{file.name}")
    calib = {k: [float(v) for v in vals] for k, vals in NOMINAL_CALIB.items()}
    if cam is None:
        report.counts["nominal_calibration"] += 1
    else:
        p = np.c_[np.asarray(cam.intrinsic, dtype=np.float64), np.zeros(3)].ravel().tolist()
        calib.update(P0=p, P1=p, P2=p, P3=p, R0_rect=np.eye(3).ravel().tolist())
        calib["Tr_velo_to_cam"] = np.asarray(cam.lidar_to_camera)[:3, :4].ravel().tolist()
    text = "".join(f"{k}: {' '.join(f'{v:.12e}' for v in vals)}\n" for k, vals in calib.items())
    return text, calib


def _image_size(source: Path | None) -> tuple[int, int]:
    """The left colour image's (width, height) from its PNG header, else KITTI's usual size."""
    if source is not None:
        png = source.parent.parent / "image_2" / f"{key_of(source)}.png"
        if png.is_file():
            head = png.read_bytes()[:24]
            if head[:8] == b"\x89PNG\r\n\x1a\n":
                w, h = struct.unpack(">II", head[16:24])
                return int(w), int(h)
    return DEFAULT_IMAGE


def label_line(
    b: Box, t: Track, calib: dict[str, list[float]], image: tuple[int, int], r: Report
) -> str:
    m = velo_to_rect(calib)
    length, w, h = b.size
    c = m @ np.array([*b.center, 1.0])
    x, y, z = float(c[0]), float(c[1] + h / 2), float(c[2])
    ry = normalize_yaw(-b.yaw - math.pi / 2)
    if b.pitch or b.roll:
        r.counts["pitch_roll_dropped"] += 1
    bbox, alpha = _image_box(b, m, calib, image)
    if bbox is None:
        r.counts["outside_camera_view"] += 1
    kitti_type = "_".join(export_type("kitti", t.label, t.attributes, r).split())
    trunc = 1.0 if b.attributes.get("truncated") else 0.0
    occ = (
        OCCLUSION.index(b.attributes["occlusion"])
        if b.attributes.get("occlusion") in OCCLUSION
        else 3
    )
    x1, y1, x2, y2 = bbox or (-1.0, -1.0, -1.0, -1.0)
    values = [trunc, occ, alpha, x1, y1, x2, y2, h, w, length, x, y, z, ry]
    return f"{kitti_type} {trunc:.2f} {occ:d} " + " ".join(f"{v:.2f}" for v in values[2:])


def _image_box(
    b: Box, m: NDArray[np.float64], calib: dict[str, list[float]], image: tuple[int, int]
) -> tuple[tuple[float, float, float, float] | None, float]:
    """The 2D box in image 2 (clipped) and alpha, or (None, -10) when the box is not in view."""
    corners = box_corners([*b.center, *b.size, b.yaw, b.pitch, b.roll])[0]
    cam = (m @ np.c_[corners, np.ones(8)].T)[:3]
    if np.any(cam[2] < 0.1):
        return None, -10.0
    p2 = np.reshape(calib.get("P2", NOMINAL_CALIB["P2"]), (3, 4))
    uvw = p2 @ np.r_[cam, np.ones((1, 8))]
    u, v = uvw[0] / uvw[2], uvw[1] / uvw[2]
    x1, x2 = max(0.0, float(u.min())), min(image[0] - 1.0, float(u.max()))
    y1, y2 = max(0.0, float(v.min())), min(image[1] - 1.0, float(v.max()))
    if x1 >= x2 or y1 >= y2:
        return None, -10.0
    c = m @ np.array([*b.center, 1.0])
    ry = normalize_yaw(-b.yaw - math.pi / 2)
    return (x1, y1, x2, y2), normalize_yaw(ry - math.atan2(c[0], c[2]))


def _write_velodyne(data: SceneData, index: int, f: FrameMeta, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{f.key}.bin"
    if f.source is not None and f.source.is_file() and format_of_name(f.source.name) == "kitti":
        target.write_bytes(f.source.read_bytes())
        return
    xyz = data.float32_points(index)
    assert xyz is not None  # write() checked every frame first
    np.c_[xyz, np.zeros(len(xyz), np.float32)].tofile(target)
