"""The default taxonomy: object classes with size priors, and behaviour-tag types.

Used until leads can edit versioned taxonomies. Sizes are (length, width,
height) in metres; a box outside its class's prior is accepted with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Size = tuple[float, float, float]


@dataclass(frozen=True)
class ObjectClass:
    name: str
    default_size: Size
    min_size: Size
    max_size: Size
    color: str


@dataclass(frozen=True)
class TagType:
    name: str
    subjects: tuple[str, ...] = ("track",)
    classes: tuple[str, ...] = ()  # empty: any class
    needs_related: bool = False


@dataclass(frozen=True)
class Taxonomy:
    version: str
    classes: dict[str, ObjectClass]
    tags: dict[str, TagType] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "version": self.version,
            "classes": [vars(c) for c in self.classes.values()],
            "tags": [vars(t) for t in self.tags.values()],
        }


def _cls(name: str, size: Size, lo: Size, hi: Size, color: str) -> ObjectClass:
    return ObjectClass(name, size, lo, hi, color)


VEHICLES = ("Car", "Van", "Truck", "Bus", "Motorcycle", "Cyclist")

DEFAULT_TAXONOMY = Taxonomy(
    version="default-1",
    classes={
        c.name: c
        for c in [
            _cls("Car", (4.5, 1.9, 1.6), (2.5, 1.3, 1.0), (6.5, 2.6, 2.5), "#4fc3f7"),
            _cls("Van", (5.2, 2.0, 2.2), (3.5, 1.5, 1.6), (7.5, 2.7, 3.2), "#81c784"),
            _cls("Truck", (9.0, 2.5, 3.3), (4.5, 1.8, 2.0), (20.0, 3.2, 4.5), "#ffb74d"),
            _cls("Bus", (12.0, 2.6, 3.2), (7.0, 2.2, 2.5), (20.0, 3.2, 4.5), "#ff8a65"),
            _cls("Pedestrian", (0.7, 0.7, 1.75), (0.2, 0.2, 0.8), (1.5, 1.5, 2.3), "#f06292"),
            _cls("Cyclist", (1.8, 0.7, 1.75), (1.0, 0.3, 1.0), (2.5, 1.2, 2.3), "#ba68c8"),
            _cls("Motorcycle", (2.1, 0.8, 1.5), (1.2, 0.4, 0.8), (3.0, 1.3, 2.0), "#9575cd"),
            _cls("Other", (1.0, 1.0, 1.0), (0.05, 0.05, 0.05), (30.0, 10.0, 10.0), "#bdbdbd"),
        ]
    },
    tags={
        t.name: t
        for t in [
            TagType("cut_in", ("track",), VEHICLES),
            TagType("hard_braking", ("track", "ego"), VEHICLES),
            TagType("lane_change", ("track", "ego"), VEHICLES),
            TagType("jaywalking", ("track",), ("Pedestrian",)),
            TagType("occluded", ("track",)),
        ]
    },
)
