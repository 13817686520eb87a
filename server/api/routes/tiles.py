"""Content-addressed LOD tiles (docs/tiles.md): immutable, cached for a year.

Every tile is stored twice, compressed at build time: brotli, sent to clients
whose ``Accept-Encoding`` allows ``br``, and gzip for everyone else.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from server.api.deps import SettingsDep
from server.api.errors import ApiError
from server.ingest import tile_path

router = APIRouter(prefix="/api/tiles", tags=["tiles"])
HEX = frozenset("0123456789abcdef")
CACHE = "public, max-age=31536000, immutable"


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


@router.get(
    "/{digest}",
    response_class=Response,
    responses={
        200: {
            "content": {"application/octet-stream": {}},
            "description": "The tile, brotli (Content-Encoding: br) or gzip",
        },
        304: {"description": "Not modified"},
    },
)
def tile(digest: str, request: Request, settings: SettingsDep) -> Response:
    if len(digest) != 32 or not set(digest) <= HEX:
        raise ApiError(404, "tile_not_found", "no such tile")
    encoding = "br" if accepts_brotli(request.headers.get("accept-encoding")) else "gzip"
    path = tile_path(settings, digest, encoding)
    if encoding == "br" and not path.exists():  # stored before brotli copies existed
        encoding, path = "gzip", tile_path(settings, digest)
    if not path.exists():
        raise ApiError(404, "tile_not_found", "no such tile")
    etag = f'"{digest}-{encoding}"'  # a strong validator names one representation
    headers = {"Cache-Control": CACHE, "ETag": etag, "Vary": "Accept-Encoding"}
    if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    return FileResponse(
        path,
        media_type="application/octet-stream",
        headers={**headers, "Content-Encoding": encoding},
    )
