"""Cuboid editing in real Chromium: drawing by drag, auto-fit, keyboard edits, undo and
redo; what the page shows is exactly what the server acknowledged, before and after a
reload."""

from __future__ import annotations

import math
from typing import Any

from playwright.sync_api import Page, expect

from e2e.conftest import Server
from e2e.workspace_page import (
    annotations,
    drag,
    expect_saved,
    open_scene,
    page_cuboids,
    page_tracks,
    place_click,
    press_quickly,
    screen_xy,
    selected_cuboid,
    server_cuboids,
)


def ground_z(server: Server, task_id: int, x: float, y: float) -> float:
    scene_id = server.api("GET", f"/api/tasks/{task_id}")["scene_id"]
    return float(server.api("GET", f"/api/scenes/{scene_id}/frames/0/ground?x={x}&y={y}")["z"])


def first_car(ground_truth: dict[str, Any], min_points: int = 3000) -> dict[str, Any]:
    """A well-seen car of frame 0 in the generated sequence (ground truth)."""
    for track in ground_truth["tracks"]:
        c = track["cuboids"][0]
        if track["class"] == "Car" and c["frame"] == 0 and c["points"] >= min_points:
            return dict(c)
    raise AssertionError("no well-seen car in frame 0")


def same_numbers(a: dict[str, Any], b: dict[str, Any], tol: float = 1e-9) -> bool:
    return (
        a["id"] == b["id"]
        and a["revision"] == b["revision"]
        and all(
            abs(x - y) <= tol
            for x, y in zip(a["center"] + a["size"], b["center"] + b["size"], strict=True)
        )
        and abs(a["yaw"] - b["yaw"]) <= tol
    )


def test_drawn_fitted_rotated_box_with_undo_redo_is_exactly_what_the_server_has(
    page: Page, server: Server, scene: int, ground_truth: dict[str, Any]
) -> None:
    car = first_car(ground_truth)
    cx, cy = car["center"][:2]
    open_scene(page, server, scene)

    # Drag from the car's back to its front: heading +x, length 4.5 m.
    drag(page, screen_xy(page, cx - 2.25, cy), screen_xy(page, cx + 2.25, cy))
    expect(page.get_by_test_id("box-count")).to_have_text("1")
    expect_saved(page)
    (drawn,) = server_cuboids(server, scene)
    assert abs(drawn["yaw"]) < 0.05
    assert abs(drawn["size"][0] - 4.5) < 0.2
    assert drawn["size"][1:] == [1.9, 1.6]  # the Car class's default width and height
    assert math.hypot(drawn["center"][0] - cx, drawn["center"][1] - cy) < 0.2
    assert abs(drawn["center"][2] - (ground_z(server, scene, *drawn["center"][:2]) + 0.8)) < 1e-6

    page.keyboard.press("f")
    expect_saved(page)
    expect(page.get_by_test_id("toast")).to_contain_text("Fitted to")
    (fitted,) = server_cuboids(server, scene)
    assert fitted["revision"] > drawn["revision"]
    assert math.hypot(fitted["center"][0] - cx, fitted["center"][1] - cy) < 0.3
    assert abs(fitted["size"][0] - car["size"][0]) < 0.5
    assert abs(fitted["size"][1] - car["size"][1]) < 0.4
    assert abs(fitted["yaw"] - car["yaw"]) < 0.05

    press_quickly(page, "q", 3)  # one undo step: same box and property within MERGE_MS
    expect_saved(page)
    (rotated,) = server_cuboids(server, scene)
    assert abs(rotated["yaw"] - (fitted["yaw"] + math.radians(3))) < 1e-9
    assert page.evaluate("() => window.pointlabel.editor.undoStack.length") == 3

    page.keyboard.press("Control+z")  # the rotation
    page.keyboard.press("Control+z")  # the fit
    expect_saved(page)
    (undone,) = server_cuboids(server, scene)
    assert undone["center"] == drawn["center"] and undone["size"] == drawn["size"]
    assert abs(undone["yaw"] - drawn["yaw"]) < 1e-12
    page.keyboard.press("Control+Shift+z")
    page.keyboard.press("Control+y")
    expect_saved(page)
    (redone,) = server_cuboids(server, scene)
    assert abs(redone["yaw"] - rotated["yaw"]) < 1e-9
    assert redone["center"] == rotated["center"] and redone["size"] == rotated["size"]
    (shown,) = page_cuboids(page)
    assert same_numbers(shown, redone)

    page.reload()
    open_scene(page, server, scene)
    snapshot = annotations(server, scene)
    assert page_cuboids(page) == sorted(snapshot["cuboids"], key=lambda c: c["id"])
    assert page_tracks(page) == sorted(snapshot["tracks"], key=lambda t: t["id"])


def test_keyboard_edits_of_the_selected_box_each_reach_the_server(
    page: Page, server: Server, scene: int
) -> None:
    open_scene(page, server, scene)
    x, y = screen_xy(page, 20.0, -10.0)
    place_click(page, x, y)  # a default-size Car
    expect_saved(page)
    (placed,) = server_cuboids(server, scene)
    assert placed["size"] == [4.5, 1.9, 1.6] and placed["yaw"] == 0

    page.keyboard.press("Escape")
    expect(page.get_by_test_id("selection")).to_have_text("Nothing selected")
    page.keyboard.press("Tab")
    expect(page.get_by_test_id("selection")).to_contain_text("Car")
    page.keyboard.press("Shift+ArrowRight")  # +1 m along screen right: +x in the top view
    page.keyboard.press("w")  # +0.1 m along screen up: +y
    page.keyboard.press("Shift+i")  # length +0.5 m
    page.keyboard.press("o")  # height +0.1 m, bottom stays
    page.keyboard.press("Shift+e")  # -15 degrees
    page.keyboard.press("x")  # flip heading
    page.keyboard.press("3")  # the track becomes a Truck
    expect_saved(page)
    (box,) = server_cuboids(server, scene)
    assert box["center"][0] == placed["center"][0] + 1
    assert abs(box["center"][1] - (placed["center"][1] + 0.1)) < 1e-9
    assert abs(box["center"][2] - (placed["center"][2] + 0.05)) < 1e-9
    assert box["size"][:2] == [5.0, 1.9] and abs(box["size"][2] - 1.7) < 1e-9
    assert abs(box["yaw"] - (math.pi - math.radians(15))) < 1e-9
    (track,) = annotations(server, scene)["tracks"]
    assert track["label"] == "Truck"
    expect(page.get_by_test_id("selection")).to_contain_text("Truck")

    page.keyboard.press("Control+z")  # the class change
    expect_saved(page)
    assert annotations(server, scene)["tracks"][0]["label"] == "Car"
    page.keyboard.press("Delete")
    expect(page.get_by_test_id("box-count")).to_have_text("0")
    expect_saved(page)
    assert server_cuboids(server, scene) == []


def test_auto_fit_on_empty_ground_says_why_and_changes_nothing(
    page: Page, server: Server, scene: int
) -> None:
    open_scene(page, server, scene)
    x, y = screen_xy(page, 2.0, -1.0)  # the road just ahead of the sensor: no object
    page.get_by_label("Class").select_option("Pedestrian")
    place_click(page, x, y)
    expect_saved(page)
    (before,) = server_cuboids(server, scene)
    page.keyboard.press("f")
    expect(page.get_by_test_id("toast")).to_contain_text("Auto-fit failed")
    expect_saved(page)
    assert server_cuboids(server, scene) == [before]
    assert selected_cuboid(page) is not None
