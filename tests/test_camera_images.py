"""Camera images: imported with their calibration from KITTI, SUSTechPOINTS and the
generic layout, served resized and cached, refused when unreadable, removed with
their scene."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from pointcloud.cameras import kitti_camera
from pointcloud.io.pcd import write_pcd
from server.app import create_app
from server.cli import main
from server.config import Settings, get_settings
from server.interchange import export_scene, import_scene
from server.interchange.kitti import read_calib
from server.interchange.paths import MalformedImportError
from server.models import FrameCamera, Scene
from tests.conftest import logged_in

K = [[400.0, 0, 160], [0, 400, 120], [0, 0, 1]]
TO_CAM = [[0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0], [0, 0, 0, 1]]


def generic_folder(root: Path, *, image: bytes | None = None) -> Path:
    """A two-frame SUSTechPOINTS-layout folder without cameras of its own, plus the
    generic ``cameras/left/`` layout: a calib and a 320x240 PNG for frame ``a``."""
    rng = np.random.default_rng(5)
    (root / "lidar").mkdir(parents=True)
    (root / "label").mkdir()
    for key in ("a", "b"):
        write_pcd(root / "lidar" / f"{key}.pcd", rng.uniform(-5, 5, (500, 3)).astype(np.float32))
        (root / "label" / f"{key}.json").write_text("[]")
    cam = root / "cameras" / "left"
    cam.mkdir(parents=True)
    calib = {"intrinsic": K, "lidar_to_camera": TO_CAM, "distortion": [0.1, 0, 0, 0, 0]}
    (cam / "calib.json").write_text(json.dumps(calib))
    if image is None:
        buf = io.BytesIO()
        Image.new("RGB", (320, 240), (200, 30, 30)).save(buf, "PNG")
        image = buf.getvalue()
    (cam / "a.png").write_bytes(image)
    return root


def scene_frames(client: TestClient, scene_id: int) -> list[dict]:
    r = client.get(f"/api/scenes/{scene_id}")
    assert r.status_code == 200, r.text
    return r.json()["frames"]


def test_kitti_import_keeps_image_2_with_the_devkit_calibration(
    settings: Settings, engine: Engine, tester: str, shared_data: Path
) -> None:
    result = import_scene(engine, settings, "kitti", shared_data / "kitti")
    assert result.report.counts["camera_images"] == 2
    with TestClient(create_app(settings)) as client:
        logged_in(client, engine, settings)
        frames = scene_frames(client, result.scene_id)
        cam = frames[0]["cameras"][0]
        size = Image.open(shared_data / "kitti/image_2/000000.png").size
        assert cam["name"] == "image_2" and (cam["width"], cam["height"]) == size
        calib = read_calib((shared_data / "kitti/calib/000000.txt").read_text(), "c")
        expected = kitti_camera(calib)
        assert np.allclose(cam["intrinsic"], expected.intrinsic)
        assert np.allclose(cam["lidar_to_camera"], expected.lidar_to_camera)
        full = client.get(cam["url"])
        assert full.status_code == 200 and full.headers["content-type"] == "image/png"
        assert full.content == (shared_data / "kitti/image_2/000000.png").read_bytes()


def test_images_are_served_resized_with_an_immutable_cache_and_an_etag(
    settings: Settings, engine: Engine, tester: str, tmp_path: Path
) -> None:
    result = import_scene(engine, settings, "sustech", generic_folder(tmp_path / "g"))
    with TestClient(create_app(settings)) as client:
        logged_in(client, engine, settings)
        url = scene_frames(client, result.scene_id)[0]["cameras"][0]["url"]
        r = client.get(url, params={"w": 150})
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        assert "immutable" in r.headers["cache-control"]
        assert Image.open(io.BytesIO(r.content)).size == (160, 120)  # rounded up to 160
        again = client.get(url, params={"w": 150}, headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and not again.content
        wide = client.get(url, params={"w": 5000})  # never wider than the image: the original
        assert wide.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(wide.content)).size == (320, 240)
        assert wide.headers["etag"] != r.headers["etag"]
        missing = client.get(url.replace("/left", "/right"))
        assert missing.status_code == 404 and missing.json()["code"] == "camera_not_found"
        assert client.get(url, params={"w": 0}).status_code == 422


def test_the_generic_layout_imports_calibration_and_only_frames_with_an_image(
    settings: Settings, engine: Engine, tester: str, tmp_path: Path
) -> None:
    result = import_scene(engine, settings, "sustech", generic_folder(tmp_path / "g"))
    with TestClient(create_app(settings)) as client:
        logged_in(client, engine, settings)
        frames = scene_frames(client, result.scene_id)
    assert [len(f["cameras"]) for f in frames] == [1, 0]
    cam = frames[0]["cameras"][0]
    assert cam["name"] == "left" and cam["intrinsic"] == K and cam["lidar_to_camera"] == TO_CAM
    assert cam["distortion"] == [0.1, 0, 0, 0, 0]


def test_sustech_import_keeps_the_front_camera_of_the_frames_that_have_one(
    settings: Settings, engine: Engine, tester: str, shared_data: Path
) -> None:
    result = import_scene(engine, settings, "sustech", shared_data / "sustech")
    with TestClient(create_app(settings)) as client:
        logged_in(client, engine, settings)
        frames = scene_frames(client, result.scene_id)
    assert [[c["name"] for c in f["cameras"]] for f in frames] == [
        [],
        ["front"],
        ["front"],
        ["front"],
    ]
    calib = json.loads((shared_data / "sustech/calib/front.json").read_text())
    assert np.allclose(np.ravel(frames[1]["cameras"][0]["lidar_to_camera"]), calib["extrinsic"])
    assert not any("camera" in note for note in result.report.notes)


def test_an_unreadable_image_refuses_the_import_and_stores_nothing(
    settings: Settings, engine: Engine, tester: str, tmp_path: Path
) -> None:
    folder = generic_folder(tmp_path / "bad", image=b"not a png at all")
    with pytest.raises(MalformedImportError) as err:
        import_scene(engine, settings, "sustech", folder)
    assert "cameras/left/a.png" in str(err.value) and str(tmp_path) not in str(err.value)
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Scene)).one() == 0
        assert session.exec(select(func.count()).select_from(FrameCamera)).one() == 0


def test_a_calibration_that_is_not_a_matrix_is_refused(
    settings: Settings, engine: Engine, tester: str, tmp_path: Path
) -> None:
    folder = generic_folder(tmp_path / "bad")
    (folder / "cameras/left/calib.json").write_text(
        json.dumps({"intrinsic": [1, 2], "lidar_to_camera": TO_CAM})
    )
    with pytest.raises(MalformedImportError, match="intrinsic: needs 9 finite numbers"):
        import_scene(engine, settings, "sustech", folder)


def test_deleting_a_scene_removes_its_images(
    settings: Settings, engine: Engine, tester: str, tmp_path: Path
) -> None:
    result = import_scene(engine, settings, "sustech", generic_folder(tmp_path / "g"))
    images = settings.data_dir / "images"
    with TestClient(create_app(settings)) as client:
        logged_in(client, engine, settings)
        url = scene_frames(client, result.scene_id)[0]["cameras"][0]["url"]
        assert client.get(url, params={"w": 320}).status_code == 200
        assert any(p.is_file() for p in images.rglob("*"))
        assert client.delete(f"/api/scenes/{result.scene_id}").status_code == 200
    assert not any(p.is_file() for p in images.rglob("*"))
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(FrameCamera)).one() == 0


def cameras_of(engine: Engine, scene_id: int) -> list[FrameCamera]:
    with Session(engine) as session:
        rows = session.exec(select(FrameCamera).where(FrameCamera.scene_id == scene_id)).all()
    return sorted(rows, key=lambda r: (r.frame_index, r.name))


@pytest.mark.parametrize("fmt", ["kitti", "sustech"])
def test_export_writes_the_cameras_back_and_they_import_again(
    settings: Settings, engine: Engine, tester: str, shared_data: Path, tmp_path: Path, fmt: str
) -> None:
    first = import_scene(engine, settings, fmt, shared_data / fmt)
    assert first.task_id is not None
    summary = export_scene(engine, settings, first.task_id, fmt, tmp_path / "out")
    assert summary["counts"]["camera_images"] == len(cameras_of(engine, first.scene_id))
    again = import_scene(engine, settings, fmt, tmp_path / "out")
    before, after = cameras_of(engine, first.scene_id), cameras_of(engine, again.scene_id)
    assert [(c.frame_index, c.name, c.image) for c in before] == [
        (c.frame_index, c.name, c.image) for c in after
    ]  # the same image bytes
    for a, b in zip(before, after, strict=True):
        assert np.allclose(a.intrinsic, b.intrinsic) and np.allclose(
            a.lidar_to_camera, b.lidar_to_camera
        )


def test_a_kitti_export_of_a_generic_camera_writes_its_calibration(
    settings: Settings, engine: Engine, tester: str, tmp_path: Path
) -> None:
    """A scene without a KITTI calib of its own: calib/ says the stored camera, so the
    re-imported image_2 projects as the original camera did."""
    first = import_scene(engine, settings, "sustech", generic_folder(tmp_path / "g"))
    assert first.task_id is not None
    summary = export_scene(engine, settings, first.task_id, "kitti", tmp_path / "out")
    assert summary["counts"]["nominal_calibration"] == 1  # frame b has no camera
    assert summary["counts"]["camera_distortion_dropped"] == 1
    assert (tmp_path / "out/image_2/a.png").is_file()
    [cam] = cameras_of(engine, import_scene(engine, settings, "kitti", tmp_path / "out").scene_id)
    assert cam.name == "image_2" and np.allclose(cam.intrinsic, K)
    assert np.allclose(cam.lidar_to_camera, TO_CAM)


def test_cli_ingest_reads_the_generic_camera_layout(
    settings: Settings, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    folder = generic_folder(tmp_path / "g")
    monkeypatch.setenv("POINTLABEL_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    try:
        assert main(["ingest", str(folder / "lidar"), "--json"]) == 0
    finally:
        get_settings.cache_clear()
    result = json.loads(capsys.readouterr().out)
    assert result["camera_images"] == 1
    [cam] = cameras_of(engine, result["scene_id"])
    assert (cam.frame_index, cam.name, cam.width) == (0, "left", 320)
