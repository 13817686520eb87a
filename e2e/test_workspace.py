"""The workspace in real Chromium: points drawn, a box placed with the mouse survives
a reload and a server restart."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

from e2e.conftest import SHARED, Server
from e2e.workspace_page import annotations, open_scene, place_click, press_quickly, screen_xy

BACKGROUND = (0x10, 0x13, 0x17)

# Copies the WebGL canvas into a 2D canvas and counts pixels that differ from the
# clear colour: points (and boxes) that were actually rasterised.
COUNT_DRAWN = """([r, g, b]) => {
  const src = document.querySelector('#viewport canvas');
  const c = document.createElement('canvas');
  c.width = src.width; c.height = src.height;
  const ctx = c.getContext('2d');
  ctx.drawImage(src, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (Math.abs(d[i] - r) + Math.abs(d[i + 1] - g) + Math.abs(d[i + 2] - b) > 30) n++;
  }
  return n;
}"""


def drawn_pixels(page: Page) -> int:
    return int(page.evaluate(COUNT_DRAWN, list(BACKGROUND)))


def canvas_centre(page: Page) -> tuple[float, float]:
    box = page.locator("#viewport canvas").bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_generated_sequence_draws_its_points(page: Page, server: Server) -> None:
    open_scene(page, server, 1)
    assert drawn_pixels(page) > 2_000
    expect(page.get_by_test_id("point-stats")).to_contain_text("points drawn")


def test_box_drawn_with_the_mouse_survives_reload_and_server_restart(
    page: Page, server: Server, scene: int
) -> None:
    open_scene(page, server, scene)
    stats = page.get_by_test_id("point-stats")
    expect(stats).to_have_attribute("data-loading", "0")  # every tile in: a stable picture
    before = drawn_pixels(page)
    x, y = screen_xy(page, 20.0, -8.0)  # open ground beside the road, whatever the layout
    page.get_by_label("Class").select_option("Truck")
    place_click(page, x, y)
    expect(page.get_by_test_id("box-count")).to_have_text("1")
    expect(page.get_by_test_id("save-state")).to_have_attribute("data-state", "saved")
    expect(stats).to_have_attribute("data-loading", "0")
    page.wait_for_timeout(300)  # a few animation frames
    assert drawn_pixels(page) > before  # the box itself is drawn
    (placed,) = annotations(server, scene)["cuboids"]

    x, y = screen_xy(page, *placed["center"])  # grab the box by its centre
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 30, y + 30, steps=5)
    page.mouse.move(x + 60, y + 60, steps=5)
    page.mouse.up()
    expect(page.get_by_test_id("save-state")).to_have_attribute("data-state", "saved")
    (moved,) = annotations(server, scene)["cuboids"]
    assert moved["id"] == placed["id"] and moved["revision"] > placed["revision"]
    assert moved["center"][0] > placed["center"][0] + 2  # moved right (+x) in the top view
    assert moved["center"][1] < placed["center"][1] - 2  # and down (-y)

    page.reload()
    open_scene(page, server, scene)
    expect(page.get_by_test_id("box-count")).to_have_text("1")
    server.restart()
    open_scene(page, server, scene)
    expect(page.get_by_test_id("box-count")).to_have_text("1")
    (after,) = annotations(server, scene)["cuboids"]
    assert after == moved
    assert {t["label"] for t in annotations(server, scene)["tracks"]} == {"Truck"}


def test_undo_removes_the_box_from_the_server(page: Page, server: Server, scene: int) -> None:
    open_scene(page, server, scene)
    page.keyboard.press(",")  # stay on frame 0; a no-op at the first frame
    count = len(annotations(server, scene)["cuboids"])
    x, y = canvas_centre(page)
    place_click(page, x - 150, y + 60)
    expect(page.get_by_test_id("save-state")).to_have_attribute("data-state", "saved")
    assert len(annotations(server, scene)["cuboids"]) == count + 1
    page.keyboard.press("Control+z")
    expect(page.get_by_test_id("box-count")).to_have_text(str(count))
    expect(page.get_by_test_id("save-state")).to_have_attribute("data-state", "saved")
    assert len(annotations(server, scene)["cuboids"]) == count


@pytest.mark.parametrize("scene_id,name", [(2, "kitti"), (3, "autzen"), (4, "sustech")])
def test_real_scans_draw_their_points(
    page: Page,
    server: Server,
    scene_id: int,
    name: str,
    doc_image: Callable[[Page | Locator, str], None],
) -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared/data not present")
    open_scene(page, server, scene_id)
    assert drawn_pixels(page) > 2_000, name
    if name == "kitti":
        x, y = canvas_centre(page)
        place_click(page, x + 60, y)
        expect(page.get_by_test_id("save-state")).to_have_attribute("data-state", "saved")
        place_click(page, x - 90, y + 70)  # and one the server warns about: a 0.10 m car
        expect(page.get_by_test_id("save-state")).to_have_attribute("data-state", "saved")
        press_quickly(page, "K", 9, shift=True)
        expect(page.get_by_test_id("box-warning")).to_contain_text("length 0.10 m is outside Car's")
        expect(page.get_by_test_id("warning-badge")).to_be_visible()
        page.keyboard.press("Escape")  # no box views: the object list is in sight
        page.get_by_test_id("objects").scroll_into_view_if_needed()
        doc_image(page, "workspace.png")  # the README's: `make images` refreshes it
