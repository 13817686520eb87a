"""The quality dashboard on the demo review history (docs/quality.md): a lead sees the
control charts, clicks a signal and lands in the workspace on an object behind it."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import ARTIFACTS, Server
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
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF-") and len(pdf) > 10_000
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "quality-report.pdf").write_bytes(pdf)
