"""Read ASAM OpenLABEL 1.0 as the standard means it (docs/formats.md, "OpenLABEL in").

- Every cuboid is resolved from its ``coordinate_system`` through the declared
  chain (``openlabel_cs``) into the coordinate system of the lidar stream,
  the frame the point clouds are in; 9- and 10-value cuboids are read.
- Ego poses (lidar -> world) come from whatever chain reaches ``odom`` (or a
  root ``scene_cs``, ``world``, ``map``) through per-frame transforms.
- Frames find their point clouds by the lidar stream's ``uri``, or by order
  when no frame has one; ``frame_match`` in the summary says which.
- Attributes the taxonomy does not declare for the class (or declares with
  another type) are kept as raw values in the ``imported`` attribute and
  listed in ``foreign_attributes``; they never drop a box.
- Actions become behaviour tags; a static action (no frame intervals) is a tag
  over the whole scene. Everything left out is counted in ``dropped``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from pointcloud.io.sequence import list_frames
from server.interchange.classes import to_class
from server.interchange.importer import Parsed
from server.interchange.model import (
    AnnotationSet,
    Attrs,
    Box,
    FrameMeta,
    InterchangeError,
    Report,
    Tag,
    Track,
    frame_key,
)
from server.interchange.openlabel_cs import CoordinateSystems, cuboid_pose, upright
from server.interchange.paths import ImportFolder
from server.taxonomy import Attribute, Taxonomy
from server.validation import IMPORTED, normalize_yaw

FILE = "openlabel.json"
RESERVED = {"keyframe": "boolean", "source": "text", "subject": "text"}
KINDS = ("boolean", "num", "text", "vec")
Entry = tuple[str, str, Any]


def read(folder: ImportFolder, taxonomy: Taxonomy) -> Parsed:
    """Read ``openlabel.json`` (or the file the user named) and the folder's frames."""
    file = folder.named or FILE
    try:
        doc = json.loads(folder.read_text(file))["openlabel"]
        if not isinstance(doc, dict):
            raise TypeError("openlabel is not an object")
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InterchangeError(f"{file}: not an OpenLABEL file: {exc!r}") from exc
    report = Report()
    labels = AnnotationSet(frames=[FrameMeta(frame_key(f)) for f in list_frames(folder.root)])
    frames = {str(k): v for k, v in (doc.get("frames") or {}).items() if isinstance(v, dict)}
    order = sorted(frames, key=lambda k: int(k) if k.lstrip("-").isdigit() else 0)
    cs = CoordinateSystems(doc)
    stream = _lidar_stream(doc)
    target = _target_cs(cs, stream)
    position = _match_frames(frames, order, stream, labels, report)
    tracks = _tracks(doc, taxonomy, report)
    labels.tracks = list(tracks.values())
    world = cs.world(target)
    for k in order:
        index = position[k]
        if index is None:
            report.drop("frame_without_point_cloud")
            continue
        edges, dynamic = cs.frame_edges(frames[k])
        _frame_meta(frames[k], labels.frames[index], cs, target, world, edges, dynamic)
        for uid, entry in (frames[k].get("objects") or {}).items():
            box = _box(
                entry, uid, index, tracks, doc, cs, target, (edges, dynamic), taxonomy, report
            )
            if box is not None:
                labels.boxes.append(box)
    _tags(doc, tracks, position, len(labels.frames), labels, taxonomy, report)
    for key in ("events", "contexts"):
        if doc.get(key):
            report.drop(key, len(doc[key]))
    if cs.assumed_identity:
        report.notes.append(
            "coordinate systems without pose_wrt_parent (identity where no frame transform "
            f"replaces it): {', '.join(cs.assumed_identity)}"
        )
    return Parsed(folder.root, labels, report)


def _lidar_stream(doc: dict[str, Any]) -> str | None:
    streams = doc.get("streams") or {}
    names = [n for n, s in streams.items() if isinstance(s, dict) and s.get("type") == "lidar"]
    return names[0] if names else None


def _target_cs(cs: CoordinateSystems, stream: str | None) -> str | None:
    """The coordinate system the point clouds are in: the lidar stream's, else ``lidar``,
    else the first sensor coordinate system named like a lidar."""
    for name in (stream, "lidar"):
        if name and name in cs.names:
            return name
    like = [n for n in sorted(cs.names) if "velo" in n.lower() or "lidar" in n.lower()]
    return like[0] if like else None


