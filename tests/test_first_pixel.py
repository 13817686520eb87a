"""What the workspace page does before its first pixel: it preloads exactly the
modules the first frame needs, lists the rest for after the first pixel, fetches
the root tile inline, and gets every static module compressed.

The import graph is computed here on its own (a tokenizer over the sources and
the page's import map), not with ``server.api.routes.pages.module_graph``."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import brotli
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
ENTRY = "/static/js/first-frame.js"
MAIN = "/static/js/main.js"


def _import_map(html: str) -> dict[str, str]:
    match = re.search(r'<script type="importmap">(.*?)</script>', html, re.S)
    assert match is not None
    return dict(json.loads(match.group(1))["imports"])


def _file(url: str) -> Path:
    for prefix, folder in (("/static/", ROOT / "static"),
                           ("/vendor/three/", ROOT / "node_modules" / "three"),
                           ("/vendor/uplot/", ROOT / "node_modules" / "uplot" / "dist")):  # fmt: skip
        if url.startswith(prefix):
            return folder / url[len(prefix) :]
    raise AssertionError(f"no file for {url}")


def _static_imports(source: str) -> list[str]:
    """Specifiers of static ``import``/``export ... from`` statements (not ``import(...)``):
    comments and string contents other than the specifiers are skipped."""
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    source = re.sub(r"^\s*//.*$", "", source, flags=re.M)
    out = []
    for statement in re.finditer(r"(?m)^\s*(import|export)\b([^;]*?)(?:;|$)", source):
        if statement.group(1) == "export" and " from " not in statement.group(2):
            continue
        if statement.group(2).lstrip().startswith("("):  # a dynamic import
            continue
        spec = re.search(r"""["']([^"']+)["']\s*$""", statement.group(2).strip())
        if spec:
            out.append(spec.group(1))
    return out


def _graph(entry: str, imports: dict[str, str]) -> set[str]:
    """Every module ``entry`` imports statically, directly or not (``entry`` excluded)."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        url = todo.pop()
        text = _file(url).read_text(encoding="utf-8")
        # three.js ends statements without semicolons on one line: read multi-line imports whole.
        text = re.sub(r"import\s*\{[^}]*\}", lambda m: m.group(0).replace("\n", " "), text)
        for spec in _static_imports(text):
            if spec.startswith("."):
                target = str(Path(url).parent.joinpath(spec)).replace("\\", "/")
                parts: list[str] = []
                for piece in target.split("/"):
                    if piece == "..":
                        parts.pop()
                    elif piece != ".":
                        parts.append(piece)
                target = "/".join(parts)
            elif spec in imports:
                target = imports[spec]
            else:
                prefix = next(p for p in imports if p.endswith("/") and spec.startswith(p))
                target = imports[prefix] + spec[len(prefix) :]
            if target not in seen and target != entry:
                seen.add(target)
                todo.append(target)
    return seen


def _page(client: TestClient, task_id: int) -> tuple[str, list[str], dict[str, object]]:
    html = client.get(f"/tasks/{task_id}").text
    preloaded = re.findall(r'<link rel="modulepreload" href="([^"]+)">', html)
    boot = re.search(r'<script type="application/json" id="boot">(.*?)</script>', html, re.S)
    assert boot is not None
    return html, preloaded, json.loads(boot.group(1))


def test_the_page_preloads_the_first_frames_modules_and_lists_the_rest_for_later(
    client: TestClient, task_id: int
) -> None:
    html, preloaded, boot = _page(client, task_id)
    imports = _import_map(html)
    first = _graph(ENTRY, imports)
    assert {
        "/vendor/three/build/three.core.js",
        "/static/js/viewer.js",
        "/static/js/stream.js",
    } <= first
    assert len(preloaded) == len(set(preloaded))
    assert set(preloaded) == first | {ENTRY}  # nothing more: the rest waits for the first pixel
    later = boot["later"]
    assert isinstance(later, list) and later[0] == MAIN
    assert set(later) == ({MAIN} | _graph(MAIN, imports)) - first - {ENTRY}
    assert "/static/js/commands.js" in later and "/static/js/object-list.js" in later
    for url in [*preloaded, *later]:  # every listed module is served
        assert client.get(url).status_code == 200, url


def test_the_page_fetches_its_root_tile_before_its_modules_run(
    client: TestClient, scene_id: int, task_id: int
) -> None:
    html, _, boot = _page(client, task_id)
    hierarchy = boot["hierarchy"]
    assert isinstance(hierarchy, dict)
    root = hierarchy["nodes"][0]["tile"]
    url = f"/api/scenes/{scene_id}/tiles/{root}"
    early = re.search(r"Object\.entries\((\{.*?\})\)", html)
    assert early is not None and json.loads(early.group(1)) == {root: url}
    # the inline script comes before the entry module in the page
    assert html.index("plEarlyTiles") < html.index(f'<script type="module" src="{ENTRY}">')
    assert client.get(url).status_code == 200


def _raw(client: TestClient, url: str, accept: str) -> tuple[dict[str, str], bytes]:
    with client.stream("GET", url, headers={"Accept-Encoding": accept}) as r:
        assert r.status_code == 200
        return dict(r.headers), b"".join(r.iter_raw())


def test_every_module_is_sent_as_brotli_gzip_or_as_is_and_decodes_to_the_file(
    client: TestClient, task_id: int
) -> None:
    html, preloaded, boot = _page(client, task_id)
    later = boot["later"]
    assert isinstance(later, list)
    for url in [ENTRY, "/vendor/three/build/three.core.js", *later[:3]]:
        disk = _file(url).read_bytes()
        headers, body = _raw(client, url, "gzip, deflate, br, zstd")
        assert headers["content-encoding"] == "br" and headers["vary"] == "Accept-Encoding"
        assert brotli.decompress(body) == disk
        headers, body = _raw(client, url, "gzip, deflate")
        assert headers["content-encoding"] == "gzip"
        assert gzip.decompress(body) == disk
        headers, body = _raw(client, url, "identity")
        assert "content-encoding" not in headers and body == disk
    _, big = _raw(client, "/vendor/three/build/three.core.js", "br")
    assert len(big) < len(_file("/vendor/three/build/three.core.js").read_bytes()) / 4


def test_each_encoding_has_its_own_etag_and_is_revalidated_on_its_own(client: TestClient) -> None:
    url = "/static/js/first-frame.js"
    tags = {}
    for accept in ("br", "gzip", "identity"):
        r = client.get(url, headers={"Accept-Encoding": accept})
        assert r.status_code == 200 and r.headers["vary"] == "Accept-Encoding"
        tags[accept] = r.headers["etag"]
        again = client.get(url, headers={"Accept-Encoding": accept, "If-None-Match": tags[accept]})
        assert again.status_code == 304 and again.headers["etag"] == tags[accept]
        assert again.headers["vary"] == "Accept-Encoding"
    assert len(set(tags.values())) == 3 and not any(t.startswith("W/") for t in tags.values())
    # a copy of the brotli bytes does not validate the gzip representation
    other = client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": tags["br"]})
    assert other.status_code == 200 and other.headers["content-encoding"] == "gzip"
    assert gzip.decompress(_raw(client, url, "gzip")[1]) == _file(url).read_bytes()
