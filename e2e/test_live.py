"""Two editors on one scene, offline edits and conflicts, in real Chromium.

Chromium's offline emulation (`context.set_offline(True)`) fires the page's
`offline` event and makes new connections fail, but it does not close a
websocket that is already open (its frames are held until the network is back).
The workspace follows the browser's `offline`/`online` events: it drops the
socket when the browser goes offline and reconnects when it comes back, so these
tests exercise a real disconnect, hello with `since_revision`, and resends.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from e2e.conftest import Server
from e2e.workspace_page import (
    annotations,
    expect_saved,
    open_scene,
    page_cuboids,
    place_click,
    screen_xy,
    selected_cuboid,
    server_cuboids,
)

LIVE_MS = 15_000
"""Other people's edits must show up; how fast is a benchmark (`bench ws`: ack p99), not a test."""


@pytest.fixture
def second(browser: Browser, browser_context_args: dict[str, object]) -> Iterator[BrowserContext]:
    """A second, independent browser context (another annotator)."""
    ctx = browser.new_context(**browser_context_args)  # type: ignore[arg-type]
    yield ctx
    ctx.close()


def place_box(page: Page, x: float, y: float) -> dict[str, object]:
    place_click(page, *screen_xy(page, x, y))
    expect_saved(page)
    box = selected_cuboid(page)
    assert box is not None
    return box


def centre_of(page: Page, box_id: str) -> list[float]:
    return list(page.evaluate("(id) => window.pointlabel.app.cuboids.get(id)?.center", box_id))


def test_two_editors_see_each_others_edits_and_selections_live(
    page: Page, second: BrowserContext, server: Server, scene: int
) -> None:
    b = second.new_page()
    open_scene(page, server, scene)
    open_scene(b, server, scene)
    expect(page.get_by_test_id("presence")).to_contain_text("1 other here", timeout=LIVE_MS)

    box = place_box(page, 20.0, -10.0)
    expect(b.get_by_test_id("box-count")).to_have_text("1", timeout=LIVE_MS)

    b.keyboard.press("Tab")  # B selects the box: A sees it marked as someone else's
    expect(page.locator("#box-list li.others")).to_have_count(1, timeout=LIVE_MS)

    page.keyboard.press("Shift+d")  # A moves it 1 m right
    expect(b.get_by_test_id("selection")).to_contain_text(
        f"centre {box['center'][0] + 1:.2f}", timeout=LIVE_MS
    )  # type: ignore[operator]
    b.keyboard.press("Shift+w")  # B moves it 1 m up
    expect(page.get_by_test_id("selection")).to_contain_text(
        f"{box['center'][1] + 1:.2f}", timeout=LIVE_MS
    )  # type: ignore[operator]
    b.keyboard.press("4")  # B makes it a Bus
    expect(page.locator("#box-list li")).to_contain_text("Bus", timeout=LIVE_MS)
    b.keyboard.press("Delete")
    expect(page.get_by_test_id("box-count")).to_have_text("0", timeout=LIVE_MS)
    expect_saved(page)
    expect_saved(b)


def test_edit_made_offline_on_a_box_someone_moved_is_a_conflict_showing_the_servers_version(
    page: Page, second: BrowserContext, server: Server, scene: int
) -> None:
    b = second.new_page()
    open_scene(page, server, scene)
    open_scene(b, server, scene)
    box = place_box(page, 20.0, -10.0)
    expect(b.get_by_test_id("box-count")).to_have_text("1", timeout=LIVE_MS)

    second.set_offline(True)
    expect(b.get_by_test_id("save-state")).to_have_attribute("data-state", "offline")
    b.keyboard.press("Tab")
    b.keyboard.press("Shift+s")  # B moves it 1 m down, offline: kept, not sent
    expect(b.get_by_test_id("save-state")).to_contain_text("1 edit kept in this browser")

    page.keyboard.press("Shift+d")  # A moves it 1 m right, online
    expect_saved(page)
    (server_box,) = server_cuboids(server, scene)
    assert server_box["center"][0] == box["center"][0] + 1  # type: ignore[operator]

    second.set_offline(False)
    notice = b.get_by_test_id("conflict")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Car")
    x, y, z = server_box["center"]
    expect(notice).to_contain_text(f"centre {x:.2f}, {y:.2f}, {z:.2f}")
    expect(b.get_by_test_id("save-state")).to_have_attribute("data-state", "error")
    b.wait_for_function(
        "([id, x]) => window.pointlabel.app.cuboids.get(id)?.center[0] === x",
        arg=[box["id"], x],
    )
    assert page_cuboids(b) == server_cuboids(server, scene)  # B shows the server's version
    assert server_cuboids(server, scene) == [server_box]  # B's edit was not stored
    b.screenshot(path=str(server.data_dir / "conflict.png"))
    notice.get_by_role("button", name="Keep theirs").click()
    expect(notice).to_be_hidden()

    b.keyboard.press("Tab")  # B can go on editing from the server's version
    b.keyboard.press("Shift+s")
    expect_saved(b)
    (after,) = server_cuboids(server, scene)
    assert after["center"][1] == server_box["center"][1] - 1


