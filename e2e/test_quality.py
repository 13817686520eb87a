"""The quality dashboard on the demo review history (docs/quality.md): a lead sees the
control charts, clicks a signal and lands in the workspace on an object behind it."""

from __future__ import annotations

import json
import re
import shutil
import uuid

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import ARTIFACTS, Server
from pointcloud.sampling import draw
from server.demo_history import ANNOTATORS, DRIFTER


@pytest.fixture(scope="module")
def history(server: Server) -> int:
    """The demo history on its own scene (a copy of the generated sequence, so no other
    test's scene gains tasks), 24 tracks a task to keep the seeding short; seeded once."""
    folder = server.data_dir / "history-sequence"
    if not folder.is_dir():
        shutil.copytree(server.data_dir / "sequence", folder)
    out = json.loads(server.cli("demo-history", str(folder), "--max-tracks", "24", "--json"))
    return int(out["scene_id"])


def test_a_lead_follows_a_signal_to_the_objects_behind_it(
    page: Page, server: Server, history: int
) -> None:
    page.goto(f"{server.url}/quality")
    charts = page.get_by_test_id("quality-chart")
    expect(charts.first).to_be_visible()
    for name in ANNOTATORS:
        expect(
            page.locator(f'[data-testid="quality-chart"][data-series="{name}"] canvas')
        ).to_be_visible()
    signal = page.locator(
        f'[data-testid="signal-row"][data-series="{DRIFTER}"][data-kind="individual"]'
    )
    expect(signal.first).to_be_visible()
    expect(page.locator('[data-testid="signal-row"][data-kind="system"]').first).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "quality-dashboard.png"), full_page=True)

    signal.first.get_by_test_id("signal-open").click()
    rows = page.get_by_test_id("defect-row")
    expect(rows.first).to_be_visible()
    expect(rows.first).to_contain_text("loose_fit")
    link = rows.first.get_by_test_id("defect-link")
    href = link.get_attribute("href") or ""
    match = re.fullmatch(r"/tasks/(\d+)\?object=([\w.:-]+)", href)
    assert match, href
    track = match.group(2)

    link.click()
    expect(page).to_have_url(re.compile(rf"/tasks/{match.group(1)}\?object="))
    expect(page.locator("#workspace")).to_have_attribute("data-loaded-frame", re.compile(r"\d+"))
    picked = page.locator('[data-testid="track-row"][aria-selected="true"]')
    expect(picked).to_have_attribute("data-track-id", track)
    assert page.evaluate("() => window.pointlabel.app.selectedTrack") == track


def test_a_lead_prints_the_weekly_report(page: Page, server: Server, history: int) -> None:
    """The weekly report opens from the dashboard with its trend chart drawn; printed (the
    print media), the header and the navigation are gone and the PDF holds the report."""
    page.goto(f"{server.url}/quality")
    page.get_by_test_id("quality-report-link").click()
    expect(page.get_by_test_id("quality-report")).to_be_visible()
    expect(page.locator('[data-testid="report-trend"] canvas')).to_be_visible()
    expect(page.get_by_test_id("report-classes")).to_contain_text("Car")
    expect(page.get_by_test_id("report-headlines")).to_contain_text("defective")
    page.emulate_media(media="print")
    expect(page.locator("header.topbar")).to_be_hidden()
    expect(page.get_by_test_id("report-print")).to_be_hidden()
    expect(page.get_by_test_id("report-trend-table")).to_be_visible()
    for title in ("Model-safety signals", "Trend: defect rate per week", "Classes, worst first",
                  "Pipelines (projects)", "Signals of the week", "Annotators against gold",
                  "Reviewers against planted errors"):  # fmt: skip
        expect(page.get_by_role("heading", name=title)).to_be_visible()
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF-") and len(pdf) > 10_000
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) > 1  # the sections run over pages
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "quality-report.pdf").write_bytes(pdf)


def test_a_lead_sees_an_annotators_f1_against_gold_drawn(
    page: Page, server: Server, history: int
) -> None:
    """A golden copy reaches a new annotator through the queue (the project's golden rate,
    a seed whose first draw gives gold), they label one box of it and submit; the
    dashboard's golden section draws their F1 against gold as a uPlot chart. The queues
    are left as found: review rate 0 while the copy is submitted (it skips review), the
    policy restored, the task opened for the take assigned to the e2e user."""
    name, password = "gold-taker", "gold-taker-password-long"
    token = server.add_user(name, "annotator", password)
    uid = next(u["id"] for u in json.loads(server.cli("users", "list", "--json"))
               if u["name"] == name)  # fmt: skip
    gold = next(t for t in server.api("GET", "/api/tasks?state=approved")
                if t["scene_id"] == history)  # fmt: skip
    project = gold["project_id"]
    before = server.api("GET", f"/api/quality/policy?project_id={project}")
    body = {k: v for k, v in before.items() if k not in ("project_id", "updated_by", "plan")}
    seed = next(s for s in range(100) if draw(s, uid, 0) < 0.5)  # the first take draws gold
    try:
        server.api("PUT", f"/api/quality/golden/{gold['id']}")
        server.api("PUT", f"/api/quality/policy?project_id={project}",
                   {**body, "mode": "rate", "first_n": 0, "rate": 0.0,
                    "golden_rate": 0.5, "seed": seed})  # fmt: skip
        waiting = server.api("POST", "/api/tasks", {"scene_id": history, "assignee": None})
        copy = server.api("POST", "/api/tasks/next", token=token)
        assert copy["id"] != gold["id"] and copy["scene_id"] == history
        labels = server.api("GET", f"/api/tasks/{gold['id']}/annotations")
        box = labels["cuboids"][0]
        label = next(t["label"] for t in labels["tracks"] if t["id"] == box["track_id"])
        track = str(uuid.uuid4())
        ops = [{"op": "create", "kind": "track", "id": track, "data": {"label": label}},
               {"op": "create", "kind": "cuboid", "id": str(uuid.uuid4()),
                "data": {"track_id": track, "frame": box["frame"],
                         "center": box["center"], "size": box["size"], "yaw": box["yaw"]}}]  # fmt: skip
        server.api("POST", f"/api/tasks/{copy['id']}/start", token=token)
        reply = server.api("POST", f"/api/tasks/{copy['id']}/ops", token=token,
                           body={"type": "ops", "seq": 1, "client_id": name, "ops": ops})  # fmt: skip
        assert reply["type"] == "ack", reply
        server.api("POST", f"/api/tasks/{copy['id']}/submit", token=token)
        assert server.api("GET", f"/api/tasks/{copy['id']}")["state"] == "approved"  # no review
    finally:
        server.api("DELETE", f"/api/quality/golden/{gold['id']}")
        server.api("PUT", f"/api/quality/policy?project_id={project}", body)
    server.api("POST", f"/api/tasks/{waiting['id']}/assign", {"assignee": "e2e"})
    page.goto(f"{server.url}/quality")
    chart = page.get_by_test_id("golden-chart")
    expect(chart.locator("canvas")).to_be_visible()
    expect(chart).to_contain_text(name)  # the uPlot legend: one series per annotator
    expect(page.get_by_test_id("golden-annotators")).to_contain_text(name)
    ARTIFACTS.mkdir(exist_ok=True)
    chart.screenshot(path=str(ARTIFACTS / "quality-golden-chart.png"))
