"""``pointlabel serve --workers N``: N processes on one port, on PostgreSQL only."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from websockets.asyncio.client import connect

from server.cli import main
from server.config import Settings, get_settings
from server.launch import free_port, start_server
from server.tasks import worker_token
from tests.conftest import POSTGRESQL_ONLY, TEST_USER
from tests.test_ws import new_box_ops


def test_several_workers_on_sqlite_are_refused_with_a_clear_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POINTLABEL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("POINTLABEL_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        assert main(["serve", "--workers", "2", "--port", str(free_port())]) == 2
    finally:
        get_settings.cache_clear()
    error = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert error["error"] == "workers_need_postgresql"
    assert str(tmp_path) not in error["message"]


@POSTGRESQL_ONLY
def test_two_worker_processes_on_one_port_serve_edits(
    settings: Settings, engine: Engine, task_id: int
) -> None:
    """Clients of ``serve --workers 2`` (spread over both by the kernel) all get acks
    and each other's events."""
    assert settings.database_url is not None
    token = worker_token(engine, TEST_USER)
    port = free_port()
    proc = start_server(settings.data_dir, port, timeout=180, args=("--workers", "2"),
                        env={"POINTLABEL_DATABASE_URL": settings.database_url})  # fmt: skip

    async def run() -> None:
        url = f"ws://127.0.0.1:{port}/ws/tasks/{task_id}"
        auth = {"Authorization": f"Bearer {token}"}
        clients = [await connect(url, additional_headers=auth) for _ in range(4)]
        for i, ws in enumerate(clients):
            await ws.send(json.dumps({"type": "hello", "client_id": f"w{i}"}))
            while json.loads(await asyncio.wait_for(ws.recv(), 60))["type"] != "snapshot":
                pass
        for i, ws in enumerate(clients):
            ops, _, _ = new_box_ops(center=(5.0 + i, 0.0, -0.9))
            await ws.send(json.dumps({"type": "ops", "seq": 1, "client_id": f"w{i}", "ops": ops}))
        for ws in clients:  # each: its ack, and the three others' events
            acks, events = 0, 0
            while acks + events < 4:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 60))
                acks += msg["type"] == "ack"
                events += msg["type"] == "event"
            assert (acks, events) == (1, 3)
            await ws.close()

    try:
        asyncio.run(run())
    finally:
        proc.terminate()  # uvicorn stops its workers
        proc.wait(timeout=60)
