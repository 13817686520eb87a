"""Tasks: one scene for one annotator, each with its own label set, moving through
review states. Every change of state or assignee is logged (``tasktransition``).

States (docs/tasks.md)::

    open ──take/assign──> assigned ──start──> in_progress ──submit──> submitted
      ^                                          ^                        │ take review
      └────────── unassign ─────────             │ start (rework)          v
                                              rejected <──reject── in_review ──approve──> approved

Only the assignee edits, and only while the task is ``in_progress``; the write
path checks it (:func:`may_edit`) for REST and websocket alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from server.errors import ApiError
from server.models import (
    GoldenTask,
    ReviewIssue,
    ReviewSample,
    Scene,
    Task,
    TaskTransition,
    User,
    utcnow,
)
from server.taxonomies import current_id

OPEN, ASSIGNED, IN_PROGRESS = "open", "assigned", "in_progress"
SUBMITTED, IN_REVIEW, APPROVED, REJECTED = "submitted", "in_review", "approved", "rejected"
STATES = (OPEN, ASSIGNED, IN_PROGRESS, SUBMITTED, IN_REVIEW, APPROVED, REJECTED)
DEFAULT_PROJECT_ID = 1
"""The project "Default", created by migration 0003; new scenes join it unless told otherwise."""


class TaskError(ApiError):
    """A task action that is not allowed now: HTTP ``status`` and a stable ``code``."""


@dataclass(frozen=True)
class Move:
    """One allowed action: the states it starts from and the state it leads to."""

    sources: tuple[str, ...]
    target: str


MOVES = {
    "start": Move((ASSIGNED, REJECTED), IN_PROGRESS),
    "submit": Move((IN_PROGRESS,), SUBMITTED),
    "approve": Move((IN_REVIEW,), APPROVED),
    "reject": Move((IN_REVIEW,), REJECTED),
}


def may_edit(state: str, assignee_id: int | None, user_id: int) -> bool:
    """Whether ``user_id`` may change the task's label set now."""
    return state == IN_PROGRESS and assignee_id == user_id


def create_task(
    session: Session, scene: Scene, actor: User | None, *, assignee: User | None = None
) -> Task:
    """A new task (an empty label set) on ``scene``: open, or assigned to ``assignee``.
    ``actor`` None: the server itself (ingest gives every new scene one open task)."""
    assert scene.id is not None
    version = current_id(session.connection(), scene.project_id)
    task = Task(
        scene_id=scene.id, project_id=scene.project_id, state=OPEN, taxonomy_version_id=version
    )
    session.add(task)
    session.flush()
    _log(session, task, actor, None, "created")
    if assignee is not None:
        assign(session, task, actor, assignee)
    return task


def assign(session: Session, task: Task, actor: User | None, assignee: User | None) -> Task:
    """Give the task to ``assignee`` (None: back to the queue). Not once it is submitted."""
    if task.state not in (OPEN, ASSIGNED, IN_PROGRESS, REJECTED):
        raise TaskError(409, "task_state", f"a task that is {task.state} cannot be reassigned")
    before = task.state
    task.assignee_id = None if assignee is None else assignee.id
    task.state = ASSIGNED if assignee is not None else OPEN
    if before in (IN_PROGRESS, REJECTED) and assignee is not None:
        task.state = before  # the work goes on with the new assignee
    _log(session, task, actor, before, "assigned" if assignee else "unassigned")
    return task


def take_next(
    session: Session, actor: User, golden: Callable[[Session, User], Task | None] | None = None
) -> Task | None:
    """The annotator's next task: one already assigned and not started, else the oldest open
    one (never a golden task). When an open task waits, ``golden`` may hand out a blind copy
    of a golden task instead (server/golden_queue.py)."""
    mine = session.exec(
        select(Task)
        .where(Task.assignee_id == actor.id, col(Task.state).in_((ASSIGNED, REJECTED)))
        .order_by(col(Task.id))
    ).first()
    if mine is not None:
        return mine
    task = session.exec(
        select(Task)
        .where(Task.state == OPEN, col(Task.id).not_in(select(GoldenTask.task_id)))
        .order_by(col(Task.id))
    ).first()
    if task is None:
        return None
    if golden is not None and (copy := golden(session, actor)) is not None:
        return copy
    return assign(session, task, actor, actor)


