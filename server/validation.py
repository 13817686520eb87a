"""Validation rules for annotation objects. Every rule has a stable code (docs/validation.md).

A rule returns :class:`Problem` objects; the caller decides nothing: every
problem with ``severity == "error"`` rejects the whole message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from server.payloads import CuboidData, Payload, TagData, normalize_yaw
from server.protocol import Problem
from server.state import FrameInfo
from server.taxonomy import Attribute, ObjectClass, TagType, Taxonomy

CENTER_MARGIN_M = 10.0
__all__ = ["IMPORTED", "Issue", "normalize_yaw", "parse"]
IMPORTED = "imported"
PRELABEL = "prelabel"
"""A cuboid attribute the server reserves for pre-labels (docs/assist.md): ``confidence`` in
[0, 1], ``model`` (who made it) and ``accepted_by`` (the user who accepted it, stamped in
their own name only)."""
"""The attribute that holds an import's raw values the taxonomy does not declare."""
TRACK_NAME = "name"
"""A track's readable name, as the annotator typed it (docs/workspace.md)."""
TRACK_NUMBER = "number"
"""A track's per-scene number: the "12" of "Car 12" (docs/workspace.md)."""
MAX_TRACK_NUMBER = 10**9


@dataclass
class Issue:
    """A rule violation before it is placed in a message (path relative to ``data``)."""

    code: str
    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def problem(self, prefix: str) -> Problem:
        path = f"{prefix}.{self.path}" if self.path else prefix
        return Problem(code=self.code, path=path, message=self.message)


def parse(model: type[Payload], data: dict[str, Any]) -> tuple[Payload | None, list[Issue]]:
    """Check field names and types; ``invalid_field`` for each failure."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        issues = [
            Issue("invalid_field", ".".join(str(p) for p in e["loc"]), e["msg"])
            for e in exc.errors(include_input=False, include_url=False)
        ]
        return None, issues


def prelabel_value(value: Any) -> bool:
    """A valid ``prelabel`` attribute: a dict of ``confidence`` (a number in [0, 1]),
    ``model`` (text up to 100 characters) and ``accepted_by`` (a user name or None)."""
    if not isinstance(value, dict) or not set(value) <= {"confidence", "model", "accepted_by"}:
        return False
    score = value.get("confidence", 0.0)
    if isinstance(score, bool) or not isinstance(score, int | float) or not 0.0 <= score <= 1.0:
        return False
    model, who = value.get("model", ""), value.get("accepted_by")
    return (isinstance(model, str) and len(model) <= 100) and (
        who is None or (isinstance(who, str) and 0 < len(who) <= 100)
    )


def _raw_values(value: Any) -> bool:
    """An ``imported`` attribute: at most 64 names, each a scalar or a short list of scalars."""
    scalar = (str, int, float, bool, type(None))

    def ok(v: Any) -> bool:
        if isinstance(v, str):
            return len(v) <= 500
        if isinstance(v, list):
            return len(v) <= 64 and all(isinstance(x, scalar) and ok(x) for x in v)
        return isinstance(v, scalar) and (not isinstance(v, float) or math.isfinite(v))

    return (
        isinstance(value, dict)
        and len(value) <= 64
        and all(isinstance(k, str) and len(k) <= 100 and ok(v) for k, v in value.items())
    )


def check_track_names(values: dict[str, Any]) -> list[Issue]:
    """The reserved track attributes: ``name`` is 1-100 characters of printable
    text, ``number`` an integer from 1 to 10^9. Both may be absent."""
    issues = []
    name = values.get(TRACK_NAME)
    if TRACK_NAME in values and not (
        isinstance(name, str) and 0 < len(name.strip()) and len(name) <= 100 and name.isprintable()
    ):
        msg = "name must be 1-100 printable characters"
        issues.append(Issue("invalid_attribute_value", f"attributes.{TRACK_NAME}", msg))
    number = values.get(TRACK_NUMBER)
    if TRACK_NUMBER in values and not (
        isinstance(number, int) and not isinstance(number, bool) and 1 <= number <= MAX_TRACK_NUMBER
    ):
        msg = f"number must be a whole number from 1 to {MAX_TRACK_NUMBER}"
        issues.append(Issue("invalid_attribute_value", f"attributes.{TRACK_NUMBER}", msg))
    return issues


def check_attributes(
    values: dict[str, Any], allowed: tuple[Attribute, ...], *, new: bool = True
) -> list[Issue]:
    """Every attribute is declared by the taxonomy and its value is allowed; a
    ``required`` one is present (an error for a ``new`` object, else a warning).

    ``imported`` is always allowed: raw values an import could not map onto
    the taxonomy (name -> value), kept so that nothing is lost."""
    by_name = {a.name: a for a in allowed}
    issues = []
    for name, value in values.items():
        attr = by_name.get(name)
        if name == PRELABEL and attr is None:
            if not prelabel_value(value):
                msg = (
                    f"{PRELABEL} must be {{confidence: 0..1, model: text, accepted_by: name|null}}"
                )
                issues.append(Issue("invalid_attribute_value", f"attributes.{name}", msg))
        elif name == IMPORTED and attr is None:
            if not _raw_values(value):
                issues.append(
                    Issue(
                        "invalid_attribute_value",
                        f"attributes.{name}",
                        f"{IMPORTED} must map at most 64 names to numbers, text, booleans or lists",
                    )
                )
        elif attr is None:
            known = ", ".join(by_name) or "none"
            issues.append(
                Issue(
                    "unknown_attribute",
                    f"attributes.{name}",
                    f"{name!r} is not an attribute here (known: {known})",
                )
            )
        elif not attr.accepts(value):
            issues.append(
                Issue(
                    "invalid_attribute_value",
                    f"attributes.{name}",
                    f"{name} must be {attr.expected()}, got {value!r}",
                )
            )
    severity: Literal["error", "warning"] = "error" if new else "warning"
    issues += [
        Issue("missing_attribute", f"attributes.{a.name}", f"{a.name} is required", severity)
        for a in allowed
        if a.required and a.name not in values
    ]
    return issues


def cuboid_geometry(
    c: CuboidData, frame: FrameInfo | None, taxonomy: Taxonomy, label: str | None
) -> list[Issue]:
    """Finite numbers, positive size, frame bounds and the class's size prior."""
    issues: list[Issue] = []
    numbers = {
        **{f"center.{i}": v for i, v in enumerate(c.center)},
        **{f"size.{i}": v for i, v in enumerate(c.size)},
        "yaw": c.yaw,
        "pitch": c.pitch,
        "roll": c.roll,
    }
    bad = [k for k, v in numbers.items() if not math.isfinite(v)]
    issues += [Issue("non_finite", k, "must be a finite number") for k in bad]
    issues += [
        Issue("size_not_positive", f"size.{i}", f"size must be > 0 m, got {v}")
        for i, v in enumerate(c.size)
        if math.isfinite(v) and v <= 0
    ]
    if frame is None:
        issues.append(Issue("frame_not_in_scene", "frame", f"frame {c.frame} is not in this scene"))
    elif not bad:
        issues += _center_in_bounds(c, frame)
    cls = taxonomy.classes.get(label or "")
    if cls and not issues:
        issues += size_prior(c.size, cls)
    return issues


