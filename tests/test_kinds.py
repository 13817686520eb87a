"""The object-kind registry: one definition of each kind's payload, storage and docs."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, get_args

import pytest

from server.annotations import Writer
from server.kinds import KINDS, PROTOCOL_DOC, REGISTRY, render_protocol_doc
from server.protocol import Kind

SAMPLES: dict[str, dict[str, Any]] = {
    "track": {"label": "Car", "attributes": {"parked": True}},
    "cuboid": {
        "track_id": "t1",
        "frame": 3,
        "center": [1.0, 2.0, 0.5],
        "size": [4.2, 1.8, 1.5],
        "yaw": 0.25,
        "pitch": 0.0,
        "roll": 0.0,
        "attributes": {},
        "source": "manual",
        "keyframe": True,
    },  # fmt: skip
    "tag": {
        "tag": "cut_in",
        "subject": "track",
        "track_id": "t1",
        "related_track_id": None,
        "first_frame": 0,
        "last_frame": 4,
        "attributes": {"side": "left"},
    },  # fmt: skip
}


def test_the_protocol_and_the_writer_know_exactly_the_registered_kinds() -> None:
    assert set(get_args(Kind)) == set(KINDS) == set(Writer.RULES) == set(SAMPLES)
    assert KINDS[0] == "track", "parents first: tracks are inserted before what names them"


@pytest.mark.parametrize("kind", KINDS)
def test_every_column_of_a_kind_is_written_and_read_back(kind: str) -> None:
    k = REGISTRY[kind]
    state = {"id": "x1", **k.payload.model_validate(SAMPLES[kind]).stored(), "revision": 7}
    row = k.to_row(state, task_id=2, scene_id=1)
    assert set(row) == {c.name for c in k.table.columns}, (
        "a field without a column, or a column without a field"
    )
    assert k.from_row(SimpleNamespace(**row)) == state


def test_a_row_whose_attributes_are_not_an_object_is_not_served() -> None:
    k = REGISTRY["track"]
    row = k.to_row({"id": "x", "label": "Car", "attributes": {}, "revision": 1}, 1, 1)
    with pytest.raises(TypeError):
        k.from_row(SimpleNamespace(**{**row, "attributes": ["not", "an", "object"]}))


def test_yaw_is_stored_wrapped_into_the_half_open_interval() -> None:
    stored = REGISTRY["cuboid"].payload.model_validate({**SAMPLES["cuboid"], "yaw": -3.5}).stored()
    assert -3.141593 < stored["yaw"] <= 3.141593 and stored["center"] == [1.0, 2.0, 0.5]


def test_protocol_doc_field_table_matches_the_payload_models() -> None:
    text = PROTOCOL_DOC.read_text(encoding="utf-8")
    assert text == render_protocol_doc(text), (
        "docs/protocol.md is stale: run `python -m server.kinds`"
    )
    for kind, sample in SAMPLES.items():
        for name in sample:
            assert f"| `{kind}` | `{name}` |" in text
