"""Taxonomy versions: a lead's draft changes, their dry-run counts, and the migration
edits publishing makes through the one write path (logged with the lead and the version)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from server.models import Edit, ReviewIssue, Task, User
from tests.conftest import TEST_USER
from tests.test_validation import codes, cuboid, post, tag, track, warnings


def _add(client: TestClient, task_id: int, label: str, **attributes: Any) -> str:
    tid, op = track(label, **attributes)
    assert post(client, task_id, op)["type"] == "ack"
    return tid


def _change(client: TestClient, **change: Any) -> dict[str, Any]:
    r = client.post("/api/taxonomy/draft/changes", json=change)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _publish(client: TestClient, note: str = "guidelines 2") -> dict[str, Any]:
    r = client.post("/api/taxonomy/draft/publish", json={"changelog": note})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _labels(client: TestClient, task_id: int) -> dict[str, dict[str, Any]]:
    data = client.get(f"/api/tasks/{task_id}/annotations").json()
    return {o["id"]: o for o in data["tracks"] + data["cuboids"]}


def _migration_edits(engine: Engine, task_id: int) -> list[Edit]:
    with Session(engine) as db:
        return list(db.exec(
            select(Edit).where(Edit.task_id == task_id, col(Edit.reason).is_not(None))
            .order_by(col(Edit.revision))
        ).all())  # fmt: skip


def _dry(client: TestClient) -> list[dict[str, Any]]:
    r = client.get("/api/taxonomy/draft/dry-run")
    assert r.status_code == 200, r.text
    changes: list[dict[str, Any]] = r.json()["changes"]
    return changes


def test_rename_moves_tracks_as_logged_edits_by_the_lead_under_the_new_version(
    client: TestClient, engine: Engine, task_id: int, scene_id: int
) -> None:
    car = _add(client, task_id, "Car", parked=True)
    _add(client, task_id, "Truck")
    draft = _change(client, kind="rename_class", name="Car", to="Automobile")
    assert [c["describe"] for c in draft["changes"]] == ["rename Car -> Automobile"]
    (dry,) = _dry(client)
    assert dry["total"] == {"tracks": 1}
    assert dry["by_scene"] == {str(scene_id): {"tracks": 1}}
    assert dry["by_task"] == {str(task_id): {"tracks": 1}}
    published = _publish(client)
    assert published["number"] == 2 and "- rename Car -> Automobile" in published["changelog"]
    assert published["moved"] == [
        {"task_id": task_id, "result": "ack", "edits": 1, "flagged": 0, "errors": []}
    ]
    assert _labels(client, task_id)[car]["label"] == "Automobile"
    assert _labels(client, task_id)[car]["attributes"] == {"parked": True}
    (edit,) = _migration_edits(engine, task_id)
    with Session(engine) as db:
        lead = db.exec(select(User).where(User.name == TEST_USER)).one()
        task = db.get(Task, task_id)
        assert task is not None
    assert (edit.op, edit.object_id, edit.user_id) == ("update", car, lead.id)
    assert edit.reason == "taxonomy v2" and edit.taxonomy_version_id == published["id"]
    assert edit.before is not None and edit.after is not None
    assert (edit.before["label"], edit.after["label"]) == ("Car", "Automobile")
    assert task.taxonomy_version_id == published["id"]
    served = client.get(f"/api/taxonomy?task_id={task_id}").json()
    assert served["version"] == "v2" and "Automobile" in {c["name"] for c in served["classes"]}
    assert codes(post(client, task_id, track("Car")[1])) == ["unknown_class"]
    history = client.get(f"/api/tasks/{task_id}/objects/{car}/history").json()
    assert [(h["op"], h["reason"], h["taxonomy_version"]) for h in history] == [
        ("create", None, 1), ("update", "taxonomy v2", 2),
    ]  # fmt: skip
    assert history[1]["changes"] == {"label": ["Car", "Automobile"]}
    imported = next(a for a in served["aliases"].items() if a[0] == "car")
    assert imported == ("car", "Automobile")  # importers still map the old name


def test_merge_moves_tracks_into_the_other_class_and_keeps_undeclared_attributes(
    client: TestClient, engine: Engine, task_id: int
) -> None:
    van = _add(client, task_id, "Van", parked=False)
    ped = _add(client, task_id, "Pedestrian", age="adult")
    _change(client, kind="merge_class", name="Van", into="Car")
    _change(client, kind="merge_class", name="Pedestrian", into="Other")
    dry = _dry(client)
    assert [d["total"] for d in dry] == [{"tracks": 1}, {"tracks": 1}]
    _publish(client)
    labels = _labels(client, task_id)
    assert labels[van]["label"] == "Car" and labels[van]["attributes"] == {"parked": False}
    assert labels[ped]["label"] == "Other"
    assert labels[ped]["attributes"] == {"imported": {"age": "adult"}}
    assert {e.object_id for e in _migration_edits(engine, task_id)} == {van, ped}


def test_split_keeps_the_class_deprecated_and_flags_its_tracks_for_review(
    client: TestClient, engine: Engine, task_id: int
) -> None:
    truck = _add(client, task_id, "Truck")
    draft = _change(client, kind="split_class", name="Truck", into=["Lorry", "Pickup"])
    classes = {c["name"]: c for c in draft["taxonomy"]["classes"]}
    assert classes["Truck"]["deprecated"] and {"Lorry", "Pickup"} <= set(classes)
    assert _dry(client)[0]["total"] == {"tracks": 1}
    assert _publish(client)["moved"][0]["flagged"] == 1
    assert _labels(client, task_id)[truck]["label"] == "Truck"
    with Session(engine) as db:
        (issue,) = db.exec(select(ReviewIssue).where(ReviewIssue.task_id == task_id)).all()
    assert (issue.error_type, issue.object_kind, issue.object_id) == (
        "taxonomy_change", "track", truck,
    )  # fmt: skip
    assert "split Truck into Lorry, Pickup" in issue.comment


def test_deprecated_class_refuses_new_tracks_and_warns_on_existing_ones(
    client: TestClient, task_id: int
) -> None:
    bus = _add(client, task_id, "Bus")
    _change(client, kind="deprecate_class", name="Bus")
    assert _dry(client)[0]["total"] == {"tracks": 1}
    _publish(client)
    flagged = client.get(f"/api/tasks/{task_id}/warnings").json()
    assert [(w["id"], w["code"]) for w in flagged] == [(bus, "class_deprecated")]
    assert codes(post(client, task_id, track("Bus")[1])) == ["class_deprecated"]
    relabel = {"op": "update", "kind": "track", "id": _add(client, task_id, "Car"),
               "base_revision": 2, "data": {"label": "Bus"}}  # fmt: skip
    assert codes(post(client, task_id, relabel)) == ["class_deprecated"]
    update = {"op": "update", "kind": "track", "id": bus, "base_revision": 1,
              "data": {"attributes": {"parked": True}}}  # fmt: skip
    reply = post(client, task_id, update)
    assert reply["type"] == "ack" and warnings(reply) == ["class_deprecated"]
    box = post(client, task_id, cuboid(bus, size=[11.0, 2.5, 3.0], center=[10.0, 0.0, -0.5]))
    assert box["type"] == "ack" and "class_deprecated" in warnings(box)


def test_attribute_values_are_renamed_and_merged_on_tracks_and_boxes(
    client: TestClient, engine: Engine, task_id: int
) -> None:
    ped = _add(client, task_id, "Pedestrian", age="child")
    car = _add(client, task_id, "Car")
    box = cuboid(car, attributes={"occlusion": "heavy"})
    assert post(client, task_id, box)["type"] == "ack"
    _change(
        client, kind="rename_value", name="Pedestrian", attribute="age", value="child", to="minor"
    )
    _change(client, kind="merge_value", name="Car", attribute="occlusion", value="heavy",
            into="partial")  # fmt: skip
    assert [d["total"] for d in _dry(client)] == [{"tracks": 1}, {"cuboids": 1}]
    _publish(client)
    labels = _labels(client, task_id)
    assert labels[ped]["attributes"] == {"age": "minor"}
    assert labels[box["id"]]["attributes"] == {"occlusion": "partial"}
    kinds = sorted((e.kind, e.object_id) for e in _migration_edits(engine, task_id))
    assert kinds == sorted([("track", ped), ("cuboid", box["id"])])


def test_size_prior_change_counts_boxes_outside_it_and_edits_nothing(
    client: TestClient, engine: Engine, task_id: int
) -> None:
    car = _add(client, task_id, "Car")
    assert post(client, task_id, cuboid(car))["type"] == "ack"  # 4.5 m long
    _change(client, kind="size_prior", name="Car", min_size=[2.5, 1.3, 1.0],
            default_size=[3.8, 1.7, 1.5], max_size=[4.2, 2.6, 2.5])  # fmt: skip
    (dry,) = _dry(client)
    assert dry["total"] == {"tracks": 1, "boxes": 1, "boxes_outside": 1}
    assert _publish(client)["moved"][0]["edits"] == 0
    assert _migration_edits(engine, task_id) == []
    served = client.get(f"/api/taxonomy?task_id={task_id}").json()
    assert next(c for c in served["classes"] if c["name"] == "Car")["max_size"][0] == 4.2


def test_bad_changes_and_documents_are_refused_with_nothing_stored(client: TestClient) -> None:
    for change in (
        {"kind": "rename_class", "name": "Dragon", "to": "Wyvern"},
        {"kind": "rename_class", "name": "Car", "to": "Van"},
        {"kind": "merge_class", "name": "Car", "into": "Car"},
        {"kind": "explode", "name": "Car"},
        {"kind": "rename_value", "name": "Car", "attribute": "occlusion", "value": "x", "to": "y"},
    ):
        r = client.post("/api/taxonomy/draft/changes", json=change)
        assert (r.status_code, r.json()["code"]) == (422, "taxonomy_invalid"), change
    doc = client.get("/api/taxonomy/draft").json()
    assert doc["changes"] == []
    broken = {**doc["taxonomy"], "classes": []}
    r = client.put("/api/taxonomy/draft", json={"taxonomy": broken})
    assert (r.status_code, r.json()["code"]) == (422, "taxonomy_invalid")
    assert client.get("/api/taxonomy/draft").json()["taxonomy"] == doc["taxonomy"]


def test_versions_list_diff_and_only_leads_change_the_draft(
    client: TestClient, task_id: int
) -> None:
    _change(client, kind="rename_class", name="Van", to="Minivan")
    v2 = _publish(client)["id"]
    versions = client.get("/api/taxonomy/versions").json()
    assert [v["number"] for v in versions] == [2, 1] and versions[0]["tasks"] == 1
    v1 = versions[1]["id"]
    d = client.get(f"/api/taxonomy/diff?from_id={v1}&to_id={v2}").json()
    assert d["classes"]["added"] == ["Minivan"] and d["classes"]["removed"] == ["Van"]
    exported = client.get(f"/api/taxonomy/versions/{v2}").json()["taxonomy"]
    r = client.put("/api/taxonomy/draft", json={"taxonomy": exported})  # import JSON
    assert r.status_code == 200 and r.json()["diff"]["classes"]["changed"] == {}


def test_tags_follow_their_types_allowed_classes_and_related_ego(
    client: TestClient, task_id: int
) -> None:
    ped = _add(client, task_id, "Pedestrian")
    car = _add(client, task_id, "Car")
    assert post(client, task_id, cuboid(car))["type"] == "ack"
    assert codes(post(client, task_id, tag(ped))) == ["tag_class_not_allowed"]
    assert post(client, task_id, tag(car, related_ego=True))["type"] == "ack"
    braking = tag(car, "hard_braking", related_ego=True)
    assert codes(post(client, task_id, braking)) == ["tag_related_not_allowed"]
    both = tag(car, related_ego=True, related_track_id=ped)
    assert codes(post(client, task_id, both)) == ["invalid_field"]


@pytest.mark.parametrize("fmt", ["openlabel"])
def test_cut_in_related_to_ego_round_trips_through_openlabel(
    client: TestClient, engine: Engine, task_id: int, tmp_path: Any, fmt: str
) -> None:
    from server.interchange import export_scene, import_scene
    from server.interchange.exporter import load

    settings = client.app.state.settings  # type: ignore[attr-defined]
    car = _add(client, task_id, "Car")
    assert post(client, task_id, cuboid(car))["type"] == "ack"
    assert (
        post(client, task_id, tag(car, related_ego=True, attributes={"side": "left"}))["type"]
        == "ack"
    )
    export_scene(engine, settings, task_id, fmt, tmp_path / "out", points=True)
    again = import_scene(engine, settings, fmt, tmp_path / "out")
    assert again.report.dropped == {}
    (g,) = load(engine, settings, again.task_id).labels.tags
    assert (g.tag, g.subject, g.related_ego, g.related_track_id) == ("cut_in", "track", True, None)
    assert g.attributes == {"side": "left"}


def test_open_workspace_hears_the_new_version_before_the_migration_event(
    client: TestClient, task_id: int
) -> None:
    car = _add(client, task_id, "Car")
    with client.websocket_connect(f"/ws/tasks/{task_id}") as ws:
        ws.send_json({"type": "hello", "client_id": "watcher"})
        while ws.receive_json()["type"] != "snapshot":
            pass
        _change(client, kind="rename_class", name="Car", to="Automobile")
        _publish(client)
        seen = []
        while len(seen) < 2:
            msg = ws.receive_json()
            if msg["type"] != "presence":
                seen.append(msg)
    announce, event = seen
    assert announce["type"] == "taxonomy" and announce["version"] == "v2"
    assert "Automobile" in {c["name"] for c in announce["taxonomy"]["classes"]}
    assert event["type"] == "event" and event["ops"][0]["id"] == car
    assert event["ops"][0]["state"]["label"] == "Automobile"


def test_a_task_left_on_an_old_version_moves_through_every_version_in_between(
    client: TestClient, engine: Engine, task_id: int
) -> None:
    van = _add(client, task_id, "Van")
    with Session(engine) as db:
        task = db.get(Task, task_id)
        assert task is not None and task.taxonomy_version_id is not None
        v1 = task.taxonomy_version_id
    _pin(engine, task_id, None)  # a task from before versions: pinned on first use
    assert client.get(f"/api/taxonomy?task_id={task_id}").json()["version_id"] == v1
    _pin(engine, task_id, None)  # not on the base version: publishing leaves it behind
    _change(client, kind="rename_class", name="Van", to="Minivan")
    v2 = _publish(client)["id"]
    _change(client, kind="merge_class", name="Minivan", into="Car")
    v3 = _publish(client)["id"]
    _pin(engine, task_id, v1)
    assert _labels(client, task_id)[van]["label"] == "Van"
    r = client.post(f"/api/tasks/{task_id}/taxonomy", json={"version_id": v3})
    assert r.status_code == 200 and r.json()["result"] == "ack", r.text
    assert _labels(client, task_id)[van]["label"] == "Car"
    (edit,) = _migration_edits(engine, task_id)
    assert edit.reason == "taxonomy v3" and edit.taxonomy_version_id == v3
    back = client.post(f"/api/tasks/{task_id}/taxonomy", json={"version_id": v2})
    assert (back.status_code, back.json()["code"]) == (409, "taxonomy_not_newer")


def _pin(engine: Engine, task_id: int, version_id: int | None) -> None:
    with Session(engine) as db:
        task = db.get(Task, task_id)
        assert task is not None
        task.taxonomy_version_id = version_id
        db.add(task)
        db.commit()


def test_review_issues_take_the_error_types_of_the_tasks_version(
    client: TestClient, engine: Engine, settings: Any, task_id: int
) -> None:
    from tests.conftest import logged_in

    doc = client.get("/api/taxonomy/draft").json()["taxonomy"]
    doc["error_types"] = [*doc["error_types"], "wrong_size_prior"]
    assert client.put("/api/taxonomy/draft", json={"taxonomy": doc}).status_code == 200
    _publish(client)
    types = client.get(f"/api/review/error-types?task_id={task_id}").json()
    assert "wrong_size_prior" in types and "taxonomy_change" in types
    assert client.post(f"/api/tasks/{task_id}/submit", json={}).status_code == 200
    with TestClient(client.app) as rev:  # type: ignore[arg-type]
        logged_in(rev, engine, settings, "rev", "reviewer")
        assert rev.post("/api/tasks/review/next", json={}).status_code == 200
        pin = {"object_kind": "track", "object_id": "t1", "comment": ""}
        r = rev.post(f"/api/tasks/{task_id}/issues", json={**pin, "error_type": "wrong_size_prior"})
        assert r.status_code == 201, r.text
        r = rev.post(f"/api/tasks/{task_id}/issues", json={**pin, "error_type": "bad_vibes"})
        assert (r.status_code, r.json()["code"]) == (422, "unknown_error_type")
