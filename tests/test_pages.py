"""The workspace page carries its first frame; static text is sent compressed."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.testclient import TestClient

from server.api.routes.pages import inline_json, module_graph, workspace_modules


def _boot(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="boot">(.*?)</script>', html, re.S)
    assert match is not None
    return dict(json.loads(match.group(1)))


def test_workspace_inlines_scene_taxonomy_and_first_hierarchy(
    client: TestClient, scene_id: int, task_id: int
) -> None:
    html = client.get(f"/tasks/{task_id}").text
    boot = _boot(html)
    assert boot["scene"] == client.get(f"/api/scenes/{scene_id}").json()
    assert boot["taxonomy"] == client.get("/api/taxonomy").json()
    assert boot["hierarchy"] == client.get(f"/api/scenes/{scene_id}/frames/0/hierarchy").json()
    root = boot["hierarchy"]["nodes"][0]["tile"]
    assert (
        f'<link rel="preload" href="/api/scenes/{scene_id}/tiles/{root}" as="fetch" '
        'crossorigin="anonymous">' in html
    )
    assert '<link rel="modulepreload" href="/vendor/three/build/three.core.js">' in html


def test_inline_json_cannot_close_its_script_element() -> None:
    text = inline_json({"name": "</script><script>alert(1)</script> & more"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"name": "</script><script>alert(1)</script> & more"}


def test_module_graph_lists_every_import_of_the_workspace_once() -> None:
    graph = workspace_modules()
    assert len(graph) == len(set(graph))
    for url in ("/static/js/stream.js", "/static/js/lod.js", "/static/js/perf.js",
                "/vendor/three/build/three.module.js", "/vendor/three/build/three.core.js",
                "/vendor/three/examples/jsm/controls/OrbitControls.js"):  # fmt: skip
        assert url in graph
    assert "/static/js/first-frame.js" not in graph  # the entry is preloaded first
    first = module_graph("/static/js/first-frame.js")
    assert "/static/js/commands.js" not in first  # editing waits for the first frame
    assert graph[: len(first)] == list(first) and "/static/js/main.js" in graph


def test_static_text_is_sent_brotli_or_gzip_and_the_same_bytes(client: TestClient) -> None:
    url = "/vendor/three/build/three.core.js"
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    br = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    gz = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert (br.headers["content-encoding"], gz.headers["content-encoding"]) == ("br", "gzip")
    assert br.headers["vary"] == gz.headers["vary"] == "Accept-Encoding"
    assert br.content == gz.content == plain.content  # decoded by the HTTP client
    assert int(br.headers["content-length"]) < len(plain.content) / 4
    again = client.get(url, headers={"Accept-Encoding": "br", "If-None-Match": br.headers["etag"]})
    assert again.status_code == 304
