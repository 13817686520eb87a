"""KITTI tracking: one sequence ``<seq>`` per scene (the devkit's ``training/`` layout).

``velodyne/<seq>/<frame:06d>.bin``, ``label_02/<seq>.txt``, ``calib/<seq>.txt``
and optionally ``oxts/<seq>.txt``. A label line is ``frame track_id type
truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y`` (KITTI object's
fields after the first two; ``track_id`` -1 is DontCare; truncated is 0/1/2).
Geometry is the object format's (``kitti.py``): bottom centre in the
rectified camera frame, size (h, w, l), ``rotation_y`` about the camera's y.
The calibration's ``R_rect`` / ``Tr_velo_cam`` / ``Tr_imu_velo`` (with or
without a colon) are read like ``R0_rect`` / ``Tr_velo_to_cam`` /
``Tr_imu_to_velo``. An oxts line starts ``lat lon alt roll pitch yaw``
(degrees, m, rad); poses follow the devkit: Mercator with the first frame's
latitude as scale, relative to the first frame's IMU pose, and the lidar pose
is ``imu_pose @ inv(Tr_imu_velo)``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from pointcloud.io.sequence import format_of_name, list_frames
from server.interchange.classes import export_type, to_class
from server.interchange.exporter import SceneData
from server.interchange.importer import Parsed
from server.interchange.kitti import (
    DEFAULT_IMAGE,
    NOMINAL_CALIB,
    OCCLUSION,
    label_line,
    velo_to_rect,
)
from server.interchange.model import AnnotationSet, Box, FrameMeta, InterchangeError, Report, Track
from server.interchange.model import frame_key as key_of
from server.interchange.paths import ImportFolder
from server.taxonomy import Taxonomy
from server.validation import normalize_yaw

EARTH_RADIUS_M = 6378137.0
SEQUENCE = "0000"
ALIASES = {"R_rect": "R0_rect", "Tr_velo_cam": "Tr_velo_to_cam", "Tr_imu_velo": "Tr_imu_to_velo"}
REF_LAT_LON = (49.0, 8.4)
"""Where an export puts the first frame when it writes oxts (degrees)."""
LOST = [
    "behaviour tags",
    "track attributes",
    "keyframe flags",
    "pitch and roll",
    "truncation levels (PointLabel keeps a bool: > 0; exported as 1 / 0)",
    "the world frame's placement (oxts poses are relative to the first frame's IMU pose)",
]


def read_tracking_calib(text: str, name: str) -> dict[str, list[float]]:
    """A tracking calibration as key -> numbers, keys renamed to the object format's."""
    calib: dict[str, list[float]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.replace(":", " ", 1).split()
        if not parts:
            continue
        try:
            calib[ALIASES.get(parts[0], parts[0])] = [float(v) for v in parts[1:]]
        except ValueError as exc:
            raise InterchangeError(f"{name}: line {n}: not numbers") from exc
    for key, size in (("R0_rect", 9), ("Tr_velo_to_cam", 12)):
        if len(calib.get(key, [])) != size:
            raise InterchangeError(f"{name}: needs {key} with {size} numbers")
    return calib


def _sequence(folder: ImportFolder) -> str:
    seqs = sorted(p.stem for p in folder.files("label_02", "*.txt"))
    if len(seqs) != 1:
        found = ", ".join(seqs[:5]) or "none"
        raise InterchangeError(
            f"label_02/ holds {len(seqs)} sequences ({found}): import a folder with one "
            "sequence (velodyne/<seq>/, label_02/<seq>.txt, calib/<seq>.txt)"
        )
    return seqs[0]


def _rot(roll: float, pitch: float, yaw: float) -> NDArray[np.float64]:
    cr, sr, cp, sp, cy, sy = (f(a) for a in (roll, pitch, yaw) for f in (math.cos, math.sin))
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    return np.asarray(rz @ ry @ rx, dtype=np.float64)


def oxts_poses(lines: list[list[float]]) -> list[NDArray[np.float64]]:
    """IMU poses (4x4, relative to the first) from oxts (lat, lon, alt, roll, pitch, yaw, ...)."""
    scale = math.cos(lines[0][0] * math.pi / 180)
    out = []
    for lat, lon, alt, roll, pitch, yaw in (v[:6] for v in lines):
        m = np.eye(4)
        m[0, 3] = scale * lon * math.pi * EARTH_RADIUS_M / 180
        m[1, 3] = scale * EARTH_RADIUS_M * math.log(math.tan((90 + lat) * math.pi / 360))
        m[2, 3] = alt
        m[:3, :3] = _rot(roll, pitch, yaw)
        out.append(m)
    first = np.linalg.inv(out[0])
    return [first @ m for m in out]


def _matrix(calib: dict[str, list[float]], key: str) -> NDArray[np.float64]:
    m = np.eye(4)
    if len(calib.get(key, [])) == 12:
        m[:3, :4] = np.reshape(calib[key], (3, 4))
    return m


def read(folder: ImportFolder, taxonomy: Taxonomy) -> Parsed:
    """Read one KITTI tracking sequence (track ids kept, oxts poses when present)."""
    report = Report()
    seq = _sequence(folder)
    points = folder.path(f"velodyne/{seq}")
    files = list_frames(points)
    labels = AnnotationSet(frames=[FrameMeta(key_of(f)) for f in files])
    index = {int(f.key): i for i, f in enumerate(labels.frames) if f.key.isdigit()}
    calib = read_tracking_calib(folder.read_text(f"calib/{seq}.txt"), f"calib/{seq}.txt")
    to_lidar = np.asarray(np.linalg.inv(velo_to_rect(calib)), dtype=np.float64)
    if folder.is_file(f"oxts/{seq}.txt"):
        _poses(folder, seq, calib, labels, report)
    tracks: dict[str, Track] = {}
    for line in folder.read_text(f"label_02/{seq}.txt").splitlines():
        parts = line.split()
        if not parts:
            continue
        if (
            len(parts) < 17
            or not parts[0].lstrip("-").isdigit()
            or not parts[1].lstrip("-").isdigit()
        ):
            report.drop("malformed_line")
            continue
        if parts[2] == "DontCare" or parts[1] == "-1":
            report.drop("DontCare")
            continue
        frame = index.get(int(parts[0]))
        if frame is None:
            report.drop("label_without_point_cloud")
            continue
        try:
            trunc, occ = float(parts[3]), int(float(parts[4]))
            h, w, length, x, y, z, ry = (float(v) for v in parts[10:17])
        except ValueError:
            report.drop("malformed_line")
            continue
        track_id = parts[1]
        if track_id not in tracks:
            label, attrs = to_class("kitti", parts[2], taxonomy, report)
            tracks[track_id] = Track(track_id, label, attrs)
        centre = to_lidar @ np.array([x, y - h / 2, z, 1.0])
        attrs_box: dict[str, object] = {"truncated": trunc > 0}
        if 0 <= occ < len(OCCLUSION):
            attrs_box["occlusion"] = OCCLUSION[occ]
        yaw = normalize_yaw(-ry - math.pi / 2)
        c = (float(centre[0]), float(centre[1]), float(centre[2]))
        labels.boxes.append(Box(track_id, frame, c, (length, w, h), yaw, attributes=attrs_box))
    labels.tracks = list(tracks.values())
    return Parsed(points, labels, report)


def _poses(
    folder: ImportFolder, seq: str, calib: dict[str, list[float]], labels: AnnotationSet,
    report: Report,
) -> None:  # fmt: skip
    name = f"oxts/{seq}.txt"
    rows = []
    for n, line in enumerate(folder.read_text(name).splitlines(), 1):
        if line.strip():
            try:
                rows.append([float(v) for v in line.split()[:6]])
            except ValueError as exc:
                raise InterchangeError(f"{name}: line {n}: not numbers") from exc
            if len(rows[-1]) != 6:
                raise InterchangeError(f"{name}: line {n}: needs lat lon alt roll pitch yaw")
    if not rows:
        return
    if "Tr_imu_to_velo" not in calib:
        report.notes.append(f"calib/{seq}.txt has no Tr_imu_velo: the IMU is taken as the lidar")
    velo_to_imu = np.linalg.inv(_matrix(calib, "Tr_imu_to_velo"))
    index = {int(f.key): f for f in labels.frames if f.key.isdigit()}
    for i, pose in enumerate(oxts_poses(rows)):
        if i in index:
            index[i].pose = [[float(v) for v in row] for row in pose @ velo_to_imu]
    if len(rows) != len(labels.frames):
        report.notes.append(f"{name} has {len(rows)} lines for {len(labels.frames)} frames")


def _calib(source: Path | None, report: Report) -> tuple[str, dict[str, list[float]]]:
    """The scene's own tracking calibration when it came from one, else the nominal one."""
    if source is not None and source.parent.parent.name == "velodyne":
        file = source.parent.parent.parent / "calib" / f"{source.parent.name}.txt"
        if file.is_file():
            text = file.read_text()
            return text, read_tracking_calib(text, f"calib/{file.name}")
    report.counts["nominal_calibration"] += 1
    names = {"R0_rect": "R_rect", "Tr_velo_to_cam": "Tr_velo_cam", "Tr_imu_to_velo": "Tr_imu_velo"}
    text = "".join(
        f"{names.get(k, k + ':')} {' '.join(f'{v:.12e}' for v in vals)}\n"
        for k, vals in NOMINAL_CALIB.items()
    )
    return text, {k: [float(v) for v in vals] for k, vals in NOMINAL_CALIB.items()}


def _oxts_line(imu: NDArray[np.float64]) -> str:
    """An oxts line placing the IMU pose ``imu`` relative to ``REF_LAT_LON`` (other fields 0)."""
    lat0, lon0 = REF_LAT_LON
    scale = math.cos(lat0 * math.pi / 180)
    mx0 = scale * lon0 * math.pi * EARTH_RADIUS_M / 180
    my0 = scale * EARTH_RADIUS_M * math.log(math.tan((90 + lat0) * math.pi / 360))
    lon = (mx0 + imu[0, 3]) * 180 / (scale * math.pi * EARTH_RADIUS_M)
    lat = 360 / math.pi * math.atan(math.exp((my0 + imu[1, 3]) / (scale * EARTH_RADIUS_M))) - 90
    r = imu[:3, :3]
    yaw, pitch, roll = (
        math.atan2(r[1, 0], r[0, 0]),
        math.asin(max(-1, min(1, -r[2, 0]))),
        math.atan2(r[2, 1], r[2, 2]),
    )
    values = [lat, lon, float(imu[2, 3]), roll, pitch, yaw] + [0.0] * 24
    return " ".join(repr(float(v)) for v in values)


def write(data: SceneData, out: Path, *, points: bool) -> Report:
    """Write sequence ``0000``: ``label_02/``, ``calib/``, ``oxts/`` (when the frames have
    poses) and optionally ``velodyne/0000/<index:06d>.bin``."""
    report = Report(lost=list(LOST))
    labels = data.labels
    for sub in ("label_02", "calib", "oxts"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    source = labels.frames[0].source if labels.frames else None
    calib_text, calib = _calib(source, report)
    (out / "calib" / f"{SEQUENCE}.txt").write_text(calib_text)
    ids = _track_ids([t.id for t in labels.tracks], report)
    tracks = {t.id: t for t in labels.tracks}
    types = {
        t.id: export_type("kitti-tracking", t.label, t.attributes, report) for t in labels.tracks
    }
    lines = []
    for b in labels.boxes:
        kitti_type = "_".join(types[b.track_id].split())
        tail = label_line(b, tracks[b.track_id], calib, DEFAULT_IMAGE, report).split()[1:]
        tail[0] = str(int(float(tail[0])))
        lines.append(" ".join([str(b.frame), ids[b.track_id], kitti_type, *tail]))
    (out / "label_02" / f"{SEQUENCE}.txt").write_text("".join(x + "\n" for x in lines))
    if all(f.pose is not None for f in labels.frames) and labels.frames:
        imu_to_velo = _matrix(calib, "Tr_imu_to_velo")
        rows = [_oxts_line(np.asarray(f.pose) @ imu_to_velo) for f in labels.frames]
        (out / "oxts" / f"{SEQUENCE}.txt").write_text("".join(r + "\n" for r in rows))
    elif any(f.pose is not None for f in labels.frames):
        report.notes.append("some frames have no ego pose: oxts/ not written")
    if points and data.float32_refusal(report, "KITTI tracking velodyne/*.bin"):
        for i, f in enumerate(labels.frames):
            _velodyne(data, i, f, out / "velodyne" / SEQUENCE / f"{i:06d}.bin")
    if labels.tags:
        report.dropped["tags"] = len(labels.tags)
    report.counts.update(boxes=len(labels.boxes), frames=len(labels.frames))
    return report


def _track_ids(ids: list[str], report: Report) -> dict[str, str]:
    """Integer track ids: kept when every id is a non-negative integer, else 0, 1, ... in order."""
    if all(i.isdigit() for i in ids):
        return {i: str(int(i)) for i in ids}
    mapping = {i: str(n) for n, i in enumerate(ids)}
    shown = ", ".join(f"{i}={n}" for i, n in list(mapping.items())[:20])
    report.notes.append(f"track ids are not all integers: renumbered in order ({shown})")
    return mapping


def _velodyne(data: SceneData, index: int, f: FrameMeta, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if f.source is not None and f.source.is_file() and format_of_name(f.source.name) == "kitti":
        target.write_bytes(f.source.read_bytes())
        data.progress("points", index + 1, len(data.labels.frames))
        return
    xyz = data.float32_points(index)
    assert xyz is not None  # write() checked every frame first
    np.c_[xyz, np.zeros(len(xyz), np.float32)].tofile(target)
    data.progress("points", index + 1, len(data.labels.frames))
