"""The camera panel in real Chromium: a KITTI frame imported with its camera shows its
image with the boxes projected; the selected box's wireframe lands on the object's 2D
box from the KITTI label, and clicking a box in the image selects it in 3D."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import ARTIFACTS, SHARED, Server
from e2e.workspace_page import open_scene, selected_cuboid
from pointcloud.cameras import Camera, box_wireframe

FRAME = "000000"

SNAPSHOT = """(name) => {
  const c = document.querySelector(`[data-testid=camera-image][data-camera="${name}"]`);
  window.__cameraBefore = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
}"""
HIGHLIGHT_BOX = """([name, imageWidth]) => {
  // The bounding box (image pixels) of the pixels that turned the highlight yellow
  // since the snapshot: the selected box's wireframe.
  const c = document.querySelector(`[data-testid=camera-image][data-camera="${name}"]`);
  const now = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const before = window.__cameraBefore;
  let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity, n = 0;
  for (let i = 0; i < now.length; i += 4) {
    const yellow = now[i] > 220 && now[i + 1] > 220 && now[i + 2] < 60;
    const changed = Math.abs(now[i] - before[i]) + Math.abs(now[i + 1] - before[i + 1])
      + Math.abs(now[i + 2] - before[i + 2]) > 60;
    if (!yellow || !changed) continue;
    const x = (i / 4) % c.width, y = Math.floor(i / 4 / c.width);
    x1 = Math.min(x1, x); y1 = Math.min(y1, y); x2 = Math.max(x2, x); y2 = Math.max(y2, y); n++;
  }
  const s = imageWidth / c.width;
  return { box: [x1 * s, y1 * s, (x2 + 1) * s, (y2 + 1) * s], pixels: n };
}"""


def overlap(a: list[float], b: list[float]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


@pytest.fixture
def kitti_task(server: Server, tmp_path: Path) -> int:
    """One KITTI frame with its label, calib and left colour image, imported as a new task."""
    if not SHARED.is_dir():
        pytest.skip("../shared/data not present")
    folder = tmp_path / "kitti-camera"
    for sub, suffix in (
        ("velodyne", "bin"),
        ("label_2", "txt"),
        ("calib", "txt"),
        ("image_2", "png"),
    ):
        (folder / sub).mkdir(parents=True)
        shutil.copyfile(
            SHARED / "kitti" / sub / f"{FRAME}.{suffix}", folder / sub / f"{FRAME}.{suffix}"
        )
    summary = json.loads(
        server.cli("import", "kitti", str(folder), "--name", "kitti camera", "--json")
    )
    assert summary["counts"]["camera_images"] == 1
    task_id = int(summary["task_id"])
    server.start_task(task_id)
    return task_id


def label_boxes() -> dict[str, list[float]]:
    """The 2D boxes (x1, y1, x2, y2; image pixels) of the frame's KITTI labels by type."""
    out = {}
    for line in (SHARED / "kitti/label_2" / f"{FRAME}.txt").read_text().splitlines():
        parts = line.split()
        if parts and parts[0] != "DontCare":
            out[parts[0]] = [float(v) for v in parts[4:8]]
    return out


