"""Who may see which tasks and scenes (the ``view`` permission is per object too).

Leads and admins (who may ``assign``) see everything. A reviewer sees the tasks
in their review and the submitted ones waiting in the review queue. An
annotator sees the tasks assigned to them. A scene is visible when one of its
tasks is; tiles, hierarchies, fits and pages of other scenes are refused.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_
from sqlmodel import Session, col, select

from server.models import Task, User
from server.policy import Permission, allows
from server.tasks import SUBMITTED


def visible_tasks(user: User) -> ColumnElement[bool]:
    """A filter on ``Task`` rows: the tasks ``user`` may see."""
    if allows(user.role, Permission.assign):
        return col(Task.id).is_not(None)
    clauses: list[ColumnElement[bool]] = [col(Task.assignee_id) == user.id]
    if allows(user.role, Permission.review):
        clauses += [col(Task.reviewer_id) == user.id, col(Task.state) == SUBMITTED]
    return or_(false(), *clauses)


def may_see_task(session: Session, user: User, task: Task) -> bool:
    found = session.exec(select(Task.id).where(Task.id == task.id, visible_tasks(user))).first()
    return found is not None


def may_see_scene(session: Session, user: User, scene_id: int) -> bool:
    query = select(Task.id).where(col(Task.scene_id) == scene_id, visible_tasks(user))
    return allows(user.role, Permission.assign) or session.exec(query).first() is not None
