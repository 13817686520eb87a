"""A frame's camera images, resized and cached (docs/assist.md, Cameras).

An image never changes once stored (it is content-addressed), so a response is
cacheable for a year and its ``ETag`` names the stored image and the width.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response
from sqlmodel import select
from starlette.concurrency import run_in_threadpool

from server.api.deps import FrameIndex, SceneDep, SessionDep, SettingsDep, needs
from server.api.routes.tiles import CACHE
from server.cameras import image_path, resized, target_width
from server.errors import ApiError
from server.models import FrameCamera
from server.policy import Permission

router = APIRouter(prefix="/api/scenes/{scene_id}/frames/{index}/cameras", tags=["cameras"])


@router.get(
    "/{name}",
    response_class=Response,
    dependencies=[needs(Permission.view)],
    responses={
        200: {"content": {"image/jpeg": {}, "image/png": {}}, "description": "The image"},
        304: {"description": "Not modified"},
    },
)
async def camera_image(
    scene: SceneDep,
    index: FrameIndex,
    name: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    w: Annotated[
        int | None, Query(ge=16, le=8192, description="Largest width wanted, pixels")
    ] = None,
) -> Response:
    """The frame's image from camera ``name``, at most ``w`` pixels wide (rounded up to
    160, 320, 640, 960, 1280 or 1920; never wider than the image): a JPEG copy when
    smaller than the image, else the stored file."""
    row = session.exec(
        select(FrameCamera).where(
            FrameCamera.scene_id == scene.id,
            FrameCamera.frame_index == index,
            FrameCamera.name == name,
        )
    ).first()
    if row is None:
        raise ApiError(404, "camera_not_found", "this frame has no image from that camera")
    width = target_width(w, row.width)
    etag = f'"{row.image}-{width}"'
    headers = {"Cache-Control": CACHE, "ETag": etag}
    if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    if width >= row.width:
        path, media_type = image_path(settings, row.image, row.media_type), row.media_type
    else:
        path, media_type = await run_in_threadpool(resized, settings, row, width), "image/jpeg"
    if not path.exists():
        raise ApiError(404, "camera_not_found", "the image of this camera is missing")
    return FileResponse(path, media_type=media_type, headers=headers)
