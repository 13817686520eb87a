"""Start `pointlabel serve` in a child process on a free loopback port.

Used by the durability harness, the benchmarks and the e2e fixtures, which
all need a real server process that they can kill and restart.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    data_dir: Path,
    port: int,
    *,
    quiet: bool = True,
    timeout: float = 30.0,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    """A server over ``data_dir`` on ``port``, returned once it accepts connections.
    ``env``: more environment (``POINTLABEL_DATABASE_URL``); ``args``: more ``serve``
    arguments (``--workers 2``)."""
    out = subprocess.DEVNULL if quiet else None
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port), *args],
        env={**os.environ, "POINTLABEL_DATA_DIR": str(data_dir), **(env or {})},
        cwd=Path(__file__).resolve().parents[1],
        stdout=out,
        stderr=out,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"the server did not accept connections within {timeout:.0f} s")
