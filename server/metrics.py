"""What an operator scrapes: Prometheus metrics of one server process (``/metrics``).

Each app has its own registry (no global state, so test apps do not share
counters). The write path counts what it commits, the hub exposes its live
sockets and queue, and every JSON error is counted by its stable code.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Seconds; the protocol's goal is an ack p99 under 25 ms."""


class Metrics:
    """The counters, gauges and histograms of one server process."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.replies = Counter(
            "pointlabel_batch_replies", "Batches answered, by reply type (ack/reject/conflict)",
            ["type"], registry=r,
        )  # fmt: skip
        self.ops = Counter(
            "pointlabel_ops_committed", "Ops applied and committed (acknowledged batches)",
            registry=r,
        )  # fmt: skip
        self.ack_latency = Histogram(
            "pointlabel_ack_latency_seconds",
            "From a batch entering the write queue to its reply (after the commit)",
            buckets=ACK_BUCKETS, registry=r,
        )  # fmt: skip
        self.errors = Counter(
            "pointlabel_errors", "JSON errors answered, by stable code (HTTP and websocket)",
            ["code", "channel"], registry=r,
        )  # fmt: skip
        self.sockets = Gauge("pointlabel_websockets", "Open label-set websockets", registry=r)
        self.queue = Gauge("pointlabel_write_queue_depth", "Batches waiting to be written",
                           registry=r)  # fmt: skip
        self.ingested_points = Counter(
            "pointlabel_ingested_points", "Points ingested into scenes", registry=r
        )
        self.tiles = Counter(
            "pointlabel_tile_requests", "Tile requests, by result (sent / not_modified)",
            ["result"], registry=r,
        )  # fmt: skip

    def watch(self, sockets: Callable[[], int], queue: Callable[[], int]) -> None:
        """Read the live gauges from their owner at scrape time."""
        self.sockets.set_function(lambda: float(sockets()))
        self.queue.set_function(lambda: float(queue()))

    def error(self, code: str, channel: str = "http") -> None:
        self.errors.labels(code=code, channel=channel).inc()

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
