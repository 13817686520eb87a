"""Content-addressed LOD tiles (docs/tiles.md): immutable, cached for a year."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from server.api.deps import SettingsDep
from server.api.errors import ApiError
from server.ingest import tile_path

router = APIRouter(prefix="/api/tiles", tags=["tiles"])
HEX = frozenset("0123456789abcdef")


@router.get(
    "/{digest}",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The tile (gzip)"},
        304: {"description": "Not modified"},
    },
)
def tile(digest: str, request: Request, settings: SettingsDep) -> Response:
    if len(digest) != 32 or not set(digest) <= HEX:
        raise ApiError(404, "tile_not_found", "no such tile")
    path = tile_path(settings, digest)
    if not path.exists():
        raise ApiError(404, "tile_not_found", "no such tile")
    etag = f'"{digest}"'
    headers = {"Cache-Control": "public, max-age=31536000, immutable", "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return FileResponse(
        path,
        media_type="application/octet-stream",
        headers={**headers, "Content-Encoding": "gzip"},
    )
