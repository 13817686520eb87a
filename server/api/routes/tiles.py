"""Content-addressed LOD tiles (docs/tiles.md): immutable, cached for a year by the
browser, and served only to users who may see a scene that uses them.

Every tile is stored twice, compressed at build time: brotli, sent to clients
whose ``Accept-Encoding`` allows ``br``, and gzip for everyone else.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from server.api.deps import SceneDep, SettingsDep, needs
from server.errors import ApiError
from server.policy import Permission

router = APIRouter(prefix="/api/scenes/{scene_id}/tiles", tags=["tiles"])
HEX = frozenset("0123456789abcdef")
CACHE = "private, max-age=31536000, immutable"
"""Private: a tile is served only to users who may see its scene, so no shared cache keeps it."""


def accepts_brotli(accept_encoding: str | None) -> bool:
    """Whether an ``Accept-Encoding`` header allows ``br`` (listed, or ``*``, with q > 0)."""
    allowed: dict[str, bool] = {}
    for item in (accept_encoding or "").split(","):
        name, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        allowed[name.strip().lower()] = q > 0
    return allowed.get("br", allowed.get("*", False))


@lru_cache(maxsize=256)
def scene_tiles(frames_dir: Path, frame_count: int) -> frozenset[str]:
    """Every tile digest the scene's frame hierarchies reference (a scene never changes)."""
    digests: set[str] = set()
    for index in range(frame_count):
        try:
            nodes = json.loads((frames_dir / f"{index}.json").read_text())["nodes"]
        except (OSError, ValueError, KeyError):
            continue
        digests.update(str(n.get("tile")) for n in nodes if isinstance(n, dict))
    return frozenset(digests)


@router.get(
    "/{digest}",
    response_class=Response,
    dependencies=[needs(Permission.view)],
    responses={
        200: {
            "content": {"application/octet-stream": {}},
            "description": "The tile, brotli (Content-Encoding: br) or gzip",
        },
        304: {"description": "Not modified"},
    },
)
def tile(digest: str, scene: SceneDep, request: Request, settings: SettingsDep) -> Response:
    """One tile of a scene the user may see (404 for a tile the scene does not use)."""
    if len(digest) != 32 or not set(digest) <= HEX:
        raise ApiError(404, "tile_not_found", "no such tile")
    if digest not in scene_tiles(settings.frames_dir / scene.storage, scene.frame_count):
        raise ApiError(404, "tile_not_found", "no such tile in this scene")
    store = settings.tile_store
    encoding = "br" if accepts_brotli(request.headers.get("accept-encoding")) else "gzip"
    if encoding == "br" and not store.has(digest, "br"):  # stored before brotli copies existed
        encoding = "gzip"
    if not store.has(digest, encoding):
        raise ApiError(404, "tile_not_found", "no such tile")
    etag = f'"{digest}-{encoding}"'  # a strong validator names one representation
    headers = {"Cache-Control": CACHE, "ETag": etag, "Vary": "Accept-Encoding"}
    metrics = request.app.state.metrics
    if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        metrics.tiles.labels(result="not_modified").inc()
        return Response(status_code=304, headers=headers)
    metrics.tiles.labels(result="sent").inc()
    return store.response(digest, encoding, {**headers, "Content-Encoding": encoding})
