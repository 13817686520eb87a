"""Validation rules for annotation objects. Every rule has a stable code (docs/validation.md).

A rule returns :class:`Problem` objects; the caller decides nothing: every
problem with ``severity == "error"`` rejects the whole message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StrictBool, StrictInt, ValidationError

from server.protocol import ObjectId, Problem
from server.state import FrameInfo
from server.taxonomy import Attribute, Taxonomy

CENTER_MARGIN_M = 10.0
IMPORTED = "imported"
PRELABEL = "prelabel"
"""A cuboid attribute the server reserves for pre-labels (docs/assist.md): ``confidence`` in
[0, 1], ``model`` (who made it) and ``accepted_by`` (the user who accepted it, stamped in
their own name only)."""
"""The attribute that holds an import's raw values the taxonomy does not declare."""
Source = Literal["manual", "interpolated", "pre-label", "imported"]


MAX_FRAME = 2**31 - 1
Num = Annotated[float, Strict()]
"""A JSON number (an integer is fine): never a string or a boolean."""
FrameNo = Annotated[StrictInt, Field(ge=-MAX_FRAME, le=MAX_FRAME)]
"""A frame index: an integer (not ``"0"``, not ``false``) that fits the column; whether
the scene has that frame is a rule with its own code."""
Name = Annotated[str, Strict(), Field(min_length=1, max_length=100)]


class _Data(BaseModel):
    """An op's ``data`` once merged: exact field names and JSON types, no coercion
    (containers may be lists where the model says tuple)."""

    model_config = ConfigDict(extra="forbid")


class TrackData(_Data):
    label: Name
    attributes: dict[str, Any] = {}


class CuboidData(_Data):
    """A cuboid's full state: centre and size in metres, angles in radians."""

    track_id: ObjectId
    frame: FrameNo
    center: tuple[Num, Num, Num]
    size: tuple[Num, Num, Num]
    yaw: Num
    pitch: Num = 0.0
    roll: Num = 0.0
    attributes: dict[str, Any] = {}
    source: Source = "manual"
    keyframe: StrictBool = True


class TagData(_Data):
    tag: Name
    subject: Literal["track", "ego", "scene"]
    track_id: ObjectId | None = None
    related_track_id: ObjectId | None = None
    first_frame: FrameNo
    last_frame: FrameNo
    attributes: dict[str, Any] = {}


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


def parse(model: type[_Data], data: dict[str, Any]) -> tuple[_Data | None, list[Issue]]:
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


def check_attributes(values: dict[str, Any], allowed: tuple[Attribute, ...]) -> list[Issue]:
    """Every attribute is declared by the taxonomy and its value is allowed.

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
            expected = "one of " + ", ".join(attr.values) if attr.kind == "enum" else attr.kind
            issues.append(
                Issue(
                    "invalid_attribute_value",
                    f"attributes.{name}",
                    f"{name} must be {expected}, got {value!r}",
                )
            )
    return issues


def normalize_yaw(yaw: float) -> float:
    """The same angle in (-pi, pi]."""
    wrapped = math.remainder(yaw, 2 * math.pi)
    return math.pi if wrapped == -math.pi else wrapped


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
        outside = [i for i, v in enumerate(c.size) if not cls.min_size[i] <= v <= cls.max_size[i]]
        issues += [
            Issue(
                "size_outside_prior",
                f"size.{i}",
                f"{('length', 'width', 'height')[i]} {c.size[i]:.2f} m is outside "
                f"{cls.name}'s {cls.min_size[i]}-{cls.max_size[i]} m",
                "warning",
            )
            for i in outside
        ]
    return issues


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


def tag_range(t: TagData, frame_count: int, taxonomy: Taxonomy, label: str | None) -> list[Issue]:
    """Frame range inside the sequence, tag type known and allowed for the subject."""
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
    return issues + check_attributes(t.attributes, tag_type.attributes)
