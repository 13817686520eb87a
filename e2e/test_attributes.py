"""The attribute panel edits a box's and its track's taxonomy attributes, undoably."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from e2e.conftest import Server
from e2e.workspace_page import annotations, expect_saved, open_scene, place_click


def test_attributes_are_stored_and_undone(page: Page, server: Server, scene: int) -> None:
    open_scene(page, server, scene)
    box = page.locator("#viewport canvas").bounding_box()
    assert box is not None
    place_click(page, box["x"] + box["width"] / 2 + 90, box["y"] + box["height"] / 2 - 30)
    expect_saved(page)
    expect(page.get_by_test_id("attributes")).to_be_visible()

    page.get_by_test_id("attr-box-occlusion").select_option("partial")
    expect_saved(page)
    page.get_by_test_id("attr-track-parked").check()
    expect_saved(page)
    state = annotations(server, scene)
    assert state["cuboids"][0]["attributes"] == {"occlusion": "partial"}
    assert state["tracks"][0]["attributes"] == {"number": 1, "parked": True}  # "Car 1"

    page.locator("#viewport canvas").focus()
    page.keyboard.press("Control+z")
    expect_saved(page)
    expect(page.get_by_test_id("attr-track-parked")).not_to_be_checked()
    state = annotations(server, scene)
    assert state["tracks"][0]["attributes"] == {"number": 1}
    assert state["cuboids"][0]["attributes"] == {"occlusion": "partial"}
