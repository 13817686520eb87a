"""Taxonomy changes a lead makes in a draft, and what each does to existing labels.

A change edits the draft document (:func:`apply_change`) and, on publish, is
replayed against every label set moved to the new version (:func:`migrate`):

- ``rename_class``: the class gets a new name; tracks follow; the old name
  becomes an alias so imports keep mapping it.
- ``merge_class``: ``name`` disappears into ``into``; its tracks move there
  (attributes ``into`` does not declare are kept under ``imported``).
- ``split_class``: new classes ``into`` are made from ``name``, which is
  deprecated; its tracks keep their class and are flagged for review
  (error type ``taxonomy_change``).
- ``deprecate_class``: no new tracks of the class; existing ones stay.
- ``rename_value`` / ``merge_value``: an enum attribute value of a class is
  renamed or folded into another; tracks and boxes follow.
- ``size_prior``: new ``min_size`` / ``default_size`` / ``max_size``; no label
  changes; the dry run counts boxes outside the new prior.

Pure functions on JSON documents and label states: no database here.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from server.taxonomy import NAME, Taxonomy, TaxonomyError, from_json

Name = Annotated[str, Field(pattern=NAME.pattern)]
Size = Annotated[list[float], Field(min_length=3, max_length=3)]
"""(length, width, height) in metres."""
State = dict[str, Any]


class _Change(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class RenameClass(_Change):
    kind: Literal["rename_class"]
    name: Name
    to: Name


class MergeClass(_Change):
    kind: Literal["merge_class"]
    name: Name
    into: Name


class SplitClass(_Change):
    kind: Literal["split_class"]
    name: Name
    into: list[Name] = Field(min_length=1, max_length=20)


class DeprecateClass(_Change):
    kind: Literal["deprecate_class"]
    name: Name


class RenameValue(_Change):
    kind: Literal["rename_value"]
    name: Name
    attribute: Name
    value: str = Field(min_length=1, max_length=100)
    to: str = Field(min_length=1, max_length=100)


class MergeValue(_Change):
    kind: Literal["merge_value"]
    name: Name
    attribute: Name
    value: str = Field(min_length=1, max_length=100)
    into: str = Field(min_length=1, max_length=100)


class SizePrior(_Change):
    """New size prior of class ``name``: (length, width, height) in metres."""

    kind: Literal["size_prior"]
    name: Name
    min_size: Size
    default_size: Size
    max_size: Size


Change = Annotated[
    RenameClass | MergeClass | SplitClass | DeprecateClass | RenameValue | MergeValue | SizePrior,
    Field(discriminator="kind"),
]
change_adapter: TypeAdapter[Any] = TypeAdapter(Change)
AnyChange = (
    RenameClass | MergeClass | SplitClass | DeprecateClass | RenameValue | MergeValue | SizePrior
)


def describe(c: AnyChange) -> str:
    """One changelog line, e.g. ``rename Car -> Automobile``."""
    if isinstance(c, RenameClass):
        return f"rename {c.name} -> {c.to}"
    if isinstance(c, MergeClass):
        return f"merge {c.name} into {c.into}"
    if isinstance(c, SplitClass):
        return f"split {c.name} into {', '.join(c.into)}"
    if isinstance(c, DeprecateClass):
        return f"deprecate {c.name}"
    if isinstance(c, RenameValue):
        return f"rename {c.name}.{c.attribute} value {c.value} -> {c.to}"
    if isinstance(c, MergeValue):
        return f"merge {c.name}.{c.attribute} value {c.value} into {c.into}"
    return f"size prior of {c.name}"


def _classes(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in doc["classes"]}


def _need(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found = _classes(doc).get(name)
    if found is None:
        raise TaxonomyError(f"class {name!r} is not in the draft")
    return found


def _replace_class(doc: dict[str, Any], old: str, new: str | None) -> None:
    """Tag types' allowed classes and aliases that named ``old`` name ``new`` (None: drop)."""
    for tag in doc.get("tags", []):
        names = [new if c == old else c for c in tag.get("classes", [])]
        tag["classes"] = list(dict.fromkeys(c for c in names if c is not None))
    aliases = doc.setdefault("aliases", {})
    for k, v in list(aliases.items()):
        if v == old:
            if new is None:
                del aliases[k]
            else:
                aliases[k] = new


