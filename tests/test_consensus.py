"""Consensus (docs/quality.md, "Consensus"): objects across k label sets, their agreement,
the merged label set, and the workflow through the routes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from pointcloud.consensus import clusters_of, merge
from pointcloud.matching import LabelSet
from server.config import Settings
from tests.sessions import sign_in
from tests.test_golden_queue import L, boxes_task
from tests.test_sampling import team  # noqa: F401  (fixture)


def _set(rows: list[tuple[str, float, float]], prefix: str) -> LabelSet:
    """Axis-aligned 4.5 x 1.9 x 1.6 boxes (class, x, yaw) at y=0 in frame 0."""
    boxes = [[x, 0.0, -0.9, L, 1.9, 1.6, yaw] for _, x, yaw in rows]
    return LabelSet.of([0] * len(rows), np.array(boxes).reshape(-1, 7), [r[0] for r in rows],
                       [f"{prefix}{i}" for i in range(len(rows))])  # fmt: skip


def test_objects_agreement_and_the_merge_follow_their_definitions() -> None:
    a = _set([("Car", 0.0, 0.0), ("Car", 10.0, 0.0)], "a")
    b = _set([("Car", 1.0, 0.0), ("Truck", 30.0, 0.0)], "b")
    c = _set([("Truck", 0.5, 0.2), ("Car", 10.0, 0.1)], "c")
    found = clusters_of([a, b, c])
    assert [sorted(x.members.items()) for x in found] == [
        [(0, 0), (1, 0), (2, 0)], [(0, 1), (2, 1)], [(1, 1)]
    ]  # fmt: skip
    first = found[0]
    assert first.label == "Car" and math.isclose(first.class_agreement, 2 / 3)
    shifted = (L - 1.0) / (L + 1.0)  # two equal boxes 1 m apart along their length
    assert first.agreement > shifted / 3 and found[2].agreement == 0.0
    # two of three sets drew the second object, identically up to 0.1 rad of yaw
    assert 0.0 < found[1].agreement < 1 / 3 + 1e-9
    merged = merge([a, b, c], found)
    assert len(merged) == 2  # the truck at 30 m was drawn by one set of three
    frame, box, label, key = merged[0]
    assert (frame, label, key) == (0, "Car", (0, "a0"))
    assert np.allclose(box[:6], [0.5, 0.0, -0.9, L, 1.9, 1.6]) and math.isclose(box[6], 0.0)
    assert math.isclose(merged[1][1][6], 0.05)  # median of two yaws


def test_the_median_yaw_wraps_round_pi() -> None:
    sets = [_set([("Car", 0.0, yaw)], f"s{i}") for i, yaw in enumerate((3.1, -3.1, 3.0))]
    (merged,) = merge(sets, clusters_of(sets))
    assert math.isclose(merged[1][6], 3.1, abs_tol=1e-9)  # not 0 or 1.0


def test_a_lead_sends_a_scene_to_three_annotators_and_promotes_their_consensus(
    team: dict[str, Any],  # noqa: F811
    engine: Engine,
    settings: Settings,
) -> None:
    t = team
    ann3 = TestClient(t["lead"].app)
    ann3.headers.update(sign_in(ann3, engine, settings, "ann3", "annotator"))
    t["ann3"] = ann3
    r = t["lead"].post("/api/quality/consensus",
                       json={"scene_id": t["scene_id"], "annotators": ["ann1", "ann2", "ann3"]})  # fmt: skip
    assert r.status_code == 201, r.text
    group = r.json()
    assert group["k"] == 3 and [x["annotator"] for x in group["tasks"]] == ["ann1", "ann2", "ann3"]
    assert all(x["state"] == "assigned" for x in group["tasks"])
    mine = {x["annotator"]: x["task_id"] for x in group["tasks"]}
    for who, boxes in (("ann1", [("Car", 0.0), ("Car", 10.0), ("Car", 20.0)]),
                       ("ann2", [("Car", 0.0), ("Car", 10.5), ("Truck", 20.0)]),
                       ("ann3", [("Car", 0.0), ("Truck", 20.0), ("Pedestrian", 28.0)])):  # fmt: skip
        boxes_task(t, who, boxes, task_id=mine[who])
    res = t["lead"].get(f"/api/quality/consensus/{group['id']}").json()
    pair = next(p for p in res["pairs"] if (p["a"], p["b"]) == ("ann1", "ann2"))
    half = (L - 0.5) / (L + 0.5)
    assert pair["f1"] == 1.0 and math.isclose(pair["mean_iou"], (2 + half) / 3, abs_tol=1e-4)
    assert math.isclose(pair["same_class"], 2 / 3, abs_tol=1e-4)
    worst = res["objects"][0]  # the pedestrian only ann3 drew
    assert (worst["class"], worst["agreement"], worst["missing"]) == (
        "Pedestrian",
        0.0,
        ["ann1", "ann2"],
    )
    assert worst["link"].startswith(f"/tasks/{mine['ann3']}?object=")
    assert worst["link"].endswith(f"&frame=0&consensus={group['id']}")
    assert [o["agreement"] for o in res["objects"]] == sorted(
        o["agreement"] for o in res["objects"]
    )
    classes = {c["class"]: c for c in res["classes"]}
    assert (
        classes["Car"]["objects"],
        classes["Truck"]["objects"],
        classes["Pedestrian"]["objects"],
    ) == (2, 1, 1)
    assert classes["Truck"]["class_agreement"] == round(2 / 3, 4)
    overlay = t["lead"].get(f"/api/quality/consensus/{group['id']}/frames/0").json()
    assert sorted(o["annotator"] for o in overlay) == ["ann1"] * 3 + ["ann2"] * 3 + ["ann3"] * 3
    assert t["lead"].get(f"/api/quality/consensus/{group['id']}/frames/5").json() == []
    r = t["lead"].post(f"/api/quality/consensus/{group['id']}/promote")
    assert r.status_code == 201, r.text
    ref = r.json()
    assert (ref["tracks"], ref["boxes"]) == (3, 3)  # the pedestrian: 1 of 3, not a majority
    task = t["lead"].get(f"/api/tasks/{ref['task_id']}").json()
    assert task["state"] == "approved" and task["scene_id"] == t["scene_id"]
    snap = t["lead"].get(f"/api/tasks/{ref['task_id']}/annotations").json()
    labels = {tr["id"]: tr["label"] for tr in snap["tracks"]}
    xs = sorted((c["center"][0], labels[c["track_id"]]) for c in snap["cuboids"])
    assert xs == [(0.0, "Car"), (10.25, "Car"), (20.0, "Truck")]  # medians: of 3; of 10 and 10.5
    assert t["lead"].get("/api/quality/consensus").json()[0]["reference_task_id"] == ref["task_id"]
    assert (
        t["lead"].put(f"/api/quality/golden/{ref['task_id']}").status_code == 200
    )  # usable as gold


def test_bad_consensus_requests_get_clear_errors_and_make_no_tasks(
    team: dict[str, Any],  # noqa: F811
) -> None:
    lead, scene = team["lead"], team["scene_id"]
    before = len(lead.get("/api/tasks").json())
    for body, status, code in (
        ({"scene_id": scene, "annotators": ["ann1"]}, 422, "invalid_request"),
        ({"scene_id": scene, "annotators": ["ann1", "ann1"]}, 422, "consensus_annotators"),
        ({"scene_id": scene, "annotators": ["ann1", "rev"]}, 422, "consensus_annotators"),
        ({"scene_id": scene, "annotators": ["ann1", "nobody"]}, 404, "user_not_found"),
        ({"scene_id": 999, "annotators": ["ann1", "ann2"]}, 404, "scene_not_found"),
    ):
        r = lead.post("/api/quality/consensus", json=body)
        assert (r.status_code, r.json()["code"]) == (status, code), body
    assert len(lead.get("/api/tasks").json()) == before
    assert lead.get("/api/quality/consensus/77").json()["code"] == "consensus_not_found"
    group = lead.post(
        "/api/quality/consensus", json={"scene_id": scene, "annotators": ["ann1", "ann2"]}
    ).json()
    r = lead.post(f"/api/quality/consensus/{group['id']}/promote")  # nothing drawn yet
    assert (r.status_code, r.json()["code"]) == (409, "consensus_empty")
    assert len(lead.get("/api/tasks").json()) == before + 2
