"""The websocket protocol: the one definition of every message (docs/protocol.md).

Client -> server: ``hello``, ``ops``, ``select``. Server -> client: ``snapshot``,
``ack``, ``reject``, ``conflict``, ``event``, ``missed``, ``presence``,
``taxonomy``, ``error``. Messages are JSON objects with
a ``type`` tag; :data:`client_message` parses any client message.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from server.text import TextError, check_json, repair

MAX_INT = 2**53 - 1
"""The largest seq or revision a client may send: exact in JavaScript, fits every column."""

Kind = Literal["track", "cuboid", "tag"]
ObjectId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
ClientId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Counter = Annotated[int, Field(ge=0, le=MAX_INT)]
OpData = Annotated[dict[str, Any], AfterValidator(lambda d: check_json(d, "data"))]
"""An op's fields: keys are names, strings valid text, at most 32 levels deep."""


class _Strict(BaseModel):
    """Client messages: no unknown fields, and no coercion (``"0"`` is not a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class CreateOp(_Strict):
    """Create an object with a client-generated id; ``data`` is its full state."""

    op: Literal["create"]
    kind: Kind
    id: ObjectId
    data: OpData


class UpdateOp(_Strict):
    """Change some fields of an object last changed at ``base_revision``."""

    op: Literal["update"]
    kind: Kind
    id: ObjectId
    base_revision: Counter
    data: OpData


class DeleteOp(_Strict):
    """Delete an object last changed at ``base_revision``."""

    op: Literal["delete"]
    kind: Kind
    id: ObjectId
    base_revision: Counter


Op = Annotated[CreateOp | UpdateOp | DeleteOp, Field(discriminator="op")]


class Hello(_Strict):
    """First message on a connection. Without ``since_revision`` (or when the log
    cannot answer it) the server sends a ``snapshot``; with it, a ``missed``
    message holding exactly the events after that revision."""

    type: Literal["hello"]
    client_id: ClientId
    since_revision: Counter | None = None


class Select(_Strict):
    """What this client has selected (None: nothing); shared through ``presence``."""

    type: Literal["select"]
    object_id: ObjectId | None = None


class Ops(_Strict):
    """A batch applied atomically: every op or none. ``seq`` increases per client."""

    type: Literal["ops"]
    seq: Counter
    client_id: ClientId
    ops: list[Op] = Field(min_length=1)


ClientMessage = Annotated[Hello | Ops | Select, Field(discriminator="type")]
client_message: TypeAdapter[Hello | Ops | Select] = TypeAdapter(ClientMessage)


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON Schema with every ``$ref`` inlined, for an OpenAPI request body."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    result: dict[str, Any] = inline(schema)
    return result


def message_error(exc: ValidationError) -> tuple[str, str]:
    """The stable code and a short, safe message for a client message that does not
    validate: ``invalid_text`` or ``too_deep`` when a string or nesting is at fault,
    else ``invalid_message``. The message never echoes the input."""
    code = "invalid_message"
    parts = []
    for e in exc.errors(include_input=False, include_url=False)[:10]:
        cause = (e.get("ctx") or {}).get("error")
        if isinstance(cause, TextError):
            code = cause.code
        elif e["type"] == "json_invalid" and "recursion limit" in e["msg"]:
            code = "too_deep"
        loc = ".".join(str(p) for p in e["loc"])
        parts.append(f"{loc}: {e['msg']}" if loc else e["msg"])
    return code, repair("; ".join(parts))[:2000]


class Problem(BaseModel):
    """One reason for a rejection or one warning: a stable ``code``, where, and why."""

    code: str
    path: str = ""
    message: str


class Snapshot(BaseModel):
    type: Literal["snapshot"] = "snapshot"
    task_id: int
    scene_id: int
    revision: int
    user: str
    tracks: list[dict[str, Any]]
    cuboids: list[dict[str, Any]]
    tags: list[dict[str, Any]]
    problems: list[dict[str, str]] = []
    """Stored rows that were repaired or left out because they could not be answered."""


class Ack(BaseModel):
    """The batch is committed. ``revisions`` maps each object id it touched to its
    new revision (deleted objects map to None)."""

    type: Literal["ack"] = "ack"
    seq: int
    revision: int
    revisions: dict[str, int | None] = {}
    warnings: list[Problem] = []
    replayed: bool = False


class Reject(BaseModel):
    type: Literal["reject"] = "reject"
    seq: int | None
    errors: list[Problem]


class Conflict(BaseModel):
    """``base_revision`` was stale; ``current`` is the server's object (None if deleted)."""

    type: Literal["conflict"] = "conflict"
    seq: int
    kind: Kind
    id: str
    base_revision: int
    current: dict[str, Any] | None


class EventOp(BaseModel):
    op: Literal["create", "update", "delete"]
    kind: Kind
    id: str
    revision: int
    state: dict[str, Any] | None


class Event(BaseModel):
    """Accepted changes, broadcast to every client of the scene in revision order."""

    type: Literal["event"] = "event"
    revision: int
    user: str
    client_id: str | None
    seq: int | None = None
    ops: list[EventOp]


class Missed(BaseModel):
    """The events after ``since_revision``, in order; afterwards the client is at ``revision``."""

    type: Literal["missed"] = "missed"
    since_revision: int
    revision: int
    events: list[Event]


class PresenceClient(BaseModel):
    client_id: str
    user: str
    selected: str | None


class Presence(BaseModel):
    """Everyone on the scene (who said hello) and what each has selected."""

    type: Literal["presence"] = "presence"
    clients: list[PresenceClient]


class TaxonomyChanged(BaseModel):
    """The task moved to another taxonomy version (a lead published or moved it). Sent
    before the events of the migration, so ``taxonomy`` (as ``/api/taxonomy`` answers)
    already names every class those events use."""

    type: Literal["taxonomy"] = "taxonomy"
    task_id: int
    version_id: int
    version: str
    taxonomy: dict[str, Any]


class ErrorMessage(BaseModel):
    """A message that could not be read at all (no ``seq`` to answer)."""

    type: Literal["error"] = "error"
    code: str
    message: str
