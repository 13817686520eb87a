"""Review issues: a reviewer pins a finding to an object or a 3D point of a task, with
an error type; issues have reply threads; the annotator resolves, the reviewer closes
or reopens (docs/tasks.md)."""

from __future__ import annotations

import math
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from server.api.deps import MAX_ID, CurrentUser, HubDep, SessionDep, TaskDep, get_task, needs
from server.auth import CsrfDep
from server.errors import ApiError
from server.models import ReviewComment, ReviewIssue, Task, User, utcnow
from server.policy import Permission
from server.reads import current_warnings
from server.tasks import DEFAULT_PROJECT_ID, IN_REVIEW
from server.text import check_free_text

router = APIRouter(prefix="/api", tags=["reviews"], dependencies=[CsrfDep])
Text = Field(default="", max_length=2000)


class NewIssue(BaseModel):
    """A finding: on an object (``object_kind`` + ``object_id``) and/or at a point
    (``frame`` + ``point``, frame coordinates in metres)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    error_type: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
    """One of the error types of the task's taxonomy version."""
    comment: str = Text
    object_kind: Literal["cuboid", "track", "tag"] | None = None
    object_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    frame: int | None = Field(default=None, ge=0, le=MAX_ID)
    point: list[float] | None = Field(default=None, min_length=3, max_length=3)
    """[x, y, z] in the frame's coordinates, metres (a JSON array: a strict tuple refuses it)."""

    @model_validator(mode="after")
    def _where(self) -> NewIssue:
        check_free_text(self.comment, "comment")
        if (self.object_kind is None) != (self.object_id is None):
            raise ValueError("object_kind and object_id go together")
        if self.object_kind is None and self.point is None:
            raise ValueError("pin the issue to an object or to a point")
        if self.point is not None and not all(math.isfinite(v) for v in self.point):
            raise ValueError("the point must be finite")
        return self


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    text: str = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _text(self) -> Reply:
        check_free_text(self.text, "text")
        return self


def issue_json(session: Session, issue: ReviewIssue) -> dict[str, Any]:
    comments = session.exec(
        select(ReviewComment)
        .where(ReviewComment.issue_id == issue.id)
        .order_by(col(ReviewComment.id))
    ).all()
    ids = {issue.author_id} | {c.author_id for c in comments}
    names = dict(session.exec(select(User.id, User.name).where(col(User.id).in_(ids))).all())
    point = None if issue.x is None else [issue.x, issue.y, issue.z]
    return {
        "id": issue.id, "task_id": issue.task_id, "error_type": issue.error_type,
        "comment": issue.comment, "status": issue.status, "author": names.get(issue.author_id),
        "object_kind": issue.object_kind, "object_id": issue.object_id, "frame": issue.frame,
        "point": point, "created_at": issue.created_at.isoformat(),
        "thread": [{"author": names.get(c.author_id), "text": c.text,
                    "at": c.created_at.isoformat()} for c in comments],
    }  # fmt: skip


def _issue(session: Session, issue_id: int) -> tuple[ReviewIssue, Task]:
    issue = session.get(ReviewIssue, issue_id) if 1 <= issue_id <= MAX_ID else None
    if issue is None:
        raise ApiError(404, "issue_not_found", f"issue {issue_id} does not exist")
    task = session.get(Task, issue.task_id)
    assert task is not None
    return issue, task


@router.get("/review/error-types", dependencies=[needs(Permission.view)])
def error_types(
    session: SessionDep, hub: HubDep, user: CurrentUser, task_id: int | None = None
) -> list[str]:
    """The review error types of a task's taxonomy version (default: the Default
    project's current version)."""
    conn = session.connection()
    if task_id is None:
        return list(hub.taxonomies.current(conn, DEFAULT_PROJECT_ID)[1].error_types)
    task = get_task(task_id, session, user)
    assert task.id is not None
    return list(hub.taxonomies.for_task(conn, task.id)[1].error_types)


@router.get("/tasks/{task_id}/issues", dependencies=[needs(Permission.view)])
def list_issues(task: TaskDep, session: SessionDep) -> list[dict[str, Any]]:
    rows = session.exec(
        select(ReviewIssue).where(ReviewIssue.task_id == task.id).order_by(col(ReviewIssue.id))
    ).all()
    return [issue_json(session, i) for i in rows]


@router.get("/tasks/{task_id}/warnings", dependencies=[needs(Permission.view)])
async def warnings(task: TaskDep, request: Request) -> list[dict[str, Any]]:
    """The server's validation warnings on the task's objects as they stand (automatic
    issues: size outside the class prior, too few points, tag without a subject box)."""
    assert task.id is not None
    _, taxonomy = request.app.state.hub.taxonomies.of_task(task.id)  # the task's version
    return await run_in_threadpool(current_warnings, request.app.state.engine, task.id, taxonomy)


@router.post("/tasks/{task_id}/issues", status_code=201, dependencies=[needs(Permission.review)])
def pin_issue(
    task: TaskDep, body: NewIssue, session: SessionDep, user: CurrentUser, hub: HubDep
) -> dict[str, Any]:
    """The task's reviewer pins an issue while the task is in review, with an error type
    of the task's taxonomy version."""
    if task.reviewer_id != user.id or task.state != IN_REVIEW:
        raise ApiError(403, "not_reviewer", "only the task's reviewer pins issues, during review")
    assert task.id is not None and user.id is not None
    known = hub.taxonomies.for_task(session.connection(), task.id)[1].error_types
    if body.error_type not in known:
        raise ApiError(
            422,
            "unknown_error_type",
            f"error type {body.error_type!r} is not one of {', '.join(known)}",
        )
    x, y, z = body.point if body.point is not None else (None, None, None)
    issue = ReviewIssue(
        task_id=task.id, author_id=user.id, error_type=body.error_type, comment=body.comment,
        object_kind=body.object_kind, object_id=body.object_id, frame=body.frame, x=x, y=y, z=z,
    )  # fmt: skip
    session.add(issue)
    session.commit()
    session.refresh(issue)
    return issue_json(session, issue)


@router.post("/issues/{issue_id}/comments", status_code=201, dependencies=[needs(Permission.view)])
def reply(issue_id: int, body: Reply, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """A reply in the issue's thread, by the task's assignee or reviewer."""
    issue, task = _issue(session, issue_id)
    if user.id not in (task.assignee_id, task.reviewer_id):
        raise ApiError(403, "forbidden", "only the task's assignee and reviewer discuss its issues")
    assert user.id is not None and issue.id is not None
    session.add(ReviewComment(issue_id=issue.id, author_id=user.id, text=body.text))
    session.commit()
    return issue_json(session, issue)


@router.post("/issues/{issue_id}/{action}", dependencies=[needs(Permission.view)])
def set_status(
    issue_id: int,
    action: Literal["resolve", "reopen", "close"],
    session: SessionDep,
    user: CurrentUser,
) -> dict[str, Any]:
    """``resolve``: the assignee says it is fixed; ``close`` (verified) or ``reopen``: the
    reviewer."""
    issue, task = _issue(session, issue_id)
    allowed = {"resolve": task.assignee_id, "reopen": task.reviewer_id, "close": task.reviewer_id}
    if user.id != allowed[action]:
        who = "assignee" if action == "resolve" else "reviewer"
        raise ApiError(403, "forbidden", f"only the task's {who} can {action} an issue")
    issue.status = {"resolve": "resolved", "reopen": "open", "close": "closed"}[action]
    issue.updated_at = utcnow()
    session.add(issue)
    session.commit()
    session.refresh(issue)
    return issue_json(session, issue)
