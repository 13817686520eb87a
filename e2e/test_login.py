"""Logging in with the login page in real Chromium: the form's own Origin passes the
CSRF rule, the session cookie is HttpOnly, a wrong password shows an error."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from e2e.conftest import Server

PASSWORD = "e2e long password"


@pytest.fixture
def page(browser: Browser, browser_context_args: dict[str, Any]) -> Iterator[Page]:
    """A page of a new browser with no session (the shared e2e session stays untouched:
    logging in from a browser ends that browser's previous session)."""
    args = {k: v for k, v in browser_context_args.items() if k != "storage_state"}
    ctx = browser.new_context(**args)
    yield ctx.new_page()
    ctx.close()


def test_login_page_logs_in_and_the_cookie_is_invisible_to_scripts(
    page: Page, server: Server
) -> None:
    name = f"ana-{uuid.uuid4().hex[:6]}"
    server.cli("users", "add", name, "--role", "annotator", "--password", PASSWORD)
    page.goto(f"{server.url}/login?next=/")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("wrong user name or password")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="My tasks")).to_be_visible()
    assert page.url == f"{server.url}/"
    me = page.evaluate("fetch('/api/me').then(r => r.json())")
    assert me["name"] == name and me["role"] == "annotator" and me["csrf_token"]
    assert "pointlabel_session" not in page.evaluate("document.cookie")
    status = page.evaluate(
        """(csrf) => fetch('/logout', {method: 'POST', headers: {'X-CSRF-Token': csrf}})
                     .then(r => r.status)""",
        me["csrf_token"],
    )
    assert status == 200
    assert page.evaluate("fetch('/api/me').then(r => r.status)") == 401