def apply_change(doc: dict[str, Any], change: AnyChange) -> dict[str, Any]:
    """The draft document with ``change`` made; :class:`TaxonomyError` if it cannot be."""
    doc = copy.deepcopy(doc)
    cls = _need(doc, change.name)
    if isinstance(change, RenameClass):
        if change.to in _classes(doc):
            raise TaxonomyError(f"class {change.to!r} exists already: merge instead")
        cls["name"], cls["display_name"] = change.to, change.to
        _replace_class(doc, change.name, change.to)
        doc["aliases"][change.name.casefold()] = change.to
    elif isinstance(change, MergeClass):
        _need(doc, change.into)
        if change.into == change.name:
            raise TaxonomyError("a class cannot be merged into itself")
        doc["classes"] = [c for c in doc["classes"] if c["name"] != change.name]
        _replace_class(doc, change.name, change.into)
        doc["aliases"][change.name.casefold()] = change.into
    elif isinstance(change, SplitClass):
        _split(doc, cls, change)
    elif isinstance(change, DeprecateClass):
        cls["deprecated"] = True
    elif isinstance(change, RenameValue | MergeValue):
        _change_value(cls, change)
    else:
        cls["min_size"], cls["default_size"], cls["max_size"] = (
            list(change.min_size), list(change.default_size), list(change.max_size),
        )  # fmt: skip
    from_json(doc)  # the result must still be a valid taxonomy
    return doc


def _split(doc: dict[str, Any], cls: dict[str, Any], change: SplitClass) -> None:
    existing = _classes(doc)
    for name in change.into:
        if name == change.name:
            raise TaxonomyError("a class is not split into itself")
        if name not in existing:
            doc["classes"].append({**copy.deepcopy(cls), "name": name, "display_name": name})
    for tag in doc.get("tags", []):
        if change.name in tag.get("classes", []):
            tag["classes"] = list(dict.fromkeys([*tag["classes"], *change.into]))
    cls["deprecated"] = True


def _change_value(cls: dict[str, Any], change: RenameValue | MergeValue) -> None:
    attrs = [
        a
        for a in cls.get("track_attributes", []) + cls.get("cuboid_attributes", [])
        if a["name"] == change.attribute and a["kind"] == "enum"
    ]
    if not attrs:
        raise TaxonomyError(f"{change.name} has no enum attribute {change.attribute!r}")
    for a in attrs:
        if change.value not in a["values"]:
            raise TaxonomyError(f"{change.attribute} has no value {change.value!r}")
        if isinstance(change, RenameValue):
            if change.to in a["values"]:
                raise TaxonomyError(f"value {change.to!r} exists already: merge instead")
            a["values"] = [change.to if v == change.value else v for v in a["values"]]
        else:
            if change.into not in a["values"] or change.into == change.value:
                raise TaxonomyError(f"merge into an other existing value of {change.attribute}")
            a["values"] = [v for v in a["values"] if v != change.value]


@dataclass
class Migration:
    """What moving one label set through some changes does.

    ``updates``: object kind and id -> the fields that change (one update per
    object, however many changes touch it); ``flagged``: tracks to review;
    ``counts``: per change index, labels touched (and boxes outside a prior)."""

    updates: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    flagged: dict[str, str] = field(default_factory=dict)
    counts: dict[int, Counter[str]] = field(default_factory=dict)


