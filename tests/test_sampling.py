"""Review sampling (docs/quality.md, "Review sampling"): the statistics of
pointcloud/sampling.py against scipy and textbook formulas, and the policy as the review
queue follows it, through the real routes."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from scipy.stats import binom, hypergeom
from sqlalchemy.engine import Engine

from pointcloud.sampling import acceptance_plan, draw, pick, proportion_ci
from server.app import create_app
from server.config import Settings
from tests.sessions import sign_in

# statistics ---------------------------------------------------------------------------


def _accept(c: int, n: int, p: float, lot: int | None) -> float:
    if lot is None:
        return float(binom.cdf(c, n, p))
    return float(hypergeom.cdf(c, lot, round(p * lot), n))


@pytest.mark.parametrize("aql,ltpd,lot", [(0.01, 0.06, None), (0.04, 0.15, 200), (0.02, 0.1, 500)])
def test_an_acceptance_plan_meets_both_risks_and_no_smaller_sample_does(
    aql: float, ltpd: float, lot: int | None
) -> None:
    plan = acceptance_plan(aql, ltpd, lot_size=lot)
    assert _accept(plan.c, plan.n, aql, lot) >= 0.95
    assert _accept(plan.c, plan.n, ltpd, lot) <= 0.10
    assert math.isclose(plan.accept_at_aql, _accept(plan.c, plan.n, aql, lot))
    n = plan.n - 1  # one item fewer: no acceptance number satisfies both risks
    assert not any(
        _accept(c, n, aql, lot) >= 0.95 and _accept(c, n, ltpd, lot) <= 0.10 for c in range(n + 1)
    )


def test_a_stricter_consumer_needs_a_larger_sample() -> None:
    loose = acceptance_plan(0.01, 0.06)
    strict = acceptance_plan(0.01, 0.06, consumer_risk=0.01)
    assert strict.n > loose.n
    with pytest.raises(ValueError):
        acceptance_plan(0.1, 0.05)


def test_a_small_lot_without_a_workable_sample_is_inspected_whole() -> None:
    plan = acceptance_plan(0.01, 0.04, lot_size=10)  # both rates round to 0 defectives of 10
    assert (plan.n, plan.c, plan.lot_size) == (10, 0, 10)
    assert acceptance_plan(0.04, 0.08, lot_size=10).n == 9  # 0 vs 1: c=0 at n=9 misses it 1 in 10


def test_the_wilson_interval_matches_the_textbook_formula() -> None:
    k, n, z = 3, 40, 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = proportion_ci(k, n) or (0.0, 0.0)
    assert math.isclose(low, centre - half, rel_tol=1e-9)
    assert math.isclose(high, centre + half, rel_tol=1e-9)
    exact = proportion_ci(0, 10, method="exact")
    assert exact is not None and exact[0] == 0.0
    assert math.isclose(exact[1], 1 - 0.025 ** (1 / 10), rel_tol=1e-9)  # Clopper-Pearson, k=0
    assert proportion_ci(0, 0) is None


def test_draws_are_reproducible_and_uniform() -> None:
    values = [draw(7, i) for i in range(4000)]
    assert values == [draw(7, i) for i in range(4000)]
    assert values != [draw(8, i) for i in range(4000)]
    assert abs(sum(v < 0.25 for v in values) / 4000 - 0.25) < 0.03
    assert pick(1, 2, 20, 5) == pick(1, 2, 20, 5) and len(set(pick(1, 2, 20, 5))) == 5


# the policy through the routes --------------------------------------------------------


@pytest.fixture
def team(settings: Settings, engine: Engine, scene_id: int) -> Iterator[dict[str, Any]]:
    """A lead, a reviewer and two annotators, each with a logged-in client."""
    with TestClient(create_app(settings)) as app_client:
        people: dict[str, Any] = {"scene_id": scene_id}
        for name, role in (("lead", "lead"), ("rev", "reviewer"), ("ann1", "annotator"),
                           ("ann2", "annotator")):  # fmt: skip
            c = TestClient(app_client.app)
            c.headers.update(sign_in(c, engine, settings, name, role))
            people[name] = c
        yield people


def set_policy(team: dict[str, Any], **values: Any) -> dict[str, Any]:
    r = team["lead"].put("/api/quality/policy", json=values)
    assert r.status_code == 200, r.text
    return dict(r.json())


def work(team: dict[str, Any], who: str, labels: tuple[str, ...] = ("Car",)) -> dict[str, Any]:
    """A new task for ``who``: started, one box per label, submitted. The submit reply."""
    r = team["lead"].post("/api/tasks", json={"scene_id": team["scene_id"], "assignee": who})
    assert r.status_code == 201, r.text
    task_id = r.json()["id"]
    c = team[who]
    assert c.post(f"/api/tasks/{task_id}/start").status_code == 200
    ops: list[dict[str, Any]] = []
    for i, label in enumerate(labels):
        track = str(uuid.uuid4())
        ops += [{"op": "create", "kind": "track", "id": track, "data": {"label": label}},
                {"op": "create", "kind": "cuboid", "id": str(uuid.uuid4()), "data": {
                    "track_id": track, "frame": 0, "center": [10.0 + 6 * i, 0.0, -0.9],
                    "size": [4.5, 1.9, 1.6], "yaw": 0.3}}]  # fmt: skip
    r = c.post(f"/api/tasks/{task_id}/ops", json={"type": "ops", "seq": 1, "client_id": who,
                                                  "ops": ops})  # fmt: skip
    assert r.status_code == 200 and r.json()["type"] == "ack", r.text
    r = c.post(f"/api/tasks/{task_id}/submit")
    assert r.status_code == 200, r.text
    return dict(r.json())


def review(team: dict[str, Any], reject: bool = False) -> dict[str, Any] | None:
    """The reviewer takes the next task and approves it (or rejects it with an issue)."""
    rev = team["rev"]
    r = rev.post("/api/tasks/review/next")
    if r.status_code == 404:
        return None
    task = r.json()
    if reject:
        body = {"error_type": "loose_fit", "comment": "too big", "frame": 0, "point": [10, 0, -1]}
        assert rev.post(f"/api/tasks/{task['id']}/issues", json=body).status_code == 201
    r = rev.post(f"/api/tasks/{task['id']}/{'reject' if reject else 'approve'}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_without_a_policy_every_task_is_reviewed(team: dict[str, Any]) -> None:
    task = work(team, "ann1")
    assert task["state"] == "submitted"
    assert task["sampling"]["decision"] == "sampled"
    policy = team["lead"].get("/api/quality/policy").json()
    assert (policy["rate"], policy["first_n"], policy["mode"]) == (1.0, 0, "rate")


def test_first_n_tasks_are_reviewed_then_the_seeded_rate_decides(team: dict[str, Any]) -> None:
    set_policy(team, first_n=2, rate=0.3, seed=11)
    done = [work(team, "ann1") for _ in range(8)]
    assert [t["state"] for t in done[:2]] == ["submitted", "submitted"]
    assert all("first 2 tasks" in t["sampling"]["reason"] for t in done[:2])
    for t in done[2:]:  # the decision is the task's reproducible draw against the rate
        sampled = draw(11, t["id"]) < 0.3
        assert t["state"] == ("submitted" if sampled else "approved"), t
        assert t["sampling"]["decision"] == ("sampled" if sampled else "not_sampled")
    skipped = [t for t in done if t["state"] == "approved"]
    assert skipped, "seed 11 skips some of these tasks"
    history = team["lead"].get(f"/api/tasks/{skipped[0]['id']}/history").json()
    assert history[-1]["to"] == "approved" and history[-1]["note"].startswith("not sampled: draw")
    assert history[-1]["by"] is None  # the server decided, no reviewer
    first = work(team, "ann2")  # another annotator starts with their own first N
    assert first["sampling"]["reason"].startswith("first 2 tasks")
    panel = team["lead"].get("/api/quality/sampling").json()
    n_sampled = sum(t["state"] == "submitted" for t in done) + 1
    assert panel["decisions"] == {"sampled": n_sampled, "not_sampled": len(skipped), "held": 0}
    assert panel["effective_rate"] == round(n_sampled / 9, 4)
    assert {x["task_id"] for x in panel["not_sampled"]} == {t["id"] for t in skipped}


def test_a_resubmission_after_rejection_is_reviewed_again(team: dict[str, Any]) -> None:
    set_policy(team, first_n=1, rate=0.0)
    task = work(team, "ann1")
    assert review(team, reject=True) is not None
    ann = team["ann1"]
    assert ann.post(f"/api/tasks/{task['id']}/start").status_code == 200
    again = ann.post(f"/api/tasks/{task['id']}/submit").json()
    assert again["state"] == "submitted"  # rate 0 does not skip the rework's review


def test_stratified_by_class_a_rare_class_is_always_reviewed(team: dict[str, Any]) -> None:
    set_policy(team, rate=0.0, stratify="class", strata={"Pedestrian": 1.0})
    cars = work(team, "ann1", ("Car", "Car"))
    mixed = work(team, "ann1", ("Car", "Pedestrian"))
    assert cars["state"] == "approved" and cars["sampling"]["decision"] == "not_sampled"
    assert mixed["state"] == "submitted" and "class Pedestrian" in mixed["sampling"]["reason"]


def test_stratified_by_scene_uses_the_scenes_rate(team: dict[str, Any]) -> None:
    scene = team["lead"].get(f"/api/scenes/{team['scene_id']}").json()["name"]
    set_policy(team, rate=1.0, stratify="scene", strata={scene: 0.0})
    assert work(team, "ann1")["state"] == "approved"


def test_stratified_by_a_scene_attribute_uses_the_rate_of_its_value(team: dict[str, Any]) -> None:
    """A lead tags the scene ``weather: rain``; with ``scene:weather`` rainy scenes are all
    reviewed while the rest follow the base rate; a scene without the attribute too."""
    lead, url = team["lead"], f"/api/scenes/{team['scene_id']}"
    set_policy(team, rate=0.0, stratify="scene:weather", strata={"rain": 1.0})
    assert work(team, "ann1")["state"] == "approved"  # no attribute: the base rate
    r = lead.patch(url, json={"attributes": {"weather": " rain ", "area": "urban"}})
    assert r.status_code == 200, r.text
    assert r.json()["attributes"] == {"area": "urban", "weather": "rain"}  # trimmed
    assert lead.get(url).json()["name"] == r.json()["name"]  # the name is kept
    rainy = work(team, "ann1")
    assert rainy["state"] == "submitted" and "scene weather rain" in rainy["sampling"]["reason"]
    assert lead.patch(url, json={"attributes": {"weather": "sun"}}).status_code == 200
    assert work(team, "ann1")["state"] == "approved"


def test_bad_scene_attributes_get_a_422_and_nothing_is_stored(team: dict[str, Any]) -> None:
    lead, url = team["lead"], f"/api/scenes/{team['scene_id']}"
    assert lead.patch(url, json={"attributes": {"weather": "fog"}}).status_code == 200
    many = {f"k{i}": "v" for i in range(17)}
    for attributes in ('{"Weather": "rain"}', '{"1st": "x"}', '{"w": ""}', '{"w": " "}',
                       json.dumps({"w": "x" * 65}), json.dumps(many), '{"w": "bad\\u0000value"}',
                       '{"w": "\\ud800"}', json.dumps({"k" * 33: "x"})):  # fmt: skip
        r = lead.patch(url, content=f'{{"attributes": {attributes}}}',
                       headers={"Content-Type": "application/json"})  # fmt: skip
        assert (r.status_code, r.json()["code"]) == (422, "bad_attributes"), attributes
    for body in ({"attributes": {"w": 1}}, {"attributes": ["w"]}, {}, {"colour": "red"}):
        r = lead.patch(url, json=body)
        assert r.status_code == 422, body
    assert lead.get(url).json()["attributes"] == {"weather": "fog"}
    annotator = team["ann1"].patch(url, json={"attributes": {"weather": "rain"}})
    assert annotator.status_code in (403, 404)


def test_an_accepted_lot_approves_its_held_tasks_unreviewed(team: dict[str, Any]) -> None:
    policy = set_policy(team, mode="aql", lot_size=6, aql=0.05, ltpd=0.6, seed=3)
    n, c = policy["plan"]["n"], policy["plan"]["c"]
    assert 1 <= n < 6
    tasks = [work(team, "ann1") for _ in range(5)]
    assert all(t["sampling"]["decision"] == "held" for t in tasks)
    assert review(team) is None  # held tasks wait for their lot
    last = work(team, "ann1")
    states = team["lead"].get("/api/tasks?state=submitted").json()
    decisions = [t["sampling"]["decision"] for t in states]
    assert decisions.count("sampled") == n and decisions.count("held") == 6 - n
    assert last["sampling"]["decision"] in ("sampled", "held")
    for _ in range(n):
        assert review(team) is not None
    assert review(team) is None
    approved = team["lead"].get("/api/tasks?state=approved").json()
    assert len(approved) == 6
    skipped = [t for t in approved if t["sampling"]["decision"] == "not_sampled"]
    assert len(skipped) == 6 - n and all("accepted" in t["sampling"]["reason"] for t in skipped)
    lot = team["lead"].get("/api/quality/sampling").json()["lots"][0]
    assert (lot["state"], lot["n"], lot["c"], lot["defects"]) == ("accepted", n, c, 0)


def test_a_rejected_lot_sends_every_held_task_to_review(team: dict[str, Any]) -> None:
    policy = set_policy(team, mode="aql", lot_size=6, aql=0.05, ltpd=0.6, seed=3)
    n, c = policy["plan"]["n"], policy["plan"]["c"]
    for _ in range(6):
        work(team, "ann1")
    for _ in range(n):
        assert review(team, reject=True) is not None
    assert n > c
    reviewed_after = 0
    while review(team) is not None:
        reviewed_after += 1
    assert reviewed_after == 6 - n  # 100 % inspection of the rest
    lot = team["lead"].get("/api/quality/sampling").json()["lots"][0]
    assert (lot["state"], lot["defects"]) == ("rejected", n)


def test_the_panel_gives_the_defect_rate_with_its_confidence_intervals(
    team: dict[str, Any],
) -> None:
    for _ in range(4):
        work(team, "ann1")
    review(team, reject=True)
    for _ in range(3):
        review(team)
    panel = team["rev"].get("/api/quality/sampling").json()  # reviewers see the dashboard
    rate = panel["task_defect_rate"]
    assert (rate["defects"], rate["of"], rate["rate"]) == (1, 4, 0.25)
    assert rate["wilson"] == [round(x, 4) for x in proportion_ci(1, 4) or ()]
    assert rate["clopper_pearson"] == [
        round(x, 4) for x in proportion_ci(1, 4, method="exact") or ()
    ]
    objects = panel["object_defect_rate"]
    # 4 boxes, plus the issue pinned to a point: a missing object, counted as one (defective)
    assert (objects["defects"], objects["of"]) == (1, 5)


def test_bad_policies_get_a_422_and_nothing_is_stored(team: dict[str, Any]) -> None:
    lead = team["lead"]
    for body in ({"rate": 1.5}, {"aql": 0.2, "ltpd": 0.1}, {"stratify": "weather"}, {"stratify": "scene:Bad Key"},
                 {"strata": {"Car": 2.0}}, {"strata": {"bad\u0000name": 0.5}}, {"lot_size": 1},
                 {"first_n": -1}, {"extra": 1}):  # fmt: skip
        r = lead.put("/api/quality/policy", json=body)
        assert r.status_code == 422 and r.json()["code"] in ("invalid_request", "invalid_text"), (
            body,
            r.text,
        )
    assert lead.get("/api/quality/policy").json()["updated_by"] is None
    assert lead.get("/api/quality/policy?project_id=999").status_code == 404
    assert team["ann1"].get("/api/quality/policy").json()["code"] == "forbidden"
    assert team["rev"].put("/api/quality/policy", json={}).json()["code"] == "forbidden"
