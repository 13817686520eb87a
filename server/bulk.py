"""Bulk work on a Dask cluster: the frames of an ingest encoded by Dask workers.

What runs where (docs/scaling.md, "Dask for bulk work"):
- a Dask worker runs ``pointcloud.frame_job.encode_frame`` for one frame: it
  reads the file, builds the octree and encodes every tile (gzip and brotli),
  and sends back the bytes; it touches neither the database nor the data
  directory;
- this process (the one that owns the database) writes each frame's tiles,
  hierarchy and points as it arrives and inserts the rows once every frame is
  in (``server/ingest.py``), so a frame that fails, or a worker that dies,
  leaves no rows and no stored frame referencing anything.

The cluster is a ``distributed.LocalCluster`` of worker processes on this
machine (``workers`` of them, one thread each, no dashboard, listening on
127.0.0.1 only) unless a scheduler address is given (``--dask-scheduler`` or
``POINTLABEL_DASK_SCHEDULER``): then that cluster's workers must have
PointLabel installed and read the input files at the same paths.
"""

from __future__ import annotations

import logging
import re
import uuid
import warnings
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

import dask
from distributed import CancelledError, Client, Future, KilledWorker, LocalCluster, as_completed

from pointcloud.frame_job import EncodedFrame, encode_frame
from server.errors import ApiError
from server.ingest import FrameJob

LOCAL_WORKERS = 2
"""Worker processes of the default local cluster (one thread each)."""
CONNECT_TIMEOUT_S = 10.0
"""How long to wait for a given scheduler to answer (seconds)."""
SCHEDULER_ADDRESS = re.compile(r"^(tcp|tls)://[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")
"""A scheduler address: ``tcp://HOST:PORT`` (or ``tls://``)."""

WORKER_ENVIRON = {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1}
"""The environment of a local cluster's workers: Dask's default less its
``MALLOC_TRIM_THRESHOLD_``, which turns off glibc's adaptive mmap threshold so that
every large numpy array is mapped and unmapped afresh (measured: 1.5x the CPU time
per frame; docs/scaling.md)."""


class DaskError(ApiError):
    """The cluster could not do the work: a stable ``code``; nothing was stored."""


def check_scheduler(address: str) -> str:
    """``address`` stripped, or 422 ``invalid_dask_scheduler`` if it is not ``tcp://HOST:PORT``."""
    address = address.strip()
    if not SCHEDULER_ADDRESS.match(address):
        raise DaskError(
            422,
            "invalid_dask_scheduler",
            f"a Dask scheduler address is tcp://HOST:PORT, not {address[:100]!r}",
        )
    return address


@contextmanager
def dask_client(
    scheduler: str | None = None,
    *,
    workers: int = LOCAL_WORKERS,
    timeout_s: float = CONNECT_TIMEOUT_S,
) -> Iterator[Client]:
    """A client of the scheduler at ``scheduler``, or of a new local cluster of
    ``workers`` processes when it is None; both are closed on exit.

    Raises :class:`DaskError` 422 ``invalid_dask_scheduler`` for a malformed
    address and 503 ``dask_unreachable`` when no scheduler answers within
    ``timeout_s`` seconds.
    """
    if scheduler is not None:
        address = check_scheduler(scheduler)
        try:
            client = Client(address, timeout=timeout_s, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise DaskError(
                503, "dask_unreachable", f"no Dask scheduler answered at {address}"
            ) from exc
        try:
            yield client
        finally:
            client.close()
        return
    if workers < 1:
        raise DaskError(422, "invalid_dask_workers", "a local Dask cluster needs 1 or more workers")
    with (
        dask.config.set({"distributed.nanny.pre-spawn-environ": WORKER_ENVIRON}),
        warnings.catch_warnings(),
    ):
        # the scheduler's plain HTTP endpoint (health, no dashboard) tries port 8787 first
        # and says so when another cluster has it; it then takes a free port on 127.0.0.1
        warnings.filterwarnings("ignore", message="Port 8787 is already in use")
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    try:
        with Client(cluster, set_as_default=False) as client:
            yield client
    finally:
        cluster.close()


class DaskEncoder:
    """A :data:`~server.ingest.FrameEncoder` that encodes every frame on ``client``'s
    cluster, one task per frame, and yields them as they finish.

    ``report`` gets one line per finished frame (``frame 3/40 done: 000002.pcd,
    120,345 points, 9 tiles, encoded by host:pid``). A frame's own error (an
    unreadable file) is raised as it is; a lost worker or scheduler as
    :class:`DaskError` ``dask_failed``. The frames not yet yielded are cancelled
    when the iterator is closed.

    :meth:`prefetch` submits frames ahead of the ingest that will ask for them (the
    frames of the next scenes of a bulk ingest), so the workers never wait for
    one scene to be stored before starting on the next.
    """

    def __init__(self, client: Client, report: Callable[[str], None] | None = None) -> None:
        self.client, self.report = client, report
        self._batch = uuid.uuid4().hex[:12]
        self._submitted = 0
        self._ahead: dict[tuple[Path, int], list[Future]] = {}

    def prefetch(self, files: list[Path], max_node_points: int) -> None:
        """Start encoding ``files`` now; a later call for the same file takes its result."""
        for file in files:
            key = (file, max_node_points)
            self._ahead.setdefault(key, []).append(self._submit(file, max_node_points))

    def cancel(self) -> None:
        """Cancel the prefetched frames no ingest asked for."""
        self.client.cancel([f for futures in self._ahead.values() for f in futures])
        self._ahead.clear()

    def __call__(
        self, jobs: list[FrameJob], max_node_points: int
    ) -> Generator[tuple[int, EncodedFrame], None, None]:
        futures: dict[Future, FrameJob] = {}
        for index, file in jobs:
            ahead = self._ahead.get((file, max_node_points))
            future = ahead.pop(0) if ahead else self._submit(file, max_node_points)
            futures[future] = (index, file)
        done = 0
        try:
            finished = as_completed(list(futures), loop=self.client.loop, with_results=True)
            while True:
                try:
                    future, frame = next(finished)
                except StopIteration:
                    return
                except (KilledWorker, CancelledError, OSError) as exc:
                    raise DaskError(
                        500,
                        "dask_failed",
                        f"the Dask cluster lost a frame ({type(exc).__name__}); nothing was stored",
                    ) from exc
                index, file = futures[future]
                done += 1
                if self.report is not None:
                    self.report(_line(done, len(jobs), file, frame))
                yield index, frame
        finally:
            self.client.cancel(list(futures))

    def _submit(self, file: Path, max_node_points: int) -> Future:
        self._submitted += 1
        return self.client.submit(
            encode_frame,
            file,
            max_node_points=max_node_points,
            key=f"encode-frame-{self._batch}-{self._submitted}",
            pure=False,
            retries=0,
        )


def dask_encoder(client: Client, report: Callable[[str], None] | None = None) -> DaskEncoder:
    """A :class:`DaskEncoder` on ``client``'s cluster (``report``: a line per frame)."""
    return DaskEncoder(client, report)


def _line(done: int, total: int, file: Path, frame: EncodedFrame) -> str:
    return (
        f"frame {done}/{total} done: {file.name}, {frame.points:,} points, "
        f"{len(frame.tiles)} tiles, encoded by {frame.worker}"
    )