def migrate(
    changes: list[tuple[AnyChange, Taxonomy | None]],
    tracks: dict[str, State],
    cuboids: dict[str, State],
) -> Migration:
    """Replay ``changes`` (each with the taxonomy it leads to, for size priors) on a
    label set's tracks and cuboids (protocol states; not modified)."""
    out = Migration()
    label = {tid: t["label"] for tid, t in tracks.items()}
    track_attrs = {tid: dict(t["attributes"]) for tid, t in tracks.items()}
    box_attrs = {cid: dict(c["attributes"]) for cid, c in cuboids.items()}
    for i, (change, _after) in enumerate(changes):
        n = out.counts.setdefault(i, Counter())
        of_class = [tid for tid, lab in label.items() if lab == change.name]
        if isinstance(change, RenameClass | MergeClass):
            target = change.to if isinstance(change, RenameClass) else change.into
            for tid in of_class:
                label[tid] = target
                out.updates.setdefault(("track", tid), {})["label"] = target
                n["tracks"] += 1
        elif isinstance(change, SplitClass):
            for tid in of_class:
                out.flagged[tid] = describe(change)
                n["tracks"] += 1
        elif isinstance(change, DeprecateClass):
            n["tracks"] += len(of_class)
        elif isinstance(change, RenameValue | MergeValue):
            new = change.to if isinstance(change, RenameValue) else change.into
            _values(out, n, change.attribute, change.value, new, of_class, track_attrs, "track")
            boxes = [cid for cid, c in cuboids.items() if c["track_id"] in of_class]
            _values(out, n, change.attribute, change.value, new, boxes, box_attrs, "cuboid")
        else:
            n["tracks"] += len(of_class)
            _outside(n, change, of_class, cuboids)
    _keep_undeclared(out, changes, label, track_attrs)
    return out


def _values(
    out: Migration, n: Counter[str], attribute: str, old: str, new: str,
    ids: list[str], attrs: dict[str, dict[str, Any]], kind: str,
) -> None:  # fmt: skip
    for obj_id in ids:
        if attrs[obj_id].get(attribute) == old:
            attrs[obj_id][attribute] = new
            out.updates.setdefault((kind, obj_id), {})["attributes"] = attrs[obj_id]
            n[f"{kind}s"] += 1


def _outside(
    n: Counter[str], c: SizePrior, track_ids: list[str], cuboids: dict[str, State]
) -> None:
    """Boxes of the class, and how many fall outside the new prior."""
    ids = set(track_ids)
    for box in cuboids.values():
        if box["track_id"] in ids:
            n["boxes"] += 1
            size = box["size"]
            if not all(c.min_size[k] <= size[k] <= c.max_size[k] for k in range(3)):
                n["boxes_outside"] += 1


def _keep_undeclared(
    out: Migration,
    changes: list[tuple[AnyChange, Taxonomy | None]],
    label: dict[str, str],
    track_attrs: dict[str, dict[str, Any]],
) -> None:
    """A track moved to another class keeps attributes that class does not declare
    under ``imported``, so the update validates and nothing is lost."""
    final = next((t for _, t in reversed(changes) if t is not None), None)
    if final is None:
        return
    for (kind, tid), fields in out.updates.items():
        if kind != "track" or "label" not in fields:
            continue
        cls = final.classes.get(label[tid])
        declared = {a.name for a in cls.track_attributes} if cls else set()
        attrs = track_attrs[tid]
        extra = {k: v for k, v in attrs.items() if k not in declared and k != "imported"}
        if extra:
            kept = {k: v for k, v in attrs.items() if k in declared}
            raw = attrs.get("imported")
            imported: dict[str, Any] = raw if isinstance(raw, dict) else {}
            fields["attributes"] = {**kept, "imported": {**imported, **extra}}


def diff(a: Taxonomy, b: Taxonomy) -> dict[str, Any]:
    """What differs from ``a`` to ``b``: classes and tag types added, removed and
    changed (with the fields that changed), and error types added and removed."""
    ja = {c["name"]: c for c in a.to_json()["classes"]}
    jb = {c["name"]: c for c in b.to_json()["classes"]}
    ta = {t["name"]: t for t in a.to_json()["tags"]}
    tb = {t["name"]: t for t in b.to_json()["tags"]}

    def changed(x: dict[str, Any], y: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for name in sorted(set(x) & set(y)):
            fields = sorted(k for k in x[name] if x[name][k] != y[name].get(k))
            if fields:
                out[name] = {k: {"from": x[name][k], "to": y[name][k]} for k in fields}
        return out

    return {
        "from": a.version, "to": b.version,
        "classes": {"added": sorted(set(jb) - set(ja)), "removed": sorted(set(ja) - set(jb)),
                    "changed": changed(ja, jb)},
        "tags": {"added": sorted(set(tb) - set(ta)), "removed": sorted(set(ta) - set(tb)),
                 "changed": changed(ta, tb)},
        "error_types": {"added": sorted(set(b.error_types) - set(a.error_types)),
                        "removed": sorted(set(a.error_types) - set(b.error_types))},
    }  # fmt: skip
