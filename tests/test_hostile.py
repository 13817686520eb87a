"""A hostile client cannot crash the server or store invalid data."""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from server.models import BehaviourTag, Cuboid, Task, Track
from server.taxonomy import default_taxonomy
from tests.conftest import SQLITE_ONLY

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
numbers = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**6), 10**6) | st.none()
ids = st.sampled_from(["t1", "t2", "c1", "c2", "g1"]) | st.text(max_size=70)
vec3 = st.lists(numbers, min_size=0, max_size=4) | json_values


def cuboid_data() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "track_id": ids,
            "frame": st.integers(-3, 3) | json_values,
            "center": vec3,
            "size": vec3,
            "yaw": numbers,
        },
        optional={
            "pitch": numbers,
            "attributes": json_values,
            "source": st.text(max_size=12),
            "keyframe": json_values,
            "extra": json_values,
        },
    )


def tag_data() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "tag": st.sampled_from(["cut_in", "hard_braking", "nope"]) | st.text(max_size=5),
            "subject": st.sampled_from(["track", "ego", "scene", "x"]),
            "track_id": ids | st.none(),
            "first_frame": st.integers(-2, 3),
            "last_frame": st.integers(-2, 3),
        },
    )


def op() -> st.SearchStrategy[dict[str, Any]]:
    data = (
        cuboid_data()
        | tag_data()
        | st.fixed_dictionaries(
            {"label": st.sampled_from(["Car", "Truck", "Dragon"]) | json_values}
        )
        | json_values
    )
    return st.fixed_dictionaries(
        {
            "op": st.sampled_from(["create", "update", "delete", "explode"]),
            "kind": st.sampled_from(["track", "cuboid", "tag", "scene"]),
            "id": ids,
            "data": data,
        },
        optional={"base_revision": st.integers(-1, 40) | json_values},
    )


# Mostly plausible values with some poison: reaches the validation rules, not only parsing.
plausible = st.one_of(st.floats(0.1, 8.0), st.floats(0.1, 8.0), st.floats(-8.0, 8.0), numbers)


def _drop_base_on_create(op: dict[str, Any]) -> dict[str, Any]:
    if op["op"] == "create":
        op.pop("base_revision")
    return op


def nearly_valid_batch() -> st.SearchStrategy[dict[str, Any]]:
    """A plausible batch (track + cuboids + tags) with some poisoned values."""
    track = st.integers(1, 40).map(lambda i: f"t{i}")
    cuboid = st.fixed_dictionaries(
        {
            "op": st.sampled_from(["create", "create", "update"]),
            "kind": st.just("cuboid"),
            "id": st.integers(1, 80).map(lambda i: f"c{i}"),
            "base_revision": st.integers(0, 30),
            "data": st.fixed_dictionaries(
                {
                    "track_id": track,
                    "frame": st.sampled_from([0, 0, 0, 1, -1]),
                    "center": st.lists(plausible, min_size=3, max_size=3),
                    "size": st.lists(plausible, min_size=3, max_size=3),
                    "yaw": plausible,
                }
            ),
        },
    ).map(_drop_base_on_create)
    create_track = st.fixed_dictionaries(
        {
            "op": st.just("create"),
            "kind": st.just("track"),
            "id": track,
            "data": st.fixed_dictionaries(
                {"label": st.sampled_from(["Car", "Pedestrian", "Dragon"])}
            ),
        }
    )
    tag = st.fixed_dictionaries(
        {
            "op": st.just("create"),
            "kind": st.just("tag"),
            "id": st.sampled_from(["g1", "g2"]),
            "data": tag_data(),
        }
    )
    ops = st.lists(st.one_of(create_track, cuboid, tag), min_size=1, max_size=4)
    return st.fixed_dictionaries(
        {
            "type": st.just("ops"),
            "seq": st.integers(0, 10**6),
            "client_id": st.just("h"),
            "ops": ops,
        }
    )


messages = (
    nearly_valid_batch()
    | nearly_valid_batch()
    | st.fixed_dictionaries(
        {
            "type": st.just("ops"),
            "seq": st.integers(-1, 10**6) | json_values,
            "client_id": st.just("h") | st.text(max_size=70),
            "ops": st.lists(op(), max_size=5),
        }
    )
    | st.fixed_dictionaries(
        {"type": st.sampled_from(["hello", "select", "ops", "zz"])},
        optional={
            "client_id": json_values,
            "since_revision": json_values,
            "object_id": json_values,
        },
    )
    | json_values
)


