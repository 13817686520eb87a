"""The object kinds of a label set, registered in one place.

Each :class:`ObjectKind` says what the op payload of the kind is (its pydantic
model in :mod:`server.payloads`), where it is stored, how its state maps onto
the table's columns and which of its fields point at tracks. The writer, the
in-memory state, persistence, the doctor and the generated docs read this
registry; the kind-specific rules are the writer's (``Writer.RULES``), one
function per kind. Adding a kind is one entry here, one table and one rule.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from sqlalchemy import Table

from server.models import BehaviourTag, Cuboid, Track
from server.payloads import CuboidData, Payload, TagData, TrackData
from server.protocol import Kind

State = dict[str, Any]


@dataclass(frozen=True)
class ObjectKind:
    """One kind of annotation object.

    ``columns`` maps a state field onto the column(s) that store it when the
    names differ (``center`` -> ``cx, cy, cz``); every other field is stored in
    the column of its own name. ``refs`` are fields naming a track: a track
    that is still referenced cannot be deleted. ``one_per`` is a pair of fields
    (track, frame) that must be unique within the label set.
    """

    name: str
    payload: type[Payload]
    table: Table
    columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    refs: tuple[str, ...] = ()
    one_per: tuple[str, str] | None = None

    @property
    def fields(self) -> tuple[str, ...]:
        """The payload's field names, in protocol order."""
        return tuple(self.payload.model_fields)

    def from_row(self, row: Any) -> State:
        """The protocol state of a stored row (JSON columns already decoded).

        Raises TypeError for a row whose attributes are not a JSON object, so
        :func:`server.rows.read_rows` reports it instead of serving it."""
        state: State = {"id": row.id}
        for name in self.fields:
            cols = self.columns.get(name)
            state[name] = getattr(row, name) if cols is None else [getattr(row, c) for c in cols]
            if cols is not None and len(cols) == 1:
                state[name] = state[name][0]
        if not isinstance(state.get("attributes"), dict):
            raise TypeError("attributes must be a JSON object")
        state["revision"] = row.revision
        return state

    def to_row(self, state: State, task_id: int, scene_id: int) -> dict[str, Any]:
        """The column values that store ``state`` in ``task_id``'s label set."""
        row: dict[str, Any] = {"task_id": task_id, "id": state["id"], "scene_id": scene_id}
        for name in self.fields:
            cols = self.columns.get(name)
            if cols is None:
                row[name] = state[name]
            elif len(cols) == 1:
                row[cols[0]] = state[name]
            else:
                row.update(zip(cols, state[name], strict=True))
        row["revision"] = state["revision"]
        return row


def _table(model: Any) -> Table:
    return model.__table__


REGISTRY: dict[str, ObjectKind] = {
    k.name: k
    for k in (
        ObjectKind("track", TrackData, _table(Track)),
        ObjectKind(
            "cuboid",
            CuboidData,
            _table(Cuboid),
            columns={
                "frame": ("frame_index",),
                "center": ("cx", "cy", "cz"),
                "size": ("length", "width", "height"),
            },
            refs=("track_id",),
            one_per=("track_id", "frame"),
        ),  # fmt: skip
        ObjectKind("tag", TagData, _table(BehaviourTag), refs=("track_id", "related_track_id")),
    )
}
"""Every kind, parents first: inserts go in this order and deletes in reverse."""
KINDS = tuple(REGISTRY)
assert set(KINDS) == set(get_args(Kind)), "protocol.Kind and the registry must list the same kinds"


def render_fields_table() -> str:
    """The "Object data" table of docs/protocol.md, from the payload models."""
    lines = ["| kind | field | type | default | meaning |", "| --- | --- | --- | --- | --- |"]
    for kind in REGISTRY.values():
        schema = kind.payload.model_json_schema()
        required = set(schema.get("required", ()))
        for name, info in kind.payload.model_fields.items():
            prop = schema["properties"][name]
            default = "required" if name in required else f"`{_json(info.default)}`"
            lines.append(
                f"| `{kind.name}` | `{name}` | {_type(prop)} | {default} | {info.description or ''} |"
            )
    return "\n".join(lines)


PROTOCOL_DOC = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"
BEGIN, END = "<!-- fields:begin -->", "<!-- fields:end -->"


def render_protocol_doc(text: str) -> str:
    """``text`` (docs/protocol.md) with its generated field table replaced."""
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{render_fields_table()}\n{END}{tail}"


def _json(value: Any) -> str:
    return json.dumps(value)


def _type(prop: dict[str, Any]) -> str:
    """A short JSON type for a property of a JSON schema."""
    if "enum" in prop:
        return " / ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    if "anyOf" in prop:
        return " or ".join(_type(p) for p in prop["anyOf"])
    t = prop.get("type", "any")
    if t == "array" and "prefixItems" in prop:
        return f"[{', '.join(_type(p) for p in prop['prefixItems'])}]"
    if t == "object":
        return "object"
    return str(t)


if __name__ == "__main__":
    PROTOCOL_DOC.write_text(render_protocol_doc(PROTOCOL_DOC.read_text(encoding="utf-8")), "utf-8")
    sys.stdout.write(f"wrote the object data table of {PROTOCOL_DOC.name}\n")
