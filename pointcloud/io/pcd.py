"""PCD (Point Cloud Library) files: reading and writing.

Reading supports PCD v0.5 and v0.7 with ``DATA ascii``, ``binary`` and
``binary_compressed`` (LZF), any FIELDS/SIZE/TYPE/COUNT (``_`` padding fields,
COUNT > 1, COUNT 0), organised clouds (WIDTH x HEIGHT, flattened row by row)
and VIEWPOINT (applied, see :func:`read_pcd`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray

from pointcloud.cloud import PointCloud
from pointcloud.errors import CorruptFileError, HeaderMismatchError, UnsupportedFormatError
from pointcloud.io.binary import Attributes, check_point_count, finish_cloud

MAX_HEADER_LINES = 64
MAX_LINE_BYTES = 16_384
INTENSITY_NAMES = ("intensity", "i", "reflectance")
IDENTITY_VIEWPOINT = (0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0)
_TYPES = {("F", 4), ("F", 8), *((t, s) for t in "UI" for s in (1, 2, 4, 8))}
_KEYS = {"VERSION", "FIELDS", "COLUMNS", "SIZE", "TYPE", "COUNT", "WIDTH", "HEIGHT"}
_KEYS |= {"VIEWPOINT", "POINTS", "DATA"}


@dataclass(frozen=True)
class PcdField:
    """One FIELDS entry: ``kind`` is F, U or I; ``size`` in bytes; ``count`` values per point."""

    name: str
    kind: str
    size: int
    count: int

    @property
    def padding(self) -> bool:
        return self.name == "_"

    def dtype(self) -> np.dtype[np.generic]:
        if self.padding:
            return np.dtype(f"V{self.size * self.count}")
        base = np.dtype(f"<{self.kind.lower()}{self.size}")
        return np.dtype((base, (self.count,))) if self.count > 1 else base


@dataclass(frozen=True)
class PcdHeader:
    """A parsed PCD header; ``data_offset`` is the byte where the data starts."""

    fields: tuple[PcdField, ...]
    width: int
    height: int
    viewpoint: tuple[float, ...]
    points: int
    data: str
    data_offset: int

    def record_dtype(self, *, padding: bool = True) -> np.dtype[np.void]:
        """The packed little-endian record of one point (padding fields as void)."""
        fields = [f for f in self.fields if f.count > 0 and (padding or not f.padding)]
        return np.dtype(
            [(f"_pad{i}" if f.padding else f.name, f.dtype()) for i, f in enumerate(fields)]
        )


def read_pcd(path: str | Path, *, max_points: int = 500_000_000) -> PointCloud:
    """Read a PCD file into a :class:`PointCloud` (positions in metres).

    VIEWPOINT ``tx ty tz qw qx qy qz`` is read as the pose of the sensor in the
    world frame (PCL's ``sensor_origin_`` / ``sensor_orientation_``): each stored
    point ``p`` (sensor frame) is returned as ``R(q) @ p + t``. The identity
    viewpoint leaves positions bit-exact. Fields ``intensity``/``i``/``reflectance``
    become ``intensity`` (float32); ``rgb``/``rgba`` (packed 4 bytes) become
    ``rgb`` uint8 (N, 3); other fields keep their names and dtypes ((N, COUNT)
    when COUNT > 1); ``_`` padding is discarded. Bytes after the declared data are
    ignored (PCL pads files to a page size).
    """
    with open(path, "rb") as f:
        header = _read_header(f, path)
        check_point_count(header.points, max_points, path)
        if header.data == "ascii":
            columns = _read_ascii(f, header, path)
        elif header.data == "binary":
            columns = _read_binary(f, header, path)
        else:
            columns = _read_compressed(f, header, path)
    return _to_cloud(columns, header, path)


def _read_header(f: BinaryIO, path: str | Path) -> PcdHeader:
    entries: dict[str, list[str]] = {}
    for _ in range(MAX_HEADER_LINES):
        raw = f.readline(MAX_LINE_BYTES)
        if not raw:
            break
        line = raw.decode("ascii", errors="replace").strip()
        if not line or line.startswith("#"):
            continue
        key, *values = line.split()
        if key.upper() not in _KEYS:
            raise CorruptFileError(f"{path}: not a PCD header line: {line[:60]!r}", offset=f.tell())
        entries[key.upper()] = values
        if key.upper() == "DATA":
            return _parse_header(entries, f.tell(), path)
    raise CorruptFileError(f"{path}: PCD header has no DATA line", offset=f.tell())


def _ints(entries: dict[str, list[str]], key: str, path: str | Path) -> list[int]:
    try:
        values = [int(v) for v in entries[key]]
    except KeyError:
        raise CorruptFileError(f"{path}: PCD header has no {key} line") from None
    except ValueError:
        raise CorruptFileError(f"{path}: PCD {key} must be integers: {entries[key]}") from None
    if any(v < 0 for v in values):
        raise CorruptFileError(f"{path}: PCD {key} must not be negative: {values}")
    return values


def _parse_header(entries: dict[str, list[str]], data_offset: int, path: str | Path) -> PcdHeader:
    names = entries.get("FIELDS", entries.get("COLUMNS", []))
    sizes = _ints(entries, "SIZE", path)
    types = [t.upper() for t in entries.get("TYPE", [])]
    counts = _ints(entries, "COUNT", path) if "COUNT" in entries else [1] * len(names)
    if not (len(names) == len(sizes) == len(types) == len(counts)):
        raise CorruptFileError(
            f"{path}: PCD header lists {len(names)} FIELDS, {len(sizes)} SIZE, "
            f"{len(types)} TYPE and {len(counts)} COUNT entries"
        )
    fields = tuple(PcdField(*spec) for spec in zip(names, types, sizes, counts, strict=True))
    for fld in fields:
        if not fld.padding and (fld.kind, fld.size) not in _TYPES:
            raise CorruptFileError(
                f"{path}: PCD field {fld.name} has TYPE {fld.kind} SIZE {fld.size}"
            )
    real = [f.name for f in fields if not f.padding]
    if len(set(real)) != len(real):
        raise CorruptFileError(f"{path}: PCD FIELDS has a repeated name: {real}")
    for axis in "xyz":
        if [f.count for f in fields if f.name == axis] != [1]:
            raise CorruptFileError(f"{path}: PCD needs exactly one scalar field {axis!r}")
    width, height = _ints(entries, "WIDTH", path)[0], _ints(entries, "HEIGHT", path)[0]
    points = _ints(entries, "POINTS", path)[0] if "POINTS" in entries else width * height
    if points != width * height:
        raise HeaderMismatchError(f"{path}: PCD POINTS {points} != WIDTH {width} x HEIGHT {height}")
    try:
        viewpoint = tuple(float(v) for v in entries.get("VIEWPOINT", IDENTITY_VIEWPOINT))
    except ValueError:
        raise CorruptFileError(f"{path}: bad PCD VIEWPOINT {entries['VIEWPOINT']}") from None
    if len(viewpoint) != 7 or not np.all(np.isfinite(viewpoint)):
        raise CorruptFileError(f"{path}: PCD VIEWPOINT needs 7 finite numbers: {viewpoint}")
    data = (entries["DATA"] or [""])[0].lower()
    if data not in ("ascii", "binary", "binary_compressed"):
        raise UnsupportedFormatError(f"{path}: unknown PCD DATA kind {data!r}")
    return PcdHeader(fields, width, height, viewpoint, points, data, data_offset)


def _read_binary(
    f: BinaryIO, header: PcdHeader, path: str | Path
) -> dict[str, NDArray[np.generic]]:
    dtype = header.record_dtype()
    _check_data_size(header.points * dtype.itemsize, header, f, path)
    rec = np.fromfile(f, dtype=dtype, count=header.points)
    return {name: rec[name].copy() for name in dtype.names or () if not name.startswith("_pad")}


def _check_data_size(needed: int, header: PcdHeader, f: BinaryIO, path: str | Path) -> None:
    """Fail before allocating when the file is shorter than the header says."""
    available = os.fstat(f.fileno()).st_size - header.data_offset
    if needed > available:
        raise HeaderMismatchError(
            f"{path}: header declares {header.points} points, needing {needed} bytes of "
            f"{header.data} data, but the file has only {available} bytes after the header",
            offset=header.data_offset,
        )


def _read_ascii(f: BinaryIO, header: PcdHeader, path: str | Path) -> dict[str, NDArray[np.generic]]:
    fields = [fld for fld in header.fields if fld.count > 0]
    per_point = sum(fld.count for fld in fields)
    _check_data_size(header.points * per_point * 2 - 1, header, f, path)
    lines = [ln for ln in f.read().split(b"\n") if ln.strip()]
    if len(lines) != header.points:
        raise HeaderMismatchError(
            f"{path}: header declares {header.points} points but the ascii data has "
            f"{len(lines)} non-empty lines"
        )
    rows = [ln.split() for ln in lines]
    bad = next((i for i, row in enumerate(rows) if len(row) != per_point), None)
    if bad is not None:
        raise HeaderMismatchError(
            f"{path}: ascii data line {bad + 1} has {len(rows[bad])} values, "
            f"the header declares {per_point} per point"
        )
    try:
        values = np.array(rows, dtype=np.float64).reshape(header.points, per_point)
    except ValueError as exc:
        raise CorruptFileError(f"{path}: ascii PCD value is not a number: {exc}") from exc
    columns: dict[str, NDArray[np.generic]] = {}
    start = 0
    for fld in fields:
        block = values[:, start : start + fld.count]
        start += fld.count
        if not fld.padding:
            columns[fld.name] = _ascii_column(fld, block)
    return columns


def _ascii_column(fld: PcdField, block: NDArray[np.float64]) -> NDArray[np.generic]:
    """Cast parsed ascii values; an F4 ``rgb`` written as whole numbers holds packed uint32."""
    if fld.name in ("rgb", "rgba") and np.all(block == np.round(block)):
        return block.astype(np.uint32)[:, 0]
    column = block.astype(fld.dtype().base if fld.count > 1 else fld.dtype())
    return column if fld.count > 1 else column[:, 0]


def _read_compressed(
    f: BinaryIO, header: PcdHeader, path: str | Path
) -> dict[str, NDArray[np.generic]]:
    """binary_compressed: uint32 compressed size, uint32 uncompressed size, LZF block.

    The uncompressed block holds the fields one after another (all x, then all
    y, ...). PCL leaves ``_`` padding out of it, other writers keep it: the
    uncompressed size in the block header tells which.
    """
    _check_data_size(8, header, f, path)
    compressed, uncompressed = (int(v) for v in np.fromfile(f, dtype="<u4", count=2))
    available = os.fstat(f.fileno()).st_size - header.data_offset - 8
    if compressed > available:
        raise HeaderMismatchError(
            f"{path}: binary_compressed block claims {compressed} compressed bytes, "
            f"the file has {available} after the size words",
            offset=header.data_offset,
        )
    padded, packed = header.record_dtype(), header.record_dtype(padding=False)
    dtype = padded if uncompressed == header.points * padded.itemsize else packed
    if uncompressed != header.points * dtype.itemsize:
        raise HeaderMismatchError(
            f"{path}: binary_compressed block decompresses to {uncompressed} bytes but "
            f"{header.points} points of {packed.itemsize} bytes need "
            f"{header.points * packed.itemsize}",
            offset=header.data_offset + 4,
        )
    raw = lzf_decompress(f.read(compressed), uncompressed, base=header.data_offset + 8)
    columns: dict[str, NDArray[np.generic]] = {}
    start = 0
    for name in dtype.names or ():
        field_dtype = dtype.fields[name][0] if dtype.fields else dtype
        size = field_dtype.itemsize * header.points
        if not name.startswith("_pad"):
            columns[name] = np.frombuffer(raw, field_dtype, header.points, start).copy()
        start += size
    return columns


def lzf_decompress(src: bytes, expected: int, *, base: int = 0) -> bytes:
    """Decompress one LZF block (liblzf format) to exactly ``expected`` bytes.

    ``base`` is the file offset of ``src[0]``, used in error messages. Raises
    :class:`CorruptFileError` with the byte offset of the first bad token.
    """
    out = bytearray()
    i, n = 0, len(src)
    while i < n:
        token, ctrl = i, src[i]
        i += 1
        if ctrl < 32:
            end = i + ctrl + 1
            if end > n:
                raise CorruptFileError(
                    "LZF literal run past the end of the block", offset=base + token
                )
            out += src[i:end]
            i = end
        else:
            length = (ctrl >> 5) + 2
            if length == 9 and i < n:
                length += src[i]
                i += 1
            if i >= n:
                raise CorruptFileError("LZF back-reference cut off", offset=base + token)
            start = len(out) - (((ctrl & 0x1F) << 8) | src[i]) - 1
            i += 1
            if start < 0:
                raise CorruptFileError("LZF back-reference before the start", offset=base + token)
            if start + length <= len(out):
                out += out[start : start + length]
            else:
                out += (out[start:] * (length // (len(out) - start) + 1))[:length]
        if len(out) > expected:
            raise CorruptFileError(f"LZF block longer than {expected} bytes", offset=base + token)
    if len(out) != expected:
        raise CorruptFileError(
            f"LZF block gave {len(out)} bytes, expected {expected}", offset=base + n
        )
    return bytes(out)


def _to_cloud(
    columns: dict[str, NDArray[np.generic]], header: PcdHeader, path: str | Path
) -> PointCloud:
    xyz = np.column_stack([columns.pop(axis).astype(np.float64) for axis in "xyz"])
    if header.viewpoint != IDENTITY_VIEWPOINT:
        xyz = _apply_viewpoint(xyz, header.viewpoint, path)
    attrs: Attributes = {}
    for name, column in columns.items():
        if name in INTENSITY_NAMES and "intensity" not in attrs and column.ndim == 1:
            attrs["intensity"] = column.astype(np.float32)
        elif name in ("rgb", "rgba") and column.ndim == 1 and column.dtype.itemsize == 4:
            packed = column.view(np.uint32)
            shifts = np.array([16, 8, 0], dtype=np.uint32)
            attrs["rgb"] = ((packed[:, None] >> shifts) & 0xFF).astype(np.uint8)
        else:
            attrs[name] = column
    return finish_cloud(xyz, attrs, path)


def _apply_viewpoint(
    xyz: NDArray[np.float64], viewpoint: tuple[float, ...], path: str | Path
) -> NDArray[np.float64]:
    """Move sensor-frame points to the world frame: ``R(qw, qx, qy, qz) @ p + t``."""
    t = np.array(viewpoint[:3])
    q = np.array(viewpoint[3:])
    norm = float(np.linalg.norm(q))
    if norm < 1e-9:
        raise CorruptFileError(f"{path}: PCD VIEWPOINT quaternion is zero")
    w, x, y, z = q / norm
    rot = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )
    return xyz @ rot.T + t


def write_pcd(
    path: str | Path,
    xyz: NDArray[np.floating],
    fields: dict[str, NDArray[np.generic]] | None = None,
) -> None:
    """Write a binary PCD v0.7: x y z as float32 plus one scalar column per field.

    ``xyz`` is (N, 3) in metres; each field is (N,) and keeps its dtype (float32,
    uint8, uint16, ...). VIEWPOINT is the identity.
    """
    xyz = np.asarray(xyz, dtype=np.float32)
    cols: dict[str, NDArray[np.generic]] = {"x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2]}
    cols.update({k: np.asarray(v) for k, v in (fields or {}).items()})
    dtype = np.dtype([(k, v.dtype.newbyteorder("<")) for k, v in cols.items()])
    rec = np.empty(len(xyz), dtype=dtype)
    for k, v in cols.items():
        rec[k] = v
    types = {"f": "F", "u": "U", "i": "I"}
    header = "\n".join(
        [
            "# .PCD v0.7 - Point Cloud Data file format",
            "VERSION 0.7",
            "FIELDS " + " ".join(cols),
            "SIZE " + " ".join(str(v.dtype.itemsize) for v in cols.values()),
            "TYPE " + " ".join(types[v.dtype.kind] for v in cols.values()),
            "COUNT " + " ".join("1" for _ in cols),
            f"WIDTH {len(xyz)}",
            "HEIGHT 1",
            "VIEWPOINT 0 0 0 1 0 0 0",
            f"POINTS {len(xyz)}",
            "DATA binary",
        ]
    )
    with open(path, "wb") as f:
        f.write(header.encode("ascii") + b"\n")
        f.write(rec.tobytes())
