"""Content-addressed LOD tiles (docs/tiles.md): immutable, cached for a year by the
browser, and served only to users who may see a scene that uses them."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from server.api.deps import SceneDep, SettingsDep, needs
from server.errors import ApiError
from server.ingest import tile_path
from server.policy import Permission

router = APIRouter(prefix="/api/scenes/{scene_id}/tiles", tags=["tiles"])
HEX = frozenset("0123456789abcdef")


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
        200: {"content": {"application/octet-stream": {}}, "description": "The tile (gzip)"},
        304: {"description": "Not modified"},
    },
)
def tile(digest: str, scene: SceneDep, request: Request, settings: SettingsDep) -> Response:
    """One tile of a scene the user may see (404 for a tile the scene does not use)."""
    if len(digest) != 32 or not set(digest) <= HEX:
        raise ApiError(404, "tile_not_found", "no such tile")
    path = tile_path(settings, digest)
    if digest not in scene_tiles(settings.frames_dir / scene.storage, scene.frame_count):
        raise ApiError(404, "tile_not_found", "no such tile in this scene")
    if not path.exists():
        raise ApiError(404, "tile_not_found", "no such tile")
    etag = f'"{digest}"'
    headers = {"Cache-Control": "private, max-age=31536000, immutable", "ETag": etag}
    metrics = request.app.state.metrics
    if request.headers.get("if-none-match") == etag:
        metrics.tiles.labels(result="not_modified").inc()
        return Response(status_code=304, headers=headers)
    metrics.tiles.labels(result="sent").inc()
    return FileResponse(
        path,
        media_type="application/octet-stream",
        headers={**headers, "Content-Encoding": "gzip"},
    )
