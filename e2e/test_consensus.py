"""Consensus and review sampling on the dashboard (docs/quality.md): a lead sends a scene to
two annotators from /quality, reads their agreement worst object first, opens the
workspace on that object with the other annotator's boxes overlaid, and saves a review
sampling policy."""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.sync_api import Page, expect

from e2e.conftest import ARTIFACTS, Server


def _label(server: Server, token: str, task_id: int, cars: list[dict[str, Any]], dx: float) -> None:
    """As the annotator (``token``): start the task, draw ``cars`` (frame 0) moved ``dx``
    metres along x, and submit."""
    server.api("POST", f"/api/tasks/{task_id}/start", token=token)
    ops: list[dict[str, Any]] = []
    for c in cars:
        track = str(uuid.uuid4())
        centre = [c["center"][0] + dx, c["center"][1], c["center"][2]]
        ops += [{"op": "create", "kind": "track", "id": track, "data": {"label": "Car"}},
                {"op": "create", "kind": "cuboid", "id": str(uuid.uuid4()), "data": {
                    "track_id": track, "frame": 0, "center": centre, "size": c["size"],
                    "yaw": c["yaw"]}}]  # fmt: skip
    reply = server.api("POST", f"/api/tasks/{task_id}/ops",
                       {"type": "ops", "seq": 1, "client_id": "e2e-consensus", "ops": ops}, token=token)  # fmt: skip
    assert reply["type"] == "ack", reply
    server.api("POST", f"/api/tasks/{task_id}/submit", token=token)


def test_a_lead_sends_a_scene_for_consensus_and_opens_the_worst_object_overlaid(
    page: Page, server: Server, scene: int, ground_truth: dict[str, Any]
) -> None:
    scene_id = server.api("GET", f"/api/tasks/{scene}")["scene_id"]
    suffix = uuid.uuid4().hex[:6]
    names = [f"cons-a-{suffix}", f"cons-b-{suffix}"]
    tokens = [server.add_user(n, "annotator", "consensus-password-long") for n in names]
    page.goto(f"{server.url}/quality")
    expect(page.get_by_test_id("sampling-summary")).to_contain_text("Effective sampling rate")
    page.get_by_test_id("consensus-scene").fill(str(scene_id))
    page.get_by_test_id("consensus-annotators").fill(", ".join(names))
    page.get_by_test_id("consensus-send").click()
    expect(page.get_by_test_id("consensus-status")).to_contain_text("Sent: 2 tasks")
    group = server.api("GET", "/api/quality/consensus")[0]
    assert [t["annotator"] for t in group["tasks"]] == names
    cars = [t["cuboids"][0] for t in ground_truth["tracks"]
            if t["class"] == "Car" and t["cuboids"][0]["frame"] == 0][:3]  # fmt: skip
    assert len(cars) >= 2
    _label(server, tokens[0], group["tasks"][0]["task_id"], cars, 0.0)
    _label(server, tokens[1], group["tasks"][1]["task_id"], cars[:2], 0.6)  # shifted, one missed

    page.locator(f'button[data-group="{group["id"]}"]').click()
    objects = page.get_by_test_id("consensus-objects")
    expect(objects).to_contain_text(names[1])
    first = objects.locator("tbody tr").first
    expect(first).to_contain_text(names[1])  # the worst: the car the second annotator missed
    expect(page.get_by_test_id("consensus-pairs")).to_contain_text(f"{names[0]} – {names[1]}")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "quality-consensus.png"), full_page=True)

    first.get_by_role("link", name="Open in the workspace").click()
    expect(page).to_have_url(re.compile(rf"consensus={group['id']}"))
    overlay = page.get_by_test_id("consensus-overlay")
    expect(overlay).to_have_attribute("data-boxes", str(min(2, len(cars[:2]))))
    expect(overlay).to_contain_text(names[1])


def test_a_lead_saves_a_review_sampling_policy_on_the_dashboard(page: Page, server: Server) -> None:
    page.goto(f"{server.url}/quality")
    form = page.get_by_test_id("policy-form")
    expect(form.locator('input[name="rate"]')).to_have_value(re.compile(r"\d"))
    form.locator('input[name="first_n"]').fill("3")
    form.locator('input[name="rate"]').fill("1")
    page.get_by_test_id("policy-save").click()
    expect(page.get_by_test_id("policy-status")).to_have_text("Saved.")
    policy = server.api("GET", "/api/quality/policy")
    assert (policy["first_n"], policy["rate"]) == (3, 1.0)
    server.api("PUT", "/api/quality/policy", {})  # back to reviewing everything: other tests
    form.locator('input[name="aql"]').fill("0.5")
    form.locator('input[name="ltpd"]').fill("0.1")
    page.get_by_test_id("policy-save").click()
    expect(page.get_by_test_id("policy-status")).to_contain_text("Not saved")