def test_the_selected_box_projects_onto_its_kitti_2d_box_and_image_clicks_select(
    page: Page, server: Server, kitti_task: int
) -> None:
    open_scene(page, server, kitti_task)
    canvas = page.locator('[data-testid=camera-image][data-camera="image_2"]')
    expect(page.get_by_test_id("camera-panel")).to_be_visible()
    expect(canvas).to_have_attribute("data-ready", "1", timeout=10_000)
    width = int(page.evaluate("() => window.pointlabel.app.scene.frames[0].cameras[0].width"))
    page.evaluate(SNAPSHOT, "image_2")
    truth = label_boxes()

    # Click the pedestrian in the image: it becomes the selected box in 3D.
    x1, y1, x2, y2 = truth["Pedestrian"]
    bounds = canvas.bounding_box()
    assert bounds is not None
    scale = bounds["width"] / width
    canvas.click(position={"x": (x1 + x2) / 2 * scale, "y": (y1 + y2) / 2 * scale})
    box: dict[str, Any] = selected_cuboid(page) or {}
    label = page.evaluate("(t) => window.pointlabel.app.tracks.get(t).label", box.get("track_id"))
    assert label == "Pedestrian"
    expect(canvas).to_have_attribute("data-selected", box["id"])
    page.wait_for_timeout(100)
    drawn = page.evaluate(HIGHLIGHT_BOX, ["image_2", width])
    assert drawn["pixels"] > 50
    assert overlap(drawn["box"], truth["Pedestrian"]) >= 0.5, (drawn, truth["Pedestrian"])
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "cameras.png"))

    # Selecting in 3D (Tab: the frame's next box) highlights the box in the image.
    page.keyboard.press("Escape")
    expect(canvas).to_have_attribute("data-selected", "")
    page.keyboard.press("Tab")
    assert (selected_cuboid(page) or {}).get("id") == box["id"]
    expect(canvas).to_have_attribute("data-selected", box["id"])
    page.wait_for_timeout(100)
    drawn = page.evaluate(HIGHLIGHT_BOX, ["image_2", width])
    assert overlap(drawn["box"], truth["Pedestrian"]) >= 0.5, (drawn, truth["Pedestrian"])


WIREFRAMES = """async ([cam, boxes]) => {
  const m = await import('/static/js/cameras.js');
  return boxes.map((b) => m.wireframe(cam, b));
}"""


def test_the_panel_projects_as_the_server_does_and_colours_lidar_points(
    page: Page, server: Server, kitti_task: int
) -> None:
    open_scene(page, server, kitti_task)
    canvas = page.locator('[data-testid=camera-image][data-camera="image_2"]')
    expect(canvas).to_have_attribute("data-ready", "1", timeout=10_000)
    cam = page.evaluate("() => window.pointlabel.app.scene.frames[0].cameras[0]")
    camera = Camera("image_2", np.array(cam["intrinsic"]), np.array(cam["lidar_to_camera"]),
                    (cam["width"], cam["height"]))  # fmt: skip
    boxes = [
        {
            "center": [8.0, 1.5, -0.8],
            "size": [4.2, 1.8, 1.5],
            "yaw": 0.4,
            "pitch": 0.05,
            "roll": 0.0,
        },
        {
            "center": [0.5, 0.0, -0.8],
            "size": [6.0, 2.0, 1.5],
            "yaw": 0.0,
        },  # across the camera plane
        {"center": [-10.0, 0.0, -0.8], "size": [4.0, 2.0, 1.5], "yaw": 0.0},  # behind it
    ]
    drawn = page.evaluate(WIREFRAMES, [cam, boxes])
    for box, segments in zip(boxes, drawn, strict=True):
        b = [*box["center"], *box["size"], box["yaw"], box.get("pitch", 0.0), box.get("roll", 0.0)]
        expected = box_wireframe(b, camera)
        assert np.allclose(np.array(segments).reshape(-1, 2, 2), expected, atol=1e-6)
    assert len(drawn[1]) < 12 and drawn[2] == []

    page.evaluate(SNAPSHOT, "image_2")
    page.get_by_test_id("camera-points").check()
    page.wait_for_function("(n) => window.pointlabel.cameras.draws > n", arg=0)
    page.wait_for_timeout(100)
    changed = page.evaluate(
        """() => { const c = document.querySelector('[data-testid=camera-image]');
          const now = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let n = 0; for (let i = 0; i < now.length; i += 4)
            if (Math.abs(now[i] - window.__cameraBefore[i]) > 40) n++;
          return n; }"""
    )
    assert changed > 2000  # the lidar points now cover the lower part of the image

    # Colour the 3D points by the camera's pixels: the points in the image's view take them.
    page.get_by_label("Colour by").select_option("camera")
    page.wait_for_function("() => window.pointlabel.cameraColors.seen > 2000")
    page.get_by_test_id("camera-points").uncheck()
    page.keyboard.press("p")
    page.wait_for_timeout(300)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "camera-points.png"))
