"""A taxonomy: object classes with size priors and attributes, behaviour-tag types,
review error types and the aliases importers map foreign class names through.

A taxonomy is plain data: one JSON document (``to_json`` / ``from_json``), the
same shape in ``server/taxonomy_default.json`` (the default AV taxonomy a new
project starts from), in the database (``taxonomyversion.body``) and on the
wire (``/api/taxonomy``). Versions, drafts and migrations live in
:mod:`server.taxonomies`. Sizes are (length, width, height) in metres; a box
outside its class's ``min_size``..``max_size`` is accepted with a warning. A
box with fewer than the class's ``min_points`` full-resolution points inside
is a warning or an error, as the class says.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

Size = tuple[float, float, float]
Severity = Literal["error", "warning"]
AttributeKind = Literal["enum", "bool", "number", "text"]
Related = Literal["none", "optional", "required"]
MAX_ITEMS = 500
DEFAULT_PATH = Path(__file__).resolve().parent / "taxonomy_default.json"
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
"""Class, tag, attribute and error-type names: a letter, then letters, digits or ``_``."""


class TaxonomyError(ValueError):
    """A taxonomy document that does not describe a valid taxonomy."""


@dataclass(frozen=True)
class Attribute:
    """A named attribute: ``enum`` (one of ``values``), ``bool``, ``number`` (in
    ``min``..``max`` when given) or ``text`` (at most 500 characters)."""

    name: str
    kind: AttributeKind
    values: tuple[str, ...] = ()
    required: bool = False
    min: float | None = None
    max: float | None = None

    def accepts(self, value: Any) -> bool:
        if self.kind == "enum":
            return value in self.values
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "number":
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not number or not math.isfinite(value):
                return False
            return (self.min is None or value >= self.min) and (
                self.max is None or value <= self.max
            )
        return isinstance(value, str) and len(value) <= 500

    def expected(self) -> str:
        """What a value must be, for an error message."""
        if self.kind == "enum":
            return "one of " + ", ".join(self.values)
        if self.kind == "number" and (self.min is not None or self.max is not None):
            return f"a number in {self.min}..{self.max}"
        return self.kind


@dataclass(frozen=True)
class ObjectClass:
    """An object class. ``default_size`` is the typical size a Shift+click places;
    ``track_attributes`` hold per track, ``cuboid_attributes`` per frame.
    A ``deprecated`` class takes no new tracks; existing ones stay editable."""

    name: str
    default_size: Size
    min_size: Size
    max_size: Size
    color: str
    min_points: int = 1
    min_points_severity: Severity = "warning"
    track_attributes: tuple[Attribute, ...] = ()
    cuboid_attributes: tuple[Attribute, ...] = ()
    display_name: str = ""
    group: str = ""
    deprecated: bool = False


@dataclass(frozen=True)
class TagType:
    """A behaviour-tag type. ``subjects``: what it may apply to (track, ego, scene);
    ``classes``: the subject track's allowed classes (empty: any); ``related``: whether
    a related object is needed, and ``related_ego`` whether it may be the ego vehicle."""

    name: str
    subjects: tuple[str, ...] = ("track",)
    classes: tuple[str, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    definition: str = ""
    related: Related = "none"
    related_ego: bool = False
    deprecated: bool = False


@dataclass(frozen=True)
class Taxonomy:
    """One taxonomy. ``version`` names it ("v3"); ``aliases`` maps lower-case foreign
    class names (``vehicle.car``) to classes, for importers."""

    version: str
    classes: dict[str, ObjectClass]
    tags: dict[str, TagType] = field(default_factory=dict)
    error_types: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "classes": [asdict(c) for c in self.classes.values()],
            "tags": [asdict(t) for t in self.tags.values()],
            "error_types": list(self.error_types),
            "aliases": dict(self.aliases),
        }


def _attribute(doc: dict[str, Any]) -> Attribute:
    return Attribute(
        name=str(doc["name"]),
        kind=doc["kind"],
        values=tuple(str(v) for v in doc.get("values", ())),
        required=bool(doc.get("required", False)),
        min=None if doc.get("min") is None else float(doc["min"]),
        max=None if doc.get("max") is None else float(doc["max"]),
    )


def _size(value: Any) -> Size:
    x, y, z = (float(v) for v in value)
    return (x, y, z)


def _class(doc: dict[str, Any]) -> ObjectClass:
    return ObjectClass(
        name=str(doc["name"]),
        default_size=_size(doc["default_size"]),
        min_size=_size(doc["min_size"]),
        max_size=_size(doc["max_size"]),
        color=str(doc["color"]),
        min_points=int(doc.get("min_points", 1)),
        min_points_severity=doc.get("min_points_severity", "warning"),
        track_attributes=tuple(_attribute(a) for a in doc.get("track_attributes", ())),
        cuboid_attributes=tuple(_attribute(a) for a in doc.get("cuboid_attributes", ())),
        display_name=str(doc.get("display_name") or doc["name"]),
        group=str(doc.get("group", "")),
        deprecated=bool(doc.get("deprecated", False)),
    )


def _tag(doc: dict[str, Any]) -> TagType:
    return TagType(
        name=str(doc["name"]),
        subjects=tuple(str(s) for s in doc.get("subjects", ("track",))),
        classes=tuple(str(c) for c in doc.get("classes", ())),
        attributes=tuple(_attribute(a) for a in doc.get("attributes", ())),
        definition=str(doc.get("definition", "")),
        related=doc.get("related", "none"),
        related_ego=bool(doc.get("related_ego", False)),
        deprecated=bool(doc.get("deprecated", False)),
    )


def from_json(doc: Any) -> Taxonomy:
    """Parse and check a taxonomy document; :class:`TaxonomyError` says what is wrong."""
    try:
        if not isinstance(doc, dict):
            raise TaxonomyError("a taxonomy is a JSON object")
        classes = [_class(c) for c in doc["classes"]]
        tags = [_tag(t) for t in doc.get("tags", ())]
        taxonomy = Taxonomy(
            version=str(doc.get("version", "draft")),
            classes={c.name: c for c in classes},
            tags={t.name: t for t in tags},
            error_types=tuple(str(e) for e in doc.get("error_types", ())),
            aliases={str(k).casefold(): str(v) for k, v in dict(doc.get("aliases", {})).items()},
        )
    except TaxonomyError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        key = f" {exc.args[0]!r}" if isinstance(exc, KeyError) and exc.args else ""
        raise TaxonomyError(f"not a taxonomy document: {type(exc).__name__}{key}") from exc
    if len(classes) != len(taxonomy.classes) or len(tags) != len(taxonomy.tags):
        raise TaxonomyError("class and tag names must be unique")
    check(taxonomy)
    return taxonomy


def check(t: Taxonomy) -> None:
    """The rules a taxonomy keeps: names, sizes, kinds, references between its parts."""
    if not t.classes:
        raise TaxonomyError("a taxonomy needs at least one class")
    if (
        max(len(t.classes), len(t.tags), len(t.error_types)) > MAX_ITEMS
        or len(t.aliases) > 10 * MAX_ITEMS
    ):
        raise TaxonomyError(f"at most {MAX_ITEMS} classes, tag types and error types each")
    texts = [c.display_name for c in t.classes.values()] + [c.group for c in t.classes.values()]
    if any(len(x) > 100 for x in [*texts, *t.aliases]) or any(
        len(g.definition) > 2000 for g in t.tags.values()
    ):
        raise TaxonomyError(
            "display names, groups and aliases are at most 100 characters, definitions 2000"
        )
    for c in t.classes.values():
        _check_name(c.name, "class")
        if not all(
            0 < lo <= mid <= hi
            for lo, mid, hi in zip(c.min_size, c.default_size, c.max_size, strict=True)
        ):
            raise TaxonomyError(f"{c.name}: sizes must satisfy 0 < min <= default <= max")
        if c.min_points < 0 or c.min_points_severity not in ("error", "warning"):
            raise TaxonomyError(f"{c.name}: min_points must be >= 0, severity error or warning")
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", c.color):
            raise TaxonomyError(f"{c.name}: colour must be #rrggbb")
        _check_attributes(c.name, c.track_attributes + c.cuboid_attributes)
    for g in t.tags.values():
        _check_name(g.name, "tag")
        if not g.subjects or not set(g.subjects) <= {"track", "ego", "scene"}:
            raise TaxonomyError(f"{g.name}: subjects must be some of track, ego, scene")
        unknown = [c for c in g.classes if c not in t.classes]
        if unknown:
            raise TaxonomyError(f"{g.name}: allowed classes {unknown} are not classes")
        if g.related not in ("none", "optional", "required"):
            raise TaxonomyError(f"{g.name}: related must be none, optional or required")
        if g.related_ego and g.related == "none":
            raise TaxonomyError(f"{g.name}: related_ego needs related optional or required")
        _check_attributes(g.name, g.attributes)
    for e in t.error_types:
        _check_name(e, "error type")
    bad = sorted(k for k, v in t.aliases.items() if v not in t.classes)
    if bad:
        raise TaxonomyError(f"aliases {bad[:5]} name classes that do not exist")


def _check_name(name: str, what: str) -> None:
    if not NAME.match(name):
        raise TaxonomyError(f"{what} name {name!r}: a letter, then letters, digits or _ (<= 64)")


def _check_attributes(owner: str, attributes: tuple[Attribute, ...]) -> None:
    names = [a.name for a in attributes]
    if len(set(names)) != len(names):
        raise TaxonomyError(f"{owner}: attribute names must be unique")
    for a in attributes:
        _check_name(a.name, "attribute")
        if a.kind not in ("enum", "bool", "number", "text"):
            raise TaxonomyError(f"{owner}.{a.name}: kind must be enum, bool, number or text")
        if a.kind == "enum" and (not a.values or len(set(a.values)) != len(a.values)):
            raise TaxonomyError(f"{owner}.{a.name}: an enum needs distinct values")


@cache
def _default_text() -> str:
    return DEFAULT_PATH.read_text(encoding="utf-8")


def default_document() -> dict[str, Any]:
    """The default AV taxonomy as a fresh JSON document (``taxonomy_default.json``)."""
    doc: dict[str, Any] = json.loads(_default_text())
    return doc


def default_taxonomy() -> Taxonomy:
    """The default AV taxonomy a project starts from (version "v1")."""
    return from_json(default_document())
