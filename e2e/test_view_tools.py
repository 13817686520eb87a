"""The viewing and editing tools (docs/workspace.md): frames spaced by their timestamps,
the points-in-the-box highlight, paste into any frame, one size for a whole track (one
undo step), the measuring tool, range rings, height clipping, colour by height above
ground, saved camera views and the frame-time budget; all on one page load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import ARTIFACTS, Server
from e2e.test_editing import first_car
from e2e.test_workspace import BACKGROUND, drawn_pixels
from e2e.workspace_page import (
    expect_saved,
    go_to_frame,
    open_scene,
    place_click,
    screen_xy,
    selected_cuboid,
    server_cuboids,
)

TIMES = [0.0, 1.5, 2.0]
"""Uneven frame times (s), as SUSTech's 10 Hz numbering has them."""

# Counts the pixels of the WebGL canvas within `rect` (CSS px) near a colour.
COUNT_COLOUR = """([rect, rgb]) => {
  const src = document.querySelector('#viewport canvas');
  const r = src.getBoundingClientRect(), k = src.width / r.width;
  const c = document.createElement('canvas');
  c.width = src.width; c.height = src.height;
  const ctx = c.getContext('2d');
  ctx.drawImage(src, 0, 0);
  const d = ctx.getImageData(Math.round((rect[0] - r.left) * k), Math.round((rect[1] - r.top) * k),
    Math.round(rect[2] * k), Math.round(rect[3] * k)).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (Math.abs(d[i] - rgb[0]) + Math.abs(d[i + 1] - rgb[1]) + Math.abs(d[i + 2] - rgb[2]) < 60) n++;
  }
  return n;
}"""
HIGHLIGHT_RGB = [255, 217, 26]


@pytest.fixture
def timed_scene(server: Server, tmp_path: Path) -> int:
    """The generated 3-frame sequence with frames at 0, 1.5 and 2.0 s, as a fresh task."""
    seq = tmp_path / "timed"
    shutil.copytree(server.data_dir / "sequence", seq)
    poses = json.loads((seq / "poses.json").read_text())
    for frame, t in zip(poses["frames"], TIMES, strict=True):
        frame["timestamp"] = t
    (seq / "poses.json").write_text(json.dumps(poses))
    return server.ingest_task(seq, "timed")


def highlighted(page: Page, centre: tuple[float, float], half: float = 40) -> int:
    rect = [centre[0] - half, centre[1] - half, 2 * half, 2 * half]
    return int(page.evaluate(COUNT_COLOUR, [rect, HIGHLIGHT_RGB]))


