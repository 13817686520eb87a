"""POST /api/scenes: bad uploads are refused with a code, early, and leave nothing behind."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from server import accounts
from server.app import create_app
from server.cli import main
from server.config import Settings, get_settings
from server.db import make_engine
from server.launch import free_port, start_server
from server.names import InvalidNameError, check_filename, clean_scene_name, name_from_path
from tests.conftest import logged_in, use_in_cli
from tests.test_coordinates import las_file, random_bytes_bin

OCTET = {"Content-Type": "application/octet-stream"}
LOW_CAP = 1_000_000


def _post(
    client: TestClient, body: bytes, *, headers: dict[str, str] | None = None, **query: str
) -> Any:
    return client.post(f"/api/scenes?{urlencode(query)}", content=body, headers=headers or OCTET)


def _nothing_stored(client: TestClient, settings: Settings, scenes_before: int) -> None:
    """No new scene row, no upload folder, no frame folder beyond the existing scenes'."""
    scenes = client.get("/api/scenes").json()
    assert len(scenes) == scenes_before
    uploads = settings.data_dir / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())
    assert len(list(settings.frames_dir.iterdir())) == scenes_before


class Body:
    """An ASGI request body that counts the bytes the app consumed."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.consumed = chunks, 0

    async def receive(self) -> dict[str, Any]:
        chunk = next(self.chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        self.consumed += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}


def _asgi_upload(
    app: FastAPI, body: Body, headers: dict[str, str], *, filename: str = "big.las"
) -> tuple[int, dict[str, Any]]:
    """Call the app directly (no test client buffering the body); the status and JSON reply."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/scenes", "raw_path": b"/api/scenes", "root_path": "",
        "query_string": urlencode({"filename": filename}).encode(), "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "headers": [(k.lower().encode(), v.encode()) for k, v in
                    {**headers, "Authorization": f"Bearer {app.state.test_token}"}.items()],
    }  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, body.receive, send))
    reply = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(reply)


@pytest.fixture
def low_cap_app(settings: Settings, scene_id: int) -> FastAPI:
    """The app with a 1 MB upload cap, and an API token of a lead (``state.test_token``)."""
    app = create_app(settings.model_copy(update={"max_upload_bytes": LOW_CAP}))
    app.state.test_token = _lead_token(settings)
    return app


def _lead_token(settings: Settings) -> str:
    with Session(make_engine(settings.db_url)) as db:
        accounts.create_user(db, "uploader", "lead")
        token, _ = accounts.create_api_token(db, "uploader")
    return token


@pytest.mark.parametrize("declared", [600 * 2**20, 2**40])
def test_declared_length_over_the_cap_is_refused_before_the_body_is_read(
    low_cap_app: FastAPI, settings: Settings, declared: int
) -> None:
    body = Body(itertools.repeat(bytes(65536)))
    headers = {**OCTET, "Content-Length": str(declared)}
    status, reply = _asgi_upload(low_cap_app, body, headers)
    assert (status, reply["code"]) == (413, "upload_too_large")
    assert body.consumed == 0
    assert not (settings.data_dir / "uploads").exists()


def test_chunked_body_past_the_cap_stops_being_read_at_the_cap(
    low_cap_app: FastAPI, settings: Settings
) -> None:
    body = Body(itertools.repeat(bytes(65536)))  # endless, no Content-Length
    status, reply = _asgi_upload(low_cap_app, body, OCTET)
    assert (status, reply["code"]) == (413, "upload_too_large")
    assert LOW_CAP < body.consumed <= LOW_CAP + 65536
    assert not any((settings.data_dir / "uploads").iterdir())


def test_a_real_server_answers_413_to_a_declared_terabyte_without_waiting_for_it(
    tmp_path: Path,
) -> None:
    """The issue's probe: headers declaring 1 TiB, then no body at all; the answer comes anyway."""
    port = free_port()
    token = _lead_token(Settings(data_dir=tmp_path / "data"))
    proc = start_server(tmp_path / "data", port)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            sock.sendall(
                b"POST /api/scenes?filename=huge.laz HTTP/1.1\r\nHost: localhost\r\n"
                b"Authorization: Bearer " + token.encode() + b"\r\n"
                b"Content-Type: application/octet-stream\r\n"
                b"Content-Length: 1099511627776\r\n\r\n"
            )
            data = b""
            while b'"code"' not in data and (chunk := sock.recv(65536)):
                data += chunk  # headers and body may come in separate packets
            reply = data.decode()
    finally:
        proc.kill()
        proc.wait()
    assert reply.startswith("HTTP/1.1 413"), reply
    assert '"code":"upload_too_large"' in reply
    assert not (tmp_path / "data" / "uploads").exists()


def test_default_cap_is_4_gib_for_real_lidar() -> None:
    assert Settings().max_upload_bytes == 4 * 2**30


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/json",
    ],
)
def test_bodies_that_are_not_a_raw_file_are_refused_with_415(
    client: TestClient, settings: Settings, small_cloud_file: Path, content_type: str
) -> None:
    r = _post(client, small_cloud_file.read_bytes(), headers={"Content-Type": content_type},
              filename="scan.pcd")  # fmt: skip
    assert (r.status_code, r.json()["code"]) == (415, "unsupported_media_type")
    assert "application/octet-stream" in r.json()["message"]
    _nothing_stored(client, settings, 1)


