"""The one service every reader of a taxonomy goes through: validation (the Writer),
importers, exporters, ``/api/taxonomy`` and the lead page.

Each project has published, immutable versions (``number`` 1, 2, ...) and at
most one draft (``taxonomyversion`` rows). Every task is pinned to a
published version (``task.taxonomy_version_id``); a label set is validated
under its task's version. A project without a version gets version 1, the
default AV taxonomy, the first time one is asked for.

Published versions never change, so :class:`Taxonomies` caches them by id.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine

from server.errors import ApiError
from server.models import Task, TaxonomyVersion, utcnow
from server.taxonomy import Taxonomy, TaxonomyError, default_document, from_json

VERSIONS = TaxonomyVersion.__table__  # type: ignore[attr-defined]
TASKS = Task.__table__  # type: ignore[attr-defined]
PUBLISHED, DRAFT = "published", "draft"


class TaxonomyNotFoundError(ApiError):
    """No taxonomy version with that id in the project."""

    def __init__(self, version_id: int | None) -> None:
        super().__init__(404, "taxonomy_version_not_found", f"no taxonomy version {version_id}")


class Taxonomies:
    """Published taxonomy versions of one database, parsed once and cached by id."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._cache: dict[int, Taxonomy] = {}
        self._lock = threading.Lock()

    def version(self, conn: Connection, version_id: int) -> Taxonomy:
        """A published version's taxonomy (:class:`TaxonomyNotFoundError` if none)."""
        cached = self._cache.get(version_id)
        if cached is not None:
            return cached
        row = conn.execute(
            select(VERSIONS.c.body, VERSIONS.c.number, VERSIONS.c.status).where(
                VERSIONS.c.id == version_id
            )
        ).first()
        if row is None or row.status != PUBLISHED:
            raise TaxonomyNotFoundError(version_id)
        taxonomy = parse_body(row.body, f"v{row.number}")
        with self._lock:
            self._cache[version_id] = taxonomy
        return taxonomy

    def current(self, conn: Connection, project_id: int) -> tuple[int, Taxonomy]:
        """The project's newest published version: its id and taxonomy (version 1, the
        default AV taxonomy, is created when the project has none)."""
        version_id = current_id(conn, project_id)
        return version_id, self.version(conn, version_id)

    def for_task(self, conn: Connection, task_id: int) -> tuple[int, Taxonomy]:
        """The version a task is pinned to (a task without one is pinned to its
        project's current version now)."""
        row = conn.execute(
            select(TASKS.c.taxonomy_version_id, TASKS.c.project_id).where(TASKS.c.id == task_id)
        ).first()
        if row is None:
            raise ApiError(404, "task_not_found", f"task {task_id} does not exist")
        if row.taxonomy_version_id is None:
            version_id = current_id(conn, row.project_id)
            conn.execute(
                update(TASKS).where(TASKS.c.id == task_id).values(taxonomy_version_id=version_id)
            )
            return version_id, self.version(conn, version_id)
        return row.taxonomy_version_id, self.version(conn, row.taxonomy_version_id)

    def document(self, conn: Connection, *, task_id: int | None, project_id: int) -> dict[str, Any]:
        """The taxonomy as ``/api/taxonomy`` and the workspace page serve it, with its
        ``version_id``: the task's version, or (``task_id`` None) the project's current one."""
        if task_id is None:
            version_id, tax = self.current(conn, project_id)
        else:
            version_id, tax = self.for_task(conn, task_id)
        return {"version_id": version_id, **tax.to_json()}

    def current_of(self, project_id: int) -> tuple[int, Taxonomy]:
        """:meth:`current` in its own transaction (importers, the CLI)."""
        with self.engine.begin() as conn:
            return self.current(conn, project_id)

    def of_task(self, task_id: int) -> tuple[int, Taxonomy]:
        """:meth:`for_task` in its own transaction (exporters, ``/api/taxonomy``)."""
        with self.engine.begin() as conn:
            return self.for_task(conn, task_id)


def parse_body(body: Any, version: str) -> Taxonomy:
    """A stored taxonomy document as a :class:`Taxonomy` named ``version``."""
    doc = dict(body) if isinstance(body, dict) else body
    if isinstance(doc, dict):
        doc["version"] = version
    try:
        return from_json(doc)
    except TaxonomyError as exc:
        raise ApiError(500, "taxonomy_unreadable", f"stored taxonomy {version}: {exc}") from exc


def current_id(conn: Connection, project_id: int) -> int:
    """The id of the project's newest published version, creating version 1 if none."""
    found = conn.execute(
        select(VERSIONS.c.id)
        .where(VERSIONS.c.project_id == project_id, VERSIONS.c.status == PUBLISHED)
        .order_by(VERSIONS.c.number.desc())
        .limit(1)
    ).scalar()
    if found is not None:
        return int(found)
    now = utcnow()
    result = conn.execute(
        insert(VERSIONS).values(
            project_id=project_id,
            number=1,
            status=PUBLISHED,
            body=default_document(),
            changes=[],
            changelog="The default AV taxonomy",
            created_at=now,
            published_at=now,
        )  # fmt: skip
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]
