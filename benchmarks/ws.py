"""`pointlabel bench ws`: live-edit throughput and ack latency over real websockets.

A server process on loopback serves generated one-frame scenes. 32 clients
(asyncio, one process) each own one cuboid and stream updates of it: first as
fast as acks return (throughput), then at a steady 20 Hz drag rate (latency).
The same harness against the server's no-op echo endpoint gives the peer.

The headline keys put each client on its own scene, as annotators work (one
task, one scene): every edit is validated, logged and committed, but has no
one to be broadcast to. The ``ws_shared_*`` keys put all 32 on one scene, so
that every edit is also broadcast to 31 others. The ``ws_slow_consumer_*`` keys
repeat the shared run with a 33rd client on that scene that never reads (a
4 kB receive buffer, its library's queue of one message): its backlog must not
delay anyone else's ack (issue 15: p99 <= 25 ms).

``writer_edits_per_s`` is the in-process peer, measured in the same run on the
same data directory once the server has stopped: the same 32 cuboids' edits
given straight to :meth:`server.annotations.Writer.apply_group` in groups of 32
(one edit per scene, as when all 32 clients have one in flight), each group
committed. ``ws_vs_writer`` is the websocket rate over it.
"""

from __future__ import annotations

import asyncio
import json
import socket
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect

from server.launch import free_port, start_server

TOKEN = ""
"""The API token the clients send (a script user; set when the scenes are prepared)."""

CLIENTS = 32
SKIPPED = ('{"type":"event"', '{"type":"presence"')
"""Messages a client does not wait for (the server writes compact JSON, type first)."""
BURST_S = 4.0
DRAG_S = 4.0
DRAG_HZ = 20.0


def run_ws(
    *, clients: int = CLIENTS, burst_s: float = BURST_S, drag_s: float = DRAG_S
) -> dict[str, Any]:
    """Start a server over a fresh data directory and measure; see the module docstring."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        scenes = _prepare(data, clients)
        port = free_port()
        proc = start_server(data / "pl", port)
        try:
            result = asyncio.run(_measure(port, scenes, burst_s, drag_s))
        finally:
            proc.kill()
            proc.wait()
        result["writer_edits_per_s"] = _writer_rate(data / "pl", scenes, burst_s)
        result["ws_vs_writer"] = result["ws_edits_per_s"] / result["writer_edits_per_s"]
        result["goals_ws"]["ws_vs_writer"] = {
            "target": ">= 0.7", "value": result["ws_vs_writer"], "met": result["ws_vs_writer"] >= 0.7
        }  # fmt: skip
        return result


def _prepare(data: Path, n: int, database_url: str | None = None) -> list[int]:
    """``n`` one-frame scenes of 100k points (the same file ingested ``n`` times), in
    the data directory's SQLite file or in ``database_url``."""
    from pointcloud.io.pcd import write_pcd
    from server.config import Settings
    from server.db import make_engine
    from server.ingest import ingest
    from server.tasks import start_for, worker_token

    rng = np.random.default_rng(0)
    xyz = np.c_[rng.uniform(-40, 40, (100_000, 2)), rng.normal(-1.7, 0.03, 100_000)]
    cloud = data / "ground.pcd"
    write_pcd(cloud, xyz, {"intensity": rng.uniform(0, 1, len(xyz)).astype(np.float32)})
    settings = Settings(data_dir=data / "pl", database_url=database_url)
    engine = make_engine(settings.db_url)
    tasks = [ingest(engine, settings, cloud).task_id or 0 for _ in range(n)]
    global TOKEN
    TOKEN = worker_token(engine, "bench")
    return [start_for(engine, t, "bench") for t in tasks]


class Client:
    """One websocket client owning one cuboid; ``update`` sends a move and waits for its ack."""

    def __init__(self, ws: ClientConnection, scene: bool) -> None:
        self.ws, self.scene = ws, scene
        self.client_id = uuid.uuid4().hex
        self.seq, self.base = 0, 0
        self.track, self.cuboid = uuid.uuid4().hex, uuid.uuid4().hex

    async def reply(self) -> dict[str, Any]:
        """The answer to this client's batch. Other clients' events (the shared runs) are
        skipped unparsed: parsing a backlog of them in this one Python process before
        reaching the ack was the harness's own cost, which the ack latency then carried
        (a browser handles each event as it arrives)."""
        while True:
            raw = await self.ws.recv()
            if isinstance(raw, str) and raw.startswith(SKIPPED):
                continue
            msg: dict[str, Any] = json.loads(raw)
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


async def _clients(urls: list[str], scene: bool) -> list[Client]:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    conns = [
        await connect(url, compression=None, max_size=None, additional_headers=auth) for url in urls
    ]
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


