"""The policy table: the one source of each role's rights, and its generated page."""

from __future__ import annotations

from pathlib import Path

from server.policy import (
    DESCRIPTIONS,
    DOC_PATH,
    POLICY,
    Permission,
    Role,
    allows,
    render_markdown,
    write_markdown,
)


def test_permissions_page_matches_the_policy_table() -> None:
    assert DOC_PATH.read_text(encoding="utf-8") == render_markdown(), (
        "docs/permissions.md is stale: run `python -m server.policy`"
    )


def test_generator_writes_the_page(tmp_path: Path) -> None:
    path = write_markdown(tmp_path / "permissions.md")
    assert path.read_text(encoding="utf-8") == render_markdown()


def test_page_lists_every_role_and_permission_with_its_marks() -> None:
    page = render_markdown()
    for role in Role:
        assert f" {role.value} |" in page.splitlines()[5]
    for perm in Permission:
        row = next(line for line in page.splitlines() if line.startswith(f"| `{perm.value}` |"))
        marks = [c.strip() for c in row.split("|")[2:6]]
        assert marks == ["yes" if perm in POLICY[r] else "-" for r in Role]


def test_every_role_has_an_entry_and_every_permission_a_description() -> None:
    assert set(POLICY) == set(Role)
    assert set(DESCRIPTIONS) == set(Permission)
    assert POLICY[Role.admin] == frozenset(Permission)


def test_roles_differ_where_the_product_needs_them_to() -> None:
    assert allows("annotator", Permission.edit) and not allows("annotator", Permission.review)
    assert allows("reviewer", Permission.approve_reject) and not allows("reviewer", Permission.edit)
    assert allows("lead", Permission.assign) and not allows("lead", Permission.manage_users)
    assert allows("admin", Permission.manage_users)
    assert not allows("intruder", Permission.view)
