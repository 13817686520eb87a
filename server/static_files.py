"""Static files sent compressed: the workspace's modules (three.js alone is 2.1 MB)
must not cross a slow link uncompressed.

Text files (JavaScript, CSS, HTML, JSON, SVG) are compressed once per file
version (path, size and modification time), in memory, with brotli when the
request's ``Accept-Encoding`` allows it, else gzip; other files and clients that
accept neither are served as they are. Each representation has its own ``ETag``;
``Last-Modified`` is the file's.
"""

from __future__ import annotations

import gzip
import os
import threading
from functools import lru_cache

import brotli
from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

from server.api.routes.tiles import accepts_brotli

COMPRESSIBLE = (".js", ".mjs", ".css", ".html", ".json", ".svg", ".map", ".txt")
BROTLI_QUALITY = 5
"""Brotli quality for static text: three.js is 368 kB at 5 (0.25 s once) and 314 kB
at 11 (14 s once); the difference is 20 ms at 20 Mbit/s."""
_lock = threading.Lock()


@lru_cache(maxsize=256)
def _compressed(path: str, size: int, mtime: float, encoding: str) -> bytes:
    """The ``encoding`` (``br`` or ``gzip``) copy of one version of a file."""
    with open(path, "rb") as f:
        raw = f.read()
    if encoding == "br":
        return bytes(brotli.compress(raw, quality=BROTLI_QUALITY))
    return gzip.compress(raw, compresslevel=6, mtime=0)


def _accepts(accept: str, name: str) -> bool:
    return any(part.split(";")[0].strip().lower() == name for part in accept.split(","))


class CompressedStaticFiles(StaticFiles):
    """:class:`StaticFiles` that sends text files brotli- or gzip-compressed.

    Each representation has its own strong ``ETag`` (the file's, suffixed ``-br`` or
    ``-gzip`` when compressed), and ``If-None-Match`` is answered per representation:
    a 304 only confirms the bytes the client asks for again."""

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope,
        status_code: int = 200,
    ) -> Response:  # fmt: skip
        path = os.fspath(full_path)
        if not path.endswith(COMPRESSIBLE):
            return super().file_response(full_path, stat_result, scope, status_code)
        request = Headers(scope=scope)
        accept = request.get("accept-encoding", "")
        encoding = "br" if accepts_brotli(accept) else "gzip" if _accepts(accept, "gzip") else ""
        response = FileResponse(full_path, status_code=status_code, stat_result=stat_result)
        if encoding:
            response.headers["etag"] = f'{response.headers["etag"][:-1]}-{encoding}"'
        response.headers["vary"] = "Accept-Encoding"
        if self.is_not_modified(response.headers, request):
            return NotModifiedResponse(response.headers)
        if not encoding:
            return response
        with _lock:  # one compression per file version, even under concurrent first requests
            body = _compressed(path, stat_result.st_size, stat_result.st_mtime, encoding)
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        headers["content-encoding"] = encoding
        return Response(body, status_code=status_code, headers=headers)
