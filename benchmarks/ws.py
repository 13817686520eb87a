"""`pointlabel bench ws`: live-edit throughput and ack latency over real websockets.

A server process on loopback serves a generated one-frame scene. 32 clients
(asyncio, one process) each own one cuboid and stream updates of it: first as
fast as acks return (throughput), then at a steady 20 Hz drag rate (latency).
The same harness against the server's no-op echo endpoint gives the peer.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect

CLIENTS = 32
BURST_S = 4.0
DRAG_S = 4.0
DRAG_HZ = 20.0


def run_ws(
    *, clients: int = CLIENTS, burst_s: float = BURST_S, drag_s: float = DRAG_S
) -> dict[str, Any]:
    """Start a server over a fresh data directory and measure; see the module docstring."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        scene = _prepare(data)
        port = _free_port()
        proc = _serve(data, port)
        try:
            return asyncio.run(_measure(port, scene, clients, burst_s, drag_s))
        finally:
            proc.kill()
            proc.wait()


def _prepare(data: Path) -> int:
    from pointcloud.io.pcd import write_pcd

    rng = np.random.default_rng(0)
    xyz = np.c_[rng.uniform(-40, 40, (100_000, 2)), rng.normal(-1.7, 0.03, 100_000)]
    cloud = data / "ground.pcd"
    write_pcd(cloud, xyz, {"intensity": rng.uniform(0, 1, len(xyz)).astype(np.float32)})
    out = subprocess.run(
        [sys.executable, "-m", "server.cli", "ingest", str(cloud), "--json"],
        env={**os.environ, "POINTLABEL_DATA_DIR": str(data / "pl")},
        capture_output=True,
        text=True,
        check=True,
    )
    return int(json.loads(out.stdout)["scene_id"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(data: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
        env={**os.environ, "POINTLABEL_DATA_DIR": str(data / "pl")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


class Client:
    """One websocket client owning one cuboid; ``update`` sends a move and waits for its ack."""

    def __init__(self, ws: ClientConnection, scene: bool) -> None:
        self.ws, self.scene = ws, scene
        self.client_id = uuid.uuid4().hex
        self.seq, self.base = 0, 0
        self.track, self.cuboid = uuid.uuid4().hex, uuid.uuid4().hex

    async def reply(self) -> dict[str, Any]:
        while True:
            msg: dict[str, Any] = json.loads(await self.ws.recv())
            if msg["type"] in ("ack", "reject", "conflict"):
                return msg

    async def setup(self) -> None:
        if not self.scene:
            return
        await self.ws.send(json.dumps({"type": "hello", "client_id": self.client_id}))
        x, y = np.random.default_rng(abs(hash(self.cuboid)) % 2**32).uniform(-30, 30, 2)
        ops = [
            {"op": "create", "kind": "track", "id": self.track, "data": {"label": "Other"}},
            {
                "op": "create",
                "kind": "cuboid",
                "id": self.cuboid,
                "data": {
                    "track_id": self.track,
                    "frame": 0,
                    "center": [x, y, -1.5],
                    "size": [1.0, 1.0, 1.0],
                    "yaw": 0.0,
                },
            },
        ]
        ack = await self._send(ops)
        self.base = ack["revisions"][self.cuboid]

    async def _send(self, ops: list[dict[str, Any]]) -> dict[str, Any]:
        self.seq += 1
        await self.ws.send(
            json.dumps({"type": "ops", "seq": self.seq, "client_id": self.client_id, "ops": ops})
        )
        return await self.reply()

    async def update(self, step: int) -> float:
        start = time.perf_counter()
        op = {
            "op": "update",
            "kind": "cuboid",
            "id": self.cuboid,
            "base_revision": self.base,
            "data": {"yaw": (step % 60) * 0.05},
        }
        ack = await self._send([op])
        if ack["type"] != "ack":
            raise RuntimeError(f"benchmark edit refused: {ack}")
        self.base = ack["revisions"].get(self.cuboid, self.base) if self.scene else self.base
        return time.perf_counter() - start


async def _clients(url: str, n: int, scene: bool) -> list[Client]:
    conns = [await connect(url, compression=None, max_size=None) for _ in range(n)]
    clients = [Client(c, scene) for c in conns]
    await asyncio.gather(*(c.setup() for c in clients))
    return clients


async def _burst(clients: list[Client], seconds: float) -> tuple[int, float]:
    deadline = time.perf_counter() + seconds
    counts = [0] * len(clients)

    async def loop(i: int, c: Client) -> None:
        while time.perf_counter() < deadline:
            await c.update(counts[i])
            counts[i] += 1

    start = time.perf_counter()
    await asyncio.gather(*(loop(i, c) for i, c in enumerate(clients)))
    return sum(counts), time.perf_counter() - start


async def _drag(clients: list[Client], seconds: float) -> list[float]:
    latencies: list[float] = []
    period = 1.0 / DRAG_HZ

    async def loop(i: int, c: Client) -> None:
        await asyncio.sleep(period * i / len(clients))  # spread the clients over a period
        nxt = time.perf_counter()
        for step in range(int(seconds * DRAG_HZ)):
            latencies.append(await c.update(step))
            nxt += period
            await asyncio.sleep(max(0.0, nxt - time.perf_counter()))

    await asyncio.gather(*(loop(i, c) for i, c in enumerate(clients)))
    return latencies


async def _measure(port: int, scene: int, n: int, burst_s: float, drag_s: float) -> dict[str, Any]:
    base = f"ws://127.0.0.1:{port}"
    result: dict[str, Any] = {"ws_clients": n}
    for url, is_scene in ((f"{base}/ws/echo", False), (f"{base}/ws/scenes/{scene}", True)):
        clients = await _clients(url, n, is_scene)
        edits, elapsed = await _burst(clients, burst_s)
        latencies = np.array(await _drag(clients, drag_s)) * 1000.0
        for c in clients:
            await c.ws.close()
        prefix = "ws" if is_scene else "ws_echo"
        result[f"{prefix}_edits_per_s"] = edits / elapsed
        result[f"{prefix}_ack_p50_ms"] = float(np.percentile(latencies, 50))
        result[f"{prefix}_ack_p99_ms"] = float(np.percentile(latencies, 99))
        result[f"{prefix}_drag_edits"] = len(latencies)
    result["ws_vs_echo"] = result["ws_edits_per_s"] / result["ws_echo_edits_per_s"]
    result["goals_ws"] = {
        "ws_edits_per_s": {
            "target": ">= 2000",
            "value": result["ws_edits_per_s"],
            "met": result["ws_edits_per_s"] >= 2000,
        },
        "ws_ack_p99_ms": {
            "target": "<= 25",
            "value": result["ws_ack_p99_ms"],
            "met": result["ws_ack_p99_ms"] <= 25,
        },
        "ws_vs_echo": {
            "target": ">= 0.5",
            "value": result["ws_vs_echo"],
            "met": result["ws_vs_echo"] >= 0.5,
        },
    }
    return result
