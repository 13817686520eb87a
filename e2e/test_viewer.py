"""The viewer in real Chromium: LOD streaming under the point budget, colour modes,
absolute cursor coordinates on georeferenced data, follow mode and the perf marks."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import SHARED, Server
from e2e.test_workspace import canvas_centre, drawn_pixels, open_scene
from e2e.workspace_page import place_click

BCTS = SHARED / "las" / "bcts_merged.laz"


@pytest.fixture(scope="module")
def bcts(server: Server) -> int:
    """bcts_merged.laz (2.8M points, georeferenced) as a scene of the session's server."""
    if not BCTS.exists():
        pytest.skip("../shared/data/las/bcts_merged.laz not present")
    out = server.cli("ingest", str(BCTS), "--json", "--skip-existing")
    return int(json.loads(out)["task_id"])


@pytest.fixture
def errors(page: Page) -> Iterator[list[str]]:
    """Uncaught page errors and console errors seen during the test."""
    seen: list[str] = []
    page.on("pageerror", lambda e: seen.append(str(e)))
    page.on("console", lambda m: seen.append(m.text) if m.type == "error" else None)
    yield seen


def stats(page: Page) -> dict[str, int]:
    """The point statistics the page shows (data attributes of point-stats)."""
    data = page.get_by_test_id("point-stats").evaluate("(el) => ({...el.dataset})")
    return {k: int(v) for k, v in data.items() if k != "testid"}


def wait_idle(page: Page) -> dict[str, int]:
    """Wait until no tile is loading (after the camera-change throttle), then the stats."""
    page.wait_for_timeout(400)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=point-stats]').dataset.loading === '0'",
        timeout=30_000,
    )
    return stats(page)


def test_bcts_survey_draws_within_the_point_budget_and_refines_when_zoomed_in(
    page: Page, server: Server, bcts: int, errors: list[str]
) -> None:
    page.goto(f"{server.url}/tasks/{bcts}?budget=500000")
    expect(page.locator("#workspace")).to_have_attribute("data-loaded-frame", "0", timeout=30_000)
    page.wait_for_timeout(400)
    assert drawn_pixels(page) > 2_000
    expect(page.get_by_label("Point budget")).to_have_value("500000")
    before = wait_idle(page)
    assert 0 < before["drawn"] <= 500_000 and before["budget"] == 500_000

    x, y = canvas_centre(page)
    page.mouse.move(x, y)
    for _ in range(16):
        page.mouse.wheel(0, -400)  # zoom in (top view), about 30 x
        page.wait_for_timeout(50)
    after = wait_idle(page)
    assert after["depth"] > before["depth"], (before, after)  # finer nodes came in
    assert 0 < after["drawn"] <= 500_000
    assert drawn_pixels(page) > 2_000

    budget = page.get_by_label("Point budget")
    budget.fill("50000")
    budget.press("Enter")
    budget.blur()
    smaller = wait_idle(page)
    assert smaller["budget"] == 50_000 and 0 < smaller["drawn"] <= 50_000
    assert not errors


def test_colour_modes_switch_without_errors_and_rgb_only_where_present(
    page: Page, server: Server, errors: list[str]
) -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared/data not present")
    colour = page.get_by_label("Colour by")
    open_scene(page, server, 2)  # KITTI: intensity, no RGB
    expect(colour).to_have_value("height")
    assert page.locator("#color-mode option[value=rgb]").evaluate("(o) => o.hidden")
    assert page.locator("#color-mode option[value=classification]").evaluate("(o) => o.hidden")

    open_scene(page, server, 3)  # autzen: RGB, shown in colour by default
    expect(colour).to_have_value("rgb")
    assert not page.locator("#color-mode option[value=rgb]").evaluate("(o) => o.hidden")
    samples = {}
    for mode in ("height", "intensity", "rgb", "ground"):
        colour.select_option(mode)
        if mode == "ground":  # height above the ground found under the drawn points
            page.wait_for_function(
                "() => window.pointlabel.viewer.pointMaterial.uniforms.ground.value.image.width > 1"
            )
        page.wait_for_timeout(200)
        assert drawn_pixels(page) > 2_000, mode
        samples[mode] = page.locator("#viewport canvas").screenshot()
    assert len(set(samples.values())) == 4  # each mode draws differently
    page.get_by_label("Point size").fill("4")
    page.wait_for_timeout(200)
    assert not errors


def test_cursor_shows_absolute_coordinates_on_georeferenced_autzen(
    page: Page, server: Server
) -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared/data not present")
    open_scene(page, server, 3)
    offset = page.evaluate("() => window.pointlabel.app.offset")
    assert offset[0] > 100_000  # the scene is georeferenced
    x, y = canvas_centre(page)
    cursor = page.get_by_test_id("cursor-coords")
    for dx in (0, 3, 7, 12, 20):  # until the pointer is over a point
        page.mouse.move(x + dx, y + dx)
        page.wait_for_timeout(100)
        if cursor.get_attribute("data-source") == "point":
            break
    assert cursor.get_attribute("data-source") == "point"
    ax, ay, az = (float(cursor.get_attribute(f"data-{k}") or "nan") for k in "xyz")
    assert 100_000 <= ax < 10_000_000 and 100_000 <= ay < 10_000_000  # state-plane feet
    assert abs(ax - offset[0]) < 1_000 and abs(ay - offset[1]) < 1_000
    assert abs(az - offset[2]) < 200
    expect(cursor).to_contain_text(f"{int(ax):,}"[:5])


def test_follow_centres_the_camera_on_the_selected_box(
    page: Page, server: Server, scene: int
) -> None:
    open_scene(page, server, scene)
    x, y = canvas_centre(page)
    place_click(page, x + 150, y - 80)  # place a box away from the centre
    expect(page.get_by_test_id("save-state")).to_have_attribute("data-state", "saved")
    page.keyboard.press("v")
    expect(page.locator("#follow")).to_have_attribute("aria-pressed", "true")
    centre = page.evaluate(
        """() => { const { app, viewer } = window.pointlabel; const c = app.cuboids.get(app.selected);
                   const o = app.offset, t = viewer.topControls.target;
                   return [c.center[0] - o[0] - t.x, c.center[1] - o[1] - t.y]; }"""
    )
    assert abs(centre[0]) < 1e-6 and abs(centre[1]) < 1e-6
    page.keyboard.press("v")
    expect(page.locator("#follow")).to_have_attribute("aria-pressed", "false")


def test_marks_first_pixel_all_visible_and_frame_switch(page: Page, server: Server) -> None:
    open_scene(page, server, 1)
    page.keyboard.press(".")
    expect(page.locator("#workspace")).to_have_attribute("data-loaded-frame", "1")
    page.wait_for_function("() => performance.getEntriesByName('pl:frame-switch').length > 0")
    marks = page.evaluate(
        """() => ['pl:first-pixel', 'pl:all-visible', 'pl:frame-switch']
                   .map((n) => performance.getEntriesByName(n).length)"""
    )
    assert marks[0] == 1 and marks[1] >= 2 and marks[2] == 1
    assert drawn_pixels(page) > 2_000
