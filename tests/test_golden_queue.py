"""Golden tasks in annotators' queues (docs/quality.md, "Golden tasks in the queue"): a
lead marks an approved task golden, blind copies reach annotators at the project's rate,
a submitted copy is scored against gold, and nothing an annotator sees says "golden"."""

from __future__ import annotations

import math
import uuid
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pointcloud.sampling import draw
from server.models import User
from tests.test_sampling import review, set_policy, team  # noqa: F401  (fixture)

L, W, H = 4.5, 1.9, 1.6


def boxes_task(
    t: dict[str, Any], who: str, boxes: list[tuple[str, float]], task_id: int | None = None
) -> int:
    """Label a task of ``who`` (new, or ``task_id`` they hold) with axis-aligned boxes
    ``(class, centre x)`` at y=0 and submit it; returns its id."""
    if task_id is None:
        r = t["lead"].post("/api/tasks", json={"scene_id": t["scene_id"], "assignee": who})
        task_id = int(r.json()["id"])
    c = t[who]
    assert c.post(f"/api/tasks/{task_id}/start").status_code == 200
    ops: list[dict[str, Any]] = []
    for label, x in boxes:
        track = str(uuid.uuid4())
        ops += [{"op": "create", "kind": "track", "id": track, "data": {"label": label}},
                {"op": "create", "kind": "cuboid", "id": str(uuid.uuid4()), "data": {
                    "track_id": track, "frame": 0, "center": [x, 0.0, -0.9],
                    "size": [L, W, H], "yaw": 0.0}}]  # fmt: skip
    r = c.post(f"/api/tasks/{task_id}/ops", json={"type": "ops", "seq": 1, "client_id": who,
                                                  "ops": ops})  # fmt: skip
    assert r.json()["type"] == "ack", r.text
    assert c.post(f"/api/tasks/{task_id}/submit").status_code == 200
    return task_id


def golden_for(t: dict[str, Any]) -> int:
    """An approved task of ann1 with four cars at x = 0, 10, 20, 30, marked golden."""
    gold = boxes_task(t, "ann1", [("Car", 0.0), ("Car", 10.0), ("Car", 20.0), ("Car", 30.0)])
    assert review(t) is not None
    r = t["lead"].put(f"/api/quality/golden/{gold}")
    assert r.status_code == 200 and r.json()["active"], r.text
    return gold


def user_id(engine: Engine, name: str) -> int:
    with Session(engine) as db:
        found = db.exec(select(User.id).where(User.name == name)).one()
        assert found is not None
        return found


def test_a_golden_copy_is_blind_and_scored_against_gold(
    team: dict[str, Any],  # noqa: F811
    engine: Engine,
) -> None:
    t = team
    gold = golden_for(t)
    ann2 = user_id(engine, "ann2")
    seed = next(s for s in range(100) if draw(s, ann2, 0) < 0.5)  # ann2's first take: gold
    set_policy(t, golden_rate=0.5, seed=seed)
    ann = t["ann2"]
    r = ann.post("/api/tasks/next")
    assert r.status_code == 200, r.text
    copy = r.json()
    assert copy["id"] != gold and copy["scene_id"] == t["scene_id"]
    assert copy["state"] == "assigned" and copy["revision"] == 0  # an empty label set
    # Blind: the same shape as an ordinary task, and no trace of "golden" anywhere they look.
    plain = t["lead"].post("/api/tasks", json={"scene_id": t["scene_id"], "assignee": "ann1"})
    assert set(copy) == set(plain.json())
    for url in ("/api/tasks", "/api/tasks?mine=true", f"/api/tasks/{copy['id']}",
                f"/api/tasks/{copy['id']}/history", f"/api/tasks/{copy['id']}/annotations",
                f"/tasks/{copy['id']}"):  # fmt: skip
        r = ann.get(url)
        assert r.status_code == 200, (url, r.text)
        assert "golden" not in r.text.lower(), url
    assert ann.get("/api/quality/golden").json()["code"] == "forbidden"
    # ann2 draws A exactly, B 1 m off along x, C exactly but as a Truck, and misses D.
    boxes_task(t, "ann2", [("Car", 0.0), ("Car", 11.0), ("Truck", 20.0)], task_id=copy["id"])
    after = ann.get(f"/api/tasks/{copy['id']}").json()
    assert "golden" not in str(after).lower()
    taken = ann.post("/api/tasks/next").json()  # the scene's own open task (one golden run each)
    assert taken["id"] == t["scene_id"]
    history = ann.get(f"/api/tasks/{copy['id']}/history").json()
    ordinary = ann.get(f"/api/tasks/{taken['id']}/history").json()
    assert [(h["note"], h["by"]) for h in history][:2] == [(h["note"], h["by"]) for h in ordinary]
    data = t["lead"].get("/api/quality/golden").json()
    assert data["golden"] == [{"task_id": gold, "project_id": 1, "active": True,
                               "marked_by": "lead", "copies": 1}]  # fmt: skip
    (row,) = data["annotators"]
    assert row["annotator"] == "ann2" and len(row["runs"]) == 1
    run = row["runs"][0]
    shifted = (L - 1.0) / (L + 1.0)  # two equal boxes 1 m apart along their length
    assert (run["boxes"], run["gold_boxes"]) == (3, 4)
    assert math.isclose(run["f1"], 2 * 3 / (3 + 4), abs_tol=1e-4)
    assert math.isclose(run["mean_iou"], (1 + shifted + 1) / 3, abs_tol=1e-4)
    assert math.isclose(run["class_accuracy"], 2 / 3, abs_tol=1e-4)
    assert run["link"] == f"/tasks/{copy['id']}"
    # The copy is a sample of ann2's defect rate, judged by gold: of 4 gold boxes, D was
    # missed and C has the wrong class (B, 1 m off, still matches at IoU 0.64): 2 of 4.
    charts = t["lead"].get("/api/quality/charts?by=annotator").json()
    (series,) = [x for x in charts["series"] if x["key"] == "ann2"]
    (point,) = [p for p in series["points"] if p["task_id"] == copy["id"]]
    assert (point["objects"], point["defects"], point["source"]) == (4, 2, "golden")
    rows = t["lead"].get(f"/api/quality/tasks/{copy['id']}/defects").json()
    assert sorted(r["error_type"] for r in rows) == ["gold: class Truck", "gold: missed"]
    by_class = t["lead"].get("/api/quality/charts?by=class").json()
    (cars,) = [x for x in by_class["series"] if x["key"] == "Car"]
    (car,) = [p for p in cars["points"] if p["task_id"] == copy["id"]]
    assert (car["objects"], car["defects"]) == (4, 2)  # gold's class: the missed and the Truck


