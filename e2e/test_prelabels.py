"""Pre-labels in real Chromium: run the CPU pipeline on a frame, accept two (Y), reject one,
reload; the server keeps their source, who accepted them, and nothing of the rejected one."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from e2e.conftest import ARTIFACTS, E2E_USER, Server
from e2e.workspace_page import annotations, expect_saved, open_scene, selected_cuboid


def test_prelabel_a_frame_accept_two_reject_one_and_reload(
    page: Page, server: Server, scene: int
) -> None:
    open_scene(page, server, scene)
    page.get_by_test_id("prelabel-run").click()
    expect(page.get_by_test_id("toast")).to_contain_text("pre-labels added", timeout=30_000)
    count = page.get_by_test_id("prelabel-count")
    expect(count).not_to_have_text("0")
    pending = int(count.inner_text())
    assert pending >= 3

    accepted = []
    for _ in range(2):
        page.keyboard.press("Tab")
        box = selected_cuboid(page) or {}
        assert box.get("source") == "pre-label"
        page.keyboard.press("y")
        accepted.append(box["id"])
    page.keyboard.press("Tab")
    rejected = (selected_cuboid(page) or {})["id"]
    assert rejected not in accepted
    page.get_by_role("button", name="Reject").click()
    expect(count).to_have_text(str(pending - 3))
    expect_saved(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "prelabels.png"))

    page.reload()
    open_scene(page, server, scene)
    expect(count).to_have_text(str(pending - 3))
    boxes = {c["id"]: c for c in annotations(server, scene)["cuboids"]}
    assert rejected not in boxes
    for box_id in accepted:
        assert boxes[box_id]["source"] == "pre-label"
        assert boxes[box_id]["attributes"]["prelabel"]["accepted_by"] == E2E_USER
    others = [c for i, c in boxes.items() if i not in accepted]
    assert all(c["attributes"]["prelabel"]["accepted_by"] is None for c in others)
