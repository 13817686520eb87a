"""Class names between the formats and the taxonomy (docs/formats.md has the tables).

A foreign type is matched, in this order and ignoring case: a class of the
project's taxonomy (``car`` -> ``Car``); the taxonomy's own alias table
(``aliases`` in the taxonomy document, edited by leads: nuScenes categories
such as ``vehicle.car``, common lower-case names); the format's table
(``TO_TAXONOMY``). Anything else becomes ``Other`` with the type in its
``description`` track attribute, so nothing is lost. The summary's
``class_map`` lists every mapping that changed a name.
"""

from __future__ import annotations

from server.interchange.model import Attrs, Report
from server.taxonomy import Taxonomy

TO_TAXONOMY: dict[str, dict[str, str]] = {
    "sustech": {
        "Rider": "Cyclist",
        "Motor": "Motorcycle",
        "Van": "Van",
        "BicycleRider": "Cyclist",
        "MotorcyleRider": "Motorcyclist",
        "Cone": "TrafficCone",
        "TrafficBarrier": "Barrier",
        "PoliceCar": "EmergencyVehicle",
    },
    "kitti": {"Person_sitting": "Pedestrian", "Tram": "Other", "Misc": "Other"},
}
"""Foreign type -> taxonomy class, per format (types the taxonomy has map to themselves)."""


FROM_TAXONOMY: dict[str, dict[str, str]] = {
    "sustech": {
        "Cyclist": "Rider",
        "Motorcycle": "Motor",
        "Motorcyclist": "MotorcyleRider",
        "TrafficCone": "Cone",
        "Barrier": "TrafficBarrier",
    },
    "kitti": {"Bus": "Bus", "Motorcycle": "Motorcycle"},
    "kitti-tracking": {"Bus": "Bus", "Motorcycle": "Motorcycle"},
    "nuscenes-v1": {
        "Car": "vehicle.car",
        "Van": "vehicle.car",
        "Truck": "vehicle.truck",
        "Bus": "vehicle.bus.rigid",
        "Motorcycle": "vehicle.motorcycle",
        "Cyclist": "vehicle.bicycle",
        "Pedestrian": "human.pedestrian.adult",
        "Trailer": "vehicle.trailer",
        "Bicycle": "vehicle.bicycle",
        "EmergencyVehicle": "vehicle.emergency.ambulance",
        "Motorcyclist": "vehicle.motorcycle",
        "Child": "human.pedestrian.child",
        "WheelchairUser": "human.pedestrian.wheelchair",
        "Animal": "animal",
        "TrafficCone": "movable_object.trafficcone",
        "Barrier": "movable_object.barrier",
        "Sign": "movable_object.debris",
        "Other": "movable_object.debris",
    },
}
"""Taxonomy class -> the format's type on export (unlisted classes keep their name)."""

OTHER = "Other"
DESCRIPTION = "description"


def match_class(fmt: str, type_name: str, taxonomy: Taxonomy) -> str | None:
    """The taxonomy class a foreign type names (ignoring case), or None."""
    folded = type_name.casefold()
    by_fold = {c.casefold(): c for c in taxonomy.classes}
    if folded in by_fold:
        return by_fold[folded]
    for table in (taxonomy.aliases, TO_TAXONOMY.get(fmt, {})):
        for name, label in table.items():
            if name.casefold() == folded and label in taxonomy.classes:
                return label
    return None


def to_class(fmt: str, type_name: str, taxonomy: Taxonomy, report: Report) -> tuple[str, Attrs]:
    """The taxonomy class for a format's type, and track attributes that keep the type."""
    if type_name in taxonomy.classes:
        return type_name, {}
    label = match_class(fmt, type_name, taxonomy) or OTHER
    report.class_map[type_name] = label
    if label == OTHER and OTHER in taxonomy.classes and type_name.casefold() != "other":
        return OTHER, {DESCRIPTION: type_name}
    return label, {}


def from_class(fmt: str, label: str, attributes: Attrs) -> str:
    """The format's type for a track: ``Other`` exports its description when it has one."""
    if label == OTHER and isinstance(attributes.get(DESCRIPTION), str):
        return str(attributes[DESCRIPTION])
    if fmt.startswith("kitti") and label == OTHER:
        return "Misc"
    return FROM_TAXONOMY.get(fmt, {}).get(label, label)


def record_mapping(report: Report, label: str, name: str) -> str:
    """Note in ``report.class_map`` that class ``label`` was exported as ``name``: under
    the class's name, or ``<class>:<type>`` when the class went out under several types
    (a nuScenes scene's Pedestrians keep their adult / child categories). Returns ``name``."""
    known = report.class_map.get(label)
    report.class_map[label if known in (None, name) else f"{label}:{name}"] = name
    return name


def export_type(fmt: str, label: str, attributes: Attrs, report: Report) -> str:
    """:func:`from_class`, recording every class -> type mapping in ``report.class_map``."""
    name = from_class(fmt, label, attributes)
    report.class_map[label if name == label or label != OTHER else f"{label}:{name}"] = name
    return name
