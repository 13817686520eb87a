"""Label import and export in interchange formats (docs/formats.md)."""

from __future__ import annotations

import json
import shutil
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from server.api.deps import CurrentUser, HubDep, SettingsDep, TaskDep, needs
from server.auth import CsrfDep
from server.errors import ApiError
from server.interchange import (
    EXPORT_FORMATS,
    IMPORT_FORMATS,
    export_scene,
    export_zip,
    import_scene,
)
from server.policy import Permission

router = APIRouter(prefix="/api", tags=["interchange"], dependencies=[CsrfDep])


ExportFormat = Annotated[str, Path(json_schema_extra={"enum": list(EXPORT_FORMATS)})]
ImportFormat = Annotated[str, Path(json_schema_extra={"enum": list(IMPORT_FORMATS)})]


@router.get(
    "/tasks/{task_id}/export/{fmt}",
    dependencies=[needs(Permission.export)],
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "A zip of the export"}},
)
async def export(
    task: TaskDep, fmt: ExportFormat, settings: SettingsDep, hub: HubDep, points: bool = False
) -> Response:
    """A task's label set in an interchange format (docs/formats.md), as a zip."""

    folder = settings.data_dir / "exports" / uuid.uuid4().hex
    try:
        assert task.id is not None
        summary = await run_in_threadpool(
            export_scene, hub.engine, settings, task.id, fmt, folder, points=points
        )
        summary.pop("out", None)  # a server path
        (folder / "summary.json").write_text(json.dumps(summary, indent=1))
        body = await run_in_threadpool(export_zip, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    name = f"task-{task.id}-{fmt}.zip"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type="application/zip", headers=headers)


@router.post("/import/{fmt}", status_code=201, dependencies=[needs(Permission.import_)])
async def import_labels(
    fmt: ImportFormat,
    path: str,
    settings: SettingsDep,
    hub: HubDep,
    user: CurrentUser,
    name: str | None = None,
) -> Any:
    """Import a labelled scene from a folder under ``$POINTLABEL_DATA_DIR/imports``."""

    root = (settings.data_dir / "imports").resolve()
    if "\x00" in path:
        raise ApiError(404, "import_path_not_found", "no such folder under the import root")
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.exists():
        raise ApiError(404, "import_path_not_found", f"no folder {path!r} under the import root")
    result = await run_in_threadpool(
        import_scene, hub.engine, settings, fmt, target,
        name=name, user=user.name, writer=hub.writer,
    )  # fmt: skip
    return result.to_json()