def test_view_and_edit_tools_on_one_page(
    page: Page, server: Server, timed_scene: int, ground_truth: dict[str, Any]
) -> None:
    scene = timed_scene
    open_scene(page, server, scene)

    # The timeline spaces frames by their timestamps: 0, 1.5 and 2.0 s.
    ticks = page.get_by_test_id("tl-tick")
    expect(ticks).to_have_count(3)
    lefts = [
        float((t.get_attribute("style") or "").split("left:")[1].split("%")[0]) for t in ticks.all()
    ]
    assert (
        lefts[0] == pytest.approx(0)
        and lefts[1] == pytest.approx(60)
        and lefts[2] == pytest.approx(80)
    )
    expect(page.locator(".tl-ruler")).to_have_attribute("data-timed", "true")

    # A box on a well-seen car: its points light up in the highlight colour.
    car = first_car(ground_truth)
    where = screen_xy(page, car["center"][0], car["center"][1])
    assert highlighted(page, where) == 0
    place_click(page, *where)
    expect_saved(page)
    page.wait_for_timeout(300)
    assert highlighted(page, where) > 10
    box = selected_cuboid(page)
    assert box is not None

    # Copy, paste into frame 3 (its own track), then once more into frame 3 (a new track).
    page.keyboard.press("Control+c")
    go_to_frame(page, 2)
    page.keyboard.press("Control+v")
    expect_saved(page)
    pasted = selected_cuboid(page)
    assert pasted is not None and pasted["frame"] == 2 and pasted["track_id"] == box["track_id"]
    assert pasted["center"] == box["center"] and pasted["size"] == box["size"]
    page.keyboard.press("Control+v")
    expect_saved(page)
    other = selected_cuboid(page)
    assert other is not None and other["track_id"] != box["track_id"]
    page.keyboard.press("Control+z")  # the second paste goes
    expect_saved(page)
    boxes = server_cuboids(server, scene)  # frame 2 (pasted), frame 1 (interpolated), frame 0
    assert {c["track_id"] for c in boxes} == {box["track_id"]} and len(boxes) == 3

    # One size for the whole track: longer here, then "=", then one undo.
    page.locator("#box-list li").first.click()
    page.keyboard.press("Shift+I")  # + 0.5 m length
    expect_saved(page)
    page.keyboard.press("=")
    expect_saved(page)
    sizes = {c["frame"]: c["size"] for c in server_cuboids(server, scene)}
    assert sizes[0] == sizes[1] == sizes[2] == [box["size"][0] + 0.5, *box["size"][1:]]
    page.keyboard.press("Control+z")
    expect_saved(page)
    sizes = {c["frame"]: c["size"] for c in server_cuboids(server, scene)}
    assert sizes[0] == box["size"] and sizes[2][0] == box["size"][0] + 0.5

    # A refusal explains itself in words, with the object's name and no code.
    page.evaluate(
        """(id) => { const { app, sync } = window.pointlabel; const c = app.cuboids.get(id);
             sync.submit([{ op: "update", kind: "cuboid", id, base_revision: c.revision,
                            data: { size: [0, 1, 1] } }]); }""",
        box["id"],
    )
    toast = page.get_by_test_id("toast")
    expect(toast).to_contain_text("Not saved: Car 1 box:")
    assert "invalid" not in (toast.text_content() or "")
    assert {c["frame"]: c["size"] for c in server_cuboids(server, scene)}[0] == box["size"]

    # The measuring tool: two clicks 12 m apart on open ground; no box is touched or made.
    page.keyboard.press("Escape")
    page.keyboard.press("h")
    a, b = screen_xy(page, 20.0, -14.0), screen_xy(page, 20.0, -2.0)
    page.mouse.click(*a)
    page.mouse.click(*b)
    measure = page.get_by_test_id("measure")
    expect(measure).to_contain_text("distance")
    assert float(measure.get_attribute("data-distance") or 0) == pytest.approx(12.0, abs=0.3)
    assert selected_cuboid(page) is None and len(server_cuboids(server, scene)) == 3
    page.keyboard.press("h")
    expect(measure).to_be_hidden()

    # Height clipping hides the points above the limit; empty again shows them.
    drawn = drawn_pixels(page)
    clip_high = page.get_by_label("Show points up to height (z, m)")
    clip_high.fill("-50")
    clip_high.press("Tab")
    page.wait_for_timeout(300)
    assert drawn_pixels(page) < drawn * 0.2
    clip_high.fill("")
    clip_high.press("Tab")
    page.wait_for_timeout(300)
    assert drawn_pixels(page) > drawn * 0.8

    # Range rings: eight circles around the sensor, drawn.
    page.keyboard.press("Shift+G")
    expect(page.get_by_role("button", name="Rings")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("() => window.pointlabel.tools.measure.rings.children.length") == 8
    page.wait_for_timeout(300)
    assert drawn_pixels(page) > drawn

    # Colour by height above ground: the ground is learnt from the drawn points.
    page.get_by_label("Colour by").select_option("ground")
    page.wait_for_function(
        "() => window.pointlabel.viewer.pointMaterial.uniforms.ground.value.image.width > 1"
    )

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(
        path=str(ARTIFACTS / "view-tools.png")
    )  # rings, ground colours (ignored folder)

    # Saved views: save, zoom, go back.
    zoom = "() => window.pointlabel.viewer.top.zoom"
    before = page.evaluate(zoom)
    page.keyboard.press("Shift+V")
    expect(page.get_by_test_id("saved-view")).to_have_text(["View 1"])
    page.mouse.move(*a)
    page.mouse.wheel(0, -400)
    page.wait_for_function(f"() => window.pointlabel.viewer.top.zoom > {before} * 1.2")
    page.get_by_test_id("saved-view").click()
    assert page.evaluate(zoom) == pytest.approx(before)
    page.reload()
    expect(page.get_by_test_id("saved-view")).to_have_text(["View 1"])


GROUND_UNDER_A_ROOF = """async () => {
  const { groundGrid } = await import('/static/js/ground.js');
  const pts = [];
  for (let x = -20; x <= 20; x += 0.5) for (let y = -20; y <= 20; y += 0.5) {
    const roof = Math.abs(x) < 2 && Math.abs(y) < 1;   // a car seen from above: no ground under it
    pts.push(x, y, roof ? 1.5 : -1.7 + 0.01 * x);
  }
  const g = groundGrid([new Float32Array(pts)]);
  const at = (x, y) => g.z[Math.floor((y - g.lo[1]) / g.cell) * g.nx + Math.floor((x - g.lo[0]) / g.cell)];
  return [at(0, 0), at(10, 10)];
}"""


def test_ground_is_found_under_objects_and_moving_frames_draw_fewer_points(
    page: Page, server: Server, scene: int
) -> None:
    open_scene(page, server, scene)
    under_roof, open_ground = page.evaluate(GROUND_UNDER_A_ROOF)
    assert under_roof == pytest.approx(-1.7, abs=0.1)  # the ground beside the car, not its roof
    assert open_ground == pytest.approx(-1.6, abs=0.1)

    # A moving budget of 20,000 points: while the camera moves only the coarsest tiles are drawn;
    # once it stops, every tile again.
    shown = """() => { const v = window.pointlabel.viewer; let n = 0;
      for (const p of v.nodes.values()) if (p.visible) n += p.userData.count; return n; }"""
    total = page.evaluate(shown)
    assert total > 20_000
    page.evaluate("""() => { const { viewer, tools } = window.pointlabel;
      tools.budget.learn = () => {}; tools.budget.movingBudget = 20000;
      viewer.moved(); }""")
    page.wait_for_function(f"() => ({shown})() < {total}")
    page.wait_for_function(f"() => ({shown})() === {total}")
    assert page.evaluate("() => window.pointlabel.tools.budget.moving") is False
    assert BACKGROUND  # the same clear colour as the workspace tests