async def _run(urls: list[str], scene: bool, burst_s: float, drag_s: float) -> dict[str, float]:
    clients = await _clients(urls, scene)
    edits, elapsed = await _burst(clients, burst_s)
    latencies = np.array(await _drag(clients, drag_s)) * 1000.0
    for c in clients:
        await c.ws.close()
    return {
        "edits_per_s": edits / elapsed,
        "ack_p50_ms": float(np.percentile(latencies, 50)),
        "ack_p99_ms": float(np.percentile(latencies, 99)),
    }


async def _silent(url: str) -> ClientConnection:
    """A client on ``url`` that says hello and then never reads: its kernel buffer is
    small and its library stops reading after one message, so the server's queue for
    it fills."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = url.split("//")[1].split("/")[0].split(":")
    sock.connect((host, int(port)))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    ws = await connect(url, sock=sock, max_queue=1, compression=None, additional_headers=auth)
    await ws.send(json.dumps({"type": "hello", "client_id": uuid.uuid4().hex}))
    return ws


async def _with_silent(
    url: str, urls: list[str], burst_s: float, drag_s: float
) -> dict[str, float]:
    silent = await _silent(url)
    try:
        return await _run(urls, True, burst_s, drag_s)
    finally:
        silent.transport.abort()


async def _measure(port: int, scenes: list[int], burst_s: float, drag_s: float) -> dict[str, Any]:
    base = f"ws://127.0.0.1:{port}"
    n = len(scenes)
    runs = {
        "ws_echo": await _run([f"{base}/ws/echo"] * n, False, burst_s, drag_s),
        "ws": await _run([f"{base}/ws/tasks/{s}" for s in scenes], True, burst_s, drag_s),
        "ws_shared": await _run([f"{base}/ws/tasks/{scenes[0]}"] * n, True, burst_s, drag_s),
    }
    shared = f"{base}/ws/tasks/{scenes[0]}"
    runs["ws_slow_consumer"] = await _with_silent(shared, [shared] * n, burst_s, drag_s)
    result: dict[str, Any] = {"ws_clients": n, "ws_burst_s": burst_s, "ws_drag_s": drag_s}
    for prefix, figures in runs.items():
        result.update({f"{prefix}_{k}": v for k, v in figures.items()})
    result["ws_vs_echo"] = result["ws_edits_per_s"] / result["ws_echo_edits_per_s"]
    result["goals_ws"] = {
        key: {"target": target, "value": result[key], "met": ok(result[key])}
        for key, target, ok in (
            ("ws_edits_per_s", ">= 4000", lambda v: v >= 4000),
            ("ws_ack_p99_ms", "<= 25", lambda v: v <= 25),
            ("ws_vs_echo", ">= 0.5", lambda v: v >= 0.5),
            ("ws_slow_consumer_ack_p99_ms", "<= 25", lambda v: v <= 25),
        )
    }
    return result


def _writer_rate(data_dir: Path, scenes: list[int], seconds: float) -> float:
    """Edits per second of the in-process writer (see the module docstring)."""
    from server.annotations import Submission, Writer
    from server.config import Settings
    from server.db import make_engine
    from server.frames import FrameStore
    from server.protocol import Ops
    from server.taxonomies import Taxonomies

    settings = Settings(data_dir=data_dir)
    engine = make_engine(settings.db_url)
    writer = Writer(engine, Taxonomies(engine), FrameStore(settings.frames_dir))
    client = uuid.uuid4().hex
    cuboids: dict[int, tuple[str, int | None]] = {}
    for scene in scenes:
        track, cuboid = uuid.uuid4().hex, uuid.uuid4().hex
        x, y = np.random.default_rng(scene).uniform(-30, 30, 2)
        ops = [{"op": "create", "kind": "track", "id": track, "data": {"label": "Other"}},
               {"op": "create", "kind": "cuboid", "id": cuboid,
                "data": {"track_id": track, "frame": 0, "center": [x, y, -1.5],
                         "size": [1.0, 1.0, 1.0], "yaw": 0.0}}]  # fmt: skip
        msg = Ops.model_validate({"type": "ops", "seq": 1, "client_id": client, "ops": ops})
        ack, _ = writer.apply_group([Submission(scene, "bench", msg, role="annotator")])[0]
        assert ack.type == "ack"
        cuboids[scene] = (cuboid, ack.revisions[cuboid])
    seq, edits = 1, 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        seq += 1
        group = []
        for scene, (cuboid, base) in cuboids.items():
            op = {"op": "update", "kind": "cuboid", "id": cuboid, "base_revision": base,
                  "data": {"yaw": (seq % 60) * 0.05}}  # fmt: skip
            msg = Ops.model_validate({"type": "ops", "seq": seq, "client_id": client, "ops": [op]})
            group.append(Submission(scene, "bench", msg, role="annotator"))
        for sub, (reply, _) in zip(group, writer.apply_group(group), strict=True):
            if reply.type != "ack":
                raise RuntimeError(f"benchmark edit refused: {reply}")
            cuboids[sub.task_id] = (
                cuboids[sub.task_id][0],
                reply.revisions[cuboids[sub.task_id][0]],
            )
        edits += len(group)
    return edits / (time.perf_counter() - start)
