"""LAS and LAZ (including COPC ``.copc.laz``) files, read with laspy and lazrs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import laspy
import numpy as np
from lazrs import LazrsError
from numpy.typing import NDArray

from pointcloud.cloud import PointCloud, check_coordinates
from pointcloud.errors import CorruptFileError, EmptyCloudError, HeaderMismatchError
from pointcloud.io.binary import Attributes, check_point_count

CHUNK_POINTS = 500_000
SMALL_COORDINATE = 1e4
# laspy dimension name -> attribute dtype; copied when the point format has it.
LAS_ATTRIBUTES: dict[str, type[np.generic]] = {
    "intensity": np.float32,
    "classification": np.uint8,
    "return_number": np.uint8,
    "number_of_returns": np.uint8,
    "point_source_id": np.uint16,
    "gps_time": np.float64,
}
RGB = ("red", "green", "blue")

_LIBRARY_ERRORS = (laspy.errors.LaspyException, LazrsError, ValueError, EOFError)


def _laz_backend() -> laspy.LazBackend | None:
    for backend in (laspy.LazBackend.LazrsParallel, laspy.LazBackend.Lazrs):
        if backend.is_available():
            return backend
    return None


def read_las(
    path: str | Path, *, max_points: int = 500_000_000, chunk_points: int = CHUNK_POINTS
) -> PointCloud:
    """Read a LAS/LAZ file into a :class:`PointCloud`, ``chunk_points`` points at a time.

    Positions are ``X * scale + offset`` from the header, computed in float64 and
    stored as a float64 ``offset`` (centre of the header bounding box rounded to
    whole metres, or 0 for coordinates under 10 km) plus float32 ``local``; units
    and frame are the file's (its CRS). Only the output arrays grow with the file.
    Attributes: ``intensity`` (float32), ``classification``, ``return_number``,
    ``number_of_returns`` (uint8), ``point_source_id`` (uint16), ``gps_time``
    (float64) and ``rgb`` (uint8 (N, 3); 16-bit colours are scaled down) when the
    point format has them.
    """
    with open_las_chunks(path, max_points=max_points, chunk_points=chunk_points) as chunks:
        total = chunks.total
        local = np.empty((total, 3), dtype=np.float32)
        attrs: Attributes = {
            k: np.empty(total, dtype=t) for k, t in LAS_ATTRIBUTES.items() if k in chunks.names
        }
        rgb16 = np.empty((total, 3), dtype=np.uint16) if chunks.has_rgb else None
        origin = np.zeros(3)
        done = 0
        for chunk in chunks:
            count = len(chunk)
            origin = chunk.offset
            local[done : done + count] = chunk.local
            for name, column in attrs.items():
                column[done : done + count] = chunk.attributes[name]
            if rgb16 is not None:
                rgb16[done : done + count] = chunk.attributes["rgb"]
            done += count
    if rgb16 is not None:
        attrs["rgb"] = rgb_to_uint8(rgb16)
    return PointCloud(origin, local, attrs, 0)


@contextmanager
def open_las_chunks(
    path: str | Path, *, max_points: int = 500_000_000, chunk_points: int = CHUNK_POINTS
) -> Iterator[LasChunks]:
    """Open a LAS/LAZ file to read it ``chunk_points`` points at a time (a context manager).

    The header is checked at once (as :func:`read_las` does); iterating the
    result yields the chunks. Decoding errors are raised as
    :class:`CorruptFileError`, a file missing points as :class:`HeaderMismatchError`,
    a chunk with a point past ``MAX_COORDINATE`` metres (a wild scale or offset)
    as :class:`CoordinatesOutOfRangeError`.
    """
    try:
        reader = laspy.open(path, laz_backend=_laz_backend())
    except _LIBRARY_ERRORS as exc:
        raise CorruptFileError(f"{path}: cannot decode LAS/LAZ: {exc}") from exc
    with reader:
        yield LasChunks(reader, path, max_points, chunk_points)


class LasChunks:
    """An open LAS/LAZ file; iterate it for :class:`PointCloud` chunks, in file order.

    ``total`` is the number of points the header declares, ``names`` the point
    format's dimension names and ``has_rgb`` whether it has colours. Each chunk
    holds up to ``chunk_points`` points: ``offset`` (the same for every chunk,
    chosen as :func:`read_las` does), float32 ``local`` and the attributes of
    :func:`read_las`, except ``rgb``, which is uint16 (n, 3) as stored (see
    :func:`rgb_to_uint8`). Chunk arrays are new arrays. Iterate once.
    """

    def __init__(self, reader: laspy.LasReader, path: str | Path, max_points: int, chunk: int):
        header = reader.header
        self.total = int(header.point_count)
        check_point_count(self.total, max_points, path)
        self._scales = np.asarray(header.scales, dtype=np.float64)
        self._offsets = np.asarray(header.offsets, dtype=np.float64)
        if not (
            np.all(np.isfinite(self._scales))
            and np.all(self._scales != 0)
            and np.all(np.isfinite(self._offsets))
        ):
            raise CorruptFileError(
                f"{path}: LAS scale {self._scales} / offset {self._offsets} is unusable"
            )
        if self.total == 0:
            raise EmptyCloudError(f"{path}: the LAS header declares 0 points")
        _check_uncompressed_size(header, path)
        self.names = set(header.point_format.dimension_names)
        self.has_rgb = set(RGB) <= self.names
        self._reader, self._path, self._chunk = reader, path, chunk

    def __iter__(self) -> Iterator[PointCloud]:
        path, total = self._path, self.total
        kept = [k for k in LAS_ATTRIBUTES if k in self.names]
        origin: NDArray[np.float64] | None = None
        done = 0
        for points in self._decoded():
            count = len(points)
            if done + count > total:
                raise HeaderMismatchError(
                    f"{path}: more points than the {total} the header declares"
                )
            xyz = [
                np.asarray(r, dtype=np.float64) * self._scales[i] + self._offsets[i]
                for i, r in enumerate((points.X, points.Y, points.Z))
            ]
            check_coordinates([a.min() for a in xyz], [a.max() for a in xyz], path)
            if origin is None:
                origin = _choose_origin(self._reader.header, xyz)
            local = np.empty((count, 3), dtype=np.float32)
            for axis in range(3):
                local[:, axis] = xyz[axis] - origin[axis]
            attrs: Attributes = {k: np.asarray(points[k], LAS_ATTRIBUTES[k]) for k in kept}
            if self.has_rgb:
                attrs["rgb"] = np.stack([np.asarray(points[c], np.uint16) for c in RGB], axis=1)
            done += count
            yield PointCloud(origin, local, attrs, 0)
        if done != total or origin is None:
            raise HeaderMismatchError(
                f"{path}: the LAS header declares {total} points, read {done}"
            )

    def _decoded(self) -> Iterator[laspy.ScaleAwarePointRecord]:
        """laspy's chunks, with its decoding errors raised as :class:`CorruptFileError`."""
        chunks = self._reader.chunk_iterator(self._chunk)
        while True:
            try:
                points = next(chunks)
            except StopIteration:
                return
            except _LIBRARY_ERRORS as exc:
                raise CorruptFileError(f"{self._path}: cannot decode LAS/LAZ: {exc}") from exc
            yield points


