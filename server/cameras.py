"""Camera images of frames: stored content-addressed, served resized and cached.

An importer describes each image as a :class:`CameraShot` (which frame, the
camera's name and calibration, the file). :func:`check_shot` opens the image's
header before anything is stored, so an unreadable image refuses the import;
:func:`store_shots` copies each image to ``data_dir/images/<aa>/<sha256>.<ext>``
(the same bytes are stored once) and inserts the :class:`FrameCamera` rows.
:func:`resized` answers a width-limited JPEG copy, cached beside the original.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from server.config import Settings
from server.models import FrameCamera

MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}
SUFFIXES = {"image/jpeg": ".jpg", "image/png": ".png"}
WIDTHS = (160, 320, 640, 960, 1280, 1920)
"""Widths (pixels) a resized copy may have: a request's ``w`` rounds up to one of them,
so a scene has at most this many cached copies per image."""
JPEG_QUALITY = 85
MAX_PIXELS = 50_000_000
"""Images larger than this (pixels) are refused: a decompression bomb, not a camera."""


class CameraImageError(ValueError):
    """An image that is not a readable JPEG or PNG, or a calibration that is not numbers."""

    code = "invalid_camera"


@dataclass
class CameraShot:
    """One camera image of one frame, before it is stored.

    ``key`` names the frame (its point-cloud file name without suffix); the
    importer sets ``frame``, its 0-based index in the scene. ``intrinsic`` 3x3 (pixels),
    ``lidar_to_camera`` 4x4 (frame coordinates, metres, to the camera frame: x
    right, y down, z forward), ``distortion`` Brown-Conrady ``(k1, k2, p1, p2, k3)``
    or empty. ``label`` names the file in messages (relative to the import folder).
    """

    key: str
    name: str
    file: Path
    intrinsic: list[list[float]]
    lidar_to_camera: list[list[float]]
    distortion: list[float] | None = None
    label: str = ""
    frame: int = -1
    width: int = 0
    height: int = 0
    media_type: str = ""


def matrix(values: Any, rows: int, cols: int, what: str) -> list[list[float]]:
    """``values`` (nested or flat numbers) as a rows x cols list of finite floats."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CameraImageError(f"{what}: not numbers") from exc
    if arr.size != rows * cols or not np.isfinite(arr).all():
        raise CameraImageError(f"{what}: needs {rows * cols} finite numbers")
    out: list[list[float]] = arr.reshape(rows, cols).tolist()
    return out


def distortion_of(values: Any, what: str) -> list[float] | None:
    """Brown-Conrady coefficients (up to 5 finite numbers), or None for none/all zero."""
    if values is None:
        return None
    if not isinstance(values, list) or len(values) > 5:
        raise CameraImageError(f"{what}: a list of at most 5 numbers (k1 k2 p1 p2 k3)")
    coeffs = matrix(values, 1, len(values), what)[0] if values else []
    return coeffs if any(coeffs) else None


def check_shot(shot: CameraShot) -> CameraShot:
    """Read the image's header: its size and type (JPEG or PNG), else :class:`CameraImageError`."""
    try:
        with Image.open(shot.file) as img:
            fmt, (w, h) = img.format or "", img.size
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as exc:
        raise CameraImageError(f"{shot.label or shot.file.name}: not a readable image") from exc
    if fmt not in MEDIA_TYPES:
        raise CameraImageError(f"{shot.label or shot.file.name}: only JPEG and PNG images")
    if w * h > MAX_PIXELS:
        raise CameraImageError(f"{shot.label or shot.file.name}: image too large")
    shot.width, shot.height, shot.media_type = w, h, MEDIA_TYPES[fmt]
    return shot


def images_dir(settings: Settings) -> Path:
    return settings.data_dir / "images"


def image_path(settings: Settings, digest: str, media_type: str) -> Path:
    """Where the image with SHA-256 ``digest`` is stored."""
    return images_dir(settings) / digest[:2] / f"{digest}{SUFFIXES[media_type]}"


def _store_file(settings: Settings, file: Path, media_type: str) -> str:
    h = hashlib.sha256()
    with open(file, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    target = image_path(settings, digest, media_type)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
        os.close(fd)
        shutil.copyfile(file, tmp)
        os.replace(tmp, target)
    return digest


def store_shots(engine: Engine, settings: Settings, scene_id: int, shots: list[CameraShot]) -> int:
    """Store each (checked) shot's image and its row; returns how many were stored."""
    rows = []
    for shot in shots:
        assert shot.frame >= 0 and shot.media_type, "check_shot() and a frame index first"
        digest = _store_file(settings, shot.file, shot.media_type)
        rows.append(
            FrameCamera(
                scene_id=scene_id,
                frame_index=shot.frame,
                name=shot.name,
                image=digest,
                media_type=shot.media_type,
                width=shot.width,
                height=shot.height,
                intrinsic=shot.intrinsic,
                lidar_to_camera=shot.lidar_to_camera,
                distortion=shot.distortion,
            )  # fmt: skip
        )
    with Session(engine) as session:
        session.add_all(rows)
        session.commit()
    return len(rows)


def scene_cameras(session: Session, scene_id: int) -> dict[int, list[dict[str, Any]]]:
    """Frame index -> its cameras as the workspace reads them (name, size, calibration, url)."""
    out: dict[int, list[dict[str, Any]]] = {}
    rows = session.exec(
        select(FrameCamera)
        .where(FrameCamera.scene_id == scene_id)
        .order_by(col(FrameCamera.frame_index), col(FrameCamera.name))
    ).all()
    for r in rows:
        out.setdefault(r.frame_index, []).append(
            {
                "name": r.name,
                "width": r.width,
                "height": r.height,
                "intrinsic": r.intrinsic,
                "lidar_to_camera": r.lidar_to_camera,
                "distortion": r.distortion,
                "url": f"/api/scenes/{scene_id}/frames/{r.frame_index}/cameras/{r.name}",
            }  # fmt: skip
        )
    return out


def target_width(requested: int | None, width: int) -> int:
    """The width to serve: ``requested`` rounded up to one of :data:`WIDTHS`, at most
    the image's own ``width`` (None: the image's own)."""
    if requested is None:
        return width
    return min(width, next((w for w in WIDTHS if w >= requested), width))


def resized(settings: Settings, row: FrameCamera, width: int) -> Path:
    """A JPEG copy of the row's image ``width`` pixels wide (aspect kept), made once."""
    target = images_dir(settings) / "resized" / f"{row.image}-{width}.jpg"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    height = max(1, round(row.height * width / row.width))
    with Image.open(image_path(settings, row.image, row.media_type)) as img:
        small = img.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    os.close(fd)
    small.save(tmp, "JPEG", quality=JPEG_QUALITY)
    os.replace(tmp, target)
    return target


def remove_unused(settings: Settings, used: set[str], digests: set[str]) -> None:
    """Delete the stored images (and resized copies) of ``digests`` not in ``used``."""
    for digest in digests - used:
        for media_type in SUFFIXES:
            image_path(settings, digest, media_type).unlink(missing_ok=True)
        for copy in (images_dir(settings) / "resized").glob(f"{digest}-*.jpg"):
            copy.unlink(missing_ok=True)