@SQLITE_ONLY  # the websocket parser is the subject; ten minutes on PostgreSQL (docs/scaling.md)
def test_thousands_of_malformed_messages_leave_the_server_up_and_the_data_valid(
    client: TestClient, engine: Engine, task_id: int
) -> None:
    fresh_seq = itertools.count()
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:

        @settings(
            max_examples=2500,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(msg=messages)
        def send_one(msg: Any) -> None:
            if isinstance(msg, dict) and msg.get("client_id") == "h":
                msg["seq"] = next(fresh_seq)  # not a resend: reach validation, not the replay path
            ws.send_text(json.dumps(msg))
            if isinstance(msg, dict) and msg.get("type") in ("hello", "select"):
                return  # may legitimately get no direct reply (select) or a snapshot
            reply = ws.receive_json()
            while reply["type"] in ("presence", "snapshot", "missed"):
                reply = ws.receive_json()
            assert reply["type"] in ("ack", "reject", "conflict", "error")

        send_one()
        ws.send_text(json.dumps({"type": "hello", "client_id": "check"}))
        while ws.receive_json()["type"] != "snapshot":
            pass
    assert client.get("/api/scenes").status_code == 200
    _assert_only_valid_objects(engine)


def _assert_only_valid_objects(engine: Engine) -> None:
    with Session(engine) as session:
        tracks = {t.id: t for t in session.exec(select(Track)).all()}
        for t in tracks.values():
            assert t.label in default_taxonomy().classes
        for c in session.exec(select(Cuboid)).all():
            numbers = [c.cx, c.cy, c.cz, c.length, c.width, c.height, c.yaw, c.pitch, c.roll]
            assert all(math.isfinite(v) for v in numbers)
            assert min(c.length, c.width, c.height) > 0
            assert -math.pi < c.yaw <= math.pi
            assert c.frame_index == 0 and c.track_id in tracks
        # The generator reached the write path, not only the parser.
        assert len(tracks) > 3 and len(session.exec(select(Cuboid)).all()) >= 1
        for g in session.exec(select(BehaviourTag)).all():
            assert 0 <= g.first_frame <= g.last_frame <= 0
            assert g.tag in default_taxonomy().tags


# Text frames an attacker writes by hand: lone surrogates (as JSON \ud800 escapes),
# integers past 2^63, NUL and other control characters, and nesting 10^5 deep.
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
poison_text = st.one_of(
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=3), surrogates, st.text(max_size=3)),
    st.sampled_from(["\x00", "a\x00b", "\x1b[31m", "\u202e", "x" * 70]),
)
huge = st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**30, 2**53 + 1])
DEEP = "__deep__"
poison = st.one_of(poison_text, huge, st.just(DEEP))


def poisoned(batch: dict[str, Any], where: int, value: Any) -> str:
    """``batch`` as JSON text with one field replaced by ``value`` (``DEEP``: 10^5 nesting)."""
    op = batch["ops"][0]
    targets: list[tuple[dict[str, Any], str]] = [(batch, "seq"), (batch, "client_id"), (op, "id")]
    if "data" in op:
        data = op["data"]
        targets += [(data, k) for k in data] + [(data.setdefault("attributes", {}), "note")]
    obj, key = targets[where % len(targets)]
    if where % 5 == 4 and isinstance(value, str):
        obj[value] = 1  # as a key instead of a value
    else:
        obj[key] = value
    text = json.dumps(batch)  # ensure_ascii: a surrogate becomes a \udXXX escape
    return text.replace(f'"{DEEP}"', "[" * 100_000 + "]" * 100_000)


def test_poisoned_text_frames_are_refused_and_every_task_still_answers_hello(
    client: TestClient, engine: Engine, task_id: int
) -> None:
    fresh_seq = itertools.count(10**6)
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:

        @settings(max_examples=400, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(batch=nearly_valid_batch(), where=st.integers(0, 50), value=poison)
        def send_one(batch: dict[str, Any], where: int, value: Any) -> None:
            batch["seq"] = next(fresh_seq)
            ws.send_text(poisoned(batch, where, value))
            reply = ws.receive_json()
            while reply["type"] in ("presence", "snapshot", "missed"):
                reply = ws.receive_json()
            assert reply["type"] in ("ack", "reject", "conflict", "error")
            if reply["type"] == "error":
                assert reply["code"] != "internal_error", reply

        send_one()
    with Session(engine) as session:
        task_ids = [t.id for t in session.exec(select(Task)).all()]
    for tid in task_ids:
        with client.websocket_connect(f"/ws/tasks/{tid}") as ws:
            ws.send_text(json.dumps({"type": "hello", "client_id": "check"}))
            reply = ws.receive_json()
            while reply["type"] == "presence":
                reply = ws.receive_json()
            assert reply["type"] == "snapshot" and reply["problems"] == []
        assert client.get(f"/api/tasks/{tid}/annotations").status_code == 200
    with engine.connect() as conn:  # every stored attribute is text UTF-8 can carry
        for table in ("track", "cuboid", "behaviourtag"):
            for (attributes,) in conn.exec_driver_sql(f"SELECT attributes FROM {table}"):
                assert isinstance(json.loads(attributes), dict)
                assert "\\ud" not in attributes.lower()