def _check_uncompressed_size(header: laspy.LasHeader, path: str | Path) -> None:
    """A LAS (not LAZ) file must hold every record the header declares."""
    if header.are_points_compressed:
        return
    start = int(header.offset_to_point_data)
    needed = start + int(header.point_count) * header.point_format.size
    size = os.path.getsize(path)
    if size < needed:
        raise HeaderMismatchError(
            f"{path}: header declares {header.point_count} points of "
            f"{header.point_format.size} bytes from byte {start} (ending at {needed}), "
            f"the file has {size} bytes",
            offset=start,
        )


def _choose_origin(
    header: laspy.LasHeader, first: list[NDArray[np.float64]]
) -> NDArray[np.float64]:
    """Rounded centre of the header bounding box, or of the first chunk if the box is wrong."""
    lo = np.asarray(header.mins, dtype=np.float64)
    hi = np.asarray(header.maxs, dtype=np.float64)
    chunk_lo = np.array([c.min() for c in first])
    chunk_hi = np.array([c.max() for c in first])
    slack = np.asarray(header.scales, dtype=np.float64) * 2
    box_ok = bool(np.all(np.isfinite(lo) & np.isfinite(hi)))
    box_ok = box_ok and bool(np.all(lo - slack <= chunk_lo) and np.all(chunk_hi <= hi + slack))
    centre = (lo + hi) / 2 if box_ok else (chunk_lo + chunk_hi) / 2
    origin = np.round(centre)
    return np.zeros(3) if np.all(np.abs(origin) < SMALL_COORDINATE) else origin


def rgb_to_uint8(rgb16: NDArray[np.uint16], *, wide: bool | None = None) -> NDArray[np.uint8]:
    """LAS colours (n, 3) are 16-bit; files that store 0..255 are kept, others are
    shifted by 8 bits. ``wide`` says which (default: whether any value of
    ``rgb16`` exceeds 255; pass the whole file's answer for a chunk). A new array."""
    if wide is None:
        wide = bool(rgb16.size and int(rgb16.max()) > 255)
    return (rgb16 >> 8).astype(np.uint8) if wide else rgb16.astype(np.uint8)
