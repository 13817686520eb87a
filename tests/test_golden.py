"""Evaluators of the evaluators (server/golden.py): errors planted in a copy of a golden
task and the reviewer's catch rate; the behaviour detector scored on a golden task."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from pointcloud.synth import generate_sequence
from server.annotations import Writer
from server.app import create_app
from server.config import Settings
from server.db import make_engine
from server.demo_history import golden_ops
from server.frames import FrameStore
from server.ingest import ingest
from server.models import PlantedError, Task
from server.protocol import Ops
from server.quality_report import Week
from server.taxonomies import Taxonomies
from tests.sessions import sign_in


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The demo sequence (40 frames, coarse lidar) with its ground truth as an approved
    golden task, a lead and a reviewer client."""
    root = tmp_path_factory.mktemp("golden")
    folder = generate_sequence(root / "seq", frames=40, azimuth_steps=60)
    settings = Settings(data_dir=root / "data", default_user="gold-lead")
    engine = make_engine(settings.db_url)
    result = ingest(engine, settings, Path(folder))
    golden = int(result.task_id or 0)
    writer = Writer(engine, Taxonomies(engine), FrameStore(settings.frames_dir))
    msg = Ops.model_validate(
        {"type": "ops", "seq": 0, "client_id": "gt", "ops": golden_ops(Path(folder))}
    )
    assert writer.apply(golden, "gold-annotator", msg, trusted=True)[0].type == "ack"
    with Session(engine) as db:
        task = db.get(Task, golden)
        assert task is not None
        task.state = "approved"  # a test factory: the review itself is tested elsewhere
        db.add(task)
        db.commit()
    app = create_app(settings)
    with TestClient(app) as lead, TestClient(app) as reviewer:
        lead.headers.update(sign_in(lead, engine, settings, "gold-lead", "lead"))
        reviewer.headers.update(sign_in(reviewer, engine, settings, "gold-reviewer", "reviewer"))
        yield {"lead": lead, "reviewer": reviewer, "engine": engine, "golden": golden}


def _labels(client: TestClient, task_id: int) -> dict[str, dict[str, Any]]:
    snap = client.get(f"/api/tasks/{task_id}/annotations").json()
    return {kind: {o["id"]: o for o in snap[kind]} for kind in ("tracks", "cuboids", "tags")}


def test_planting_copies_the_golden_task_with_exactly_four_errors(world: dict[str, Any]) -> None:
    lead = world["lead"]
    r = lead.post(f"/api/quality/golden/{world['golden']}/plant", json={"seed": 3})
    assert r.status_code == 201, r.text
    copy = r.json()["task_id"]
    gold, planted = _labels(lead, world["golden"]), _labels(lead, copy)
    assert lead.get(f"/api/tasks/{copy}").json()["state"] == "submitted"
    with Session(world["engine"]) as db:
        errors = {
            p.kind: p for p in db.exec(select(PlantedError).where(PlantedError.task_id == copy))
        }
    assert set(errors) == {"moved_box", "wrong_class", "missing_object", "shifted_tag"}
    missing = errors["missing_object"].object_id
    assert set(gold["tracks"]) - set(planted["tracks"]) == {missing}
    wrong = errors["wrong_class"].object_id
    changed = [
        t for t in planted["tracks"] if planted["tracks"][t]["label"] != gold["tracks"][t]["label"]
    ]
    assert changed == [wrong]
    moved = errors["moved_box"].object_id
    shifts = {
        c: math.dist(planted["cuboids"][c]["center"], gold["cuboids"][c]["center"])
        for c in planted["cuboids"]
    }
    assert [c for c, d in shifts.items() if d > 1e-6] == [moved] and 1.0 <= shifts[moved] <= 1.5
    tag = planted["tags"][errors["shifted_tag"].object_id]
    assert abs(tag["first_frame"] - gold["tags"][tag["id"]]["first_frame"]) == 5


