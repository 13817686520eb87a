"""Tasks: create and assign (leads), take the next one (annotators, reviewers), and
move one through its states (docs/tasks.md)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, func, select

from server.api.deps import CurrentUser, SessionDep, TaskDep, needs
from server.auth import CsrfDep
from server.errors import ApiError
from server.golden_queue import blind_copy, score
from server.models import ReviewIssue, Scene, Task, TaskTransition, User
from server.policy import Permission
from server.sampling import after_review, on_submit, sample_json
from server.tasks import STATES, assign, create_task, move, take_next, take_next_review
from server.visibility import visible_tasks

router = APIRouter(prefix="/api/tasks", tags=["tasks"], dependencies=[CsrfDep])
Name = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")


class NewTask(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    scene_id: int = Field(ge=1, le=2**31 - 1)
    assignee: str | None = Name


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    assignee: str | None = Name


class Transition(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    note: str = Field(default="", max_length=500)


def task_json(session: Session, task: Task) -> dict[str, Any]:
    """A task as the API answers it: its scene's name and its people by name."""
    scene = session.get(Scene, task.scene_id)
    names = _names(session, {task.assignee_id, task.reviewer_id})
    issues = session.exec(
        select(ReviewIssue.status, func.count())
        .where(ReviewIssue.task_id == task.id)
        .group_by(ReviewIssue.status)
    ).all()
    return {
        "id": task.id, "scene_id": task.scene_id, "scene": scene.name if scene else None,
        "project_id": task.project_id, "state": task.state, "revision": task.revision,
        "assignee": names.get(task.assignee_id), "reviewer": names.get(task.reviewer_id),
        "issues": dict(issues), "updated_at": task.updated_at.isoformat(),
        "sampling": sample_json(session, task.id) if task.id is not None else None,
    }  # fmt: skip


def _names(session: Session, ids: set[int | None]) -> dict[int | None, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = session.exec(select(User.id, User.name).where(col(User.id).in_(wanted))).all()
    return dict(rows)


def _user(session: Session, name: str | None) -> User | None:
    if name is None:
        return None
    user = session.exec(select(User).where(User.name == name)).first()
    if user is None:
        raise ApiError(404, "user_not_found", f"no user {name!r}")
    return user


def _commit(session: Session, task: Task) -> dict[str, Any]:
    session.commit()
    session.refresh(task)
    return task_json(session, task)


@router.get("", dependencies=[needs(Permission.view)])
def list_tasks(
    session: SessionDep,
    user: CurrentUser,
    state: Literal[STATES] | None = None,  # type: ignore[valid-type]
    mine: bool = False,
) -> list[dict[str, Any]]:
    """Tasks, oldest first; ``mine``: assigned to me or in my review."""
    query = select(Task).where(visible_tasks(user)).order_by(col(Task.id))
    if state is not None:
        query = query.where(Task.state == state)
    if mine:
        query = query.where((Task.assignee_id == user.id) | (Task.reviewer_id == user.id))
    return [task_json(session, t) for t in session.exec(query).all()]


@router.post("", status_code=201, dependencies=[needs(Permission.assign)])
def new_task(body: NewTask, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """A new, empty label set on a scene (k tasks on one scene: k independent label sets)."""
    scene = session.get(Scene, body.scene_id)
    if scene is None:
        raise ApiError(404, "scene_not_found", f"scene {body.scene_id} does not exist")
    task = create_task(session, scene, user, assignee=_user(session, body.assignee))
    return _commit(session, task)


@router.post("/next", dependencies=[needs(Permission.edit)])
def next_task(session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Take the next task to label: mine if one waits, else the oldest open one."""
    task = take_next(session, user, golden=blind_copy)
    if task is None:
        raise ApiError(404, "no_task", "no task is waiting")
    return _commit(session, task)


@router.post("/review/next", dependencies=[needs(Permission.review)])
def next_review(session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Take the next submitted task to review."""
    task = take_next_review(session, user)
    if task is None:
        raise ApiError(404, "no_task", "no task is waiting for review")
    return _commit(session, task)


@router.get("/{task_id}", dependencies=[needs(Permission.view)])
def get_task(task: TaskDep, session: SessionDep) -> dict[str, Any]:
    return task_json(session, task)


@router.get("/{task_id}/history", dependencies=[needs(Permission.view)])
def history(task: TaskDep, session: SessionDep) -> list[dict[str, Any]]:
    """Every transition of the task, with who and when."""
    rows = session.exec(
        select(TaskTransition)
        .where(TaskTransition.task_id == task.id)
        .order_by(col(TaskTransition.id))
    ).all()
    names = _names(session, {r.user_id for r in rows} | {r.assignee_id for r in rows})
    return [
        {"from": r.from_state, "to": r.to_state, "by": names.get(r.user_id),
         "assignee": names.get(r.assignee_id), "note": r.note, "at": r.created_at.isoformat()}
        for r in rows
    ]  # fmt: skip


@router.post("/{task_id}/assign", dependencies=[needs(Permission.assign)])
def assign_task(
    task: TaskDep, body: Assignment, session: SessionDep, user: CurrentUser
) -> dict[str, Any]:
    assign(session, task, user, _user(session, body.assignee))
    return _commit(session, task)


def _act(action: str, permission: Permission, doc: str) -> None:
    def handler(
        task: TaskDep, session: SessionDep, user: CurrentUser, body: Transition | None = None
    ) -> dict[str, Any]:
        move(session, task, user, action, body.note if body else "")
        if action == "submit":
            score(session, task)
            on_submit(session, task)
        elif action in ("approve", "reject"):
            after_review(session, task)
        return _commit(session, task)

    handler.__doc__ = doc
    router.add_api_route(
        f"/{{task_id}}/{action}", handler, methods=["POST"], name=f"{action}_task",
        dependencies=[needs(permission)],
    )  # fmt: skip


_act(
    "start", Permission.submit, "Start (or, after a rejection, rework) the task: its assignee only."
)
_act("submit", Permission.submit, "Submit the label set for review: its assignee only.")
_act("approve", Permission.approve_reject, "Approve the task: its reviewer only.")
_act(
    "reject",
    Permission.approve_reject,
    "Send the task back for rework: its reviewer only, with at least one open issue.",
)
