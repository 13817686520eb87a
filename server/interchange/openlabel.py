"""ASAM OpenLABEL 1.0 JSON: objects with cuboids, actions for behaviour tags, ego poses.

Layout written (and read): a folder with ``openlabel.json`` and the frames'
point clouds in ``lidar/`` (each frame's ``frame_properties.streams.lidar.uri``).

- ``objects``: one per track, numeric uid; ``name`` = the track id, ``type`` =
  the taxonomy class, ``ontology_uid`` "0"; static ``object_data`` holds the
  track attributes (``boolean`` / ``num`` / ``text`` by value type).
- ``frames.<i>.objects.<uid>.object_data``: the cuboid (``val`` = x, y, z,
  rx=roll, ry=pitch, rz=yaw, sx=length, sy=width, sz=height in the ``lidar``
  coordinate system), the box attributes, ``keyframe`` (boolean) and
  ``source`` (text).
- ``actions``: one per behaviour tag, ``type`` = tag type, ``frame_intervals``
  = its range, ``action_data`` = its attributes plus ``subject`` (text);
  relations ``isSubjectOfAction`` / ``isObjectOfAction`` link the track and
  the related track.
- ``coordinate_systems``: ``odom`` (world) with child ``lidar``; each frame's
  ego pose is the ``frame_properties.transforms.lidar_to_odom`` matrix4x4
  (row-major, lidar -> odom); timestamps are ``frame_properties.timestamp`` (s).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pointcloud.io.sequence import list_frames
from server.interchange.classes import to_class
from server.interchange.exporter import SceneData
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
from server.interchange.paths import ImportFolder
from server.taxonomy import Taxonomy

FILE = "openlabel.json"
ONTOLOGY = "0"
RESERVED = ("keyframe", "source", "subject")
LOST = ["cuboid and tag ids (new ids on import)", "the edit history"]


def _data(attrs: Attrs) -> dict[str, list[dict[str, Any]]]:
    """Attributes as OpenLABEL ``boolean`` / ``num`` / ``text`` lists."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, value in attrs.items():
        kind = (
            "boolean"
            if isinstance(value, bool)
            else "num"
            if isinstance(value, int | float)
            else "text"
        )
        out.setdefault(kind, []).append({"name": name, "val": value})
    return out


def _attrs(data: dict[str, Any], skip: tuple[str, ...] = ()) -> Attrs:
    return {
        d["name"]: d["val"]
        for kind in ("boolean", "num", "text")
        for d in data.get(kind, [])
        if d.get("name") not in skip
    }


def build(data: SceneData, report: Report) -> dict[str, Any]:
    """The OpenLABEL document of a scene."""
    labels = data.labels
    uid = {t.id: str(i) for i, t in enumerate(labels.tracks)}
    frames: dict[str, Any] = {}
    for i, f in enumerate(labels.frames):
        props: dict[str, Any] = {
            "streams": {"lidar": {"uri": f"lidar/{f.source.name if f.source else f.key}"}}
        }
        if f.timestamp is not None:
            props["timestamp"] = f.timestamp
        if f.pose is not None:
            matrix = [float(v) for row in f.pose for v in row]
            props["transforms"] = {"lidar_to_odom": {"src": "lidar", "dst": "odom",
                                                      "transform_src_to_dst": {"matrix4x4": matrix}}}  # fmt: skip
        frames[str(i)] = {"frame_properties": props, "objects": {}}
    present: dict[str, list[int]] = {}
    for b in labels.boxes:
        val = [*b.center, b.roll, b.pitch, b.yaw, *b.size]
        od = _data({**b.attributes, "keyframe": b.keyframe, "source": b.source})
        od["cuboid"] = [{"name": "box", "coordinate_system": "lidar", "val": val}]
        frames[str(b.frame)]["objects"][uid[b.track_id]] = {"object_data": od}
        present.setdefault(b.track_id, []).append(b.frame)
    objects = {
        uid[t.id]: {
            "name": t.id,
            "type": t.label,
            "ontology_uid": ONTOLOGY,
            **({"object_data": _data(t.attributes)} if t.attributes else {}),
            **({"frame_intervals": _intervals(present[t.id])} if t.id in present else {}),
        }  # fmt: skip
        for t in labels.tracks
    }
    actions, relations = _actions(labels, uid)
    n = len(labels.frames)
    doc: dict[str, Any] = {
        "metadata": {
            "schema_version": "1.0.0",
            "name": data.name,
            "annotator": "PointLabel",
            "comment": f"PointLabel scene {data.scene_id}",
        },  # fmt: skip
        "ontologies": {ONTOLOGY: "pointlabel:taxonomy"},
        "coordinate_systems": {
            "odom": {"type": "scene_cs", "parent": "", "children": ["lidar"]},
            "lidar": {"type": "sensor_cs", "parent": "odom", "children": []},
        },
        "streams": {"lidar": {"type": "lidar", "description": "point clouds, one file per frame"}},
        "frame_intervals": [{"frame_start": 0, "frame_end": n - 1}] if n else [],
        "frames": frames,
        "objects": objects,
    }
    if actions:
        doc.update(actions=actions, relations=relations)
    report.counts.update(boxes=len(labels.boxes), tags=len(labels.tags), frames=n)
    return {"openlabel": doc}


def _intervals(frames: list[int]) -> list[dict[str, int]]:
    out: list[dict[str, int]] = []
    for f in sorted(set(frames)):
        if out and out[-1]["frame_end"] == f - 1:
            out[-1]["frame_end"] = f
        else:
            out.append({"frame_start": f, "frame_end": f})
    return out


