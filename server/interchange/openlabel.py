"""Write ASAM OpenLABEL 1.0 JSON: objects with cuboids, actions for behaviour tags, ego poses.

Layout written: a folder with ``openlabel.json`` and the frames' point clouds
in ``lidar/`` (each frame's ``frame_properties.streams.lidar.uri``). Read by
``openlabel_read``. The document passes the 1.0 schema and ``vcd``'s frame and
interval sanity checks:

- ``objects``: one per track, numeric uid; ``name`` = the track id, ``type`` =
  the taxonomy class, ``ontology_uid`` "0", ``frame_intervals`` where it has
  boxes; static ``object_data`` holds the track attributes (``boolean`` /
  ``num`` / ``text`` / ``vec`` by value type); ``object_data_pointers`` name
  every static and per-frame object data with its type and frame intervals.
- ``frames.<i>.objects.<uid>.object_data``: the cuboid ``box`` (``val`` = x,
  y, z, rx=roll, ry=pitch, rz=yaw, sx=length, sy=width, sz=height in the
  ``lidar`` coordinate system), the box attributes, ``keyframe`` (boolean)
  and ``source`` (text). Raw ``imported`` values go back under their own names.
- ``actions``: one per behaviour tag, ``type`` = tag type, ``frame_intervals``
  = its range, ``action_data`` = its attributes plus ``subject`` (text);
  relations ``isSubjectOfAction`` / ``isObjectOfAction`` (with the action's
  frame intervals) link the track and the related track; a tag related to the
  ego vehicle (``related: ego``) links one object of type ``ego`` (named
  ``ego``, written only when some tag needs it). Each frame lists
  the objects, actions and relations present in it.
- ``coordinate_systems``: ``odom`` (world) with child ``lidar`` whose
  ``pose_wrt_parent`` is the identity; each frame's ego pose is the
  ``frame_properties.transforms.lidar_to_odom`` matrix4x4 (row-major, lidar
  -> odom); timestamps are ``frame_properties.timestamp`` (s).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from server.interchange.classes import export_type
from server.interchange.exporter import SceneData
from server.interchange.model import AnnotationSet, Attrs, Report
from server.validation import IMPORTED

FILE = "openlabel.json"
EGO = "ego"
"""The object a ``related: ego`` tag's isObjectOfAction relation names."""
EGO_KEY = "<ego>"
"""Its key among the track ids (no track id can hold ``<``)."""
ONTOLOGY = "0"
LOST = ["cuboid and tag ids (new ids on import)", "the edit history"]
IDENTITY = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]
Intervals = list[dict[str, int]]


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "num"
    if isinstance(value, list):
        return "vec"
    return "text"


def _data(attrs: Attrs) -> dict[str, list[dict[str, Any]]]:
    """Attributes as OpenLABEL ``boolean`` / ``num`` / ``text`` / ``vec`` lists; the raw
    values of ``imported`` are written under their own names."""
    out: dict[str, list[dict[str, Any]]] = {}
    flat = [(n, v) for n, v in attrs.items() if n != IMPORTED]
    raw = attrs.get(IMPORTED)
    if isinstance(raw, dict):
        flat += [(str(n), v) for n, v in raw.items() if v is not None]
    for name, value in flat:
        out.setdefault(_kind(value), []).append({"name": name, "val": value})
    return out


def _intervals(frames: list[int]) -> Intervals:
    out: Intervals = []
    for f in sorted(set(frames)):
        if out and out[-1]["frame_end"] == f - 1:
            out[-1]["frame_end"] = f
        else:
            out.append({"frame_start": f, "frame_end": f})
    return out


