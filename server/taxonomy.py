"""The default taxonomy: object classes with size priors and attributes, and
behaviour-tag types.

Used until leads can edit versioned taxonomies. Sizes are (length, width,
height) in metres; a box outside its class's prior is accepted with a
warning. A box with fewer than the class's ``min_points`` full-resolution
points inside is a warning or an error, as the class says.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Size = tuple[float, float, float]
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Attribute:
    """A named attribute: ``enum`` (one of ``values``), ``bool``, ``number`` or ``text``."""

    name: str
    kind: Literal["enum", "bool", "number", "text"]
    values: tuple[str, ...] = ()

    def accepts(self, value: Any) -> bool:
        if self.kind == "enum":
            return value in self.values
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "number":
            number = isinstance(value, int | float) and not isinstance(value, bool)
            return number and math.isfinite(value)
        return isinstance(value, str) and len(value) <= 500


@dataclass(frozen=True)
class ObjectClass:
    name: str
    default_size: Size
    min_size: Size
    max_size: Size
    color: str
    min_points: int = 1
    min_points_severity: Severity = "warning"
    track_attributes: tuple[Attribute, ...] = ()
    cuboid_attributes: tuple[Attribute, ...] = ()


@dataclass(frozen=True)
class TagType:
    name: str
    subjects: tuple[str, ...] = ("track",)
    classes: tuple[str, ...] = ()  # empty: any class
    attributes: tuple[Attribute, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    version: str
    classes: dict[str, ObjectClass]
    tags: dict[str, TagType] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "classes": [asdict(c) for c in self.classes.values()],
            "tags": [asdict(t) for t in self.tags.values()],
        }


OCCLUSION = Attribute("occlusion", "enum", ("none", "partial", "heavy"))
TRUNCATED = Attribute("truncated", "bool")
VEHICLE_TRACK = (Attribute("emergency", "bool"), Attribute("parked", "bool"))
PER_FRAME = (OCCLUSION, TRUNCATED)
VEHICLES = ("Car", "Van", "Truck", "Bus", "Motorcycle", "Cyclist")


def _vehicle(name: str, size: Size, lo: Size, hi: Size, color: str) -> ObjectClass:
    return ObjectClass(name, size, lo, hi, color, 10, "warning", VEHICLE_TRACK, PER_FRAME)


DEFAULT_TAXONOMY = Taxonomy(
    version="default-1",
    classes={
        c.name: c
        for c in [
            _vehicle("Car", (4.5, 1.9, 1.6), (2.5, 1.3, 1.0), (6.5, 2.6, 2.5), "#4fc3f7"),
            _vehicle("Van", (5.2, 2.0, 2.2), (3.5, 1.5, 1.6), (7.5, 2.7, 3.2), "#81c784"),
            _vehicle("Truck", (9.0, 2.5, 3.3), (4.5, 1.8, 2.0), (20.0, 3.2, 4.5), "#ffb74d"),
            _vehicle("Bus", (12.0, 2.6, 3.2), (7.0, 2.2, 2.5), (20.0, 3.2, 4.5), "#ff8a65"),
            ObjectClass(
                "Pedestrian",
                (0.7, 0.7, 1.75),
                (0.2, 0.2, 0.8),
                (1.5, 1.5, 2.3),
                "#f06292",
                5,
                "warning",
                (Attribute("age", "enum", ("adult", "child")),),
                PER_FRAME,
            ),
            ObjectClass(
                "Cyclist",
                (1.8, 0.7, 1.75),
                (1.0, 0.3, 1.0),
                (2.5, 1.2, 2.3),
                "#ba68c8",
                5,
                "warning",
                (),
                PER_FRAME,
            ),
            _vehicle("Motorcycle", (2.1, 0.8, 1.5), (1.2, 0.4, 0.8), (3.0, 1.3, 2.0), "#9575cd"),
            ObjectClass(
                "Other",
                (1.0, 1.0, 1.0),
                (0.05, 0.05, 0.05),
                (30.0, 10.0, 10.0),
                "#bdbdbd",
                1,
                "warning",
                (Attribute("description", "text"),),
                PER_FRAME,
            ),
        ]
    },
    tags={
        t.name: t
        for t in [
            TagType(
                "cut_in", ("track",), VEHICLES, (Attribute("side", "enum", ("left", "right")),)
            ),
            TagType(
                "hard_braking",
                ("track", "ego"),
                VEHICLES,
                (Attribute("severity", "enum", ("moderate", "strong")),),
            ),
            TagType(
                "lane_change",
                ("track", "ego"),
                VEHICLES,
                (Attribute("direction", "enum", ("left", "right")),),
            ),
            TagType("jaywalking", ("track",), ("Pedestrian",)),
            TagType("occluded", ("track",)),
        ]
    },
)
