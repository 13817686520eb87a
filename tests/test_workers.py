"""Two server workers on one PostgreSQL database: writes to a task are serialised across
them (an advisory lock per task), and a batch resent to the other worker is not applied
twice. Each worker is a whole app (its own engine, hub and in-memory label sets), as two
``pointlabel serve`` processes are."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from server.app import create_app
from server.config import Settings
from server.models import Edit
from tests.conftest import POSTGRESQL_ONLY, logged_in
from tests.test_ws import new_box_ops

pytestmark = POSTGRESQL_ONLY
EDITS = Edit.__table__  # type: ignore[attr-defined]


@pytest.fixture
def workers(settings: Settings, engine: Engine, tester: str) -> Iterator[list[TestClient]]:
    """Two apps on the fixture's database, each with a client logged in as ``tester``."""
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        yield [logged_in(a, engine, settings), logged_in(b, engine, settings)]


def post(client: TestClient, task_id: int, client_id: str, seq: int, ops: list[Any]) -> Any:
    body = {"type": "ops", "seq": seq, "client_id": client_id, "ops": ops}
    return client.post(f"/api/tasks/{task_id}/ops", json=body).json()


def test_concurrent_conflicting_updates_through_two_workers_lose_none(
    workers: list[TestClient], engine: Engine, task_id: int
) -> None:
    """200 updates of one box, sent at once through both workers, each retried on
    ``conflict`` from the state the conflict reports: every one is applied exactly once,
    each on the revision the one before it created (no update overwrote another)."""
    ops, _, box = new_box_ops()
    created = post(workers[0], task_id, "setup", 1, ops)
    assert created["type"] == "ack"
    start = created["revisions"][box]

    def update(i: int) -> tuple[int, int]:
        client, base, conflicts = workers[i % 2], start, 0
        while True:
            op = {"op": "update", "kind": "cuboid", "id": box, "base_revision": base,
                  "data": {"center": [10.0 + (i + 1) / 100, 0.0, -0.9]}}  # fmt: skip
            reply = post(client, task_id, f"c{i}", 1 + conflicts, [op])
            if reply["type"] == "ack":
                return base, reply["revisions"][box]
            assert reply["type"] == "conflict", reply
            base, conflicts = reply["current"]["revision"], conflicts + 1

    with ThreadPoolExecutor(8) as pool:
        applied = list(pool.map(update, range(200)))
    bases = sorted(base for base, _ in applied)
    assert len(set(bases)) == 200, "two updates were applied on the same revision"
    with engine.connect() as conn:
        log = conn.execute(
            select(EDITS.c.op, EDITS.c.revision, EDITS.c.before, EDITS.c.after)
            .where(EDITS.c.task_id == task_id, EDITS.c.object_id == box)
            .order_by(EDITS.c.revision)
        ).all()
    assert [e.op for e in log] == ["create"] + ["update"] * 200
    for previous, edit in zip(log, log[1:], strict=False):
        assert edit.before == previous.after  # a chain: each update saw the one before
    centers = sorted(e.after["center"][0] for e in log[1:])
    assert centers == pytest.approx(sorted(10.0 + (i + 1) / 100 for i in range(200)))


def test_a_batch_resent_to_the_other_worker_is_answered_with_its_first_ack(
    workers: list[TestClient], engine: Engine, task_id: int
) -> None:
    """Worker B saw this client's seq 1; seq 2 went to worker A; the resend of seq 2 to B
    (say, after A went away) is the original ack, and nothing is stored twice."""
    a, b = workers
    first, _, _ = new_box_ops()
    assert post(b, task_id, "roaming", 1, first)["type"] == "ack"
    second, _, box = new_box_ops(center=(20.0, 0.0, -0.9))
    acked = post(a, task_id, "roaming", 2, second)
    assert acked["type"] == "ack" and not acked.get("replayed")
    again = post(b, task_id, "roaming", 2, second)
    assert again["type"] == "ack" and again["replayed"] is True
    assert (again["revision"], again["revisions"]) == (acked["revision"], acked["revisions"])
    with engine.connect() as conn:
        stored = conn.execute(
            select(EDITS.c.object_id).where(
                EDITS.c.task_id == task_id, EDITS.c.client_id == "roaming", EDITS.c.client_seq == 2
            )
        ).all()
    assert len(stored) == 2 and box in {row.object_id for row in stored}
    # and the next batch through B is applied on top of what A stored, not beside it
    third = [{"op": "update", "kind": "cuboid", "id": box, "base_revision": acked["revisions"][box],
              "data": {"yaw": 0.5}}]  # fmt: skip
    assert post(b, task_id, "roaming", 3, third)["revision"] == acked["revision"] + 1