def _uri(frame: dict[str, Any], stream: str | None) -> str:
    streams = (frame.get("frame_properties") or {}).get("streams") or {}
    names = [stream] if stream else list(streams)
    for name in names:
        uri = (streams.get(name) or {}).get("uri") if isinstance(streams.get(name), dict) else None
        if isinstance(uri, str) and uri:
            return uri
    return ""


def _match_frames(
    frames: dict[str, Any], order: list[str], stream: str | None, labels: AnnotationSet,
    report: Report,
) -> dict[str, int | None]:  # fmt: skip
    """OpenLABEL frame -> point-cloud index: by the lidar stream's uri when any frame has
    one, else by order (the n-th frame in number order is the n-th file)."""
    keys = {f.key: i for i, f in enumerate(labels.frames)}
    uris = {k: _uri(frames[k], stream) for k in order}
    if any(uris.values()):
        report.frame_match = "uri"
        return {k: keys.get(frame_key(uris[k])) if uris[k] else None for k in order}
    report.frame_match = "order"
    if order:
        report.notes.append("frames have no lidar uri: matched to point clouds by order")
    return {k: (n if n < len(labels.frames) else None) for n, k in enumerate(order)}


def _frame_meta(
    frame: dict[str, Any], meta: FrameMeta, cs: CoordinateSystems, target: str | None,
    world: str | None, edges: Any, dynamic: Any,
) -> None:  # fmt: skip
    props = frame.get("frame_properties") or {}
    stamp = props.get("timestamp")
    try:
        meta.timestamp = float(stamp) if isinstance(stamp, int | float | str) else None
    except ValueError:
        meta.timestamp = None
    if meta.timestamp is not None and not math.isfinite(meta.timestamp):
        meta.timestamp = None
    if target and world and target != world:
        found = cs.transform(target, world, edges, dynamic)
        if found is not None and found[1]:
            meta.pose = [[float(v) for v in row] for row in found[0]]


def _entries(data: Any) -> list[Entry]:
    """An element data's attributes as (name, kind, value), in file order."""
    if not isinstance(data, dict):
        return []
    return [
        (str(d["name"]), kind, d.get("val"))
        for kind in KINDS
        for d in data.get(kind) or []
        if isinstance(d, dict) and "name" in d
    ]


def split_attributes(
    entries: list[Entry], allowed: tuple[Attribute, ...], where: str, report: Report
) -> Attrs:
    """Declared attributes with values they accept, plus every other one in ``imported``."""
    by_name = {a.name: a for a in allowed}
    attrs: Attrs = {}
    raw: Attrs = {}
    for name, _kind, value in entries:
        attr = by_name.get(name)
        if attr is not None and attr.accepts(value) and name not in attrs:
            attrs[name] = value
            continue
        raw[name] = value
        report.foreign_attributes.setdefault(
            name,
            f"not declared for {where}"
            if attr is None
            else f"declared for {where} as {attr.kind}, got {type(value).__name__}",
        )
    if raw:
        attrs[IMPORTED] = raw
    return attrs


def _tracks(doc: dict[str, Any], taxonomy: Taxonomy, report: Report) -> dict[str, Track]:
    tracks: dict[str, Track] = {}
    for uid, obj in (doc.get("objects") or {}).items():
        if not isinstance(obj, dict):
            report.drop("malformed_object")
            continue
        if is_ego(obj):
            continue  # the ego vehicle is not a track: tags relate to it (related: ego)
        label, extra = to_class("openlabel", str(obj.get("type", "")), taxonomy, report)
        cls = taxonomy.classes.get(label)
        entries = [e for e in _entries(obj.get("object_data")) if e[0] not in extra]
        allowed = cls.track_attributes if cls else ()
        attrs = {**extra, **split_attributes(entries, allowed, label, report)}
        tracks[str(uid)] = Track(str(obj.get("name") or uid), label, attrs)
    return tracks


