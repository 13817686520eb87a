"""PLY (Stanford polygon) files: the ``vertex`` element only."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray

from pointcloud.cloud import PointCloud
from pointcloud.errors import CorruptFileError, HeaderMismatchError, UnsupportedFormatError
from pointcloud.io.binary import Attributes, check_point_count, finish_cloud

MAX_HEADER_LINES = 512
MAX_LINE_BYTES = 4096
_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}  # fmt: skip
_FORMATS = {"ascii": "", "binary_little_endian": "<", "binary_big_endian": ">"}
INTENSITY_NAMES = ("intensity", "reflectance", "i")
RGB = ("red", "green", "blue")


@dataclass
class PlyElement:
    """One ``element`` of the header: its count and (name, numpy type) scalar properties."""

    name: str
    count: int
    properties: list[tuple[str, str]] = field(default_factory=list)
    has_list: bool = False


def read_ply(path: str | Path, *, max_points: int = 500_000_000) -> PointCloud:
    """Read the vertex element of an ascii or binary (either endian) PLY file.

    ``x``, ``y``, ``z`` are positions in metres (file frame). ``intensity`` (or
    ``scalar_intensity``/``reflectance``/``i``) becomes float32 ``intensity``;
    ``red``/``green``/``blue`` become ``rgb`` uint8 (N, 3) (16-bit colours are
    shifted down); other scalar properties keep their dtype, with CloudCompare's
    ``scalar_`` prefix removed. Elements after the vertex element (faces with list
    properties, ...) are not read. Elements before it are skipped only when they
    have no list properties.
    """
    with open(path, "rb") as f:
        fmt, elements = _read_header(f, path)
        data_offset = f.tell()
        skip = 0
        for element in elements:
            if element.name == "vertex":
                break
            if element.has_list:
                raise UnsupportedFormatError(f"{path}: list element {element.name!r} before vertex")
            skip += element.count
        else:
            raise CorruptFileError(f"{path}: PLY has no vertex element")
        check_point_count(element.count, max_points, path)
        if element.has_list:
            raise UnsupportedFormatError(f"{path}: PLY vertex element has list properties")
        if fmt == "ascii":
            columns = _read_ascii(f, element, skip, path)
        else:
            columns = _read_binary(f, elements, element, fmt, data_offset, path)
    return _to_cloud(columns, path)


def _read_header(f: BinaryIO, path: str | Path) -> tuple[str, list[PlyElement]]:
    if f.readline(8).rstrip(b"\r\n") != b"ply":
        raise CorruptFileError(f"{path}: not a PLY file (no 'ply' magic)", offset=0)
    fmt = ""
    elements: list[PlyElement] = []
    for _ in range(MAX_HEADER_LINES):
        words = f.readline(MAX_LINE_BYTES).decode("ascii", errors="replace").split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "end_header":
            if fmt not in _FORMATS:
                raise UnsupportedFormatError(f"{path}: unknown PLY format {fmt!r}")
            return fmt, elements
        try:
            _header_line(words, elements)
        except (ValueError, IndexError, KeyError):
            raise CorruptFileError(f"{path}: bad PLY header line {' '.join(words)!r}") from None
        if words[0] == "format":
            fmt = words[1]
    raise CorruptFileError(f"{path}: PLY header has no end_header", offset=f.tell())


def _header_line(words: list[str], elements: list[PlyElement]) -> None:
    if words[0] == "element":
        elements.append(PlyElement(words[1], int(words[2])))
        if elements[-1].count < 0:
            raise ValueError("negative count")
    elif words[0] == "property" and words[1] == "list":
        elements[-1].has_list = True
    elif words[0] == "property":
        elements[-1].properties.append((words[2], _TYPES[words[1]]))
    elif words[0] != "format":
        raise ValueError(words[0])


def _read_ascii(
    f: BinaryIO, vertex: PlyElement, skip: int, path: str | Path
) -> dict[str, NDArray[np.generic]]:
    lines = [ln for ln in itertools.islice(f, skip + vertex.count) if ln.strip()][skip:]
    width = len(vertex.properties)
    if len(lines) != vertex.count:
        raise HeaderMismatchError(f"{path}: {vertex.count} vertices declared, {len(lines)} found")
    rows = [ln.split() for ln in lines]
    bad = next((i for i, row in enumerate(rows) if len(row) != width), None)
    if bad is not None:
        raise HeaderMismatchError(f"{path}: vertex line {bad + 1} does not have {width} values")
    try:
        values = np.array(rows, dtype=np.float64).reshape(vertex.count, width)
    except ValueError as exc:
        raise CorruptFileError(f"{path}: PLY vertex value is not a number: {exc}") from exc
    return {name: values[:, i].astype(t) for i, (name, t) in enumerate(vertex.properties)}


def _read_binary(
    f: BinaryIO,
    elements: list[PlyElement],
    vertex: PlyElement,
    fmt: str,
    data_offset: int,
    path: str | Path,
) -> dict[str, NDArray[np.generic]]:
    order = _FORMATS[fmt]
    start = data_offset
    for element in elements[: elements.index(vertex)]:
        start += element.count * _dtype(element, order).itemsize
    dtype = _dtype(vertex, order)
    needed = start + vertex.count * dtype.itemsize
    size = os.fstat(f.fileno()).st_size
    if needed > size:
        raise HeaderMismatchError(
            f"{path}: {vertex.count} vertices of {dtype.itemsize} bytes end at byte {needed}, "
            f"the file has {size} bytes",
            offset=start,
        )
    f.seek(start)
    rec = np.fromfile(f, dtype=dtype, count=vertex.count)
    return {name: rec[name].astype(dtype[name].newbyteorder("=")) for name in dtype.names or ()}


def _dtype(element: PlyElement, order: str) -> np.dtype[np.void]:
    return np.dtype([(name, order + t) for name, t in element.properties])


def _to_cloud(columns: dict[str, NDArray[np.generic]], path: str | Path) -> PointCloud:
    columns = {k.removeprefix("scalar_"): v for k, v in columns.items()}
    if not {"x", "y", "z"} <= columns.keys():
        raise CorruptFileError(f"{path}: PLY vertex element needs x, y and z")
    xyz = np.column_stack([columns.pop(axis).astype(np.float64) for axis in "xyz"])
    attrs: Attributes = {}
    if set(RGB) <= columns.keys() and all(columns[c].dtype.kind in "ui" for c in RGB):
        rgb = np.column_stack([columns.pop(c) for c in RGB])
        attrs["rgb"] = (rgb >> 8 if rgb.size and rgb.max() > 255 else rgb).astype(np.uint8)
    for name, column in columns.items():
        if name in INTENSITY_NAMES and "intensity" not in attrs:
            attrs["intensity"] = column.astype(np.float32)
        else:
            attrs[name] = column
    return finish_cloud(xyz, attrs, path)
