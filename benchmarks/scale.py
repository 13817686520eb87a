"""`pointlabel bench scale`: the `bench ws` harness on PostgreSQL with two workers.

A private PostgreSQL cluster (Debian's ``initdb``/``pg_ctl``, ``tests/pg.py``) with
its durable defaults (``fsync=on``, ``synchronous_commit=on``), 32 one-frame scenes
ingested into it, and ``pointlabel serve --workers 2`` on one port (the kernel
spreads the clients over the two processes). The same 32 clients as ``bench ws``,
each on its own task: first as fast as acks return (edits/s), then at 20 Hz each
(ack latency).

``dask_ingest_speedup_2workers`` and the other ``dask_`` keys come from
``benchmarks/dask_ingest.py`` (in-process ingest of a generated 40-frame sequence
against a local Dask cluster of two workers); they need no PostgreSQL.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import ws
from benchmarks.dask_ingest import run_dask_ingest
from server.launch import free_port, start_server

WORKERS = 2
REPO_ROOT = Path(__file__).resolve().parents[1]


def run_scale(
    *, clients: int = ws.CLIENTS, burst_s: float = ws.BURST_S, drag_s: float = ws.DRAG_S
) -> dict[str, Any]:
    """Measure; see the module docstring. Without PostgreSQL installed the keys are null."""
    if str(REPO_ROOT) not in sys.path:  # tests/ is not installed; the repository is
        sys.path.insert(0, str(REPO_ROOT))
    from tests.pg import PostgresServer, find_bin_dir

    result: dict[str, Any] = {
        "ws_edits_per_s_pg_2workers": None,
        "ws_ack_p50_ms_pg_2workers": None,
        "ws_ack_p99_ms_pg_2workers": None,
        "notes_scale": [],
    }
    result.update(run_dask_ingest())
    bin_dir = find_bin_dir()
    if bin_dir is None:
        result["notes_scale"].append("PostgreSQL is not installed: the ws_ keys are not measured")
        return result
    try:
        figures = _pg_run(PostgresServer(bin_dir, durable=True), clients, burst_s, drag_s)
    except (RuntimeError, OSError) as exc:  # the Dask keys above are kept
        result["notes_scale"].append(f"the PostgreSQL run failed: {exc}")
        return result
    result["ws_edits_per_s_pg_2workers"] = figures["edits_per_s"]
    result["ws_ack_p50_ms_pg_2workers"] = figures["ack_p50_ms"]
    result["ws_ack_p99_ms_pg_2workers"] = figures["ack_p99_ms"]
    result.setdefault("goals_scale", {})["ws_ack_p99_ms_pg_2workers"] = {
        "target": "<= 25", "value": figures["ack_p99_ms"], "met": figures["ack_p99_ms"] <= 25
    }  # fmt: skip
    return result


def _pg_run(pg: Any, clients: int, burst_s: float, drag_s: float) -> dict[str, float]:
    """The ws harness against ``serve --workers 2`` on a fresh durable PostgreSQL."""
    pg.start()
    try:
        url = pg.url(pg.create_database())
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp)
            scenes = ws._prepare(data, clients, database_url=url)
            port = free_port()
            proc = start_server(data / "pl", port, timeout=120,
                                env={"POINTLABEL_DATABASE_URL": url},
                                args=("--workers", str(WORKERS)))  # fmt: skip
            try:
                urls = [f"ws://127.0.0.1:{port}/ws/tasks/{s}" for s in scenes]
                figures = asyncio.run(ws._run(urls, True, burst_s, drag_s))
            finally:
                proc.terminate()  # uvicorn stops its workers
                proc.wait(timeout=60)
    finally:
        pg.stop()
    return figures