def size_prior(size: tuple[float, float, float] | list[float], cls: ObjectClass) -> list[Issue]:
    """A ``size_outside_prior`` warning for each edge (m) outside the class's range."""
    outside = [i for i, v in enumerate(size) if not cls.min_size[i] <= v <= cls.max_size[i]]
    return [
        Issue(
            "size_outside_prior",
            f"size.{i}",
            f"{('length', 'width', 'height')[i]} {size[i]:.2f} m is outside "
            f"{cls.name}'s {cls.min_size[i]}-{cls.max_size[i]} m",
            "warning",
        )
        for i in outside
    ]


def _center_in_bounds(c: CuboidData, frame: FrameInfo) -> list[Issue]:
    lo, hi = frame.lo, frame.hi
    m = CENTER_MARGIN_M
    if all(lo[i] - m <= c.center[i] <= hi[i] + m for i in range(3)):
        return []
    return [
        Issue(
            "center_out_of_bounds",
            "center",
            f"centre is more than {m:.0f} m outside frame {frame.index}'s points",
        )
    ]


def tag_range(
    t: TagData, frame_count: int, taxonomy: Taxonomy, label: str | None, *, new: bool = True
) -> list[Issue]:
    """Frame range inside the sequence, tag type known and allowed for the subject, its
    class and its related object (a track, or ``related_ego``)."""
    issues: list[Issue] = []
    if t.first_frame > t.last_frame:
        issues.append(Issue("tag_range_reversed", "last_frame", "last_frame is before first_frame"))
    if t.first_frame < 0 or t.last_frame >= frame_count:
        issues.append(
            Issue("tag_range_outside", "first_frame", f"range must lie in 0..{frame_count - 1}")
        )
    tag_type = taxonomy.tags.get(t.tag)
    if tag_type is None:
        return issues + [Issue("unknown_tag", "tag", f"tag type {t.tag!r} is not in the taxonomy")]
    if t.subject not in tag_type.subjects:
        issues.append(
            Issue("tag_subject_not_allowed", "subject", f"{t.tag} cannot apply to {t.subject}")
        )
    if t.subject == "track" and t.track_id is None:
        issues.append(Issue("invalid_field", "track_id", "a track tag needs track_id"))
    if t.subject != "track" and t.track_id is not None:
        issues.append(
            Issue("invalid_field", "track_id", f"a tag on the {t.subject} has no track_id")
        )
    if label and tag_type.classes and label not in tag_type.classes:
        issues.append(Issue("tag_class_not_allowed", "tag", f"{t.tag} does not apply to {label}"))
    issues += _related(t, tag_type)
    return issues + check_attributes(t.attributes, tag_type.attributes, new=new)


def _related(t: TagData, tag_type: TagType) -> list[Issue]:
    """The related object: a track or the ego vehicle, as the tag type allows."""
    if t.related_ego and t.related_track_id is not None:
        return [
            Issue("invalid_field", "related_ego", "the related object is a track or ego, not both")
        ]
    has_related = t.related_ego or t.related_track_id is not None
    if has_related and tag_type.related == "none":
        path = "related_ego" if t.related_ego else "related_track_id"
        return [Issue("tag_related_not_allowed", path, f"{t.tag} has no related object")]
    if t.related_ego and not tag_type.related_ego:
        return [Issue("tag_related_not_allowed", "related_ego", f"{t.tag} cannot relate to ego")]
    if not has_related and tag_type.related == "required":
        msg = f"{t.tag} needs a related object (a track" + (
            " or ego)" if tag_type.related_ego else ")"
        )
        return [Issue("tag_related_missing", "related_track_id", msg)]
    return []
