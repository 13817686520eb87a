"""What an operator relies on: /healthz, /readyz and /metrics that move with the traffic."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pointcloud.io.pcd import write_pcd
from server import accounts
from server.app import create_app
from server.config import Settings
from server.db import migrate
from server.logs import JsonFormatter
from server.models import Track
from server.protocol import Ops
from tests.test_ws import new_box_ops


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text format (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = rf"^{re.escape(name)}{{{re.escape(want)}}} (\S+)$" if want else rf"^{name} (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def _reply(ws: Any) -> dict[str, Any]:
    """The next message that is not a presence update."""
    while (message := ws.receive_json())["type"] == "presence":
        pass
    return message  # type: ignore[no-any-return]


def _admin_token(engine: Engine) -> dict[str, str]:
    with Session(engine) as db:
        accounts.create_user(db, "ops", "admin")
        token, _ = accounts.create_api_token(db, "ops", label="prometheus")
    return {"Authorization": f"Bearer {token}"}


def test_health_and_readiness_answer_without_a_login(settings: Settings, engine: Engine) -> None:
    with TestClient(create_app(settings)) as anon:
        assert anon.get("/healthz").json() == {"status": "ok"}
        assert anon.get("/readyz").json() == {"status": "ready"}


def test_a_database_behind_on_migrations_is_not_ready(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    app = create_app(settings)
    migrate(app.state.engine, "0003")  # what a half-upgraded deployment looks like
    with app.state.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0003'")
    with TestClient(app) as anon:
        r = anon.get("/readyz")
    assert r.status_code == 503 and r.json()["code"] == "not_ready"
    assert "0004" in r.json()["message"]


def test_metrics_need_the_operate_right(client: TestClient, engine: Engine) -> None:
    assert client.get("/metrics").json()["code"] == "forbidden"  # a lead does not operate
    client.cookies.clear()
    assert client.get("/metrics").status_code == 401


def test_metrics_move_during_a_websocket_stream(
    client: TestClient, engine: Engine, task_id: int
) -> None:
    ops_headers = _admin_token(engine)
    before = client.get("/metrics", headers=ops_headers).text
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        ws.send_json({"type": "hello", "client_id": "m1"})
        assert ws.receive_json()["type"] == "snapshot"
        during = client.get("/metrics", headers=ops_headers).text
        assert _sample(during, "pointlabel_websockets") == 1
        for seq in range(1, 6):
            ops, _, _ = new_box_ops(center=(10.0, 0.0, -0.9))
            ws.send_json({"type": "ops", "client_id": "m1", "seq": seq, "ops": ops})
            assert _reply(ws)["type"] == "ack"
        ws.send_text("{not json")
        assert _reply(ws)["code"] == "invalid_message"
    after = client.get("/metrics", headers=ops_headers).text
    assert _sample(after, "pointlabel_batch_replies_total", type="ack") == 5
    assert _sample(after, "pointlabel_ops_committed_total") == 10
    assert _sample(after, "pointlabel_ack_latency_seconds_count") == 5
    assert (
        _sample(after, "pointlabel_errors_total", code="invalid_message", channel="websocket") == 1
    )
    assert _sample(before, "pointlabel_batch_replies_total", type="ack") == 0
    assert client.get("/api/tasks/999999").status_code == 404
    counted = client.get("/metrics", headers=ops_headers).text
    assert _sample(counted, "pointlabel_errors_total", code="task_not_found", channel="http") == 1


def test_tile_requests_and_ingested_points_are_counted(
    client: TestClient, engine: Engine, scene_id: int, tmp_path: Path
) -> None:
    ops_headers = _admin_token(engine)
    hierarchy = client.get(f"/api/scenes/{scene_id}/frames/0/hierarchy").json()
    digest = hierarchy["nodes"][0]["tile"]
    first = client.get(f"/api/scenes/{scene_id}/tiles/{digest}")
    again = client.get(
        f"/api/scenes/{scene_id}/tiles/{digest}", headers={"If-None-Match": first.headers["etag"]}
    )
    assert (first.status_code, again.status_code) == (200, 304)
    other = tmp_path / "other.pcd"
    xyz = np.random.default_rng(5).uniform(-20, 20, (5000, 3)).astype(np.float32)
    write_pcd(other, xyz, {})
    up = client.post(
        "/api/scenes?filename=other.pcd", content=other.read_bytes(),
        headers={"Content-Type": "application/octet-stream"},
    )  # fmt: skip
    assert up.status_code == 201 and up.json()["points"] == 5000
    text = client.get("/metrics", headers=ops_headers).text
    assert _sample(text, "pointlabel_tile_requests_total", result="sent") == 1
    assert _sample(text, "pointlabel_tile_requests_total", result="not_modified") == 1
    assert _sample(text, "pointlabel_ingested_points_total") == 5000


def test_log_lines_are_json_with_the_request_id_and_the_user(client: TestClient) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("pointlabel")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        mine = client.get("/api/me", headers={"X-Request-ID": "trace-42"})
        odd = client.get("/api/me", headers={"X-Request-ID": "no spaces {allowed}"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert mine.headers["x-request-id"] == "trace-42"
    assert odd.headers["x-request-id"] != "no spaces {allowed}"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [x for x in lines if x["logger"] == "pointlabel.access"]
    assert len(access) == 2
    first = access[0]
    assert first["request_id"] == "trace-42" and first["user"] == "tester"
    assert (first["method"], first["path"], first["status"]) == ("GET", "/api/me", 200)
    assert access[1]["request_id"] == odd.headers["x-request-id"]


def test_shutdown_writes_and_answers_every_batch_already_taken_in(
    settings: Settings, engine: Engine, task_id: int
) -> None:
    app = create_app(settings)
    hub = app.state.hub

    async def scenario() -> list[str]:
        batches = []
        for seq in range(1, 21):
            ops, _, _ = new_box_ops()
            msg = Ops.model_validate({"type": "ops", "client_id": "s1", "seq": seq, "ops": ops})
            batches.append(asyncio.create_task(hub.submit(task_id, "tester", msg, role="lead")))
        await asyncio.sleep(0)  # every batch is queued; none has been written yet
        await hub.drain()
        with Session(engine) as db:  # committed by the time drain returns
            assert len(db.exec(select(Track).where(Track.task_id == task_id)).all()) == 20
        return [(await b).type for b in batches]

    assert asyncio.run(scenario()) == ["ack"] * 20
