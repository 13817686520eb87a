"""The rules for tracks, behaviour tags and deletes that need the label set and the
task's taxonomy version (docs/validation.md). Cuboid rules that need the points
stay with the Writer (server/annotations.py).

New use of a deprecated class or tag type is refused; an existing object of one
stays editable, with a ``class_deprecated`` / ``tag_deprecated`` warning.
"""

from __future__ import annotations

from server.payloads import TagData, TrackData
from server.protocol import DeleteOp
from server.state import SceneState
from server.taxonomy import Taxonomy
from server.validation import (
    TRACK_NAME,
    TRACK_NUMBER,
    Issue,
    check_attributes,
    check_track_names,
    tag_range,
)


def deprecated_warning(label: str) -> Issue:
    """The warning every edit of an object of a deprecated class carries."""
    msg = f"class {label} is deprecated: it takes no new tracks"
    return Issue("class_deprecated", "label", msg, "warning")


def check_track(st: SceneState, track_id: str, t: TrackData, taxonomy: Taxonomy) -> list[Issue]:
    """The class exists (and is not deprecated, for a new track or a new class) and the
    attributes are its own; a relabel keeps the track's tags allowed."""
    cls = taxonomy.classes.get(t.label)
    if cls is None:
        return [Issue("unknown_class", "label", f"class {t.label!r} is not in the taxonomy")]
    current = st.objects["track"].get(track_id)
    new_use = current is None or current["label"] != t.label
    issues: list[Issue] = []
    if cls.deprecated and new_use:
        msg = f"class {t.label} is deprecated: new tracks use another class"
        issues.append(Issue("class_deprecated", "label", msg))
    elif cls.deprecated:
        issues.append(deprecated_warning(t.label))
    # a track's readable name and number are allowed whatever the taxonomy declares
    names = {TRACK_NAME, TRACK_NUMBER} - {a.name for a in cls.track_attributes}
    own = {k: v for k, v in t.attributes.items() if k not in names}
    issues += check_attributes(own, cls.track_attributes, new=current is None)
    issues += check_track_names({k: v for k, v in t.attributes.items() if k in names})
    return issues + _relabel_keeps_tags(st, track_id, t.label, taxonomy)


def check_tag(st: SceneState, tag_id: str, t: TagData, taxonomy: Taxonomy) -> list[Issue]:
    """Referenced tracks exist; range, type, subject, class, related object and
    attributes follow the tag type (:func:`server.validation.tag_range`)."""
    label = None
    for name in ("track_id", "related_track_id"):
        tid = getattr(t, name)
        if tid is None:
            continue
        track = st.objects["track"].get(tid)
        if track is None:
            return [Issue("track_not_found", name, f"track {tid} is not in this scene")]
        if name == "track_id":
            label = track["label"]
    current = st.objects["tag"].get(tag_id)
    issues = tag_range(t, st.frame_count, taxonomy, label, new=current is None)
    tag_type = taxonomy.tags.get(t.tag)
    if tag_type is not None and tag_type.deprecated:
        if current is None or current["tag"] != t.tag:
            msg = f"tag type {t.tag} is deprecated: new tags use another type"
            issues.append(Issue("tag_deprecated", "tag", msg))
        else:
            msg = f"tag type {t.tag} is deprecated"
            issues.append(Issue("tag_deprecated", "tag", msg, "warning"))
    if t.subject == "track" and t.track_id is not None and not has_error(issues):
        issues += _subject_coverage(st, t)
    return issues


def has_error(issues: list[Issue]) -> bool:
    return any(x.severity == "error" for x in issues)


def _subject_coverage(st: SceneState, t: TagData) -> list[Issue]:
    """A warning when the subject track has no cuboid in some frames of the range."""
    frames = range(t.first_frame, t.last_frame + 1)
    missing = [f for f in frames if (t.track_id, f) not in st.box_at]
    if not missing:
        return []
    shown = ", ".join(map(str, missing[:10])) + (" …" if len(missing) > 10 else "")
    msg = f"the track has no cuboid in {len(missing)} frame(s) of the range: {shown}"
    return [Issue("tag_subject_missing", "track_id", msg, "warning")]


def _relabel_keeps_tags(
    st: SceneState, track_id: str, label: str, taxonomy: Taxonomy
) -> list[Issue]:
    """Changing a track's class must not leave it with tags its new class cannot have."""
    current = st.objects["track"].get(track_id)
    if current is None or current["label"] == label:
        return []
    bad = {
        g["tag"]
        for g in st.objects["tag"].values()
        if g["track_id"] == track_id
        and (tt := taxonomy.tags.get(g["tag"])) is not None
        and tt.classes
        and label not in tt.classes
    }
    return [
        Issue("tag_class_not_allowed", "label", f"the track's {t} tag does not apply to {label}")
        for t in sorted(bad)
    ]


def check_delete(st: SceneState, op: DeleteOp) -> list[Issue]:
    if op.kind == "track" and st.references[op.id] > 0:
        return [Issue("track_in_use", "", "delete the track's cuboids and tags first")]
    return []
