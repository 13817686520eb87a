"""Tiles on the wire in real Chromium: brotli by default, gzip for a client that does
not accept br; both decode to the same points and pixels. The workspace page
carries what the first frame needs."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from e2e.conftest import E2E_PASSWORD, E2E_USER, SHARED, Server
from e2e.test_viewer import stats
from e2e.test_workspace import drawn_pixels
from e2e.workspace_page import open_scene

KITTI_TASK = 2  # the session server's task (and scene) 2 (e2e/conftest.py)


def _load(page: Page, server: Server) -> tuple[list[str], dict[str, int], int]:
    """Open the KITTI task; the Content-Encoding of every tile response, the
    point stats and the drawn pixels."""
    encodings: list[str] = []

    def seen(response: Any) -> None:
        if "/tiles/" in response.url:
            encodings.append(response.headers.get("content-encoding", ""))

    page.on("response", seen)
    open_scene(page, server, KITTI_TASK)
    return encodings, stats(page), drawn_pixels(page)


def test_brotli_and_gzip_tiles_draw_the_same_points(page: Page, server: Server) -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared/data not present")
    br_encodings, br_stats, br_pixels = _load(page, server)
    assert br_encodings and set(br_encodings) == {"br"}
    browser = page.context.browser
    assert browser is not None
    # A client that does not accept brotli (Chromium keeps an Accept-Encoding set by the page's
    # extra headers; a request route's header override is replaced by the network stack).
    fresh = browser.new_context(
        viewport={"width": 1280, "height": 760},
        storage_state={"cookies": [server.session_cookie(E2E_USER, E2E_PASSWORD)]},
        extra_http_headers={"Accept-Encoding": "gzip, deflate"},
    )
    try:
        gz_page = fresh.new_page()
        gz_encodings, gz_stats, gz_pixels = _load(gz_page, server)
    finally:
        fresh.close()
    assert gz_encodings and set(gz_encodings) == {"gzip"}
    assert br_stats["drawn"] == gz_stats["drawn"] > 100_000  # of the 115,384 of the scan
    assert br_pixels > 2_000
    assert abs(br_pixels - gz_pixels) <= 0.01 * br_pixels


def test_workspace_page_carries_the_first_frame_and_preloads_its_modules(
    page: Page, server: Server
) -> None:
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    open_scene(page, server, 1)
    assert drawn_pixels(page) > 2_000
    boot = page.evaluate("() => JSON.parse(document.getElementById('boot').textContent)")
    assert boot["scene"]["id"] == 1 and boot["taxonomy"]["classes"]
    assert boot["hierarchy"]["nodes"][0]["key"] == "r"
    # the first frame's hierarchy, the scene and the taxonomy are not fetched again
    assert not [
        u
        for u in requested
        if u.endswith(("/frames/0/hierarchy", "/api/scenes/1", "/api/taxonomy"))
    ]
    preloaded = page.eval_on_selector_all(
        "link[rel=modulepreload]", "(links) => links.map((l) => new URL(l.href).pathname)"
    )
    assert {"/static/js/first-frame.js", "/static/js/main.js", "/static/js/tile-worker.js"} - set(
        preloaded
    ) == {"/static/js/tile-worker.js"}  # a worker, not a module import
    assert "/vendor/three/build/three.core.js" in preloaded
    root_tile = f"/api/scenes/1/tiles/{boot['hierarchy']['nodes'][0]['tile']}"
    assert [u for u in requested if u.endswith(root_tile)] == [f"{server.url}{root_tile}"]
