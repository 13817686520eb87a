"""Class mapping: names match ignoring case and through the taxonomy's alias table; every
mapping is listed in the import and the export summaries."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from pointcloud.io.pcd import write_pcd
from server.config import Settings
from server.interchange import export_scene, import_scene
from server.interchange.classes import to_class
from server.interchange.exporter import load
from server.interchange.model import Report
from server.taxonomy import default_document, default_taxonomy
from tests.conftest import publish_taxonomy


@pytest.mark.parametrize("name", ["car", "Car", "CAR", "vehicle.car", "Vehicle.Car"])
def test_car_names_map_to_car(name: str) -> None:
    report = Report()
    assert to_class("openlabel", name, default_taxonomy(), report) == ("Car", {})
    assert report.class_map == ({} if name == "Car" else {name: "Car"})


def test_format_tables_aliases_and_unknown_types() -> None:
    report = Report()
    assert to_class("kitti", "person_sitting", default_taxonomy(), report)[0] == "Pedestrian"
    assert to_class("nuscenes", "human.pedestrian.child", default_taxonomy(), report)[0] == "Child"
    assert to_class("sustech", "rider", default_taxonomy(), report)[0] == "Cyclist"
    assert to_class("openlabel", "spaceship", default_taxonomy(), report) == (
        "Other",
        {"description": "spaceship"},
    )
    assert report.class_map == {
        "person_sitting": "Pedestrian",
        "human.pedestrian.child": "Child",
        "rider": "Cyclist",
        "spaceship": "Other",
    }


def test_import_and_export_summaries_list_every_mapping(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "sustech"
    (folder / "lidar").mkdir(parents=True)
    (folder / "label").mkdir()
    rng = np.random.default_rng(1)
    write_pcd(folder / "lidar" / "000000.pcd", rng.uniform([-20, -20, -2], [20, 20, 2], (3000, 3)))
    boxes = [
        ("1", "car", 5.0),
        ("2", "vehicle.car", -5.0),
        ("3", "Rider", 8.0),
        ("4", "tram", -8.0),
    ]
    (folder / "label" / "000000.json").write_text(json.dumps([
        {"obj_id": i, "obj_type": kind, "psr": {"position": {"x": x, "y": 2.0, "z": -1.0},
         "scale": {"x": 4.0, "y": 1.8, "z": 1.5}, "rotation": {"x": 0, "y": 0, "z": 0.1}}}
        for i, kind, x in boxes
    ]))  # fmt: skip
    result = import_scene(engine, settings, "sustech", folder)
    assert result.report.class_map == {
        "car": "Car", "vehicle.car": "Car", "Rider": "Cyclist", "tram": "Other",
    }  # fmt: skip
    labels = {t.id: t.label for t in load(engine, settings, result.task_id).labels.tracks}
    assert labels == {"1": "Car", "2": "Car", "3": "Cyclist", "4": "Other"}
    maps = {
        fmt: export_scene(engine, settings, result.task_id, fmt, tmp_path / fmt, points=False)[
            "class_map"
        ]
        for fmt in ("kitti", "sustech", "openlabel", "nuscenes")
    }
    assert maps["kitti"] == {"Car": "Car", "Cyclist": "Cyclist", "Other:tram": "tram"}
    assert maps["sustech"] == {"Car": "Car", "Cyclist": "Rider", "Other:tram": "tram"}
    assert maps["openlabel"] == {"Car": "Car", "Cyclist": "Cyclist", "Other": "Other"}
    assert maps["nuscenes"] == {
        "Car": "vehicle.car",
        "Cyclist": "vehicle.bicycle",
        "Other:tram": "tram",
    }


def test_imports_map_names_through_the_projects_current_taxonomy(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """A lead's alias (and a renamed class's old name) in a published version is what an
    import maps through; the new task is pinned to that version."""
    doc = default_document()
    doc["aliases"]["lkw"] = "Truck"
    publish_taxonomy(engine, doc)
    folder = tmp_path / "sustech"
    (folder / "lidar").mkdir(parents=True)
    (folder / "label").mkdir()
    rng = np.random.default_rng(2)
    write_pcd(folder / "lidar" / "000000.pcd", rng.uniform([-20, -20, -2], [20, 20, 2], (3000, 3)))
    (folder / "label" / "000000.json").write_text(json.dumps([
        {"obj_id": "1", "obj_type": "LKW", "psr": {"position": {"x": 5.0, "y": 2.0, "z": -1.0},
         "scale": {"x": 9.0, "y": 2.5, "z": 3.3}, "rotation": {"x": 0, "y": 0, "z": 0.1}}},
    ]))  # fmt: skip
    result = import_scene(engine, settings, "sustech", folder)
    assert result.report.class_map == {"LKW": "Truck"}
    assert [t.label for t in load(engine, settings, result.task_id).labels.tracks] == ["Truck"]


def test_nuscenes_export_of_a_nuscenes_scene_lists_every_category_it_wrote(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    from tests.test_interchange_nuscenes import _dataroot

    task_id = import_scene(engine, settings, "nuscenes", _dataroot(tmp_path / "nu")).task_id
    assert task_id is not None
    summary = export_scene(engine, settings, task_id, "nuscenes", tmp_path / "out", points=False)
    assert summary["class_map"] == {
        "Car": "vehicle.car", "Pedestrian": "human.pedestrian.adult",
        "Barrier": "movable_object.barrier",
    }  # fmt: skip
