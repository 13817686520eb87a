"""A private PostgreSQL server for the test run: Debian's ``initdb`` and ``pg_ctl``.

The server listens on 127.0.0.1 on a free port with its socket in a temporary
directory, runs as the ``postgres`` user when the tests run as root (PostgreSQL
refuses to run as root), and is stopped and removed when the run ends. Each
test gets its own database, copied from a template that the migrations built
once, and dropped after the test.

The cluster is a throwaway one, so it runs with ``fsync=off`` (commits are not
forced to the disk; ``synchronous_commit`` stays on, so the server still
answers a commit only once it is in the WAL). Production keeps PostgreSQL's
defaults: docs/scaling.md.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from server.config import Settings
from server.db import make_engine

TEMPLATE = "pointlabel_template"


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding ``initdb`` and ``pg_ctl``."""
    found = []
    for d in glob.glob("/usr/lib/postgresql/*/bin"):
        bin_dir = Path(d)
        if (bin_dir / "initdb").exists() and (bin_dir / "pg_ctl").exists():
            version = bin_dir.parent.name
            found.append((int(version) if version.isdigit() else 0, bin_dir))
    return max(found)[1] if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One running PostgreSQL cluster in a temporary directory."""

    def __init__(self, bin_dir: Path, *, durable: bool = False) -> None:
        self.bin_dir = bin_dir
        self.durable = durable
        """True: PostgreSQL's own fsync settings (measurements); False: ``fsync=off``."""
        self.root = Path(tempfile.mkdtemp(prefix="pointlabel-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.port = _free_port()
        self._as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self._names = itertools.count(1)
        self._admin: Engine | None = None

    def start(self) -> None:
        self.sockets.mkdir()
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.sockets, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--locale=C", "--no-sync")  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sockets} -c max_connections=300"
        )
        if not self.durable:
            options += " -c fsync=off -c full_page_writes=off"
        log = str(self.root / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-w", "-o", options, "start")
        self._admin = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with self._admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {TEMPLATE}"))
        template = make_engine(self.url(TEMPLATE))  # the migrations, once
        template.dispose()

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.dispose()
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database`` on this server (psycopg 3 driver)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new database with the migrated schema and no rows; returns its name."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        assert self._admin is not None
        with self._admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, closing whatever connections a test left open."""
        assert self._admin is not None
        with self._admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))

    def _run(self, program: str, *args: str) -> None:
        cmd = [*self._as_postgres, str(self.bin_dir / program), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr[-2000:]}")


def database_bytes(settings: Settings) -> bytes:
    """Every byte SQLite wrote (the database file and its write-ahead log), or the whole
    PostgreSQL database as ``pg_dump`` writes it: to show what is stored, and what not."""
    if settings.database_url is None:
        files = sorted(settings.data_dir.glob("pointlabel.db*"))
        return b"".join(p.read_bytes() for p in files)
    bin_dir, url = find_bin_dir(), settings.database_url.replace("+psycopg", "")
    assert bin_dir is not None
    return subprocess.run([str(bin_dir / "pg_dump"), url], capture_output=True, check=True).stdout
