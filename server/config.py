"""Settings, read once from the environment (prefix ``POINTLABEL_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from server.tile_store import LocalTileStore


class Settings(BaseSettings):
    """Where data lives and how the server behaves."""

    model_config = SettingsConfigDict(env_prefix="POINTLABEL_")

    data_dir: Path = Path("pointlabel-data")
    database_url: str | None = None
    default_user: str = "local"
    max_message_bytes: int = 1_000_000
    max_ops_per_message: int = 500
    ws_max_backlog: int = 10_000
    """Most messages waiting for one websocket: a client that falls further behind is
    closed with 1013 and catches up when it reconnects (server/hub.py)."""
    max_node_points: int = 65536
    max_concurrent_ingests: int = 2
    """Uploads ingested at once; others wait for a slot after their body is received."""
    max_upload_bytes: int = 4 * 2**30
    """Largest upload body (bytes): ~120M points of uncompressed LAS, far more as LAZ."""
    tls: bool = False
    """The server is reached over HTTPS (directly or behind a TLS proxy): cookies get Secure."""
    allowed_origins: list[str] = []
    """Browser origins (``https://label.example.com``) allowed besides the request's own host."""
    session_idle_seconds: int = 12 * 3600
    """A session unused this long expires (12 h)."""
    session_max_seconds: int = 7 * 24 * 3600
    """A session expires this long after login, however active (7 days)."""
    login_window_seconds: int = 15 * 60
    """The sliding window of the login rate limit (15 min)."""
    login_max_failures_per_name: int = 5
    """Failed logins for one user name within the window before 429 ``too_many_attempts``."""
    login_max_failures_per_ip: int = 20
    """Failed logins from one client IP within the window before 429 ``too_many_attempts``."""

    dask_scheduler: str | None = None
    """The Dask scheduler (``tcp://HOST:PORT``) that ``pointlabel ingest --dask`` uses;
    unset: a local cluster of ``dask_workers`` processes (server/bulk.py)."""
    dask_workers: int = 2
    """Worker processes of the local Dask cluster (one thread each)."""

    sql_timeout_seconds: float = 5.0
    """The SQL console stops a statement after this long (seconds)."""
    sql_max_rows: int = 10_000
    """The most rows the SQL console returns for one statement."""

    @property
    def db_url(self) -> str:
        """SQLAlchemy URL; a SQLite file in the data directory unless set."""
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'pointlabel.db'}"

    @property
    def tiles_dir(self) -> Path:
        return self.data_dir / "tiles"

    @property
    def tile_store(self) -> LocalTileStore:
        """Where tiles are stored (server/tile_store.py): files under ``tiles_dir``."""
        return LocalTileStore(self.tiles_dir)

    @property
    def frames_dir(self) -> Path:
        return self.data_dir / "frames"


@lru_cache
def get_settings() -> Settings:
    return Settings()