def _actions(labels: AnnotationSet, uid: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    actions: dict[str, Any] = {}
    relations: dict[str, Any] = {}
    for i, g in enumerate(labels.tags):
        actions[str(i)] = {
            "name": g.tag, "type": g.tag, "ontology_uid": ONTOLOGY,
            "frame_intervals": [{"frame_start": g.first_frame, "frame_end": g.last_frame}],
            "action_data": _data({**g.attributes, "subject": g.subject}),
        }  # fmt: skip
        for kind, track in (
            ("isSubjectOfAction", g.track_id),
            ("isObjectOfAction", g.related_track_id),
        ):
            if track is not None:
                relations[str(len(relations))] = {
                    "name": kind, "type": kind,
                    "rdf_subjects": [{"uid": uid[track], "type": "object"}],
                    "rdf_objects": [{"uid": str(i), "type": "action"}],
                }  # fmt: skip
    return actions, relations


def write(data: SceneData, out: Path, *, points: bool) -> Report:
    report = Report(lost=list(LOST))
    out.mkdir(parents=True, exist_ok=True)
    (out / FILE).write_text(json.dumps(build(data, report), indent=1))
    if points:
        data.copy_points(out / "lidar", report)
    return report


def read(import_folder: ImportFolder, taxonomy: Taxonomy) -> Parsed:
    """Read ``openlabel.json`` (or the file the user named) and the folder's frames."""
    file = import_folder.named or FILE
    folder = import_folder.root
    try:
        doc = json.loads(import_folder.read_text(file))["openlabel"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InterchangeError(f"{file}: not an OpenLABEL file: {exc!r}") from exc
    report = Report()
    files = list_frames(folder)
    labels = AnnotationSet(frames=[FrameMeta(frame_key(f)) for f in files])
    order = sorted(doc.get("frames", {}), key=int)
    position = {k: _frame_index(doc["frames"][k], n, labels) for n, k in enumerate(order)}
    tracks = _tracks(doc, taxonomy, report)
    labels.tracks = list(tracks.values())
    for k in order:
        index = position[k]
        if index is None:
            report.drop("frame_without_point_cloud")
            continue
        _frame(doc["frames"][k], index, tracks, labels, report)
    _tags(doc, tracks, position, labels, report)
    for key in ("events", "contexts"):
        if doc.get(key):
            report.drop(key, len(doc[key]))
    return Parsed(folder, labels, report)


def _frame_index(frame: dict[str, Any], n: int, labels: AnnotationSet) -> int | None:
    """Which point-cloud frame an OpenLABEL frame is: its lidar stream's uri, else its order."""
    props = frame.get("frame_properties", {})
    uri = props.get("streams", {}).get("lidar", {}).get("uri")
    keys = [f.key for f in labels.frames]
    i = (
        keys.index(frame_key(uri))
        if uri and frame_key(uri) in keys
        else (n if n < len(keys) else None)
    )
    if i is not None:
        meta = labels.frames[i]
        stamp = props.get("timestamp")
        meta.timestamp = float(stamp) if isinstance(stamp, int | float) else None
        for tr in props.get("transforms", {}).values():
            m = tr.get("transform_src_to_dst", {}).get("matrix4x4")
            if tr.get("src") == "lidar" and m and len(m) == 16:
                meta.pose = [[float(v) for v in m[r * 4 : r * 4 + 4]] for r in range(4)]
    return i


def _tracks(doc: dict[str, Any], taxonomy: Taxonomy, report: Report) -> dict[str, Track]:
    tracks: dict[str, Track] = {}
    for uid, obj in doc.get("objects", {}).items():
        label, extra = to_class("openlabel", str(obj.get("type", "")), taxonomy, report)
        attrs = {**extra, **_attrs(obj.get("object_data", {}))}
        tracks[uid] = Track(str(obj.get("name") or uid), label, attrs)
    return tracks


def _frame(
    frame: dict[str, Any], index: int, tracks: dict[str, Track], labels: AnnotationSet, r: Report
) -> None:
    for uid, entry in frame.get("objects", {}).items():
        od = entry.get("object_data", {})
        cuboids = od.get("cuboid", [])
        if uid not in tracks or not cuboids:
            r.drop("object_data_without_cuboid" if uid in tracks else "unknown_object")
            continue
        val = [float(v) for v in cuboids[0]["val"]]
        if len(val) != 9:
            r.drop("cuboid_not_9_values")
            continue
        flags = _attrs(od)
        labels.boxes.append(
            Box(tracks[uid].id, index, (val[0], val[1], val[2]), (val[6], val[7], val[8]),
                val[5], val[4], val[3], _attrs(od, RESERVED), bool(flags.get("keyframe", True)))
        )  # fmt: skip


def _tags(
    doc: dict[str, Any], tracks: dict[str, Track], position: dict[str, int | None],
    labels: AnnotationSet, r: Report,
) -> None:  # fmt: skip
    subject: dict[str, str] = {}
    related: dict[str, str] = {}
    for rel in doc.get("relations", {}).values():
        target = subject if rel.get("type") == "isSubjectOfAction" else related
        for s in rel.get("rdf_subjects", []):
            for o in rel.get("rdf_objects", []):
                if s.get("type") == "object" and o.get("type") == "action" and s["uid"] in tracks:
                    target[o["uid"]] = tracks[s["uid"]].id
    for uid, action in doc.get("actions", {}).items():
        data = action.get("action_data", {})
        kind = str(_attrs(data).get("subject", "track" if uid in subject else "scene"))
        for interval in action.get("frame_intervals", []):
            first = position.get(str(interval.get("frame_start")))
            last = position.get(str(interval.get("frame_end")))
            if first is None or last is None:
                r.drop("tag_without_point_cloud")
                continue
            labels.tags.append(Tag(str(action.get("type")), kind, first, last, subject.get(uid),
                                   related.get(uid), _attrs(data, RESERVED)))  # fmt: skip