@pytest.mark.parametrize(
    "headers",
    [
        OCTET,
        {"Content-Type": "Application/Octet-Stream; charset=binary"},
        {"Content-Type": "application/vnd.las"},
        {},  # no Content-Type: RFC 9110 lets the server treat it as octet-stream
    ],
)
def test_raw_file_bodies_are_ingested(
    client: TestClient, small_cloud_file: Path, headers: dict[str, str]
) -> None:
    r = client.post("/api/scenes?filename=scan.pcd", content=small_cloud_file.read_bytes(),
                    headers=headers)  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["points"] == 20_000


@pytest.mark.parametrize(
    "filename",
    [
        "scan\x00.pcd",
        "scan\n.pcd",
        "scan\x7f.pcd",
        "x" * 4096 + ".pcd",
        "é" * 126 + ".pcd",  # 256 bytes of UTF-8
        "dir/scan.pcd",
        "..\\scan.pcd",
        ".scan.pcd",
        "..",
        "",
    ],
)
def test_bad_file_names_are_refused_with_invalid_filename(
    client: TestClient, settings: Settings, small_cloud_file: Path, filename: str
) -> None:
    r = _post(client, small_cloud_file.read_bytes(), filename=filename)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_filename")
    _nothing_stored(client, settings, 1)


def test_a_file_name_of_255_bytes_is_accepted(client: TestClient, small_cloud_file: Path) -> None:
    r = _post(client, small_cloud_file.read_bytes(), filename="é" * 125 + "x.pcd")
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "é" * 125 + "x.pcd"


def test_an_unknown_extension_is_refused_before_the_body_is_read(low_cap_app: FastAPI) -> None:
    body = Body(iter([b"hello"]))
    headers = {**OCTET, "Content-Length": "5"}
    status, reply = _asgi_upload(low_cap_app, body, headers, filename="notes.txt")
    assert (status, reply["code"], body.consumed) == (422, "unsupported_format", 0)


def test_scene_names_are_cleaned_of_control_characters(
    client: TestClient, small_cloud_file: Path
) -> None:
    r = _post(client, small_cloud_file.read_bytes(), filename="scan.pcd",
              name="  road\x00 scan\n2\x1b ")  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "road scan 2"
    names = [s["name"] for s in client.get("/api/scenes").json()]
    assert "road scan 2" in names
    r = _post(client, small_cloud_file.read_bytes(), filename="scan.pcd", name="\x00\x01",
              duplicate="allow")  # the same file again, on purpose  # fmt: skip
    assert r.json()["name"] == "scan.pcd"  # nothing printable left: the file name


def test_a_scene_name_over_200_characters_is_refused(
    client: TestClient, settings: Settings, small_cloud_file: Path
) -> None:
    r = _post(client, small_cloud_file.read_bytes(), filename="scan.pcd", name="n" * 201)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_name")
    _nothing_stored(client, settings, 1)


def test_lone_surrogates_are_refused_in_file_and_scene_names() -> None:
    """They cannot reach us through a URL (Starlette decodes it as UTF-8 with U+FFFD), but
    other callers of these checks pass Python text."""
    with pytest.raises(InvalidNameError) as info:
        check_filename("scan\ud800.pcd")
    assert info.value.code == "invalid_filename"
    with pytest.raises(InvalidNameError) as info:
        clean_scene_name("road\udcff")
    assert info.value.code == "invalid_name"
    assert name_from_path("caf\udce9\t1") == "caf\ufffd 1"


def test_random_bytes_named_bin_are_refused_and_nothing_is_stored(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    body = random_bytes_bin(tmp_path / "noise.bin").read_bytes()
    r = _post(client, body, filename="noise.bin")
    assert (r.status_code, r.json()["code"]) == (422, "coordinates_out_of_range")
    assert r.json()["message"].startswith("noise.bin: ")
    assert str(settings.data_dir.parent) not in r.text  # no server path in the answer
    _nothing_stored(client, settings, 1)


def test_reader_errors_name_the_upload_without_the_server_path(
    client: TestClient, settings: Settings, small_cloud_file: Path
) -> None:
    r = _post(client, small_cloud_file.read_bytes()[:-100], filename="cut.pcd")
    assert (r.status_code, r.json()["code"]) == (422, "header_mismatch")
    assert r.json()["message"].startswith("cut.pcd: ")
    assert "/" not in r.json()["message"].split(":")[0]
    _nothing_stored(client, settings, 1)


def test_empty_body_is_refused(client: TestClient, settings: Settings) -> None:
    r = _post(client, b"", filename="scan.pcd")
    assert (r.status_code, r.json()["code"]) == (422, "empty_upload")
    _nothing_stored(client, settings, 1)


def test_cli_ingest_of_random_bytes_exits_2_with_the_code(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    noise = random_bytes_bin(tmp_path / "noise.bin")
    use_in_cli(monkeypatch, settings)
    get_settings.cache_clear()
    try:
        assert main(["ingest", str(noise)]) == 2
    finally:
        get_settings.cache_clear()
    error = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert error["error"] == "coordinates_out_of_range"
    assert "no sensor or map projection" in error["message"]
    assert not any(settings.frames_dir.iterdir())


def test_ingest_streams_a_large_las_and_still_refuses_a_wild_scale(
    settings: Settings, tmp_path: Path
) -> None:
    from pointcloud.errors import CoordinatesOutOfRangeError
    from server.db import make_engine
    from server.ingest import ingest

    path = las_file(tmp_path / "wild.las", scale=1e30, offset=0.0, raw=list(range(1000)))
    engine = make_engine(settings.db_url)
    with pytest.raises(CoordinatesOutOfRangeError):
        ingest(engine, settings, path, stream_min_points=0)  # the streaming path
    assert not any(settings.frames_dir.iterdir())
    with TestClient(create_app(settings)) as client:
        logged_in(client, make_engine(settings.db_url), settings)
        assert client.get("/api/scenes").json() == []