def take_next_review(session: Session, actor: User) -> Task | None:
    """The reviewer's next task: one already in their review, else the oldest submitted one
    (never their own work; not one held back by its lot's acceptance sampling)."""
    mine = session.exec(
        select(Task).where(Task.reviewer_id == actor.id, Task.state == IN_REVIEW)
    ).first()
    if mine is not None:
        return mine
    held = select(ReviewSample.task_id).where(ReviewSample.decision == "held")
    task = session.exec(
        select(Task)
        .where(Task.state == SUBMITTED, col(Task.assignee_id) != actor.id)
        .where(col(Task.id).not_in(held))  # waits for its lot's verdict (server/sampling.py)
        .order_by(col(Task.updated_at))
    ).first()
    if task is None:
        return None
    before = task.state
    task.state, task.reviewer_id = IN_REVIEW, actor.id
    _log(session, task, actor, before, "review taken")
    return task


def move(session: Session, task: Task, actor: User, action: str, note: str = "") -> Task:
    """``start``/``submit`` by the assignee, ``approve``/``reject`` by the task's reviewer."""
    rule = MOVES[action]
    if action in ("start", "submit") and task.assignee_id != actor.id:
        raise TaskError(403, "not_assignee", "only the task's assignee can do that")
    if action in ("approve", "reject") and task.reviewer_id != actor.id:
        raise TaskError(403, "not_reviewer", "only the task's reviewer can do that")
    if task.state not in rule.sources:
        allowed = " or ".join(rule.sources)
        msg = f"{action} needs a task that is {allowed}; this one is {task.state}"
        raise TaskError(409, "task_state", msg)
    if action == "reject" and open_issue_count(session, task) == 0:
        raise TaskError(409, "reject_needs_issue", "pin at least one open issue before rejecting")
    before = task.state
    task.state = rule.target
    _log(session, task, actor, before, note or action)
    return task


def skip_review(session: Session, task: Task, note: str) -> Task:
    """Accept a submitted task without review (the review sampling policy did not draw
    it, server/sampling.py): approved by the server, with ``note`` saying why."""
    if task.state != SUBMITTED:
        raise TaskError(409, "task_state", f"a task that is {task.state} cannot skip review")
    task.state = APPROVED
    _log(session, task, None, SUBMITTED, note)
    return task


def open_issue_count(session: Session, task: Task) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(ReviewIssue)
            .where(ReviewIssue.task_id == task.id, ReviewIssue.status == "open")
        ).one()
    )


def _log(session: Session, task: Task, actor: User | None, before: str | None, note: str) -> None:
    assert task.id is not None
    task.updated_at = utcnow()
    session.add(task)
    session.add(
        TaskTransition(
            task_id=task.id, user_id=None if actor is None else actor.id, from_state=before,
            to_state=task.state,
            assignee_id=task.assignee_id, note=note,
        )
    )  # fmt: skip


def start_for(engine: Engine, task_id: int, user_name: str) -> int:
    """Assign the task to ``user_name`` (created as an annotator if new) and start it,
    as that user: scripts, benchmarks and tests that need an editable label set."""
    with Session(engine) as session:
        user = session.exec(select(User).where(User.name == user_name)).first()
        if user is None:
            user = User(name=user_name, role="annotator")
            session.add(user)
            session.flush()
        task = session.get(Task, task_id)
        if task is None:
            raise TaskError(404, "task_not_found", f"task {task_id} does not exist")
        assign(session, task, user, user)
        if task.state in MOVES["start"].sources:
            move(session, task, user, "start")
        session.commit()
    return task_id


def worker_token(engine: Engine, name: str, role: str = "annotator") -> str:
    """An API token for ``name`` (created with ``role`` if missing): for the benchmarks and
    the durability harness, which drive the server as a script would."""
    from server import accounts

    with Session(engine) as session:
        if session.exec(select(User).where(User.name == name)).first() is None:
            accounts.create_user(session, name, role)
        token, _ = accounts.create_api_token(session, name, label="script")
    return token
