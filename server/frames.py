"""Full-resolution frame points for server-side geometry (validation, fitting).

Each frame's local float32 points are a ``.npy`` file written at ingest; they
are memory-mapped, so the operating system's page cache, not the server's
heap, holds the hot frames.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from threading import Lock

import numpy as np
from numpy.typing import NDArray


class FrameStore:
    """Memory-maps ``frames/<storage>/<index>.npy``, keeping the ``capacity`` most recent open."""

    def __init__(self, frames_dir: Path, capacity: int = 64) -> None:
        self.frames_dir = frames_dir
        self.capacity = capacity
        self._open: OrderedDict[tuple[str, int], NDArray[np.float32]] = OrderedDict()
        self._lock = Lock()

    def local_points(self, storage: str, index: int) -> NDArray[np.float32]:
        """The frame's (N, 3) float32 points relative to its offset (a read-only view)."""
        key = (storage, index)
        with self._lock:
            if key in self._open:
                self._open.move_to_end(key)
                return self._open[key]
            points = np.load(self.frames_dir / storage / f"{index}.npy", mmap_mode="r")
            self._open[key] = points
            if len(self._open) > self.capacity:
                self._open.popitem(last=False)
            return points
