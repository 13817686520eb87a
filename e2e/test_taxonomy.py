"""A lead changes the taxonomy on the taxonomy page while an annotator works: the
annotator's open workspace follows without a reload, and a migrated box's history
shows the migration edit."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from e2e.conftest import Server
from e2e.workspace_page import open_scene

ANNOTATOR, PASSWORD = "tax-annotator", "tax-annotator-password"
LIVE_MS = 15_000


@pytest.fixture
def annotator(
    browser: Browser, server: Server, browser_context_args: dict[str, Any]
) -> Iterator[tuple[BrowserContext, str]]:
    """A browser context logged in as an annotator, and their API token."""
    token = server.add_user(ANNOTATOR, "annotator", PASSWORD)
    cookie = server.session_cookie(ANNOTATOR, PASSWORD)
    ctx = browser.new_context(viewport=browser_context_args["viewport"],
                              storage_state={"cookies": [cookie]})  # fmt: skip
    yield ctx, token
    ctx.close()


def _labels(server: Server, task: int, token: str) -> dict[str, str]:
    """Track id -> class, as a script: boxes of a Sign, a Trailer and a Car."""
    ops: list[dict[str, Any]] = []
    ids = {}
    for label, centre, size in (("Sign", [6.0, 3.0, -0.5], [0.8, 0.2, 2.5]),
                                ("Trailer", [12.0, -4.0, -0.2], [8.0, 2.5, 3.0]),
                                ("Car", [18.0, 4.0, -0.9], [4.5, 1.9, 1.6])):  # fmt: skip
        tid = uuid.uuid4().hex
        ids[tid] = label
        ops.append({"op": "create", "kind": "track", "id": tid, "data": {"label": label}})
        ops.append({"op": "create", "kind": "cuboid", "id": uuid.uuid4().hex,
                    "data": {"track_id": tid, "frame": 0, "center": centre, "size": size, "yaw": 0.0}})  # fmt: skip
    reply = server.api("POST", f"/api/tasks/{task}/ops",
                       {"type": "ops", "seq": 1, "client_id": "script", "ops": ops}, token=token)  # fmt: skip
    assert reply["type"] == "ack", reply
    return ids


def _change(page: Page, kind: str, name: str, target: str) -> None:
    form = page.get_by_test_id("change-form")
    form.get_by_label("Change kind").select_option(kind)
    form.get_by_label("Class").fill(name)
    form.get_by_label("Target").fill(target)
    form.get_by_role("button", name="Add change").click()


def test_lead_renames_and_merges_and_an_open_workspace_follows_without_reload(
    page: Page, server: Server, annotator: tuple[BrowserContext, str]
) -> None:
    ctx, token = annotator
    out = server.cli("ingest", str(server.data_dir / "sequence"), "--name", "taxonomy", "--json")
    task = int(json.loads(out)["task_id"])  # open: the lead gives it to the annotator
    server.api("POST", f"/api/tasks/{task}/assign", {"assignee": ANNOTATOR})
    server.api("POST", f"/api/tasks/{task}/start", {}, token=token)
    tracks = _labels(server, task, token)
    work = ctx.new_page()
    open_scene(work, server, task)
    expect(work.locator("#box-list li")).to_have_count(3)
    classes = work.get_by_label("Class")
    expect(classes.locator("option[value=Sign]")).to_have_count(1)

    page.goto(f"{server.url}/taxonomy")
    expect(page.get_by_test_id("draft-classes")).to_contain_text("Trailer")
    sign_row = page.get_by_test_id("draft-classes").locator("tr[data-class=Sign]")
    expect(sign_row.locator("td").nth(2)).not_to_have_text("0")  # usage counts
    _change(page, "rename_class", "Sign", "TrafficSign")
    expect(page.get_by_test_id("changes")).to_contain_text("rename Sign -> TrafficSign")
    _change(page, "merge_class", "Trailer", "Truck")
    expect(page.get_by_test_id("changes")).to_contain_text("merge Trailer into Truck")
    page.get_by_test_id("dry-run").click()
    dry = page.get_by_test_id("dry-run-table")
    expect(dry).to_contain_text("rename Sign -> TrafficSign")
    expect(dry).to_contain_text(f"task {task}: 1 tracks")
    page.get_by_label("Changelog").fill("Signs are traffic signs; trailers are labelled as trucks")
    page.get_by_test_id("publish").click()
    # publishing migrates every task of the project that earlier tests made (50+): slow on a busy machine
    expect(page.get_by_test_id("taxonomy-message")).to_contain_text(
        re.compile(r"published v\d+"), timeout=60_000
    )

    # The annotator's workspace: new names in the picker and on the boxes, no reload.
    expect(classes.locator("option[value=TrafficSign]")).to_have_count(1, timeout=LIVE_MS)
    expect(classes.locator("option[value=Sign]")).to_have_count(0)
    expect(classes.locator("option[value=Trailer]")).to_have_count(0)
    box_list = work.locator("#box-list li")
    expect(box_list.filter(has_text="TrafficSign")).to_have_count(1, timeout=LIVE_MS)
    expect(box_list.filter(has_text="Truck")).to_have_count(1)
    labels = work.evaluate(
        "() => Object.fromEntries([...window.pointlabel.app.tracks.values()].map((t) => [t.id, t.label]))"
    )
    want = {"Sign": "TrafficSign", "Trailer": "Truck", "Car": "Car"}
    assert labels == {tid: want[label] for tid, label in tracks.items()}

    box_list.filter(has_text="TrafficSign").click()
    work.get_by_test_id("history-button").click()
    history = work.get_by_test_id("box-history")
    expect(history.locator("li")).to_have_count(3)  # track created, box created, migration
    expect(history.locator("li.server-edit")).to_contain_text(
        re.compile(r"track update · e2e · taxonomy v\d+ · label \"Sign\" → \"TrafficSign\"")
    )
    expect(work.get_by_test_id("save-state")).to_have_attribute("data-state", "saved")
