"""Scene files from the browser (docs/workspace.md): upload a LAZ with progress and open
it; rename; delete (asking first) removes the tiles no other scene uses."""

from __future__ import annotations

import shutil
from pathlib import Path

import laspy
import numpy as np
from playwright.sync_api import Page, expect

from e2e.conftest import Server


def laz_file(path: Path, points: int = 60_000) -> Path:
    """A generated LAZ: a ground plane with a box on it, georeferenced-style offsets."""
    rng = np.random.default_rng(7)
    xyz = np.c_[rng.uniform(0, 80, (points, 2)), rng.normal(0, 0.05, points)]
    xyz[: points // 10] = rng.uniform([30, 30, 0], [34, 32, 1.5], (points // 10, 3))
    header = laspy.LasHeader(point_format=3, version="1.2")
    header.scales = np.array([0.001] * 3)
    header.offsets = np.array([500_000.0, 4_000_000.0, 0.0])
    las = laspy.LasData(header)
    las.x, las.y, las.z = xyz[:, 0] + 500_000, xyz[:, 1] + 4_000_000, xyz[:, 2]
    las.intensity = rng.integers(0, 65535, points, dtype=np.uint16)
    las.write(path)
    return path


def tile_files(server: Server) -> set[Path]:
    return set((server.data_dir / "tiles").rglob("*.bin.gz"))


def test_a_laz_uploaded_from_the_browser_shows_progress_opens_and_can_be_deleted(
    page: Page, server: Server, tmp_path: Path
) -> None:
    laz = laz_file(tmp_path / "survey.laz")
    tiles_before = tile_files(server)
    page.goto(server.url)
    page.get_by_test_id("upload-input").set_input_files(str(laz))
    upload = page.get_by_test_id("upload").filter(has_text="survey.laz")
    expect(upload).to_have_attribute("data-state", "done", timeout=60_000)
    assert upload.get_attribute("data-progress") == "1.00"  # the bar went to the end
    expect(upload.get_by_test_id("upload-status")).to_contain_text("60,000 points")
    row = page.get_by_test_id("scene-row").filter(has_text="survey")
    expect(row).to_contain_text("0 tracks · 0 boxes")
    scene_id = int(row.get_attribute("data-scene-id") or 0)
    new_tiles = tile_files(server) - tiles_before
    assert new_tiles

    # The same file again asks first; declining stores nothing.
    page.once("dialog", lambda d: d.dismiss())
    page.get_by_test_id("upload-input").set_input_files(str(laz))
    expect(page.get_by_test_id("upload").nth(1)).to_have_attribute("data-state", "failed")
    expect(page.get_by_test_id("upload").nth(1)).to_contain_text(f"already scene {scene_id}")

    # A folder sends its point clouds (here the same file again: asked, declined) and
    # leaves other files out.
    folder = tmp_path / "folder"
    folder.mkdir()
    shutil.copyfile(laz, folder / "again.laz")
    (folder / "notes.txt").write_text("not a point cloud")
    page.once("dialog", lambda d: d.dismiss())
    page.get_by_test_id("upload-folder-input").set_input_files(str(folder))
    again = page.get_by_test_id("upload").filter(has_text="again.laz")
    expect(again).to_have_attribute("data-state", "failed")
    expect(again).to_contain_text(f"already scene {scene_id}")
    expect(page.get_by_test_id("upload").filter(has_text="notes.txt")).to_have_count(0)

    # Rename, then search for the new name.
    row.get_by_test_id("scene-rename").click()
    field = page.get_by_test_id("scene-rename-input")
    field.fill("Autzen-like survey")
    field.press("Enter")
    expect(page.get_by_test_id("scene-row").filter(has_text="Autzen-like survey")).to_have_count(1)
    page.get_by_test_id("scene-search").fill("autzen-like")
    expect(page.get_by_test_id("scene-row")).to_have_count(1)

    # Open it: the workspace shows the points.
    with page.expect_navigation():
        upload.get_by_test_id("upload-open").click()
    expect(page.locator("#workspace")).to_have_attribute("data-loaded-frame", "0", timeout=30_000)
    expect(page.get_by_test_id("point-stats")).to_contain_text("of 60,000 points")

    # Delete it, asking first: its tiles go, the other scenes' stay.
    page.goto(server.url)
    page.get_by_test_id("scene-search").fill("autzen-like")
    expect(page.get_by_test_id("scene-row")).to_have_count(1)
    page.once("dialog", lambda d: d.accept())
    page.get_by_test_id("scene-row").filter(has_text="Autzen-like").get_by_test_id(
        "scene-delete"
    ).click()
    expect(page.get_by_test_id("scene-row")).to_have_count(0)
    assert all(server.api("GET", "/api/scenes/" + str(s["id"]))["id"] != scene_id
               for s in server.api("GET", "/api/scenes"))  # fmt: skip
    assert tile_files(server) == tiles_before
