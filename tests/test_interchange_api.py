"""Interchange: OpenLABEL schema validity, the CLI and the REST endpoints."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from server.app import create_app
from server.cli import main
from server.config import Settings
from server.db import make_engine
from server.interchange import export_scene, import_scene
from tests.conftest import logged_in, use_in_cli

jsonschema = pytest.importorskip("jsonschema")
vcd_schema = pytest.importorskip("vcd.schema")


def test_openlabel_export_validates_against_the_1_0_schema(
    engine: Engine, settings: Settings, shared_data: Path, tmp_path: Path
) -> None:
    scene = import_scene(engine, settings, "sustech", shared_data / "sustech").task_id
    export_scene(engine, settings, scene, "openlabel", tmp_path / "ol", points=False)
    doc = json.loads((tmp_path / "ol" / "openlabel.json").read_text())
    jsonschema.validate(doc, vcd_schema.openlabel_schema)
    assert len(doc["openlabel"]["objects"]) == 25


def test_cli_import_and_export_print_json_summaries(
    settings: Settings, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from server.config import get_settings

    use_in_cli(monkeypatch, settings)
    get_settings.cache_clear()
    try:
        assert main(["import", "kitti", str(shared_data / "kitti"), "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["counts"]["cuboids"] == 4 and summary["dropped"] == {"DontCare": 4}
        out = tmp_path / "csv"
        assert main(["export", str(summary["task_id"]), "csv", str(out), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["counts"]["boxes"] == 4
        assert len((out / "boxes.csv").read_text().splitlines()) == 5
        assert main(["export", "999", "csv", str(out), "--json"]) == 2
        assert json.loads(capsys.readouterr().err)["error"] == "interchange_error"
    finally:
        get_settings.cache_clear()


def test_rest_import_is_limited_to_the_import_root_and_export_is_a_zip(
    settings: Settings, shared_data: Path
) -> None:
    root = settings.data_dir / "imports"
    shutil.copytree(shared_data / "kitti", root / "kitti")
    with TestClient(create_app(settings)) as client:
        logged_in(client, make_engine(settings.db_url), settings)
        assert client.post("/api/import/kitti", params={"path": "../.."}).status_code == 404
        assert client.post("/api/import/nope", params={"path": "kitti"}).status_code == 422
        r = client.post("/api/import/kitti", params={"path": "kitti", "name": "k"})
        assert r.status_code == 201, r.text
        task_id = r.json()["task_id"]
        r = client.get(f"/api/tasks/{task_id}/export/kitti")
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
        names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
        assert "label_2/000001.txt" in names and "summary.json" in names
        assert client.get(f"/api/tasks/{task_id}/export/xyz").json()["code"] == "unknown_format"
        assert client.get(f"/api/tasks/{task_id}/annotations").json()["cuboids"]
