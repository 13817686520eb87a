"""Scenes from the browser's side (docs/workspace.md): sizes and counts in the list,
search, rename, delete with the tiles no other scene uses, and an upload of the same
file twice caught by its content hash."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from server.config import Settings
from server.models import Cuboid, Edit, Frame, Scene, Task, Track
from server.scene_admin import _hierarchy_tiles
from server.tile_store import ENCODINGS
from tests.test_ws import hello, new_box_ops, send_ops

OCTET = {"Content-Type": "application/octet-stream"}


def upload(client: TestClient, path: Path, **query: str) -> Any:
    url = f"/api/scenes?{urlencode({'filename': path.name, **query})}"
    return client.post(url, content=path.read_bytes(), headers=OCTET)


def tiles_of(settings: Settings, engine: Engine, scene_id: int) -> set[str]:
    with Session(engine) as s:
        scene = s.get(Scene, scene_id)
        assert scene is not None
        return set(_hierarchy_tiles(settings.frames_dir / scene.storage, scene.frame_count))


def test_the_same_file_twice_asks_first_then_makes_a_second_scene_when_allowed(
    client: TestClient, small_cloud_file: Path
) -> None:
    first = upload(client, small_cloud_file, name="one")
    assert first.status_code == 201
    before = len(client.get("/api/scenes").json())
    again = upload(client, small_cloud_file, name="two")
    assert again.status_code == 409
    assert again.json()["code"] == "duplicate_scene"
    assert f"scene {first.json()['scene_id']} (one)" in again.json()["message"]
    assert len(client.get("/api/scenes").json()) == before  # nothing stored
    allowed = upload(client, small_cloud_file, name="two", duplicate="allow")
    assert allowed.status_code == 201
    assert allowed.json()["scene_id"] != first.json()["scene_id"]


def test_the_list_shows_size_counts_and_last_edit_and_searches_names(
    client: TestClient, task_id: int, scene_id: int
) -> None:
    (row,) = client.get("/api/scenes").json()
    assert row["tracks"] == 0 and row["cuboids"] == 0 and row["last_edit"] is None
    assert row["bytes"] > 10_000 and row["tasks"] == 1
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        hello(ws)
        assert send_ops(ws, 1, new_box_ops()[0])["type"] == "ack"
    (row,) = client.get("/api/scenes").json()
    assert (row["tracks"], row["cuboids"]) == (1, 1) and row["last_edit"]
    assert client.get("/api/scenes?q=SMA").json()[0]["id"] == scene_id
    assert client.get("/api/scenes?q=nothing-like-it").json() == []


def test_a_scene_can_be_renamed_and_a_bad_name_is_refused(
    client: TestClient, scene_id: int
) -> None:
    r = client.patch(f"/api/scenes/{scene_id}", json={"name": "  drive 7  "})
    assert r.status_code == 200 and r.json()["name"] == "drive 7"
    assert client.get(f"/api/scenes/{scene_id}").json()["name"] == "drive 7"
    for bad in ['""', '"   "', f'"{"x" * 500}"', '"bad\\ud800"']:
        r = client.patch(f"/api/scenes/{scene_id}", content=f'{{"name": {bad}}}'.encode(),
                         headers={"Content-Type": "application/json"})  # fmt: skip
        assert r.status_code == 422 and r.json()["code"] == "invalid_name", bad
    r = client.patch(f"/api/scenes/{scene_id}", json={"name": "x", "storage": "/etc"})
    assert r.status_code == 422
    assert client.get(f"/api/scenes/{scene_id}").json()["name"] == "drive 7"


def test_deleting_a_scene_removes_its_labels_and_its_unshared_tiles_only(
    client: TestClient, engine: Engine, settings: Settings, task_id: int, scene_id: int,
    small_cloud_file: Path,
) -> None:  # fmt: skip
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        hello(ws)
        assert send_ops(ws, 1, new_box_ops()[0])["type"] == "ack"
    twin = upload(client, small_cloud_file, name="twin", duplicate="allow").json()["scene_id"]
    shared = tiles_of(settings, engine, scene_id)
    assert shared and shared == tiles_of(settings, engine, twin)  # same points, same tiles

    r = client.delete(f"/api/scenes/{scene_id}")
    assert r.status_code == 200
    assert r.json() == {"deleted": scene_id, "removed_tiles": 0, "kept_tiles": len(shared)}
    store = settings.tile_store  # the twin still uses them: both copies of each are kept
    assert all(store.has(d, e) for d in shared for e in ENCODINGS)
    assert client.get(f"/api/scenes/{scene_id}").json()["code"] == "scene_not_found"
    assert client.get(f"/api/tasks/{task_id}").status_code == 404
    with Session(engine) as s:
        for model in (Track, Cuboid, Edit, Frame, Task):
            assert s.exec(select(model).where(model.scene_id == scene_id)).all() == [], model  # type: ignore[attr-defined]

    storage = settings.frames_dir / Session(engine).get(Scene, twin).storage  # type: ignore[union-attr]
    r = client.delete(f"/api/scenes/{twin}")
    assert r.json() == {"deleted": twin, "removed_tiles": len(shared), "kept_tiles": 0}
    assert not any(store.has(d, e) for d in shared for e in ENCODINGS)  # brotli copies too
    assert not [f for f in settings.tiles_dir.rglob("*") if f.is_file()]
    assert not storage.exists()
    assert client.get("/api/scenes").json() == []


def test_deleting_is_for_those_who_may_upload(
    client: TestClient, engine: Engine, settings: Settings, scene_id: int
) -> None:
    from tests.conftest import logged_in

    annotator = logged_in(TestClient(client.app), engine, settings, "ann", "annotator")
    r = annotator.delete(f"/api/scenes/{scene_id}", headers={"Content-Type": "application/json"})
    assert r.status_code in (403, 404)
    assert client.get(f"/api/scenes/{scene_id}").status_code == 200