def _box(
    entry: Any, uid: str, index: int, tracks: dict[str, Track], doc: dict[str, Any],
    cs: CoordinateSystems, target: str | None, frame_edges: Any, taxonomy: Taxonomy, r: Report,
) -> Box | None:  # fmt: skip
    od = entry.get("object_data") if isinstance(entry, dict) else None
    cuboids = [c for c in ((od or {}).get("cuboid") or []) if isinstance(c, dict)]
    if uid not in tracks or not cuboids:
        r.drop("object_data_without_cuboid" if uid in tracks else "unknown_object")
        return None
    if len(cuboids) > 1:
        r.drop("second_cuboid_same_object_and_frame", len(cuboids) - 1)
    cub = cuboids[0]
    try:
        val = [float(v) for v in cub.get("val") or []]
    except (TypeError, ValueError):
        val = []
    if len(val) not in (9, 10) or not all(math.isfinite(v) for v in val):
        r.drop("cuboid_not_9_or_10_finite_values")
        return None
    obj = (doc.get("objects") or {}).get(uid) or {}
    name = cub.get("coordinate_system") or obj.get("coordinate_system") or target
    geometry = _resolve(val, name, cs, target, frame_edges, r)
    if geometry is None:
        return None
    centre, size, (yaw, pitch, roll) = geometry
    entries = _entries(od) + _entries(cub.get("attributes"))
    flags = {n: v for n, k, v in entries if RESERVED.get(n) == k}
    rest = [e for e in entries if RESERVED.get(e[0]) != e[1]]
    track = tracks[uid]
    cls = taxonomy.classes.get(track.label)
    attrs = split_attributes(rest, cls.cuboid_attributes if cls else (), track.label, r)
    keyframe = flags.get("keyframe", True)
    return Box(track.id, index, centre, size, normalize_yaw(yaw), pitch, roll, attrs,
               keyframe if isinstance(keyframe, bool) else True)  # fmt: skip


def _resolve(
    val: list[float], name: Any, cs: CoordinateSystems, target: str | None, frame_edges: Any,
    r: Report,
) -> tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]] | None:  # fmt: skip
    """A cuboid's centre, (length, width, height) and (yaw, pitch, roll) in the lidar frame."""
    if len(val) == 9 and (target is None or name == target):
        return (val[0], val[1], val[2]), (val[6], val[7], val[8]), (val[5], val[4], val[3])
    pose, size = cuboid_pose(val)
    if target is not None and name != target:
        if name not in cs.names:
            r.drop("unknown_coordinate_system")
            return None
        found = cs.transform(str(name), target, *frame_edges)
        if found is None:
            r.drop("no_transform_to_lidar")
            return None
        pose = found[0] @ pose
    if not np.all(np.isfinite(pose)):
        r.drop("cuboid_not_9_or_10_finite_values")
        return None
    return upright(pose, size)


def _tags(
    doc: dict[str, Any], tracks: dict[str, Track], position: dict[str, int | None], n: int,
    labels: AnnotationSet, taxonomy: Taxonomy, r: Report,
) -> None:  # fmt: skip
    subject: dict[str, str] = {}
    related: dict[str, str] = {}
    objects = doc.get("objects") or {}
    egos = {str(u) for u, o in objects.items() if isinstance(o, dict) and is_ego(o)}
    ego_related: set[str] = set()
    for rel in (doc.get("relations") or {}).values():
        target = subject if rel.get("type") == "isSubjectOfAction" else related
        for s in rel.get("rdf_subjects") or []:
            for o in rel.get("rdf_objects") or []:
                if s.get("type") != "object" or o.get("type") != "action":
                    continue
                if s["uid"] in tracks:
                    target[str(o["uid"])] = tracks[s["uid"]].id
                elif str(s["uid"]) in egos and target is related:
                    ego_related.add(str(o["uid"]))
    numbered = {int(k): v for k, v in position.items() if k.lstrip("-").isdigit()}
    for uid, action in (doc.get("actions") or {}).items():
        entries = _entries(action.get("action_data"))
        kind = next((v for k, t, v in entries if k == "subject" and t == "text"), None)
        kind = str(kind or ("track" if uid in subject else "scene"))
        rest = [e for e in entries if not (e[0] == "subject" and e[1] == "text")]
        tag_type = taxonomy.tags.get(str(action.get("type")))
        attrs = split_attributes(rest, tag_type.attributes if tag_type else (), "the tag", r)
        intervals = action.get("frame_intervals") or []
        if not intervals:
            r.counts["static_actions"] += 1
            ranges = [(0, n - 1)] if n else []
        else:
            ranges = []
            for iv in intervals:
                inside = [
                    i for f, i in numbered.items()
                    if i is not None and iv.get("frame_start", 0) <= f <= iv.get("frame_end", -1)
                ]  # fmt: skip
                if inside:
                    ranges.append((min(inside), max(inside)))
                else:
                    r.drop("tag_without_point_cloud")
        for first, last in ranges:
            labels.tags.append(Tag(str(action.get("type")), kind, first, last, subject.get(uid),
                                   related.get(uid), dict(attrs), uid in ego_related))  # fmt: skip


def is_ego(obj: dict[str, Any]) -> bool:
    """An object that stands for the ego vehicle (type ``ego`` or ``ego_vehicle``)."""
    return str(obj.get("type", "")).casefold() in ("ego", "ego_vehicle", "egovehicle")
