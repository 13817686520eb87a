"""Sequences in real Chromium: tracks across frames (copy to the next frame, keyframes,
interpolation between them, editing an interpolated box), behaviour tags drawn on the
timeline, playback; each change is undoable and what the server stores is checked in
its REST snapshot."""

from __future__ import annotations

import math
from typing import Any

from playwright.sync_api import Page, expect

from e2e.conftest import ARTIFACTS, Server
from e2e.workspace_page import (
    drag,
    expect_saved,
    frame_x,
    go_to_frame,
    lane_bar_area,
    open_scene,
    place_click,
    press_quickly,
    screen_xy,
    selected_cuboid,
    server_tags,
    track_cuboids,
)


def angle_diff(a: float, b: float) -> float:
    return abs(math.remainder(a - b, 2 * math.pi))


def _scene_of(server: Server, task_id: int) -> int:
    """The scene of a task (ids differ once other tests made tasks or scenes)."""
    return int(server.api("GET", f"/api/tasks/{task_id}")["scene_id"])


def between(
    server: Server, scene: int, a: dict[str, Any], b: dict[str, Any], f: int
) -> tuple[list[float], float]:
    """Centre and yaw of the box interpolated for frame ``f`` between keyframes ``a`` and ``b``:
    linear in world coordinates (the scene's ego poses; docs/assist.md)."""
    poses = [fr["pose"] or [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
             for fr in server.api("GET", f"/api/scenes/{_scene_of(server, scene)}")["frames"]]  # fmt: skip

    def turn(p: list[list[float]]) -> float:
        return math.atan2(p[1][0], p[0][0])

    def to_world(c: dict[str, Any]) -> tuple[list[float], float]:
        p = poses[c["frame"]]
        world = [sum(p[i][j] * c["center"][j] for j in range(3)) + p[i][3] for i in range(3)]
        return world, c["yaw"] + turn(p)

    (wa, ya), (wb, yb) = to_world(a), to_world(b)
    t = (f - a["frame"]) / (b["frame"] - a["frame"])
    w = [wa[i] + (wb[i] - wa[i]) * t for i in range(3)]
    yaw = ya + math.remainder(yb - ya, 2 * math.pi) * t
    p = poses[f]
    back = [sum(p[j][i] * (w[j] - p[j][3]) for j in range(3)) for i in range(3)]
    return back, yaw - turn(p)


def without_revisions(boxes: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {f: {k: v for k, v in c.items() if k != "revision"} for f, c in boxes.items()}


def test_keyframes_interpolate_the_frames_between_and_an_edited_one_becomes_a_keyframe(
    page: Page, server: Server, long_scene: int
) -> None:
    scene = long_scene
    open_scene(page, server, scene)
    place_click(page, *screen_xy(page, 20.0, -8.0))  # a default-size Car at frame 0
    expect(page.get_by_test_id("box-count")).to_have_text("1")
    page.keyboard.press("x")  # heading pi
    page.keyboard.press("Shift+e")  # -15 degrees: 165 degrees
    expect_saved(page)
    key0 = selected_cuboid(page)
    assert key0 is not None
    track = key0["track_id"]
    assert abs(key0["yaw"] - math.radians(165)) < 1e-9

    # Frame 4: the selected track has no box here; B makes a keyframe (a copy).
    go_to_frame(page, 4)
    expect(page.get_by_test_id("tag-info")).to_contain_text("no box in this frame")
    page.keyboard.press("b")
    expect(page.get_by_test_id("box-count")).to_have_text("1")
    press_quickly(page, "Q", 2, shift=True)  # +30 degrees: 195 = -165 degrees, across pi
    press_quickly(page, "D", 4, shift=True)  # +4 m in x, one undo step
    expect_saved(page)

    boxes = track_cuboids(server, scene, track)
    assert sorted(boxes) == [0, 1, 2, 3, 4]
    k0, k4 = boxes[0], boxes[4]
    assert k4["keyframe"] and k4["source"] == "manual"
    assert abs(k4["center"][0] - (k0["center"][0] + 4)) < 1e-9
    assert abs(k4["yaw"] - math.radians(-165)) < 1e-9
    for f in (1, 2, 3):
        c = boxes[f]
        assert c["keyframe"] is False and c["source"] == "interpolated", f
        centre, yaw = between(server, scene, k0, k4, f)
        assert all(abs(c["center"][i] - centre[i]) < 1e-6 for i in range(3)), f
        assert c["size"] == k0["size"]
        # The short way round through pi (about +7.5 degrees a frame), not back through 0.
        assert angle_diff(c["yaw"], yaw) < 1e-6, f
        assert angle_diff(c["yaw"], math.radians(165 + 30 * f / 4)) < math.radians(3), f
    expect(page.get_by_test_id("track-row")).to_contain_text("frames 1–5 · 2 keys")

    # Undo the move of keyframe 4: the frames between follow it back; redo again.
    page.keyboard.press("Control+z")
    expect_saved(page)
    back = track_cuboids(server, scene, track)
    centre, _ = between(server, scene, back[0], back[4], 2)
    assert abs(back[2]["center"][0] - centre[0]) < 1e-6
    page.keyboard.press("Control+Shift+z")
    expect_saved(page)
    assert without_revisions(track_cuboids(server, scene, track)) == without_revisions(boxes)

    # Copying to a frame that already has the track's box is refused.
    go_to_frame(page, 0)
    page.keyboard.press("c")
    expect(page.get_by_test_id("toast")).to_contain_text("already has a box in frame 2")

    # Editing the interpolated box of frame 2 makes it a keyframe; 1 and 3 follow it.
    go_to_frame(page, 2)
    assert (selected_cuboid(page) or {}).get("frame") == 2  # the track stays selected
    page.keyboard.press("Shift+w")  # +1 m in y
    expect_saved(page)
    edited = track_cuboids(server, scene, track)
    assert edited[2]["keyframe"] is True and edited[2]["source"] == "manual"
    assert edited[2]["id"] == boxes[2]["id"]
    assert abs(edited[2]["center"][1] - (boxes[2]["center"][1] + 1)) < 1e-9
    for f in (1, 3):
        assert edited[f]["source"] == "interpolated"
        a, b = (k0, edited[2]) if f == 1 else (edited[2], k4)
        centre, _ = between(server, scene, a, b, f)
        assert all(abs(edited[f]["center"][i] - centre[i]) < 1e-6 for i in range(3)), f
    expect(page.get_by_test_id("track-row")).to_contain_text("3 keys")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sequence-interpolation.png"))

    page.keyboard.press("Control+z")
    expect_saved(page)
    undone = track_cuboids(server, scene, track)
    assert undone[2]["keyframe"] is False and undone[2]["source"] == "interpolated"
    for f in (1, 2, 3):
        assert all(
            abs(a - b) < 1e-9 for a, b in zip(undone[f]["center"], boxes[f]["center"], strict=True)
        )
    page.keyboard.press("Control+y")
    expect_saved(page)
    assert track_cuboids(server, scene, track)[2]["keyframe"] is True

    # The track list: a track without a box in this frame jumps to its nearest frame.
    go_to_frame(page, 9)
    page.keyboard.press("Escape")
    page.get_by_test_id("track-row").click()
    expect(page.get_by_test_id("frame-label")).to_have_text("frame 5 / 16")
    assert (selected_cuboid(page) or {}).get("id") == k4["id"]


def test_cut_in_tag_drawn_on_the_timeline_is_stored_with_its_range_and_subject(
    page: Page, server: Server, long_scene: int, long_ground_truth: dict[str, Any]
) -> None:
    scene = long_scene
    cut_in = next(t for t in long_ground_truth["tags"] if t["tag"] == "cut_in")
    first, last = cut_in["first_frame"], cut_in["last_frame"]
    car = next(t for t in long_ground_truth["tracks"] if t["track_id"] == cut_in["track_id"])
    at_first = next(c for c in car["cuboids"] if c["frame"] == first)
    open_scene(page, server, scene)

    # Scrub to the first frame of the cut-in on the timeline's ruler.
    page.mouse.click(*frame_x(page, page.locator(".tl-ruler .tl-track"), first))
    expect(page.get_by_test_id("frame-label")).to_have_text(f"frame {first + 1} / 16")
    place_click(page, *screen_xy(page, *at_first["center"][:2]))  # the car, a Car box
    expect(page.get_by_test_id("box-count")).to_have_text("1")
    expect_saved(page)
    track = (selected_cuboid(page) or {})["track_id"]
    for _ in range(last - first):
        page.keyboard.press("c")  # copy to the next frame and go there
    expect(page.get_by_test_id("frame-label")).to_have_text(f"frame {last + 1} / 16")
    expect_saved(page)
    assert sorted(track_cuboids(server, scene, track)) == list(range(first, last + 1))

    # Drag over the car's lane from the first to the last frame, pick cut_in, add it.
    area = lane_bar_area(page, track)
    drag(page, frame_x(page, area, first), frame_x(page, area, last))
    expect(page.get_by_test_id("tag-range")).to_contain_text(f"frames {first + 1}–{last + 1}")
    page.get_by_label("Tag type").select_option("cut_in")
    page.get_by_role("button", name="Add tag").click()
    expect(page.get_by_test_id("tag-bar")).to_have_count(1)
    expect_saved(page)
    (tag,) = server_tags(server, scene)
    assert tag["tag"] == "cut_in" and tag["subject"] == "track" and tag["track_id"] == track
    assert (tag["first_frame"], tag["last_frame"]) == (first, last)
    assert tag["related_track_id"] is None
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sequence-cut-in.png"))

    page.keyboard.press("Control+z")
    expect(page.get_by_test_id("tag-bar")).to_have_count(0)
    expect_saved(page)
    assert server_tags(server, scene) == []
    page.keyboard.press("Control+Shift+z")
    expect(page.get_by_test_id("tag-bar")).to_have_count(1)
    expect_saved(page)
    assert [t["id"] for t in server_tags(server, scene)] == [tag["id"]]

    # Select the bar, move its start to frame first+1 with [ and drag its end back one frame.
    page.get_by_test_id("tag-bar").click()
    expect(page.get_by_test_id("tag-info")).to_contain_text("Tag cut_in · Car 1")
    go_to_frame(page, first + 1)
    page.keyboard.press("[")
    expect_saved(page)
    assert server_tags(server, scene)[0]["first_frame"] == first + 1
    handle = page.get_by_test_id("tag-bar").locator(".tl-handle.last").bounding_box()
    assert handle is not None
    end = (handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    drag(page, end, (frame_x(page, area, last - 1)[0], end[1]))
    expect_saved(page)
    (moved,) = server_tags(server, scene)
    assert (moved["first_frame"], moved["last_frame"]) == (first + 1, last - 1)
    page.keyboard.press("Control+z")
    expect_saved(page)
    assert server_tags(server, scene)[0]["last_frame"] == last

    page.keyboard.press("Delete")  # the selected tag, not the box
    expect(page.get_by_test_id("tag-bar")).to_have_count(0)
    expect_saved(page)
    assert server_tags(server, scene) == []
    assert len(track_cuboids(server, scene, track)) == last - first + 1
    page.keyboard.press("Control+z")
    expect(page.get_by_test_id("tag-bar")).to_have_count(1)
    expect_saved(page)
    assert len(server_tags(server, scene)) == 1


def test_ego_tag_made_with_keys_only(page: Page, server: Server, long_scene: int) -> None:
    scene = long_scene
    open_scene(page, server, scene)
    expect(page.get_by_test_id("tag-range")).to_contain_text("Ego vehicle: no frames chosen")
    go_to_frame(page, 3)
    page.keyboard.press("[")
    go_to_frame(page, 6)
    page.keyboard.press("]")
    expect(page.get_by_test_id("tag-range")).to_contain_text("Ego vehicle: frames 4–7")
    page.keyboard.press("m")  # hard_braking -> lane_change_left (the tag types ego may have)
    expect(page.get_by_label("Tag type")).to_have_value("lane_change_left")
    page.keyboard.press("Enter")
    expect_saved(page)
    (tag,) = server_tags(server, scene)
    assert tag["tag"] == "lane_change_left" and tag["subject"] == "ego" and tag["track_id"] is None
    assert (tag["first_frame"], tag["last_frame"]) == (3, 6)
    page.keyboard.press("Delete")
    expect_saved(page)
    assert server_tags(server, scene) == []


def test_space_plays_and_pauses_the_sequence(page: Page, server: Server, long_scene: int) -> None:
    open_scene(page, server, long_scene)
    page.keyboard.press("Space")
    expect(page.get_by_role("button", name="Play / pause")).to_have_attribute(
        "aria-pressed", "true"
    )
    page.wait_for_function("() => window.pointlabel.app.frame >= 3", timeout=10_000)
    page.keyboard.press("Space")
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "false")
    stopped = page.evaluate("() => window.pointlabel.app.frame")
    page.wait_for_timeout(400)
    assert page.evaluate("() => window.pointlabel.app.frame") == stopped
