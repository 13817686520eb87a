"""Roles and what each may do: the one policy table.

:data:`POLICY` is the only source of the rights of a role. The FastAPI
dependency ``require(permission)`` (``server/auth.py``) and the write path
ask :func:`allows`; ``docs/permissions.md`` is generated from the table
(``python -m server.policy``), and a test fails when the two drift.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path


class Role(StrEnum):
    """A user's role. Stored as its value in ``user.role``."""

    annotator = "annotator"
    reviewer = "reviewer"
    lead = "lead"
    admin = "admin"


class Permission(StrEnum):
    """One right. The description is what ``docs/permissions.md`` says about it."""

    view = "view"
    edit = "edit"
    submit = "submit"
    review = "review"
    approve_reject = "approve_reject"
    assign = "assign"
    edit_taxonomy = "edit_taxonomy"
    manage_users = "manage_users"
    see_quality = "see_quality"
    export = "export"
    import_ = "import"
    upload = "upload"
    operate = "operate"
    query_sql = "query_sql"
    manage_quality = "manage_quality"


DESCRIPTIONS: dict[Permission, str] = {
    Permission.view: "open scenes and tasks they may see: pages, tiles, hierarchies, camera images, annotations",
    Permission.edit: "change labels (cuboids, tracks, tags) in a task assigned to them and in progress",
    Permission.submit: "submit their task for review",
    Permission.review: "open a submitted task for review, pin issues and reply to them",
    Permission.approve_reject: "approve a task in review, or reject it with open issues",
    Permission.assign: "create tasks and assign them to annotators and reviewers",
    Permission.edit_taxonomy: "change classes, attributes and tag types",
    Permission.manage_users: "add users, change roles, disable users, issue API tokens for others",
    Permission.see_quality: "see team throughput, rejection rates and label-quality figures",
    Permission.export: "download labels in an interchange format",
    Permission.import_: "import labelled scenes from the server's import folder",
    Permission.upload: "upload point-cloud files as new scenes; rename and delete scenes",
    Permission.operate: "scrape the server's metrics (`/metrics`)",
    Permission.query_sql: "run read-only SQL over the whole database in the SQL console (docs/schema.md)",
    Permission.manage_quality: "read and set a project's review sampling policy and golden rate, mark golden tasks, send scenes to consensus and promote a consensus",
}

P = Permission
POLICY: dict[Role, frozenset[Permission]] = {
    Role.annotator: frozenset({P.view, P.edit, P.submit}),
    Role.reviewer: frozenset({P.view, P.review, P.approve_reject, P.see_quality}),
    Role.lead: frozenset(
        {
            P.view,
            P.edit,
            P.submit,
            P.review,
            P.approve_reject,
            P.assign,
            P.edit_taxonomy,
            P.see_quality,
            P.export,
            P.import_,
            P.upload,
            P.query_sql,
            P.manage_quality,
        }
    ),
    Role.admin: frozenset(Permission),
}

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "permissions.md"


def permissions_of(role: str) -> frozenset[Permission]:
    """The rights of ``role``; none for a role the table does not know."""
    try:
        return POLICY[Role(role)]
    except ValueError:
        return frozenset()


def allows(role: str, permission: Permission) -> bool:
    """Whether ``role`` holds ``permission``."""
    return permission in permissions_of(role)


def render_markdown() -> str:
    """``docs/permissions.md``: the policy table as a role x permission grid."""
    roles = list(Role)
    lines = [
        "# Permissions",
        "",
        "Generated from `server/policy.py` (`POLICY`) by `python -m server.policy`;",
        "do not edit by hand. A test fails when this file and the table differ.",
        "",
        "| permission | " + " | ".join(r.value for r in roles) + " | what it allows |",
        "| --- | " + " | ".join(":-:" for _ in roles) + " | --- |",
    ]
    for perm in Permission:
        marks = " | ".join("yes" if perm in POLICY[r] else "-" for r in roles)
        lines.append(f"| `{perm.value}` | {marks} | {DESCRIPTIONS[perm]} |")
    lines += [
        "",
        "An anonymous client holds no permission: a route that needs a user answers",
        "401 `not_authenticated`, and a user without the permission a route needs gets",
        "403 `forbidden`. A disabled user cannot log in, and their sessions and API",
        "tokens stop working at once. See `docs/security.md`.",
        "",
    ]
    return "\n".join(lines)


def write_markdown(path: Path = DOC_PATH) -> Path:
    """Write :func:`render_markdown` to ``path``; returns the path."""
    path.write_text(render_markdown(), encoding="utf-8")
    return path


if __name__ == "__main__":
    sys.stdout.write(f"wrote {write_markdown()}\n")
