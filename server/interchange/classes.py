"""Class names between the formats and the taxonomy (docs/formats.md has the tables).

A type the taxonomy has is kept. A known foreign type maps to its nearest
class. Anything else becomes ``Other`` with the type in its ``description``
track attribute, so nothing is lost; the import summary lists each mapping.
"""

from __future__ import annotations

from server.interchange.model import Attrs, Report
from server.taxonomy import Taxonomy

TO_TAXONOMY: dict[str, dict[str, str]] = {
    "sustech": {"Rider": "Cyclist", "Motor": "Motorcycle", "Van": "Van"},
    "kitti": {"Person_sitting": "Pedestrian", "Tram": "Other", "Misc": "Other"},
    "nuscenes": {},
    "openlabel": {},
}
"""Foreign type -> taxonomy class, per format (types the taxonomy has map to themselves)."""

FROM_TAXONOMY: dict[str, dict[str, str]] = {
    "sustech": {"Cyclist": "Rider", "Motorcycle": "Motor"},
    "kitti": {"Bus": "Bus", "Motorcycle": "Motorcycle"},
}
"""Taxonomy class -> the format's type on export (unlisted classes keep their name)."""

OTHER = "Other"
DESCRIPTION = "description"


def to_class(fmt: str, type_name: str, taxonomy: Taxonomy, report: Report) -> tuple[str, Attrs]:
    """The taxonomy class for a format's type, and track attributes that keep the type."""
    if type_name in taxonomy.classes:
        return type_name, {}
    label = TO_TAXONOMY.get(fmt, {}).get(type_name, OTHER)
    report.class_map[type_name] = label
    if label == OTHER and OTHER in taxonomy.classes:
        return OTHER, {DESCRIPTION: type_name}
    return label, {}


def from_class(fmt: str, label: str, attributes: Attrs) -> str:
    """The format's type for a track: ``Other`` exports its description when it has one."""
    if label == OTHER and isinstance(attributes.get(DESCRIPTION), str):
        return str(attributes[DESCRIPTION])
    if fmt == "kitti" and label == OTHER:
        return "Misc"
    return FROM_TAXONOMY.get(fmt, {}).get(label, label)
