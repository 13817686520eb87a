"""REST API, pages and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from server.config import Settings
from server.ingest import ingest
from server.models import Edit
from tests.conftest import start_task
from tests.test_ws import new_box_ops


def test_scene_list_and_detail_describe_frames(client: TestClient, scene_id: int) -> None:
    (scene,) = client.get("/api/scenes").json()
    assert (scene["id"], scene["frame_count"], scene["point_count"]) == (scene_id, 1, 20_000)
    detail = client.get(f"/api/scenes/{scene_id}").json()
    assert detail["frames"][0]["points"] == 20_000
    assert "storage" not in detail


def test_missing_scene_and_frame_are_404_with_a_code(client: TestClient, scene_id: int) -> None:
    r = client.get("/api/scenes/999")
    assert (r.status_code, r.json()["code"]) == (404, "scene_not_found")
    r = client.get(f"/api/scenes/{scene_id}/frames/3/hierarchy")
    assert (r.status_code, r.json()["code"]) == (404, "frame_not_found")
    r = client.get(f"/api/scenes/{scene_id}/tiles/" + "z" * 32)
    assert (r.status_code, r.json()["code"]) == (404, "tile_not_found")
    r = client.get(f"/api/scenes/{scene_id}/tiles/..%2F..%2Fpointlabel.db")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [("gzip, deflate, br, zstd", "br"), ("gzip, deflate", "gzip"), ("br;q=0, gzip", "gzip"),
     ("*", "br"), ("", "gzip")],
)  # fmt: skip
def test_tiles_are_immutable_brotli_or_gzip_by_accept_encoding(
    client: TestClient, scene_id: int, accept: str, encoding: str
) -> None:
    h = client.get(f"/api/scenes/{scene_id}/frames/0/hierarchy").json()
    node = h["nodes"][0]
    r = client.get(
        f"/api/scenes/{scene_id}/tiles/{node['tile']}", headers={"Accept-Encoding": accept}
    )
    assert r.status_code == 200
    assert "immutable" in r.headers["cache-control"]
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.headers["content-encoding"] == encoding
    assert len(r.content) == node["count"] * 7  # decompressed: 3 x uint16 + uint8
    again = client.get(
        f"/api/scenes/{scene_id}/tiles/{node['tile']}",
        headers={"If-None-Match": r.headers["etag"], "Accept-Encoding": accept},
    )
    assert again.status_code == 304


def test_brotli_and_gzip_tiles_carry_the_same_bytes_under_different_etags(
    client: TestClient, scene_id: int
) -> None:
    h = client.get(f"/api/scenes/{scene_id}/frames/0/hierarchy").json()
    url = f"/api/scenes/{scene_id}/tiles/{h['nodes'][0]['tile']}"
    br = client.get(url, headers={"Accept-Encoding": "br"})
    gz = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert br.content == gz.content  # both decoded by the HTTP client
    assert int(br.headers["content-length"]) == h["nodes"][0]["bytes"]
    assert int(br.headers["content-length"]) < int(gz.headers["content-length"])
    assert br.headers["etag"] != gz.headers["etag"]
    stale = client.get(
        url, headers={"Accept-Encoding": "gzip", "If-None-Match": br.headers["etag"]}
    )
    assert stale.status_code == 200 and stale.headers["content-encoding"] == "gzip"


def test_rest_ops_take_the_same_write_path_as_the_websocket(
    client: TestClient, engine: Engine, task_id: int
) -> None:
    ops, _, cuboid_id = new_box_ops()
    r = client.post(
        f"/api/tasks/{task_id}/ops",
        json={"type": "ops", "seq": 1, "client_id": "script", "ops": ops},
    )
    assert r.status_code == 200 and r.json()["revision"] == 2
    bad, _, _ = new_box_ops(size=(0, 1, 1))
    r = client.post(
        f"/api/tasks/{task_id}/ops",
        json={"type": "ops", "seq": 2, "client_id": "script", "ops": bad},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "size_not_positive"
    state = client.get(f"/api/tasks/{task_id}/annotations").json()
    assert [c["id"] for c in state["cuboids"]] == [cuboid_id]
    with Session(engine) as s:
        assert [e.client_id for e in s.exec(select(Edit)).all()] == ["script", "script"]


def test_pages_render(client: TestClient, task_id: int) -> None:
    assert "small.pcd" in client.get("/").text
    page = client.get(f"/tasks/{task_id}").text
    assert f'data-task-id="{task_id}"' in page
    assert '"three": "/vendor/three/build/three.module.js"' in page
    assert client.get("/vendor/three/build/three.module.js").status_code == 200
    assert client.get("/static/js/main.js").status_code == 200


def _cli(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POINTLABEL_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_ingest_prints_json_with_the_point_count(
    tmp_path: Path, small_cloud_file: Path
) -> None:
    r = _cli(["ingest", str(small_cloud_file), "--json", "--name", "mine"], tmp_path / "d")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["scene_id"], out["frames"], out["points"], out["name"]) == (1, 1, 20_000, "mine")


def test_cli_ingest_of_a_bad_file_exits_with_an_error_code(tmp_path: Path) -> None:
    bad = tmp_path / "x.pcd"
    bad.write_bytes(b"VERSION 0.7\nFIELDS x y z\nDATA sideways\n")
    r = _cli(["ingest", str(bad)], tmp_path / "d")
    assert r.returncode == 2
    assert json.loads(r.stderr.strip().splitlines()[-1])["error"] in {
        "corrupt_file",
        "unsupported_format",
        "header_mismatch",
    }
    r = _cli(["ingest", str(tmp_path / "missing.las")], tmp_path / "d")
    assert (r.returncode, json.loads(r.stderr)["error"]) == (2, "file_not_found")


def test_rest_and_websocket_write_identical_edit_log_entries(
    client: TestClient, engine: Engine, settings: Settings, small_cloud_file: Path
) -> None:
    """The same batch through each door: same revisions, ops, states and user."""
    by_ws = start_task(engine, _task(engine, settings, small_cloud_file), settings.default_user)
    by_rest = start_task(engine, _task(engine, settings, small_cloud_file), settings.default_user)

    def batch(prefix: str) -> dict[str, Any]:
        ops, _, _ = new_box_ops()
        ops[0]["id"], ops[1]["id"] = f"{prefix}-t", f"{prefix}-c"
        ops[1]["data"]["track_id"] = f"{prefix}-t"
        return {"type": "ops", "seq": 1, "client_id": "same", "ops": ops}

    with client.websocket_connect(f"/ws/tasks/{by_ws}") as ws:
        ws.send_json(batch("ws"))
        while ws.receive_json()["type"] != "ack":
            pass
    assert client.post(f"/api/tasks/{by_rest}/ops", json=batch("rest")).status_code == 200

    def log(scene: int, prefix: str) -> list[tuple[Any, ...]]:
        with Session(engine) as s:
            edits = s.exec(select(Edit).where(Edit.task_id == scene)).all()
            return [
                (
                    e.revision,
                    e.op,
                    e.kind,
                    e.object_id.removeprefix(prefix),
                    e.user_id,
                    json.dumps(e.after).replace(prefix, ""),
                    e.client_id,
                    e.client_seq,
                )
                for e in sorted(edits, key=lambda e: e.revision)
            ]

    assert log(by_ws, "ws") == log(by_rest, "rest") and len(log(by_ws, "ws")) == 2


def test_upload_ingests_a_file_and_a_bad_one_is_a_422_with_a_code(
    client: TestClient, small_cloud_file: Path, settings: Settings
) -> None:
    r = client.post("/api/scenes?filename=scan.pcd&name=uploaded",
                    content=small_cloud_file.read_bytes())  # fmt: skip
    assert r.status_code == 201, r.text
    assert (r.json()["points"], r.json()["name"]) == (20_000, "uploaded")
    truncated = small_cloud_file.read_bytes()[:-100]
    r = client.post("/api/scenes?filename=bad.pcd", content=truncated)
    assert (r.status_code, r.json()["code"]) == (422, "header_mismatch")
    r = client.post("/api/scenes?filename=notes.txt", content=b"hello")
    assert (r.status_code, r.json()["code"]) == (422, "unsupported_format")
    r = client.post("/api/scenes?filename=../../etc/x.pcd", content=b"x")
    assert (r.status_code, r.json()["code"]) == (422, "invalid_filename")
    assert len(client.get("/api/scenes").json()) == 2  # the fixture's scene and the good upload
    assert len(list((settings.data_dir / "uploads").iterdir())) == 1  # failures left nothing


def test_scene_list_offers_label_exports_that_download(client: TestClient, task_id: int) -> None:
    page = client.get("/").text
    link = f"/api/tasks/{task_id}/export/openlabel"
    assert f'href="{link}"' in page
    r = client.get(link)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"


def _task(engine: Engine, settings: Settings, path: Path) -> int:
    task_id = ingest(engine, settings, path).task_id
    assert task_id is not None
    return task_id
