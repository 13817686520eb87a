"""The object list on a generated 300-track scene (docs/workspace.md): virtualised,
readable names, filters, hide, lock, multi-select with a bulk class change and a bulk
delete that are each one undo step."""

from __future__ import annotations

import math
import uuid
from typing import Any

from playwright.sync_api import Page, expect

from e2e.conftest import Server
from e2e.workspace_page import annotations, expect_saved, open_scene, selected_cuboid

TRACKS = 300
PEDESTRIANS = 100


def seed_tracks(server: Server, task_id: int) -> list[dict[str, Any]]:
    """300 tracks with one box each in frame 0, through the REST mirror of the one write
    path: Car 1-200 then Pedestrian 201-300, on a grid over the frame's points."""
    scene = server.api(
        "GET", f"/api/scenes/{server.api('GET', f'/api/tasks/{task_id}')['scene_id']}"
    )
    f0 = scene["frames"][0]
    lo, hi = f0["min"], f0["max"]
    made = []
    ops: list[dict[str, Any]] = []
    for i in range(TRACKS):
        car = i < TRACKS - PEDESTRIANS
        track, box = str(uuid.uuid4()), str(uuid.uuid4())
        x = lo[0] + (hi[0] - lo[0]) * ((i % 20) + 0.5) / 20
        y = lo[1] + (hi[1] - lo[1]) * ((i // 20) + 0.5) / 15
        size = [4.5, 1.9, 1.6] if car else [0.7, 0.7, 1.75]
        label = "Car" if car else "Pedestrian"
        ops.append({"op": "create", "kind": "track", "id": track,
                    "data": {"label": label, "attributes": {"number": i + 1}}})  # fmt: skip
        ops.append({"op": "create", "kind": "cuboid", "id": box,
                    "data": {"track_id": track, "frame": 0, "center": [x, y, lo[2] + size[2] / 2],
                             "size": size, "yaw": 0.0}})  # fmt: skip
        made.append({"track": track, "box": box, "label": label, "number": i + 1, "xy": (x, y)})
        if len(ops) == 200:
            server.api(
                "POST",
                f"/api/tasks/{task_id}/ops",
                {"type": "ops", "seq": i, "client_id": "seed", "ops": ops},
            )
            ops = []
    return made


def labels(server: Server, task_id: int) -> dict[str, str]:
    return {t["id"]: t["label"] for t in annotations(server, task_id)["tracks"]}


def row(page: Page, name: str) -> Any:
    return page.get_by_test_id("track-row").filter(
        has=page.get_by_test_id("object-name").get_by_text(name, exact=True)
    )


def test_object_list_filters_hides_locks_and_bulk_edits_300_tracks_in_one_undo_step(
    page: Page, server: Server, scene: int
) -> None:
    made = seed_tracks(server, scene)
    open_scene(page, server, scene)
    objects = page.get_by_test_id("object-list")
    expect(page.get_by_test_id("track-count")).to_have_text(str(TRACKS))
    expect(row(page, "Car 1")).to_be_visible()
    # Virtualised: only the rows in view (and a few around them) are in the page.
    assert 5 < page.get_by_test_id("track-row").count() < 40

    # Search by name.
    search = page.get_by_test_id("object-search")
    search.fill("car 12")
    expect(page.get_by_test_id("object-name")).to_have_text(
        ["Car 12", *[f"Car {n}" for n in range(120, 130)]]
    )
    search.fill("")
    # Filter by class.
    page.get_by_test_id("object-class-filter").select_option("Pedestrian")
    expect(page.get_by_test_id("object-count")).to_have_text(f"{PEDESTRIANS} shown")
    expect(page.get_by_test_id("object-name").first).to_have_text("Pedestrian 201")
    page.get_by_test_id("object-class-filter").select_option("")
    # Sort by distance from the frame's origin: the nearest track first.
    o = page.evaluate("() => window.pointlabel.app.offset")
    near = min(made, key=lambda m: (math.hypot(m["xy"][0] - o[0], m["xy"][1] - o[1]), m["number"]))
    page.get_by_test_id("object-sort").select_option("distance")
    expect(page.get_by_test_id("object-name").first).to_have_text(
        f"{near['label']} {near['number']}"
    )
    page.get_by_test_id("object-sort").select_option("number")

    # Hide a class: its boxes are not drawn; show it again.
    drawn = "() => window.pointlabel.viewer.boxes.children.length"
    assert page.evaluate(drawn) == TRACKS
    pedestrians = page.get_by_test_id("class-toggle").filter(has_text="Pedestrian")
    pedestrians.get_by_test_id("class-hide").click()
    page.wait_for_function(f"() => ({drawn})() === {TRACKS - PEDESTRIANS}")
    pedestrians.get_by_test_id("class-hide").click()
    page.wait_for_function(f"() => ({drawn})() === {TRACKS}")
    # Hide one object.
    row(page, "Car 2").get_by_test_id("object-hide").click()
    page.wait_for_function(f"() => ({drawn})() === {TRACKS - 1}")

    # Lock one: it is selected and framed by a click, but a key does not move it.
    car1 = made[0]
    row(page, "Car 1").get_by_test_id("object-lock").click()
    row(page, "Car 1").click()
    expect(page.get_by_test_id("selection")).to_contain_text("Car 1 ·")
    assert (selected_cuboid(page) or {}).get("id") == car1["box"]
    page.keyboard.press("ArrowRight")
    expect(page.get_by_test_id("toast")).to_contain_text("Car 1 is locked")
    expect_saved(page)
    before = {c["id"]: c for c in annotations(server, scene)["cuboids"]}
    assert (
        page.evaluate(f"() => window.pointlabel.app.cuboids.get('{car1['box']}').center")
        == before[car1["box"]]["center"]
    )

    # Multi-select Car 3..Car 7 (click, Shift+click) and make them Trucks: one undo step.
    row(page, "Car 3").click()
    row(page, "Car 7").click(modifiers=["Shift"])
    expect(page.get_by_test_id("picked-count")).to_have_text("5 picked")
    page.get_by_test_id("bulk-class").select_option("Truck")
    expect_saved(page)
    picked = [m["track"] for m in made[2:7]]
    after = labels(server, scene)
    assert [after[t] for t in picked] == ["Truck"] * 5
    assert sum(1 for v in after.values() if v == "Truck") == 5
    expect(row(page, "Truck 5")).to_be_visible()
    page.keyboard.press("ArrowLeft")  # keys still work after the bulk dropdown
    page.keyboard.press("Control+z")  # the nudge of Car 7
    page.keyboard.press("Control+z")  # the whole class change
    expect_saved(page)
    assert [labels(server, scene)[t] for t in picked] == ["Car"] * 5
    page.keyboard.press("Control+Shift+z")
    expect_saved(page)
    assert [labels(server, scene)[t] for t in picked] == ["Truck"] * 5

    # Ctrl+click picks single rows; a bulk delete is one step too.
    row(page, "Car 8").click()
    row(page, "Car 9").click(modifiers=["Control"])
    row(page, "Car 10").click(modifiers=["Control"])
    expect(page.get_by_test_id("picked-count")).to_have_text("3 picked")
    page.get_by_test_id("bulk-delete").click()
    expect(page.get_by_test_id("track-count")).to_have_text(str(TRACKS - 3))
    expect_saved(page)
    assert len(annotations(server, scene)["tracks"]) == TRACKS - 3
    page.keyboard.press("Control+z")
    expect(page.get_by_test_id("track-count")).to_have_text(str(TRACKS))
    expect_saved(page)
    assert len(annotations(server, scene)["cuboids"]) == TRACKS

    # Scrolling far down draws the rows there.
    objects.evaluate("el => { el.scrollTop = el.scrollHeight; }")
    expect(row(page, "Pedestrian 300")).to_be_visible()


def test_a_track_can_be_renamed_and_keeps_the_name(page: Page, server: Server, scene: int) -> None:
    made = seed_tracks(server, scene)[:1]
    open_scene(page, server, scene)
    row(page, "Car 1").get_by_test_id("object-name").dblclick()
    field = page.get_by_test_id("object-rename")
    field.fill("the red one")
    field.press("Enter")
    expect(row(page, "the red one")).to_be_visible()
    expect_saved(page)
    (track,) = [t for t in annotations(server, scene)["tracks"] if t["id"] == made[0]["track"]]
    assert track["attributes"]["name"] == "the red one"
    page.reload()
    expect(row(page, "the red one")).to_be_visible()