def test_golden_copies_follow_the_rate_and_stop_when_unmarked(
    team: dict[str, Any],  # noqa: F811
    engine: Engine,
) -> None:
    t = team
    gold = golden_for(t)
    ann2 = user_id(engine, "ann2")
    seed = next(s for s in range(100) if draw(s, ann2, 0) >= 0.2)  # first take: not gold
    set_policy(t, golden_rate=0.2, seed=seed)
    first = t["ann2"].post("/api/tasks/next").json()
    assert first["id"] == t["scene_id"]  # the scene's own open task, the oldest one
    assert t["lead"].get("/api/quality/golden").json()["golden"][0]["copies"] == 0
    set_policy(t, golden_rate=0.0)
    assert t["lead"].delete(f"/api/quality/golden/{gold}").json() == {
        "task_id": gold,
        "active": False,
    }
    assert t["lead"].get("/api/quality/golden").json()["golden"][0]["active"] is False


def test_only_approved_or_imported_labelled_tasks_can_be_golden(
    team: dict[str, Any],  # noqa: F811
) -> None:
    t = team
    submitted = boxes_task(t, "ann1", [("Car", 0.0)])
    r = t["lead"].put(f"/api/quality/golden/{submitted}")
    assert (r.status_code, r.json()["code"]) == (409, "not_golden_material")
    r = t["lead"].put(f"/api/quality/golden/{t['scene_id']}")  # open, but nothing imported
    assert (r.status_code, r.json()["code"]) == (409, "not_golden_material")
    assert t["lead"].put("/api/quality/golden/99999").json()["code"] == "task_not_found"
    assert t["lead"].delete(f"/api/quality/golden/{submitted}").json()["code"] == "not_golden"
    assert t["lead"].get("/api/quality/golden").json() == {"golden": [], "annotators": []}


def test_a_scene_with_golden_copies_sampling_and_consensus_can_be_deleted(
    team: dict[str, Any],  # noqa: F811
    engine: Engine,
) -> None:
    """Deleting a scene removes its quality rows too (golden marks and runs, review
    samples, consensus groups), in the one transaction, and nothing of the scene is left
    behind."""
    from sqlalchemy import func
    from sqlmodel import col

    from server.models import (
        ConsensusGroup,
        ConsensusTask,
        GoldenRun,
        GoldenTask,
        PlantedError,
        ReviewSample,
        Task,
    )

    t = team
    golden_for(t)
    ann2 = user_id(engine, "ann2")
    seed = next(s for s in range(100) if draw(s, ann2, 0) < 0.5)
    set_policy(t, golden_rate=0.5, seed=seed)
    copy = t["ann2"].post("/api/tasks/next").json()
    boxes_task(t, "ann2", [("Car", 0.0)], task_id=copy["id"])
    r = t["lead"].post("/api/quality/consensus", json={"scene_id": t["scene_id"],
                                                       "annotators": ["ann1", "ann2"]})  # fmt: skip
    assert r.status_code == 201, r.text
    r = t["lead"].delete(f"/api/scenes/{t['scene_id']}")
    assert r.status_code == 200, r.text
    with Session(engine) as db:
        for table in (Task, GoldenTask, GoldenRun, PlantedError, ReviewSample, ConsensusGroup,
                      ConsensusTask):  # fmt: skip
            assert db.exec(select(func.count()).select_from(table)).one() == 0, table.__name__
        assert db.exec(select(col(Task.id))).all() == []
