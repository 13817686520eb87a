"""A working day's basics (docs/workspace.md): warnings where the work is, keys that
work after a dropdown, a plain click that creates nothing, the wheel zooming toward
the pointer, and the `?` overlay made from the key map."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import Server
from e2e.workspace_page import (
    annotations,
    expect_saved,
    open_scene,
    place_click,
    press_quickly,
    screen_xy,
    selected_cuboid,
    server_cuboids,
)


def test_a_010_m_car_and_a_45_m_pedestrian_show_their_warnings_on_the_object_and_in_the_header(
    page: Page, server: Server, scene: int
) -> None:
    open_scene(page, server, scene)
    badge = page.get_by_test_id("warning-badge")
    place_click(page, *screen_xy(page, 20.0, -10.0))  # a default Car
    expect_saved(page)
    press_quickly(page, "K", 9, shift=True)  # length 4.5 m - 9 x 0.5 m: down to 0.10 m
    expect_saved(page)
    car = selected_cuboid(page)
    assert car is not None and car["size"][0] == 0.1
    place_click(page, *screen_xy(page, 28.0, 8.0))
    expect_saved(page)
    classes = server.api("GET", f"/api/taxonomy?task_id={scene}")["classes"]
    usable = [c["name"] for c in classes if not c["deprecated"]]
    page.keyboard.press(str(usable.index("Pedestrian") + 1))  # a 4.5 m long Pedestrian
    expect_saved(page)
    pedestrian = selected_cuboid(page)
    assert pedestrian is not None and pedestrian["size"][0] == 4.5

    marks = page.get_by_test_id("box-warning")
    expect(marks.filter(has_text="length 0.10 m is outside Car's")).to_have_count(1)
    expect(marks.filter(has_text="length 4.50 m is outside Pedestrian's")).to_have_count(1)
    expect(page.get_by_test_id("selection-warnings")).to_contain_text(
        "length 4.50 m is outside Pedestrian's"
    )
    warnings = server.api("GET", f"/api/tasks/{scene}/warnings")
    assert {w["code"] for w in warnings} >= {"size_outside_prior"}
    expect(badge).to_have_text(f"⚠ {len(warnings)} warnings")

    # The list's filter shows the two warned tracks; the badge opens a warned object.
    page.get_by_test_id("object-warned-filter").check()
    expect(page.get_by_test_id("object-name")).to_have_text(["Car 1", "Pedestrian 2"])
    page.keyboard.press("Escape")
    badge.click()
    opened = selected_cuboid(page)
    assert opened is not None and opened["id"] in {car["id"], pedestrian["id"]}

    # Fixed, the warning goes away.
    page.get_by_test_id("box-warning").filter(has_text="Car").click()
    press_quickly(page, "K", 8)  # nothing: K shrinks; I grows
    press_quickly(page, "I", 8, shift=True)  # 0.10 m + 4 m
    expect_saved(page)
    expect(marks.filter(has_text="Car's")).to_have_count(0)


def test_keys_nudge_the_box_after_a_dropdown_was_used(
    page: Page, server: Server, scene: int
) -> None:
    open_scene(page, server, scene)
    place_click(page, *screen_xy(page, 20.0, -10.0))
    expect_saved(page)
    box = selected_cuboid(page)
    assert box is not None
    colour = page.get_by_label("Colour by")
    colour.select_option("intensity")
    colour.focus()
    page.keyboard.press("ArrowRight")  # the box moves 0.1 m right; the colour mode stays
    expect_saved(page)
    expect(colour).to_have_value("intensity")
    (moved,) = server_cuboids(server, scene)
    assert abs(moved["center"][0] - (box["center"][0] + 0.1)) < 1e-9
    page.get_by_label("Class").select_option("Truck")
    page.keyboard.press("ArrowUp")
    expect_saved(page)
    (moved,) = server_cuboids(server, scene)
    assert abs(moved["center"][1] - (box["center"][1] + 0.1)) < 1e-9


def test_a_plain_click_in_the_top_view_creates_no_box(
    page: Page, server: Server, scene: int
) -> None:
    open_scene(page, server, scene)
    page.mouse.click(*screen_xy(page, 20.0, -10.0))
    page.mouse.click(*screen_xy(page, 10.0, 5.0))
    page.wait_for_timeout(500)
    expect_saved(page)
    expect(page.get_by_test_id("box-count")).to_have_text("0")
    assert annotations(server, scene)["cuboids"] == []


def test_the_wheel_zooms_toward_the_pointer(page: Page, server: Server, scene: int) -> None:
    open_scene(page, server, scene)
    canvas = page.locator("#viewport canvas").bounding_box()
    assert canvas is not None
    px, py = canvas["x"] + canvas["width"] * 0.75, canvas["y"] + canvas["height"] * 0.3
    world = page.evaluate(
        """([x, y]) => { const p = window.pointlabel.viewer.planePoint({ clientX: x, clientY: y }, 0);
             const o = window.pointlabel.app.offset; return [p.x + o[0], p.y + o[1]]; }""",
        [px, py],
    )
    zoom = page.evaluate("() => window.pointlabel.viewer.top.zoom")
    page.mouse.move(px, py)
    page.mouse.wheel(0, -400)
    page.wait_for_function(f"() => window.pointlabel.viewer.top.zoom > {zoom} * 1.2")
    page.wait_for_timeout(200)
    x, y = screen_xy(page, world[0], world[1], 0.0)
    assert abs(x - px) <= 2 and abs(y - py) <= 2, (x, y, px, py)


def test_the_help_overlay_lists_every_key_of_the_key_map(
    page: Page, server: Server, scene: int
) -> None:
    open_scene(page, server, scene)
    help_ = page.get_by_test_id("help")
    expect(help_).to_be_hidden()
    page.keyboard.press("?")
    expect(help_).to_be_visible()
    keys = page.get_by_test_id("help-keys")
    classes = page.evaluate("() => window.pointlabel.app.taxonomy.classes.length")
    for n in range(1, min(classes, 9) + 1):
        expect(keys.locator("dt", has_text=str(n)).first).to_be_visible()
    expect(keys).to_contain_text("keyframe of the selected track")
    expect(page.get_by_test_id("help-gestures")).to_contain_text("Shift+click (top view)")
    bound = page.evaluate("() => window.pointlabel.keys.help.length")
    assert keys.locator("dt").count() == bound
    page.keyboard.press("Escape")
    expect(help_).to_be_hidden()


def test_the_frame_view_and_zoom_survive_a_reload(page: Page, server: Server, scene: int) -> None:
    open_scene(page, server, scene)
    page.keyboard.press(".")
    expect(page.locator("#workspace")).to_have_attribute("data-loaded-frame", "1", timeout=20_000)
    canvas = page.locator("#viewport canvas").bounding_box()
    assert canvas is not None
    page.mouse.move(canvas["x"] + canvas["width"] * 0.3, canvas["y"] + canvas["height"] * 0.6)
    page.mouse.wheel(0, -400)
    page.wait_for_function("() => window.pointlabel.viewer.top.zoom > 1.1")
    page.keyboard.press("p")
    page.wait_for_timeout(600)  # saved a moment after the last change
    camera = "() => { const v = window.pointlabel.viewer; return [v.mode, v.top.zoom, ...v.top.position.toArray(), ...v.persp.position.toArray()]; }"
    before = page.evaluate(camera)
    page.reload()
    expect(page.locator("#workspace")).to_have_attribute("data-loaded-frame", "1", timeout=20_000)
    expect(page.get_by_test_id("frame-label")).to_have_text("frame 2 / 3")
    after = page.evaluate(camera)
    assert after[0] == "persp" and after[1:] == pytest.approx(before[1:], abs=1e-6)
    expect(page.locator("#view-persp")).to_have_class("active")
