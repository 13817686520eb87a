"""Full-resolution frame points for server-side geometry (validation, fitting).

Each frame's local float32 points are a ``.npy`` file written at ingest. They
are memory-mapped when read, and a grid index over them (a sorted copy) is
kept for the most recently edited frames.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from threading import Lock

import numpy as np
from numpy.typing import NDArray

from pointcloud.spatial import GridIndex


class FrameStore:
    """Frames by (storage folder, index); keeps the ``capacity`` most recent indexes."""

    def __init__(self, frames_dir: Path, capacity: int = 32) -> None:
        self.frames_dir = frames_dir
        self.capacity = capacity
        self._indexes: OrderedDict[tuple[str, int], GridIndex] = OrderedDict()
        self._lock = Lock()

    def local_points(self, storage: str, index: int) -> NDArray[np.float32]:
        """The frame's (N, 3) float32 points relative to its offset (read-only, memory-mapped)."""
        return np.load(self.frames_dir / storage / f"{index}.npy", mmap_mode="r")

    def grid(self, storage: str, index: int) -> GridIndex:
        """A grid index over the frame's local points (built on first use)."""
        key = (storage, index)
        with self._lock:
            if key in self._indexes:
                self._indexes.move_to_end(key)
                return self._indexes[key]
        grid = GridIndex(self.local_points(storage, index))
        with self._lock:
            self._indexes[key] = grid
            if len(self._indexes) > self.capacity:
                self._indexes.popitem(last=False)
        return grid
