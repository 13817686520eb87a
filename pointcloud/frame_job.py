"""One frame's expensive work, as a pure function: read the file, build and encode its tiles.

:func:`encode_frame` is what an ingest runs for every frame, in process or on a
Dask worker (``server/bulk.py``): it reads nothing but the file and writes
nothing; everything the database owner has to store comes back in an
:class:`EncodedFrame`, a plain picklable value (bytes and numpy arrays). The
owner writes the tiles under their digests, the hierarchy and the full
resolution points, then the rows, so the stored bytes do not depend on where
the frame was encoded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pointcloud.io import read_cloud
from pointcloud.tiles import build_tiles


@dataclass(frozen=True)
class EncodedTile:
    """One tile's stored copies: ``gzip`` and ``br`` (brotli), named by ``digest``
    (the first 32 hex digits of the SHA-256 of the uncompressed tile)."""

    digest: str
    gzip: bytes
    br: bytes


@dataclass(frozen=True)
class EncodedFrame:
    """Everything stored for one frame.

    ``hierarchy`` is the tile hierarchy document (docs/tiles.md); ``local`` the
    float32 (N, 3) full-resolution points in metres relative to ``offset``
    (float64 (3,), metres); ``lo`` and ``hi`` the per-axis minimum and maximum
    of ``local`` (metres, float64); ``dropped`` the non-finite points the
    reader removed; ``worker`` names the process that encoded it (host:pid).
    """

    hierarchy: dict[str, Any]
    tiles: list[EncodedTile]
    local: NDArray[np.float32]
    offset: NDArray[np.float64]
    lo: NDArray[np.float64]
    hi: NDArray[np.float64]
    dropped: int
    worker: str

    @property
    def points(self) -> int:
        """The frame's point count."""
        return int(self.local.shape[0])


def encode_frame(file: Path, *, max_node_points: int = 65536) -> EncodedFrame:
    """Read ``file`` whole and encode its tiles (octree nodes of at most
    ``max_node_points`` points). Raises the reader's
    :class:`~pointcloud.errors.PointCloudError` for a file it cannot read."""
    cloud = read_cloud(file)
    hierarchy, tiles = build_tiles(cloud, max_node_points=max_node_points)
    return EncodedFrame(
        hierarchy=hierarchy,
        tiles=[EncodedTile(t.digest, t.payload, t.br) for t in tiles],
        local=cloud.local,
        offset=cloud.offset,
        lo=cloud.local.min(axis=0).astype(np.float64),
        hi=cloud.local.max(axis=0).astype(np.float64),
        dropped=cloud.dropped,
        worker=f"{os.uname().nodename}:{os.getpid()}",
    )
