"""Taxonomy versions: read and diff them; leads edit the project's draft, dry-run its
migrations, publish it (moving the project's tasks and migrating their labels through
the one write path) and move single tasks to a newer version (docs/taxonomy.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from server.annotations import Submission
from server.api.deps import CurrentUser, HubDep, SessionDep, TaskDep, needs
from server.auth import CsrfDep
from server.errors import ApiError
from server.hub import Hub
from server.models import Project, ReviewIssue, TaxonomyVersion, User
from server.policy import Permission
from server.protocol import Ack, Conflict, Reject
from server.tasks import DEFAULT_PROJECT_ID
from server.taxonomies import PUBLISHED, TaxonomyNotFoundError
from server.taxonomy_changes import describe, diff
from server.taxonomy_drafts import (
    TaxonomyInvalidError,
    add_change,
    chain,
    draft,
    draft_taxonomy,
    dry_run,
    migration_ops,
    open_draft,
    parse_change,
    publish,
    replace_body,
    size_histogram,
    task_migration,
    tasks_on,
    usage,
)
from server.text import check_free_text

router = APIRouter(prefix="/api", tags=["taxonomy"], dependencies=[CsrfDep])
LEAD = [needs(Permission.edit_taxonomy)]


def project_of(
    session: SessionDep,
    project_id: int = Query(DEFAULT_PROJECT_ID, ge=1, le=2**31 - 1, description="The project"),
) -> int:
    """The ``project_id`` query parameter (default: the Default project); 404 if none."""
    if session.get(Project, project_id) is None:
        raise ApiError(404, "project_not_found", f"project {project_id} does not exist")
    return project_id


ProjectId = Annotated[int, Depends(project_of)]


class Publish(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    changelog: str = Field(min_length=1, max_length=5000)

    @model_validator(mode="after")
    def _text(self) -> Publish:
        check_free_text(self.changelog, "changelog")
        return self


class MoveTask(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    version_id: int = Field(ge=1, le=2**31 - 1)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    taxonomy: dict[str, Any]


def _version(session: SessionDep, version_id: int, project_id: int) -> TaxonomyVersion:
    row = session.get(TaxonomyVersion, version_id) if 1 <= version_id <= 2**31 - 1 else None
    if row is None or row.status != PUBLISHED or row.project_id != project_id:
        raise TaxonomyNotFoundError(version_id)
    return row


def _version_json(row: TaxonomyVersion, tasks: int | None = None) -> dict[str, Any]:
    return {
        "id": row.id, "number": row.number, "status": row.status, "base_id": row.base_id,
        "changelog": row.changelog, "changes": row.changes,
        "published_at": row.published_at.isoformat() if row.published_at else None,
        "tasks": tasks,
    }  # fmt: skip


@router.get("/taxonomy/versions", dependencies=[needs(Permission.view)])
def list_versions(session: SessionDep, hub: HubDep, project_id: ProjectId) -> list[dict[str, Any]]:
    """The project's published versions, newest first, with how many tasks each pins."""
    hub.taxonomies.current(session.connection(), project_id)  # version 1 exists
    session.commit()
    rows = session.exec(
        select(TaxonomyVersion)
        .where(
            col(TaxonomyVersion.project_id) == project_id, col(TaxonomyVersion.status) == PUBLISHED
        )
        .order_by(col(TaxonomyVersion.number).desc())
    ).all()
    conn = session.connection()
    return [_version_json(r, len(tasks_on(conn, project_id, r.id or 0))) for r in rows]


@router.get("/taxonomy/versions/{version_id}", dependencies=[needs(Permission.view)])
def get_version(
    version_id: int, session: SessionDep, hub: HubDep, project_id: ProjectId
) -> dict[str, Any]:
    """A published version: its metadata and its taxonomy document (importable JSON)."""
    row = _version(session, version_id, project_id)
    tax = hub.taxonomies.version(session.connection(), version_id)
    return {**_version_json(row), "taxonomy": tax.to_json()}


@router.get("/taxonomy/diff", dependencies=[needs(Permission.view)])
def diff_versions(
    session: SessionDep, hub: HubDep, project_id: ProjectId,
    from_id: int = Query(ge=1, le=2**31 - 1), to_id: int = Query(ge=1, le=2**31 - 1),
) -> dict[str, Any]:  # fmt: skip
    """What differs between two published versions."""
    conn = session.connection()
    for vid in (from_id, to_id):
        _version(session, vid, project_id)
    return diff(hub.taxonomies.version(conn, from_id), hub.taxonomies.version(conn, to_id))


@router.get("/taxonomy/draft", dependencies=LEAD)
def get_draft(
    session: SessionDep, hub: HubDep, user: CurrentUser, project_id: ProjectId
) -> dict[str, Any]:
    """The project's draft (made from the current version if there is none), with the
    diff from its base and usage counts per class and tag type."""
    row = open_draft(session, project_id, user)
    session.commit()
    return _draft_json(session, hub, row)


def _draft_json(session: SessionDep, hub: HubDep, row: TaxonomyVersion) -> dict[str, Any]:
    conn = session.connection()
    assert row.base_id is not None
    tax = draft_taxonomy(row)
    base = hub.taxonomies.version(conn, row.base_id)
    return {
        "id": row.id, "base_id": row.base_id, "base_version": base.version,
        "taxonomy": tax.to_json(), "changes": [
            {**c, "describe": describe(parse_change(c))} for c in row.changes
        ],
        "diff": diff(base, tax), "usage": usage(conn, row.project_id),
    }  # fmt: skip