def test_the_reviewer_is_scored_on_what_they_caught(world: dict[str, Any]) -> None:
    lead, reviewer = world["lead"], world["reviewer"]
    copy = lead.post(f"/api/quality/golden/{world['golden']}/plant", json={"seed": 5}).json()[
        "task_id"
    ]
    with Session(world["engine"]) as db:
        errors = {
            p.kind: p for p in db.exec(select(PlantedError).where(PlantedError.task_id == copy))
        }
    while (got := reviewer.post("/api/tasks/review/next").json())["id"] != copy:
        assert reviewer.post(f"/api/tasks/{got['id']}/approve").status_code == 200  # older copies
    gold = _labels(lead, world["golden"])
    missing = next(
        c for c in gold["cuboids"].values() if c["track_id"] == errors["missing_object"].object_id
    )
    pins = [
        {"error_type": "loose_fit", "object_kind": "cuboid", "object_id": errors["moved_box"].object_id},
        {"error_type": "wrong_class", "object_kind": "track", "object_id": errors["wrong_class"].object_id},
        {"error_type": "missing_object", "frame": missing["frame"],
         "point": [missing["center"][0] + 1.0, missing["center"][1], missing["center"][2]]},
    ]  # fmt: skip
    for pin in pins:
        assert reviewer.post(f"/api/tasks/{copy}/issues", json=pin).status_code == 201
    assert reviewer.post(f"/api/tasks/{copy}/reject").status_code == 200
    report = lead.get("/api/quality/reviewers").json()
    (mine,) = [r for r in report["reviewers"] if r["reviewer"] == "gold-reviewer"]
    rows = [r for r in report["rows"] if r["task_id"] == copy]
    assert {r["kind"]: r["caught"] for r in rows} == {
        "moved_box": True,
        "wrong_class": True,
        "missing_object": True,
        "shifted_tag": False,
    }
    assert mine["by_kind"]["shifted_tag"]["caught"] == 0 and mine["caught"] >= 3
    # The weekly report: this week's copies the reviewer decided, 4 planted errors each; the
    # older ones were approved without an issue, so only this copy's 3 are caught.
    with Session(world["engine"]) as db:
        decided = {p.task_id for p in db.exec(select(PlantedError))
                   if (t := db.get(Task, p.task_id)) and t.state in ("approved", "rejected")}  # fmt: skip
    week = Week.of(datetime.now(UTC))
    (row,) = lead.get(f"/api/quality/report?week={week}").json()["reviewers"]
    assert row["reviewer"] == "gold-reviewer"
    assert (row["planted"], row["caught"]) == (4 * len(decided), 3)
    assert row["rate"] == pytest.approx(3 / (4 * len(decided)))
    assert lead.get(f"/api/quality/report?week={week.shifted(-1)}").json()["reviewers"] == []
    page = lead.get(f"/quality/report?week={week}").text
    assert 'data-testid="report-reviewers"' in page and "gold-reviewer" in page


def test_planting_needs_an_approved_task_and_stores_nothing_otherwise(
    world: dict[str, Any],
) -> None:
    lead = world["lead"]
    with Session(world["engine"]) as db:
        before = len(db.exec(select(Task)).all())
        submitted = db.exec(select(Task).where(Task.state == "submitted")).first()
    target = submitted.id if submitted else 10**6
    r = lead.post(f"/api/quality/golden/{target}/plant", json={})
    assert r.status_code in (404, 409) and r.json()["code"] in ("not_golden", "task_not_found")
    assert lead.post("/api/quality/golden/1/plant", json={"seed": "x"}).status_code == 422
    with Session(world["engine"]) as db:
        assert len(db.exec(select(Task)).all()) == before


def test_the_detector_is_scored_on_the_golden_tags(world: dict[str, Any]) -> None:
    lead = world["lead"]
    clean = lead.get(f"/api/quality/tasks/{world['golden']}/detector").json()
    assert clean["references"] == 2
    assert [s["recall"] for s in clean["scores"]] == [1.0, 1.0, 1.0]
    assert all(p["matched"] for p in clean["proposals"]) and len(clean["proposals"]) == 2
    assert clean["proposals"][0]["link"].startswith(f"/tasks/{world['golden']}?object=")
    noisy = lead.get(f"/api/quality/tasks/{world['golden']}/detector?noise_m=0.08").json()
    assert len(noisy["proposals"]) > 2 and noisy["scores"][1]["precision"] < 1.0
    assert noisy["ece"] > clean["ece"]
    assert sum(b["count"] for b in noisy["calibration"]) == len(noisy["proposals"])
    assert lead.get(f"/api/quality/tasks/{world['golden']}/detector?noise_m=5").status_code == 422
