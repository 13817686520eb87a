"""Where tiles live: content-addressed, immutable blobs behind one interface.

A tile is stored once per ``Content-Encoding`` (``gzip`` and ``br``) under its
content hash and shared by every scene that uses it (docs/tiles.md). Ingest
puts copies, the tile route serves them, scene deletion deletes the copies no
other scene uses, and ``pointlabel doctor`` checks they are there. Nothing else
touches tile storage, so another store (an S3-compatible bucket; docs/scaling.md)
is one more implementation of :class:`TileStore`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from fastapi.responses import FileResponse, Response

ENCODINGS = ("gzip", "br")
"""The stored copies of a tile, by ``Content-Encoding``."""
SUFFIXES = {"gzip": ".bin.gz", "br": ".bin.br"}
"""File suffix of each stored copy on local disk."""


class TileStore(Protocol):
    """Content-addressed tile copies. ``digest`` is a tile's 32-hex content hash and
    ``encoding`` one of :data:`ENCODINGS`; a stored copy never changes."""

    def has(self, digest: str, encoding: str) -> bool:
        """Whether the copy is stored."""
        ...

    def put(self, digest: str, encoding: str, payload: bytes) -> None:
        """Store a copy atomically (a reader sees all of it or nothing); keeps an
        existing copy (same hash, same bytes)."""
        ...

    def get(self, digest: str, encoding: str) -> bytes:
        """The copy's bytes; :class:`FileNotFoundError` when it is not stored."""
        ...

    def response(self, digest: str, encoding: str, headers: dict[str, str]) -> Response:
        """An HTTP response sending the copy with ``headers`` (a local file is streamed
        from disk; an object store would redirect to a signed URL)."""
        ...

    def delete(self, digest: str) -> bool:
        """Remove every copy of the tile; False when one could not be removed."""
        ...


class LocalTileStore:
    """Tiles as files under ``root/<first two hex digits>/<digest><suffix>``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str, encoding: str = "gzip") -> Path:
        return self.root / digest[:2] / f"{digest}{SUFFIXES[encoding]}"

    def has(self, digest: str, encoding: str) -> bool:
        return self.path(digest, encoding).is_file()

    def put(self, digest: str, encoding: str, payload: bytes) -> None:
        target = self.path(digest, encoding)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(payload)
        tmp.replace(target)

    def get(self, digest: str, encoding: str) -> bytes:
        return self.path(digest, encoding).read_bytes()

    def response(self, digest: str, encoding: str, headers: dict[str, str]) -> Response:
        return FileResponse(
            self.path(digest, encoding), media_type="application/octet-stream", headers=headers
        )

    def delete(self, digest: str) -> bool:
        gone = True
        for encoding in ENCODINGS:
            try:
                self.path(digest, encoding).unlink(missing_ok=True)
            except OSError:
                gone = False
        return gone
