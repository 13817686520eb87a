"""The quality dashboard: control charts of the review defect rate (``GET
/api/quality/charts``), the review issues behind a sample (``GET
/api/quality/tasks/{task_id}/defects``) and the ``/quality`` page (docs/quality.md)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from server.api.deps import MAX_ID, CurrentUser, HubDep, SessionDep, needs
from server.api.routes.pages import templates
from server.auth import PUBLIC, CsrfDep, OptionalUser, login_redirect
from server.errors import ApiError
from server.golden import catch_rates, detector_report, golden_task, plant
from server.models import Task, User
from server.policy import Permission
from server.quality import charts, charts_csv, defect_rows
from server.quality_report import Week, weekly_report
from server.tasks import APPROVED

router = APIRouter(tags=["quality"], dependencies=[CsrfDep])


class PlantRequest(BaseModel):
    """The seed that picks the objects to change."""

    model_config = ConfigDict(extra="forbid", strict=True)
    seed: int = Field(0, ge=0, le=2**31 - 1)


@router.get("/api/quality/charts", dependencies=[needs(Permission.see_quality)])
async def quality_charts(
    request: Request,
    by: Literal["annotator", "class", "project", "taxonomy"] = "annotator",
    project_id: int | None = Query(None, ge=1, le=MAX_ID),
    baseline: int = Query(10, ge=1, le=1000, description="Samples per series for the centre"),
    window_days: float = Query(
        3.0, gt=0, le=365, description="Days: signals this close are one shift"
    ),
) -> dict[str, Any]:
    """p-charts of the defect rate per task, one per annotator, class, project or taxonomy
    version, with the Western Electric signals (labelled individual or system for
    annotators)."""

    def build() -> dict[str, Any]:
        with Session(request.app.state.engine) as session:
            return charts(session, by=by, project_id=project_id, baseline=baseline,
                          window_days=window_days)  # fmt: skip

    return await run_in_threadpool(build)


@router.get(
    "/api/quality/charts.csv",
    dependencies=[needs(Permission.see_quality)],
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                     "description": "One row per series and task"}},
)  # fmt: skip
async def quality_csv(
    request: Request,
    by: Literal["annotator", "class", "project", "taxonomy"] = "annotator",
    project_id: int | None = Query(None, ge=1, le=MAX_ID),
) -> Response:
    """The charts' points as CSV: one row per series and task, with its limits and the
    rules it breaks."""

    def build() -> str:
        with Session(request.app.state.engine) as session:
            return charts_csv(charts(session, by=by, project_id=project_id))

    headers = {"Content-Disposition": f'attachment; filename="quality-{by}.csv"'}
    return Response(await run_in_threadpool(build), media_type="text/csv; charset=utf-8",
                    headers=headers)  # fmt: skip


WeekQuery = Query(
    None,
    max_length=32,
    description="An ISO week, e.g. 2026-W11 (default: the latest reviewed)",
)


@router.get("/api/quality/report", dependencies=[needs(Permission.see_quality)])
async def quality_report(request: Request, week: str | None = WeekQuery) -> dict[str, Any]:
    """The weekly quality report: the week's defect rate, its trend, classes and projects
    worst first, the week's signals and golden-set scores (docs/quality.md)."""
    chosen = None if week is None else Week.parse(week)

    def build() -> dict[str, Any]:
        with Session(request.app.state.engine) as session:
            return weekly_report(session, chosen)

    return await run_in_threadpool(build)


@router.get("/api/quality/tasks/{task_id}/defects", dependencies=[needs(Permission.see_quality)])
def task_defects(
    task_id: int,
    session: SessionDep,
    label: str | None = Query(None, alias="class", min_length=1, max_length=64),
) -> list[dict[str, Any]]:
    """The review issues behind the task's sample (of one class, with ``class``), each with
    a link that opens the workspace on its object."""
    if not 1 <= task_id <= MAX_ID or session.get(Task, task_id) is None:
        raise ApiError(404, "task_not_found", f"task {task_id} does not exist")
    return defect_rows(session, task_id, label=label)


@router.post(
    "/api/quality/golden/{task_id}/plant", status_code=201, dependencies=[needs(Permission.assign)]
)
def plant_errors(
    task_id: int, body: PlantRequest, session: SessionDep, user: CurrentUser, hub: HubDep
) -> dict[str, Any]:
    """Copy an approved (golden) task with four planted errors into a new submitted task:
    whoever reviews it is scored on them (docs/quality.md)."""
    task = session.get(Task, task_id) if 1 <= task_id <= MAX_ID else None
    if task is None:
        raise ApiError(404, "task_not_found", f"task {task_id} does not exist")
    if task.state != APPROVED:
        raise ApiError(409, "not_golden", "only an approved task can serve as a golden task")
    copy = plant(hub.engine, hub.writer, task_id, user.name, seed=body.seed)
    return {"task_id": copy, "golden_task_id": task_id}


@router.get("/api/quality/reviewers", dependencies=[needs(Permission.see_quality)])
def reviewer_catch_rates(session: SessionDep) -> dict[str, Any]:
    """Per reviewer and error kind: planted errors reviewed and caught, with each error."""
    return catch_rates(session)


@router.get("/api/quality/tasks/{task_id}/detector", dependencies=[needs(Permission.see_quality)])
def detector(
    task_id: int,
    session: SessionDep,
    noise_m: float = Query(0.0, ge=0.0, le=1.0, description="Gaussian jitter of box centres, m"),
) -> dict[str, Any]:
    """The rule-based behaviour detector on the task's tracks, scored against its tags."""
    if not 1 <= task_id <= MAX_ID or session.get(Task, task_id) is None:
        raise ApiError(404, "task_not_found", f"task {task_id} does not exist")
    return detector_report(session, task_id, noise_m=noise_m)


@router.get("/quality", response_class=HTMLResponse, include_in_schema=False, dependencies=[PUBLIC])
def quality_page(request: Request, session: SessionDep, principal: OptionalUser) -> Response:
    """The dashboard (anonymous: the login page; without ``see_quality``: 403)."""
    user = None if principal is None else session.get(User, principal.user_id)
    if user is None or principal is None:
        return login_redirect(request)
    if not principal.can(Permission.see_quality):
        raise ApiError(403, "forbidden", "the quality dashboard is for leads and reviewers")
    context = {"user": user, "csrf": principal.csrf_token or "", "golden": golden_task(session),
               "can_manage": principal.can(Permission.manage_quality)}  # fmt: skip
    return templates.TemplateResponse(request, "quality.html", context)


@router.get(
    "/quality/report", response_class=HTMLResponse, include_in_schema=False, dependencies=[PUBLIC]
)
def quality_report_page(
    request: Request, session: SessionDep, principal: OptionalUser, week: str | None = WeekQuery
) -> Response:
    """The weekly report, printable (anonymous: the login page; without ``see_quality``: 403)."""
    user = None if principal is None else session.get(User, principal.user_id)
    if user is None or principal is None:
        return login_redirect(request)
    if not principal.can(Permission.see_quality):
        raise ApiError(403, "forbidden", "the quality report is for leads and reviewers")
    report = weekly_report(session, None if week is None else Week.parse(week))
    return templates.TemplateResponse(
        request, "quality_report.html", {"user": user, "report": report}
    )