def test_three_offline_edits_arrive_once_when_back_online(
    page: Page, context: BrowserContext, server: Server, scene: int
) -> None:
    open_scene(page, server, scene)
    box = place_box(page, 20.0, -10.0)
    revision = annotations(server, scene)["revision"]

    context.set_offline(True)
    expect(page.get_by_test_id("save-state")).to_have_attribute("data-state", "offline")
    page.keyboard.press("Shift+d")
    page.keyboard.press("Shift+q")
    page.keyboard.press("Shift+i")
    expect(page.get_by_test_id("save-state")).to_contain_text("3 edits kept in this browser")
    assert annotations(server, scene)["revision"] == revision

    context.set_offline(False)
    expect_saved(page)
    snap = annotations(server, scene)
    assert snap["revision"] == revision + 3  # each edit applied once
    (stored,) = snap["cuboids"]
    assert stored["center"][0] == box["center"][0] + 1  # type: ignore[operator]
    assert abs(stored["yaw"] - 15 * 3.141592653589793 / 180) < 1e-9
    assert stored["size"][0] == 5.0
    (shown,) = page_cuboids(page)
    assert shown["revision"] == stored["revision"] == snap["revision"]


def test_edits_made_offline_survive_closing_the_tab_and_are_sent_by_the_next_one(
    page: Page, context: BrowserContext, server: Server, scene: int
) -> None:
    open_scene(page, server, scene)
    box = place_box(page, 20.0, -10.0)
    revision = annotations(server, scene)["revision"]

    context.set_offline(True)
    expect(page.get_by_test_id("save-state")).to_have_attribute("data-state", "offline")
    page.keyboard.press("Shift+d")
    page.keyboard.press("x")
    page.evaluate("() => window.pointlabel.sync.outbox.written")  # on disk in IndexedDB
    page.close()
    context.set_offline(False)

    again = context.new_page()
    open_scene(again, server, scene)
    snap = annotations(server, scene)
    assert snap["revision"] == revision + 2
    (stored,) = snap["cuboids"]
    assert stored["center"][0] == box["center"][0] + 1  # type: ignore[operator]
    assert abs(abs(stored["yaw"]) - 3.141592653589793) < 1e-9
    assert page_cuboids(again) == snap["cuboids"]
    assert again.evaluate("() => window.pointlabel.sync.pending.length") == 0


def test_a_batch_whose_ack_was_lost_is_resent_and_applied_once(
    page: Page, server: Server, scene: int
) -> None:
    open_scene(page, server, scene)
    place_box(page, 20.0, -10.0)
    revision = annotations(server, scene)["revision"]
    # The next ack is lost with the connection: the page drops the socket as it arrives.
    page.evaluate(
        """() => { const s = window.pointlabel.sync; const answered = s.answered.bind(s);
             window.acks = []; s.onAck.add((ack) => window.acks.push(ack));
             s.answered = (msg) => { s.answered = answered; window.lost = msg; s.drop(); }; }"""
    )
    page.keyboard.press("Shift+d")
    expect_saved(page)
    lost, acks = page.evaluate("() => [window.lost, window.acks]")
    assert lost["type"] == "ack" and not lost["replayed"]
    (resent,) = acks
    assert resent["seq"] == lost["seq"] and resent["replayed"] is True
    assert resent["revision"] == lost["revision"] == revision + 1
    snap = annotations(server, scene)
    assert snap["revision"] == revision + 1  # applied once
    assert page_cuboids(page) == snap["cuboids"]


def test_a_conflict_can_be_re_applied_on_the_servers_version(
    page: Page, second: BrowserContext, server: Server, scene: int
) -> None:
    b = second.new_page()
    open_scene(page, server, scene)
    open_scene(b, server, scene)
    box = place_box(page, 20.0, -10.0)
    expect(b.get_by_test_id("box-count")).to_have_text("1", timeout=LIVE_MS)

    second.set_offline(True)
    expect(b.get_by_test_id("save-state")).to_have_attribute("data-state", "offline")
    b.keyboard.press("Tab")
    b.keyboard.press("Shift+s")  # B moves it 1 m down, offline
    page.keyboard.press("Shift+d")  # A moves it 1 m right first
    expect_saved(page)
    second.set_offline(False)
    notice = b.get_by_test_id("conflict")
    expect(notice).to_be_visible()
    notice.get_by_role("button", name="Re-apply mine").click()
    expect(notice).to_be_hidden()
    expect_saved(b)
    (stored,) = server_cuboids(server, scene)
    x, y, z = box["center"]  # type: ignore[misc]
    assert stored["center"] == [x, y - 1, z]  # B's edit, made again on A's version
    page.wait_for_function(
        "([id, y]) => window.pointlabel.app.cuboids.get(id)?.center[1] === y",
        arg=[box["id"], y - 1],
    )
