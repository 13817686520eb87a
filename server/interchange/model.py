"""A neutral in-memory annotation set, shared by every interchange format.

Readers turn a file layout into an :class:`AnnotationSet`; writers turn one
into files. Coordinates are each frame's own (lidar) coordinates: centre
(x, y, z) in metres, size (length, width, height) in metres, yaw / pitch /
roll in radians (rotation ``Rz(yaw) @ Ry(pitch) @ Rx(roll)``, yaw 0 along +x).
Track ids are the format's own ids (not the database's scene-scoped ones).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pointcloud.io.sequence import SUFFIX_FORMATS

Attrs = dict[str, Any]
Matrix = list[list[float]]


class InterchangeError(Exception):
    """A file that an importer cannot read, or an export that cannot be written."""

    code = "interchange_error"


@dataclass
class Track:
    """One object across the scene: its format id, taxonomy class and track attributes."""

    id: str
    label: str
    attributes: Attrs = field(default_factory=dict)


@dataclass
class Box:
    """A track's cuboid in one frame (``frame`` indexes ``AnnotationSet.frames``)."""

    track_id: str
    frame: int
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float
    pitch: float = 0.0
    roll: float = 0.0
    attributes: Attrs = field(default_factory=dict)
    keyframe: bool = True
    source: str = "imported"


@dataclass
class Tag:
    """A behaviour tag over an inclusive frame range (indexes of ``AnnotationSet.frames``)."""

    tag: str
    subject: str
    first_frame: int
    last_frame: int
    track_id: str | None = None
    related_track_id: str | None = None
    attributes: Attrs = field(default_factory=dict)
    related_ego: bool = False
    """The related object is the ego vehicle (``related: ego``)."""


@dataclass
class FrameMeta:
    """A frame: its key (file name without the point-cloud suffix), time (s) and ego pose.

    ``pose`` is a row-major 4x4 lidar-to-world matrix or None. ``source`` is
    the frame's point-cloud file when known (export only).
    """

    key: str
    timestamp: float | None = None
    pose: Matrix | None = None
    source: Path | None = None


@dataclass
class AnnotationSet:
    frames: list[FrameMeta] = field(default_factory=list)
    tracks: list[Track] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)


@dataclass
class Report:
    """What an import or export did, and everything it could not carry over.

    ``dropped`` counts items left out by reason and ``drops`` gives each op the
    validator refused with its own message; ``class_map`` maps a format's type
    to the taxonomy class it became (or the reverse on export); ``lost`` names
    what the format cannot hold; ``warnings`` counts validation warnings;
    ``foreign_attributes`` names attributes kept as raw ``imported`` values
    (and why); ``frame_match`` says how labels found their point clouds.
    """

    counts: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    class_map: dict[str, str] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)
    warnings: Counter[str] = field(default_factory=Counter)
    examples: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    drops: list[dict[str, str]] = field(default_factory=list)
    foreign_attributes: dict[str, str] = field(default_factory=dict)
    frame_match: str | None = None

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] += n

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "dropped": dict(self.dropped),
            "class_map": self.class_map,
            "lost": self.lost,
            "warnings": dict(self.warnings),
            "warning_examples": self.examples,
            "notes": self.notes,
            "drops": self.drops,
            "foreign_attributes": self.foreign_attributes,
            **({"frame_match": self.frame_match} if self.frame_match else {}),
        }


def frame_key(path: str | Path) -> str:
    """A frame file's name without its point-cloud suffix (``000950.pcd`` -> ``000950``)."""
    name = Path(path).name
    lower = name.lower()
    for suffix, _ in SUFFIX_FORMATS:
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem
