"""Import folders never lead outside themselves, and errors never show server paths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from server.app import create_app
from server.config import Settings
from server.db import make_engine
from server.interchange import InterchangeError, import_scene
from server.models import Scene
from tests.conftest import logged_in
from tests.test_interchange_nuscenes import _dataroot

SECRET = "s3cr3t-token-do-not-show"
CALIB = (
    "P2: 721.5 0 609.6 0 0 721.5 172.9 0 0 0 1 0\n"
    "R0_rect: 1 0 0 0 1 0 0 0 1\n"
    "Tr_velo_to_cam: 0 -1 0 0 0 0 -1 0 1 0 0 0\n"
)
LABEL = "Car 0.00 0 0.0 0 0 10 10 1.5 1.8 4.2 1.0 1.7 10.0 0.1\n"


def _kitti(folder: Path) -> Path:
    """A one-frame KITTI object folder: 2,000 points, one Car label and a calibration."""
    rng = np.random.default_rng(5)
    pts = np.c_[rng.uniform(-20, 20, (2000, 3)), np.zeros(2000)].astype(np.float32)
    for sub in ("velodyne", "label_2", "calib"):
        (folder / sub).mkdir(parents=True)
    pts.tofile(folder / "velodyne" / "000000.bin")
    (folder / "label_2" / "000000.txt").write_text(LABEL)
    (folder / "calib" / "000000.txt").write_text(CALIB)
    return folder


def _secret_file(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    target = outside / "passwd"
    target.write_text(f"{SECRET}:x:0:0:root:/root:/bin/bash\n")
    return target


def _scenes(engine: Engine) -> list[Scene]:
    with Session(engine) as session:
        return list(session.exec(select(Scene)).all())


def test_calib_symlinked_outside_is_refused_without_its_content(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    folder = _kitti(tmp_path / "kitti")
    calib = folder / "calib" / "000000.txt"
    calib.unlink()
    calib.symlink_to(_secret_file(tmp_path))
    with pytest.raises(InterchangeError) as err:
        import_scene(engine, settings, "kitti", folder)
    assert err.value.code == "import_path_escapes"
    message = str(err.value)
    assert "calib/000000.txt" in message
    assert SECRET not in message and str(tmp_path) not in message
    assert _scenes(engine) == []


def test_symlinked_point_folder_outside_is_refused(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    folder = _kitti(tmp_path / "kitti")
    elsewhere = tmp_path / "elsewhere"
    (folder / "velodyne").rename(elsewhere)
    (folder / "velodyne").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(InterchangeError) as err:
        import_scene(engine, settings, "kitti", folder)
    assert err.value.code == "import_path_escapes"
    assert "velodyne" in str(err.value) and str(tmp_path) not in str(err.value)
    assert _scenes(engine) == []


def test_symlink_inside_the_folder_is_followed(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    folder = _kitti(tmp_path / "kitti")
    (folder / "calib" / "shared.txt").write_text(CALIB)
    calib = folder / "calib" / "000000.txt"
    calib.unlink()
    calib.symlink_to(folder / "calib" / "shared.txt")
    result = import_scene(engine, settings, "kitti", folder)
    assert result.report.counts["cuboids"] == 1


def test_bad_calibration_names_the_file_relative_to_the_folder(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    folder = _kitti(tmp_path / "kitti")
    (folder / "calib" / "000000.txt").write_text(f"{SECRET}: not numbers\n")
    with pytest.raises(InterchangeError) as err:
        import_scene(engine, settings, "kitti", folder)
    assert str(err.value) == "calib/000000.txt: line 1: not numbers"
    assert _scenes(engine) == []


def test_rest_import_refuses_escaping_symlinks_without_server_paths(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    root = settings.data_dir / "imports"
    calib_escape = _kitti(root / "calib-escape")
    (calib_escape / "calib" / "000000.txt").unlink()
    (calib_escape / "calib" / "000000.txt").symlink_to(_secret_file(tmp_path))
    folder_escape = _kitti(root / "folder-escape")
    (folder_escape / "velodyne").rename(tmp_path / "velo")
    (folder_escape / "velodyne").symlink_to(tmp_path / "velo", target_is_directory=True)
    (root / "no-points").mkdir()
    with TestClient(create_app(settings)) as client:
        logged_in(client, make_engine(settings.db_url), settings)
        for path, code in [
            ("calib-escape", "import_path_escapes"),
            ("folder-escape", "import_path_escapes"),
            ("no-points", "unsupported_format"),
        ]:
            r = client.post("/api/import/kitti", params={"path": path})
            assert 400 <= r.status_code < 500, r.text
            body = r.json()
            assert body["code"] == code
            assert SECRET not in r.text
            assert str(tmp_path) not in r.text and str(settings.data_dir) not in r.text
        assert client.get("/api/scenes").json() == []


def test_missing_point_folder_is_a_clear_error_without_server_paths(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "tracking"
    for sub in ("label_02", "calib"):
        (folder / sub).mkdir(parents=True)
    (folder / "label_02" / "0001.txt").write_text("")
    (folder / "calib" / "0001.txt").write_text(CALIB)
    with pytest.raises(InterchangeError) as err:
        import_scene(engine, settings, "kitti-tracking", folder)
    assert err.value.code == "import_file_not_found"
    assert str(err.value) == "velodyne/0001: not found in the import folder"


def test_a_file_name_in_a_table_that_leads_outside_is_refused(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    root = _dataroot(tmp_path / "nuscenes")
    table = root / "v1.0-mini" / "sample_data.json"
    rows = json.loads(table.read_text())
    lidar = next(r for r in rows if r["is_key_frame"] and "LIDAR" in r["filename"])
    lidar["filename"] = "../../outside/passwd"
    table.write_text(json.dumps(rows))
    _secret_file(tmp_path)
    with pytest.raises(InterchangeError) as err:
        import_scene(engine, settings, "nuscenes", root)
    assert err.value.code == "import_path_escapes"
    assert SECRET not in str(err.value) and str(tmp_path) not in str(err.value)
    assert _scenes(engine) == []
