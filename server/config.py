"""Settings, read once from the environment (prefix ``POINTLABEL_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where data lives and how the server behaves."""

    model_config = SettingsConfigDict(env_prefix="POINTLABEL_")

    data_dir: Path = Path("pointlabel-data")
    database_url: str | None = None
    default_user: str = "local"
    max_message_bytes: int = 1_000_000
    max_ops_per_message: int = 500
    max_node_points: int = 65536
    max_upload_bytes: int = 4 * 2**30
    """Largest upload body (bytes): ~120M points of uncompressed LAS, far more as LAZ."""

    @property
    def db_url(self) -> str:
        """SQLAlchemy URL; a SQLite file in the data directory unless set."""
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'pointlabel.db'}"

    @property
    def tiles_dir(self) -> Path:
        return self.data_dir / "tiles"

    @property
    def frames_dir(self) -> Path:
        return self.data_dir / "frames"


@lru_cache
def get_settings() -> Settings:
    return Settings()