def _pointers(
    static: dict[str, list[dict[str, Any]]], dynamic: dict[str, tuple[str, list[int]]]
) -> dict[str, Any]:
    """``object_data_pointers``: each static data (no intervals) and per-frame data."""
    out: dict[str, Any] = {
        d["name"]: {"type": kind, "frame_intervals": []} for kind, ds in static.items() for d in ds
    }
    for name, (kind, frames) in dynamic.items():
        out[name] = {"type": kind, "frame_intervals": _intervals(frames)}
    return out


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
    pointers: dict[str, dict[str, tuple[str, list[int]]]] = {}
    for b in labels.boxes:
        val = [*b.center, b.roll, b.pitch, b.yaw, *b.size]
        od = _data({**b.attributes, "keyframe": b.keyframe, "source": b.source})
        od["cuboid"] = [{"name": "box", "coordinate_system": "lidar", "val": val}]
        frames[str(b.frame)]["objects"][uid[b.track_id]] = {"object_data": od}
        present.setdefault(b.track_id, []).append(b.frame)
        mine = pointers.setdefault(b.track_id, {})
        for kind, items in od.items():
            for item in items:
                mine.setdefault(item["name"], (kind, []))[1].append(b.frame)
    objects: dict[str, Any] = {}
    for t in labels.tracks:
        static = _data(t.attributes)
        objects[uid[t.id]] = {
            "name": t.id,
            "type": export_type("openlabel", t.label, {}, report),
            "ontology_uid": ONTOLOGY,
            "frame_intervals": _intervals(present.get(t.id, [])),
            **({"object_data": static} if static else {}),
            "object_data_pointers": _pointers(static, pointers.get(t.id, {})),
        }  # fmt: skip
    if any(g.related_ego for g in labels.tags):
        uid[EGO_KEY] = str(len(objects))
        objects[uid[EGO_KEY]] = {"name": EGO, "type": EGO, "ontology_uid": ONTOLOGY}
    actions, relations = _actions(labels, uid, frames)
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
            "lidar": {
                "type": "sensor_cs",
                "parent": "odom",
                "children": [],
                "pose_wrt_parent": {"matrix4x4": list(IDENTITY)},
            },
        },  # fmt: skip
        "streams": {"lidar": {"type": "lidar", "description": "point clouds, one file per frame"}},
        "frame_intervals": [{"frame_start": 0, "frame_end": n - 1}] if n else [],
        "frames": frames,
        "objects": objects,
    }
    if actions:
        doc.update(actions=actions, relations=relations)
    report.counts.update(boxes=len(labels.boxes), tags=len(labels.tags), frames=n)
    return {"openlabel": doc}


def _actions(
    labels: AnnotationSet, uid: dict[str, str], frames: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Actions and relations, each listed in the frames of its interval."""
    actions: dict[str, Any] = {}
    relations: dict[str, Any] = {}
    for i, g in enumerate(labels.tags):
        interval = [{"frame_start": g.first_frame, "frame_end": g.last_frame}]
        actions[str(i)] = {
            "name": g.tag, "type": g.tag, "ontology_uid": ONTOLOGY, "frame_intervals": interval,
            "action_data": _data({**g.attributes, "subject": g.subject}),
        }  # fmt: skip
        mine = [str(i)]
        for kind, track in (
            ("isSubjectOfAction", g.track_id),
            ("isObjectOfAction", EGO_KEY if g.related_ego else g.related_track_id),
        ):
            if track is not None:
                rel = str(len(relations))
                relations[rel] = {
                    "name": kind, "type": kind, "frame_intervals": [dict(interval[0])],
                    "rdf_subjects": [{"uid": uid[track], "type": "object"}],
                    "rdf_objects": [{"uid": str(i), "type": "action"}],
                }  # fmt: skip
                mine.append(rel)
        for f in range(g.first_frame, g.last_frame + 1):
            frame = frames[str(f)]
            frame.setdefault("actions", {})[mine[0]] = {}
            for rel in mine[1:]:
                frame.setdefault("relations", {})[rel] = {}
    return actions, relations


def write(data: SceneData, out: Path, *, points: bool) -> Report:
    report = Report(lost=list(LOST))
    out.mkdir(parents=True, exist_ok=True)
    (out / FILE).write_text(json.dumps(build(data, report), indent=1))
    if points:
        data.copy_points(out / "lidar", report)
    return report
