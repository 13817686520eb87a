"""The whole review loop in Chromium, as three people: an annotator takes the next task,
labels and submits; a reviewer pins an issue on a box and rejects; the annotator sees
the marker in 3D, fixes the box, resolves the issue and resubmits; the reviewer
verifies and approves."""

from __future__ import annotations

import json
import urllib.error
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from e2e.conftest import ARTIFACTS, Server
from e2e.workspace_page import annotations, expect_saved, place_click, screen_xy, selected_cuboid

PASSWORD = "review-loop-password"


def person(browser: Browser, args: dict[str, object], server: Server, name: str) -> BrowserContext:
    """A browser context logged in as ``name`` (through ``POST /login``)."""
    ctx = browser.new_context(
        **{
            **args,
            "storage_state": {  # type: ignore[arg-type]
                "cookies": [server.session_cookie(name, PASSWORD)]
            },
        }
    )
    return ctx


def wait_for_workspace(page: Page) -> None:
    expect(page.locator("#workspace")).to_have_attribute("data-loaded-frame", "0", timeout=30_000)
    expect(page.get_by_test_id("task-info")).to_be_visible()


def act(page: Page, testid: str) -> None:
    """Click a button that leads to a new page (a task action reloads the workspace)."""
    with page.expect_navigation():
        page.get_by_test_id(testid).click()
    wait_for_workspace(page)


@pytest.fixture
def people(
    browser: Browser, browser_context_args: dict[str, object], server: Server
) -> Iterator[tuple[Page, Page, int]]:
    """An annotator's and a reviewer's pages, and a fresh scene whose task is the only one
    waiting in the queue (whatever other tests left in the label and review queues)."""
    suffix = uuid.uuid4().hex[:6]
    ann, rev = f"ann-{suffix}", f"rev-{suffix}"
    server.add_user(ann, "annotator", PASSWORD)
    server.add_user(rev, "reviewer", PASSWORD)
    for task in server.api("GET", "/api/tasks?state=open"):  # empty the queue
        server.api("POST", f"/api/tasks/{task['id']}/assign", {"assignee": "e2e"})
    while True:  # and the review queue: tasks other tests submitted (consensus, ...)
        try:
            waiting = server.api("POST", "/api/tasks/review/next")
        except urllib.error.HTTPError as exc:
            assert exc.code == 404, exc.read()
            break
        server.api("POST", f"/api/tasks/{waiting['id']}/approve")
    out = server.cli("ingest", str(server.data_dir / "sequence"), "--name", "review", "--json")
    scene_id = int(json.loads(out)["scene_id"])
    a = person(browser, browser_context_args, server, ann)
    r = person(browser, browser_context_args, server, rev)
    yield a.new_page(), r.new_page(), scene_id
    a.close()
    r.close()


def test_annotate_review_reject_fix_and_approve(
    people: tuple[Page, Page, int], server: Server
) -> None:
    ann, rev, scene_id = people
    # The annotator takes the next task from their home page, starts it and labels.
    ann.goto(server.url + "/")
    act(ann, "next-task")
    task_id = int(ann.locator("#workspace").get_attribute("data-task-id") or 0)
    assert server.api("GET", f"/api/tasks/{task_id}")["scene_id"] == scene_id
    act(ann, "task-start")
    place_click(ann, *screen_xy(ann, 20.0, -8.0))
    expect_saved(ann)
    box = selected_cuboid(ann)
    assert box is not None
    act(ann, "task-submit")
    assert server.api("GET", f"/api/tasks/{task_id}")["state"] == "submitted"

    # The reviewer takes it, selects the box, pins a "loose fit" issue to it and rejects.
    rev.goto(server.url + "/")
    act(rev, "next-review")
    assert rev.locator("#workspace").get_attribute("data-mode") == "review"
    rev.evaluate("(id) => window.pointlabel.app.select(id)", box["id"])
    rev.get_by_test_id("pin-type").select_option("loose_fit")
    rev.get_by_test_id("pin-comment").fill("the box is 1 m too long at the back")
    rev.wait_for_timeout(600)  # the panel re-renders as warnings refresh: the form must survive
    expect(rev.get_by_test_id("pin-type")).to_have_value("loose_fit")
    rev.get_by_test_id("pin-box").click()
    expect(rev.get_by_test_id("review-issue")).to_have_count(1)
    expect(rev.get_by_test_id("review-panel")).to_have_attribute("data-markers", "1")
    ARTIFACTS.mkdir(exist_ok=True)
    rev.screenshot(path=str(ARTIFACTS / "review.png"))  # docs/images/review.png, refreshed by hand
    act(rev, "task-reject")
    assert server.api("GET", f"/api/tasks/{task_id}")["state"] == "rejected"

    # The annotator sees the issue, and its marker in 3D, reworks the box and resubmits.
    ann.reload()
    wait_for_workspace(ann)
    issue = ann.get_by_test_id("review-issue")
    expect(issue).to_contain_text("loose fit")
    expect(ann.get_by_test_id("review-panel")).to_have_attribute("data-markers", "1")
    act(ann, "task-start")  # "Rework"
    ann.evaluate("(id) => window.pointlabel.app.select(id)", box["id"])
    ann.keyboard.press("k")  # length - 0.1 m
    expect_saved(ann)
    (fixed,) = annotations(server, task_id)["cuboids"]
    assert fixed["size"][0] == pytest.approx(box["size"][0] - 0.1)
    ann.get_by_test_id("issue-resolve").click()
    expect(ann.get_by_test_id("review-issue")).to_have_attribute("data-status", "resolved")
    act(ann, "task-submit")

    # The reviewer verifies the fix and approves.
    rev.goto(server.url + "/")
    act(rev, "next-review")
    rev.get_by_test_id("issue-close").click()
    expect(rev.get_by_test_id("review-issue")).to_have_attribute("data-status", "closed")
    act(rev, "task-approve")
    task = server.api("GET", f"/api/tasks/{task_id}")
    assert task["state"] == "approved"
    history = [h["to"] for h in server.api("GET", f"/api/tasks/{task_id}/history")]
    assert history == ["open", "assigned", "in_progress", "submitted", "in_review", "rejected",
                       "in_progress", "submitted", "in_review", "approved"]  # fmt: skip
