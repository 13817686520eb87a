"""The selected box's sub-views (top, side, front) in real Chromium: they draw the points
near the box, and dragging their handles resizes, moves and rotates it, one undo step
per drag, stored on the server."""

from __future__ import annotations

import math
from typing import Any

from playwright.sync_api import Page, expect

from e2e.conftest import Server
from e2e.test_editing import first_car
from e2e.workspace_page import (
    drag,
    expect_saved,
    open_scene,
    page_cuboids,
    place_click,
    screen_xy,
    server_cuboids,
)

# Pixels of a sub-view that are neither its background nor the outline and handle
# colours: the points drawn in it.
COUNT_POINT_PIXELS = """(testid) => {
  const src = document.querySelector(`[data-testid="${testid}"]`);
  const d = src.getContext('2d').getImageData(0, 0, src.width, src.height).data;
  const skip = [[16, 19, 23], [255, 255, 255], [79, 195, 247], [255, 183, 77], [21, 24, 29]];
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (skip.every(([r, g, b]) => Math.abs(d[i] - r) + Math.abs(d[i + 1] - g) + Math.abs(d[i + 2] - b) > 60)) n++;
  }
  return n;
}"""


def handle(page: Page, view: str, part: str) -> tuple[float, float]:
    """Where a handle of the selected box is in a sub-view, once the views show the box."""
    page.wait_for_function("() => window.pointlabel.subviews.aligned")
    p = page.evaluate(
        "([v, part]) => window.pointlabel.subviews.clientPoint(v, part)", [view, part]
    )
    return float(p["x"]), float(p["y"])


def scale(page: Page, view: str) -> float:
    """A sub-view's zoom in pixels per metre."""
    return float(
        page.evaluate(
            "(v) => window.pointlabel.subviews.views.find((x) => x.spec.name === v).scale", view
        )
    )


def only_box(server: Server, scene: int) -> dict[str, Any]:
    (box,) = server_cuboids(server, scene)
    return box


def test_subview_handles_resize_and_rotate_the_box_one_undo_step_per_drag(
    page: Page, server: Server, scene: int, ground_truth: dict[str, Any]
) -> None:
    car = first_car(ground_truth)
    open_scene(page, server, scene)
    subviews = page.get_by_test_id("subviews")
    expect(subviews).to_be_hidden()
    place_click(
        page, *screen_xy(page, car["center"][0], car["center"][1])
    )  # a default Car, selected
    expect_saved(page)
    placed = only_box(server, scene)
    assert placed["yaw"] == 0 and placed["size"] == [4.5, 1.9, 1.6]

    expect(subviews).to_be_visible()
    page.wait_for_function("() => window.pointlabel.subviews.aligned")
    page.wait_for_timeout(300)  # points that were still streaming are redrawn
    for view in ("top", "side", "front"):
        canvas = page.get_by_test_id(f"subview-{view}")
        expect(canvas).to_be_visible()
        assert int(page.evaluate(COUNT_POINT_PIXELS, f"subview-{view}")) > 200, view

    # Top view, heading to the right: drag the front edge 40 px further ahead.
    px_per_m = scale(page, "top")
    x, y = handle(page, "top", "front")
    drag(page, (x, y), (x + 40, y))
    expect_saved(page)
    longer = only_box(server, scene)
    grown = longer["size"][0] - 4.5
    assert abs(grown - 40 / px_per_m) < 0.05
    assert longer["size"][1:] == [1.9, 1.6] and longer["yaw"] == 0
    # The back edge stays: the centre moved half the change along the heading (+x).
    assert abs((longer["center"][0] - longer["size"][0] / 2) - (placed["center"][0] - 2.25)) < 1e-6
    assert abs(longer["center"][0] - (placed["center"][0] + grown / 2)) < 1e-6
    assert abs(longer["center"][1] - placed["center"][1]) < 1e-9
    assert longer["center"][2] == placed["center"][2]

    # Side view: drag the top edge 30 px up; the bottom stays.
    px_per_m = scale(page, "side")
    x, y = handle(page, "side", "top")
    drag(page, (x, y), (x, y - 30))
    expect_saved(page)
    taller = only_box(server, scene)
    assert abs(taller["size"][2] - (1.6 + 30 / px_per_m)) < 0.05
    bottom = placed["center"][2] - 0.8
    assert abs((taller["center"][2] - taller["size"][2] / 2) - bottom) < 1e-6
    assert taller["size"][:2] == longer["size"][:2] and taller["center"][:2] == longer["center"][:2]

    # Top view: turn the rotate handle (ahead of the front) a quarter circle to the left.
    x, y = handle(page, "top", "rotate")
    cx, cy = handle(page, "top", "inside")
    r = math.hypot(x - cx, y - cy)
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 9):  # along the circle, screen up is the box's left: counter-clockwise
        a = math.radians(45 * i / 8)
        page.mouse.move(cx + r * math.cos(a), cy - r * math.sin(a))
    page.mouse.up()
    expect_saved(page)
    turned = only_box(server, scene)
    assert abs(turned["yaw"] - math.radians(45)) < 0.05
    assert turned["center"] == taller["center"] and turned["size"] == taller["size"]
    (shown,) = page_cuboids(page)
    assert shown["yaw"] == turned["yaw"]

    # One Ctrl+Z undoes exactly the rotation; the resizes stay.
    assert page.evaluate("() => window.pointlabel.editor.undoStack.length") == 4
    page.keyboard.press("Control+z")
    expect_saved(page)
    undone = only_box(server, scene)
    assert undone["yaw"] == 0
    assert undone["center"] == taller["center"] and undone["size"] == taller["size"]
    page.wait_for_function("() => window.pointlabel.subviews.aligned")


def test_dragging_inside_the_front_view_moves_the_box_sideways_and_up(
    page: Page, server: Server, scene: int
) -> None:
    open_scene(page, server, scene)
    place_click(page, *screen_xy(page, 20.0, -10.0))
    expect_saved(page)
    placed = only_box(server, scene)
    px_per_m = scale(page, "front")
    x, y = handle(page, "front", "inside")
    drag(page, (x, y), (x + 20, y - 10))  # screen right in the front view is the box's left: +y
    expect_saved(page)
    moved = only_box(server, scene)
    assert abs(moved["center"][0] - placed["center"][0]) < 1e-9
    assert abs(moved["center"][1] - (placed["center"][1] + 20 / px_per_m)) < 1e-6
    assert abs(moved["center"][2] - (placed["center"][2] + 10 / px_per_m)) < 1e-6
    assert moved["size"] == placed["size"]
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("subviews")).to_be_hidden()
