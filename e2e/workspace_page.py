"""Helpers for driving the workspace page and reading the server's state in e2e tests."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from e2e.conftest import Server

CUBOID_FIELDS = ("id", "track_id", "frame", "center", "size", "yaw", "revision")


def open_scene(page: Page, server: Server, task_id: int) -> None:
    """Open a task's workspace and wait until frame 0 is drawn and everything is saved."""
    page.goto(f"{server.url}/tasks/{task_id}")
    expect(page.locator("#workspace")).to_have_attribute("data-loaded-frame", "0", timeout=20_000)
    expect(page.get_by_test_id("save-state")).to_have_attribute("data-state", "saved")
    page.wait_for_timeout(200)  # a few animation frames


def annotations(server: Server, task_id: int) -> dict[str, Any]:
    """The REST snapshot of a task's label set."""
    return dict(server.api("GET", f"/api/tasks/{task_id}/annotations"))


def press_quickly(page: Page, key: str, times: int, *, shift: bool = False) -> None:
    """Press ``key`` ``times`` times in one task, as a held key repeats: one merged undo
    step however slow the machine (Playwright's separate presses can be further apart than
    the editor's merge window on a loaded machine)."""
    page.evaluate(
        """([key, times, shift]) => { for (let i = 0; i < times; i++) window.dispatchEvent(
             new KeyboardEvent('keydown', { key, shiftKey: shift, bubbles: true })); }""",
        [key, times, shift],
    )


def expect_saved(page: Page) -> None:
    expect(page.get_by_test_id("save-state")).to_have_attribute("data-state", "saved")


def screen_xy(page: Page, x: float, y: float, z: float = 0.0) -> tuple[float, float]:
    """Where absolute frame coordinates (x, y, z) are on the page, in the current view."""
    p = page.evaluate(
        """([x, y, z]) => { const { app, viewer } = window.pointlabel; const o = app.offset;
             return viewer.screenPoint([x - o[0], y - o[1], z - o[2]]); }""",
        [x, y, z],
    )
    return float(p["x"]), float(p["y"])


def place_click(page: Page, x: float, y: float) -> None:
    """Shift+click on the ground in the top view: a default-size box of the chosen class
    (a plain click creates nothing)."""
    page.keyboard.down("Shift")
    page.mouse.click(x, y)
    page.keyboard.up("Shift")


def drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=8)
    page.mouse.up()


def page_cuboids(page: Page) -> list[dict[str, Any]]:
    """The cuboids the page holds (window.pointlabel.app), sorted by id."""
    return list(
        page.evaluate(
            "() => [...window.pointlabel.app.cuboids.values()].sort((a, b) => a.id < b.id ? -1 : 1)"
        )
    )


def page_tracks(page: Page) -> list[dict[str, Any]]:
    return list(
        page.evaluate(
            "() => [...window.pointlabel.app.tracks.values()].sort((a, b) => a.id < b.id ? -1 : 1)"
        )
    )


def server_cuboids(server: Server, scene_id: int) -> list[dict[str, Any]]:
    return sorted(annotations(server, scene_id)["cuboids"], key=lambda c: str(c["id"]))


def selected_cuboid(page: Page) -> dict[str, Any] | None:
    result = page.evaluate(
        "() => { const a = window.pointlabel.app; return a.selected ? a.cuboids.get(a.selected) : null; }"
    )
    return None if result is None else dict(result)


def go_to_frame(page: Page, frame: int) -> None:
    """Step with , and . to a 0-based frame and wait until the page shows it."""
    now = int(page.evaluate("() => window.pointlabel.app.frame"))
    for _ in range(abs(frame - now)):
        page.keyboard.press("." if frame > now else ",")
    total = int(page.evaluate("() => window.pointlabel.app.scene.frames.length"))
    expect(page.get_by_test_id("frame-label")).to_have_text(f"frame {frame + 1} / {total}")


def lane_bar_area(page: Page, lane: str) -> Any:
    """The bar area of a timeline lane: "ego" or a track id."""
    return page.get_by_test_id(f"lane-{lane}").locator(".tl-track")


def frame_x(page: Page, area: Any, frame: int) -> tuple[float, float]:
    """The page coordinates of the middle of a frame's cell in a timeline lane."""
    box = area.bounding_box()
    assert box is not None
    total = int(page.evaluate("() => window.pointlabel.app.scene.frames.length"))
    return box["x"] + (frame + 0.5) / total * box["width"], box["y"] + box["height"] / 2


def server_tags(server: Server, scene_id: int) -> list[dict[str, Any]]:
    return sorted(annotations(server, scene_id)["tags"], key=lambda t: str(t["id"]))


def track_cuboids(server: Server, scene_id: int, track_id: str) -> dict[int, dict[str, Any]]:
    """The server's cuboids of one track by frame."""
    return {
        int(c["frame"]): c
        for c in annotations(server, scene_id)["cuboids"]
        if c["track_id"] == track_id
    }