@router.put("/taxonomy/draft", dependencies=LEAD)
def put_draft(
    body: Body, session: SessionDep, hub: HubDep, user: CurrentUser, project_id: ProjectId
) -> dict[str, Any]:
    """Replace the draft's taxonomy document (edits on the lead page, or an imported
    taxonomy JSON). Recorded changes stay and are migrated on publish."""
    row = replace_body(session, open_draft(session, project_id, user), body.taxonomy)
    session.commit()
    return _draft_json(session, hub, row)


@router.post("/taxonomy/draft/changes", dependencies=LEAD)
def post_change(
    change: dict[str, Any], session: SessionDep, hub: HubDep, user: CurrentUser,
    project_id: ProjectId,
) -> dict[str, Any]:  # fmt: skip
    """Make one change (rename, merge, split, deprecate, value rename or merge, size
    prior) in the draft; publishing migrates existing labels by it."""
    row = add_change(session, open_draft(session, project_id, user), change)
    session.commit()
    return _draft_json(session, hub, row)


@router.delete("/taxonomy/draft", dependencies=LEAD)
def discard_draft(session: SessionDep, project_id: ProjectId) -> dict[str, Any]:
    row = draft(session, project_id)
    if row is not None:
        session.delete(row)
        session.commit()
    return {"discarded": row is not None}


@router.get("/taxonomy/draft/dry-run", dependencies=LEAD)
async def draft_dry_run(
    session: SessionDep, hub: HubDep, user: CurrentUser, project_id: ProjectId
) -> dict[str, Any]:
    """How many labels each change of the draft would touch, by scene and by task."""
    row = open_draft(session, project_id, user)
    session.commit()
    with hub.engine.connect() as conn:
        return await run_in_threadpool(dry_run, conn, hub.taxonomies, row)


@router.post("/taxonomy/draft/publish", dependencies=LEAD)
async def publish_draft(
    body: Publish, session: SessionDep, hub: HubDep, user: CurrentUser,
    project_id: ProjectId,
) -> dict[str, Any]:  # fmt: skip
    """Publish the draft as the newest version and move every task on its base version
    to it, migrating their labels as logged edits by this lead (reason: the version)."""
    row = draft(session, project_id)
    if row is None:
        raise ApiError(409, "no_draft", "there is no draft to publish")
    base_id = row.base_id
    assert base_id is not None
    version_id = publish(session, row, user, body.changelog)
    session.commit()
    tasks = tasks_on(session.connection(), project_id, base_id)
    session.commit()
    moved = [await _move(hub, session, user, t, base_id, version_id) for t in tasks]
    return {**_version_json(row, len(tasks)), "moved": moved}


@router.post("/tasks/{task_id}/taxonomy", dependencies=LEAD)
async def move_task(
    task: TaskDep, body: MoveTask, session: SessionDep, hub: HubDep, user: CurrentUser
) -> dict[str, Any]:
    """Move one task to a newer published version of its project, migrating its labels."""
    assert task.id is not None
    from_id = hub.taxonomies.for_task(session.connection(), task.id)[0]
    _version(session, body.version_id, task.project_id)
    if body.version_id == from_id:
        return {"task_id": task.id, "result": "unchanged", "edits": 0, "flagged": 0, "errors": []}
    session.commit()
    result = await _move(hub, session, user, task.id, from_id, body.version_id)
    if result["result"] != "ack":
        raise TaxonomyInvalidError(f"the task's labels do not migrate: {result['errors']}")
    return result


async def _move(
    hub: Hub, session: SessionDep, lead: User, task_id: int, from_id: int, to_id: int
) -> dict[str, Any]:
    """Move one task through the one write path: pin + migration edits in one batch
    (retried on a conflict with a concurrent edit), then flag split classes for review."""
    number = session.get(TaxonomyVersion, to_id)
    reason = f"taxonomy v{number.number if number else to_id}"
    reply: Ack | Reject | Conflict | None = None
    for _ in range(3):
        with hub.engine.connect() as conn:
            changes = chain(conn, hub.taxonomies, from_id, to_id)
            tm = await run_in_threadpool(task_migration, conn, task_id, changes)
        sub = Submission(task_id, lead.name, migration_ops(tm, to_id), trusted=True,
                         reason=reason, pin_version=to_id)  # fmt: skip
        reply = await hub.submit_trusted(sub)
        if not isinstance(reply, Conflict):
            break
    errors = [e.model_dump() for e in reply.errors] if isinstance(reply, Reject) else []
    if isinstance(reply, Ack) and not reply.replayed and lead.id is not None:
        for track_id, why in tm.migration.flagged.items():
            session.add(ReviewIssue(
                task_id=task_id, author_id=lead.id, error_type="taxonomy_change",
                comment=f"{reason}: {why}; check this track's class",
                object_kind="track", object_id=track_id,
            ))  # fmt: skip
        session.commit()
    return {"task_id": task_id, "result": reply.type if reply else "none",
            "edits": len(tm.ops), "flagged": len(tm.migration.flagged), "errors": errors}  # fmt: skip


@router.get("/taxonomy/usage", dependencies=LEAD)
def get_usage(session: SessionDep, project_id: ProjectId) -> dict[str, dict[str, int]]:
    return usage(session.connection(), project_id)


@router.get("/taxonomy/sizes", dependencies=LEAD)
def get_sizes(
    session: SessionDep, project_id: ProjectId,
    label: str = Query(min_length=1, max_length=64),
) -> dict[str, Any]:  # fmt: skip
    """A histogram of the class's existing box sizes (metres), for its size prior."""
    return size_histogram(session.connection(), project_id, label)
