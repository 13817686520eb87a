"""Camera images and calibrations of an import folder (docs/formats.md, Cameras).

- KITTI object: ``image_2/<frame>.png`` with ``calib/<frame>.txt`` (P2, R0_rect,
  Tr_velo_to_cam): camera ``image_2``.
- SUSTechPOINTS: ``calib/<name>.json`` (``intrinsic`` 9 numbers, ``extrinsic`` 16,
  lidar to camera, row-major) with ``camera/<name>/<frame>.jpg`` (or ``.png``).
- Generic, for every format whose own layout has no cameras:
  ``cameras/<name>/calib.json`` (``intrinsic`` 3x3, ``lidar_to_camera`` 4x4,
  optional ``distortion`` ``[k1, k2, p1, p2, k3]``) with
  ``cameras/<name>/<frame>.jpg`` (or ``.jpeg``, ``.png``).

Every image's header is read here, before anything is stored: an unreadable image
or calibration refuses the import (``malformed_import``), naming the file
relative to the folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pointcloud.cameras import kitti_camera
from pointcloud.io.sequence import FRAME_FOLDERS, list_frames
from server.cameras import CameraImageError, CameraShot, check_shot, distortion_of, matrix
from server.interchange.model import frame_key
from server.interchange.paths import ImportFolder, MalformedImportError

CAMERA_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def _image(folder: ImportFolder, sub: str, key: str) -> Path | None:
    for suffix in IMAGE_SUFFIXES:
        if folder.is_file(f"{sub}/{key}{suffix}"):
            return folder.path(f"{sub}/{key}{suffix}")
    return None


def _checked(folder: ImportFolder, shots: Iterable[CameraShot]) -> list[CameraShot]:
    try:
        return [check_shot(s) for s in shots]
    except CameraImageError as exc:
        raise MalformedImportError(folder.scrub(str(exc))) from exc


def _json(folder: ImportFolder, rel: str) -> dict[str, Any]:
    try:
        data = json.loads(folder.read_text(rel))
    except json.JSONDecodeError as exc:
        raise MalformedImportError(f"{rel}: not JSON (line {exc.lineno})") from exc
    if not isinstance(data, dict):
        raise MalformedImportError(f"{rel}: expected a JSON object")
    return data


def _name(name: str) -> str:
    if not CAMERA_NAME.match(name):
        raise MalformedImportError(
            "a camera name may hold only letters, digits, '_', '.' and '-' (at most 64)"
        )
    return name


def kitti_shots(
    folder: ImportFolder, keys: list[str], calibs: dict[str, dict[str, list[float]]]
) -> list[CameraShot]:
    """The left colour camera of each frame that has ``image_2/<key>.png`` and a calib
    (``calibs``: key -> parsed ``calib/<key>.txt``)."""
    shots = []
    for key in keys:
        image = _image(folder, "image_2", key)
        if image is None or key not in calibs or "P2" not in calibs[key]:
            continue
        if len(calibs[key]["P2"]) != 12:
            raise MalformedImportError(f"calib/{key}.txt: P2 needs 12 numbers")
        cam = kitti_camera(calibs[key])
        shots.append(
            CameraShot(
                key,
                "image_2",
                image,
                cam.intrinsic.tolist(),
                cam.lidar_to_camera.tolist(),
                label=folder.rel(image),
            )  # fmt: skip
        )
    return _checked(folder, shots)


def sustech_shots(folder: ImportFolder, keys: list[str]) -> list[CameraShot]:
    """Every camera with ``calib/<name>.json`` and the frames' ``camera/<name>/<key>.jpg``."""
    shots = []
    for calib_file in folder.files("calib", "*.json"):
        name = _name(calib_file.stem)
        rel = f"calib/{calib_file.name}"
        calib = _json(folder, rel)
        try:
            intrinsic = matrix(calib["intrinsic"], 3, 3, f"{rel}: intrinsic")
            extrinsic = matrix(calib["extrinsic"], 4, 4, f"{rel}: extrinsic")
            distortion = distortion_of(calib.get("distortion"), f"{rel}: distortion")
        except KeyError as exc:
            raise MalformedImportError(f"{rel}: needs {exc.args[0]!r}") from exc
        except CameraImageError as exc:
            raise MalformedImportError(str(exc)) from exc
        for key in keys:
            image = _image(folder, f"camera/{name}", key)
            if image is not None:
                shots.append(
                    CameraShot(
                        key, name, image, intrinsic, extrinsic, distortion, folder.rel(image)
                    )
                )
    return _checked(folder, shots)


def generic_shots(folder: ImportFolder, keys: list[str]) -> list[CameraShot]:
    """The generic layout (module docstring): ``cameras/<name>/calib.json`` and images."""
    if not folder.is_dir("cameras"):
        return []
    shots = []
    for sub in sorted(p for p in folder.path("cameras").iterdir() if p.is_dir()):
        name = _name(sub.name)
        rel = f"cameras/{name}/calib.json"
        if not folder.is_file(rel):
            raise MalformedImportError(f"cameras/{name}/: needs calib.json")
        calib = _json(folder, rel)
        try:
            intrinsic = matrix(calib["intrinsic"], 3, 3, f"{rel}: intrinsic")
            extrinsic = matrix(calib["lidar_to_camera"], 4, 4, f"{rel}: lidar_to_camera")
            distortion = distortion_of(calib.get("distortion"), f"{rel}: distortion")
        except KeyError as exc:
            raise MalformedImportError(f"{rel}: needs {exc.args[0]!r}") from exc
        except CameraImageError as exc:
            raise MalformedImportError(str(exc)) from exc
        for key in keys:
            image = _image(folder, f"cameras/{name}", key)
            if image is not None:
                shots.append(
                    CameraShot(
                        key, name, image, intrinsic, extrinsic, distortion, folder.rel(image)
                    )
                )
    return _checked(folder, shots)


def folder_shots(path: Path) -> list[CameraShot]:
    """The generic layout's shots of a folder of frames ``pointlabel ingest`` is given
    (``cameras/`` beside the point clouds or beside their ``lidar/`` folder), each with
    its frame index set; none for a single file."""
    if not path.is_dir():
        return []
    files = list_frames(path)
    keys = [frame_key(f) for f in files]
    beside = path.name in FRAME_FOLDERS and not (path / "cameras").is_dir()
    root = path.parent if beside else path
    folder = ImportFolder(root)
    try:
        shots = generic_shots(folder, keys)
    except MalformedImportError as exc:
        exc.args = (folder.scrub(str(exc)),)
        raise
    index = {k: i for i, k in enumerate(keys)}
    for shot in shots:
        shot.frame = index[shot.key]
    return shots
