"""Uploads: one point-cloud file, the raw body of ``POST /api/scenes``, becomes a new scene.

Every check that needs no body runs before any of the body is read: the content
type (415 ``unsupported_media_type``), the declared ``Content-Length`` against
``Settings.max_upload_bytes`` (413 ``upload_too_large``), the file name and the
scene name (422, :mod:`server.names`) and the file name's extension (422
``unsupported_format``). The body is then streamed to a new folder under
``<data_dir>/uploads``, counting bytes, so a chunked body (no ``Content-Length``)
or one longer than declared is cut off at the cap as well; then it is ingested
(:func:`server.ingest.ingest`). Any refusal or failure removes that folder, and
ingest stores the scene rows only once every frame is written: nothing is left.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from pointcloud.errors import PointCloudError
from pointcloud.io.sequence import format_of_name
from server.config import Settings
from server.errors import ApiError
from server.ingest import IngestResult, ingest
from server.models import Scene
from server.names import InvalidNameError, check_filename, clean_scene_name
from server.scene_admin import content_hash, find_duplicate, record_hash

ACCEPTED_TYPES = frozenset(
    {"application/octet-stream", "application/vnd.las", "application/vnd.laszip"}
)
"""Media types of an upload body (parameters such as ``charset`` are ignored). A request
without ``Content-Type`` counts as ``application/octet-stream`` (RFC 9110, 8.3)."""


class UploadError(ApiError):
    """A refused upload: HTTP ``status``, a stable ``code`` and a message; nothing was stored."""


@dataclass(frozen=True)
class UploadPlan:
    """What an upload will store: its checked ``filename`` and cleaned scene ``name``."""

    filename: str
    name: str


def check_upload(
    headers: Mapping[str, str], filename: str, name: str | None, *, limit: int
) -> UploadPlan:
    """Every check that needs no body (module docstring); raises :class:`UploadError`.

    ``headers`` are the request headers (lower-case keys, as Starlette gives them);
    ``limit`` is the largest accepted body, in bytes.
    """
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type and media_type not in ACCEPTED_TYPES:
        raise UploadError(
            415,
            "unsupported_media_type",
            f"send the file as the raw body with Content-Type: application/octet-stream "
            f"(accepted: {', '.join(sorted(ACCEPTED_TYPES))}), not {media_type[:100]}",
        )
    declared = declared_length(headers)
    if declared is not None and declared > limit:
        raise UploadError(
            413, "upload_too_large", f"{declared:,} bytes declared, the limit is {limit:,} bytes"
        )
    try:
        safe = check_filename(filename)
        cleaned = clean_scene_name(name or "")
    except InvalidNameError as exc:
        raise UploadError(422, exc.code, str(exc)) from exc
    if format_of_name(safe) is None:
        raise UploadError(
            422,
            "unsupported_format",
            "the file name's extension is not a point-cloud format "
            "(.las, .laz, .pcd, .ply, .bin, .pcd.bin, .npy)",
        )
    if declared == 0:
        raise UploadError(422, "empty_upload", "the request body is empty")
    return UploadPlan(safe, cleaned or safe)


def declared_length(headers: Mapping[str, str]) -> int | None:
    """The ``Content-Length`` in bytes, or None when absent (a chunked body).

    The HTTP server (uvicorn) refuses a malformed value before the app sees it;
    one that still is not a whole number counts as absent, and the streamed
    byte count enforces the cap.
    """
    value = headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None


async def receive_body(chunks: AsyncIterator[bytes], target: Path, limit: int) -> int:
    """Write the body's ``chunks`` to ``target``; return its size in bytes.

    Stops reading at the first chunk that takes the total past ``limit`` bytes
    (413 ``upload_too_large``); an empty body is 422 ``empty_upload``. The
    caller removes ``target`` on failure.
    """
    size = 0
    with target.open("wb") as out:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise UploadError(413, "upload_too_large", f"the limit is {limit:,} bytes")
            out.write(chunk)
    if size == 0:
        raise UploadError(422, "empty_upload", "the request body is empty")
    return size


def _ingest_slots(request: Request, n: int) -> asyncio.Semaphore:
    """The app's bound on ingests running at once (each takes a core and up to ~1 GB);
    further uploads wait for a slot once their body is received."""
    state = request.app.state
    if getattr(state, "ingest_slots", None) is None:
        state.ingest_slots = asyncio.Semaphore(n)
    slots: asyncio.Semaphore = state.ingest_slots
    return slots


async def store_upload(
    request: Request,
    engine: Engine,
    settings: Settings,
    filename: str,
    name: str | None,
    *,
    allow_duplicate: bool = False,
) -> IngestResult:
    """Check, receive and ingest one upload as a new scene (module docstring).

    Raises :class:`UploadError`; a point-cloud error becomes a 422 with the
    reader's code and a message naming the file by ``filename`` only. A file
    whose content (SHA-256) an earlier upload had is 409 ``duplicate_scene``
    unless ``allow_duplicate``.
    """
    plan = check_upload(request.headers, filename, name, limit=settings.max_upload_bytes)
    folder = settings.data_dir / "uploads" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    target = folder / plan.filename
    try:
        await receive_body(request.stream(), target, settings.max_upload_bytes)
        digest = await run_in_threadpool(content_hash, target)
        same = await run_in_threadpool(find_duplicate, engine, settings, digest)
        if same is not None and not allow_duplicate:
            msg = (f"this file is already scene {same.id} ({same.name}); "
                   "upload it with duplicate=allow to make a second scene of it")  # fmt: skip
            raise UploadError(409, "duplicate_scene", msg)
        async with _ingest_slots(request, settings.max_concurrent_ingests):
            result = await run_in_threadpool(ingest, engine, settings, target, name=plan.name)
        with Session(engine) as session:
            scene = session.get(Scene, result.scene_id)
            if scene is not None:
                record_hash(settings, scene.storage, digest)
        return result
    except PointCloudError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise UploadError(422, exc.code, _hide_folder(str(exc), folder)) from exc
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _hide_folder(message: str, folder: Path) -> str:
    """``message`` without the server's upload folder, so the file shows as its plain name."""
    for prefix in {str(folder.resolve()), str(folder)}:
        message = message.replace(prefix + "/", "")
    return message
