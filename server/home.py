"""What each role's home page shows: an annotator's tasks and the next-task button,
a reviewer's queue, and for leads the team overview (who is on what, throughput and
rejection rate per annotator, from the task transitions)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from server.models import Scene, Task, TaskTransition, User, utcnow
from server.policy import Permission, allows
from server.tasks import APPROVED, IN_REVIEW, REJECTED, SUBMITTED
from server.visibility import visible_tasks

THROUGHPUT_DAYS = 7


def home_context(session: Session, user: User) -> dict[str, Any]:
    """The template context of ``user``'s home page."""
    tasks = session.exec(select(Task).where(visible_tasks(user)).order_by(col(Task.id))).all()
    scenes = {s.id: s for s in session.exec(select(Scene)).all()}
    names = {u.id: u.name for u in session.exec(select(User)).all()}
    rows = [_row(t, scenes, names) for t in tasks]
    context: dict[str, Any] = {
        "my_tasks": [r for r in rows if r["assignee_id"] == user.id],
        "review_queue": [r for r in rows if r["state"] == SUBMITTED],
        "my_reviews": [r for r in rows if r["reviewer_id"] == user.id and r["state"] == IN_REVIEW],
    }
    if allows(user.role, Permission.assign):
        context["all_tasks"] = rows
        context["scenes"] = sorted(scenes.values(), key=lambda s: s.id or 0)
        context["team"] = team_overview(session, tasks, names)
        context["annotators"] = sorted(
            u.name for u in session.exec(select(User)).all() if allows(u.role, Permission.edit)
        )
    return context


def _row(
    task: Task, scenes: dict[int | None, Scene], names: dict[int | None, str]
) -> dict[str, Any]:
    scene = scenes.get(task.scene_id)
    return {
        "id": task.id, "scene": scene.name if scene else "?", "scene_id": task.scene_id,
        "state": task.state, "assignee": names.get(task.assignee_id, ""),
        "assignee_id": task.assignee_id, "reviewer": names.get(task.reviewer_id, ""),
        "reviewer_id": task.reviewer_id, "updated_at": task.updated_at,
    }  # fmt: skip


def team_overview(
    session: Session, tasks: list[Task] | Any, names: dict[int | None, str]
) -> list[dict[str, Any]]:
    """Per annotator: tasks by state now, approvals in the last week, rejection rate
    (rejections / (approvals + rejections), all time)."""
    now_on: dict[str, Counter[str]] = defaultdict(Counter)
    for t in tasks:
        if t.assignee_id is not None:
            now_on[names.get(t.assignee_id, "?")][t.state] += 1
    since = utcnow() - timedelta(days=THROUGHPUT_DAYS)
    verdicts = session.exec(
        select(TaskTransition, Task.assignee_id)
        .join(Task, col(Task.id) == TaskTransition.task_id)
        .where(col(TaskTransition.to_state).in_((APPROVED, REJECTED)))
    ).all()
    approved_week: Counter[str] = Counter()
    approved: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    for tr, assignee in verdicts:
        who = names.get(assignee, "?")
        if tr.to_state == APPROVED:
            approved[who] += 1
            created = (
                tr.created_at
                if tr.created_at.tzinfo
                else tr.created_at.replace(tzinfo=since.tzinfo)
            )
            approved_week[who] += created >= since
        else:
            rejected[who] += 1
    people = sorted(set(now_on) | set(approved) | set(rejected))
    return [
        {
            "name": p, "now": dict(now_on[p]), "approved_week": approved_week[p],
            "rejection_rate": (rejected[p] / (approved[p] + rejected[p]))
            if approved[p] + rejected[p] else None,
        }
        for p in people
    ]  # fmt: skip
