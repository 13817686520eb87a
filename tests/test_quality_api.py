"""The quality dashboard's routes over the demo review history (server/quality.py,
server/demo_history.py): charts, signals, the issues behind a signal, CSV, the page."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pointcloud.io.pcd import write_pcd
from server.app import create_app
from server.config import Settings
from server.db import make_engine
from server.demo_history import ANNOTATORS, CHANGE_DAY, DRIFT_FROM, DRIFTER, seed_history, workday
from server.ingest import ingest
from server.models import PlantedError, ReviewIssue, Task, TaskTransition, Track
from server.quality_report import Week
from tests.sessions import sign_in

TRACKS = 40


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Engine, int]]:
    """One server with the demo history on a one-frame scene, for the whole module (seeding
    takes a while): a ground truth of 36 cars and 4 pedestrians, one box each at frame 0.
    A client logged in as a lead, the engine and the number of tasks made."""
    root = tmp_path_factory.mktemp("quality")
    settings = Settings(data_dir=root / "data", default_user="tester")
    engine = make_engine(settings.db_url)
    cloud = root / "cloud.pcd"
    rng = np.random.default_rng(3)
    write_pcd(cloud, rng.uniform(-40, 40, (5000, 3)).astype(np.float32), {})
    scene_id = ingest(engine, settings, cloud).scene_id
    tracks = [{"track_id": f"car-{i}" if i < 36 else f"pedestrian-{i}",
               "class": "Car" if i < 36 else "Pedestrian",
               "cuboids": [{"frame": 0, "center": [float(i), 5.0, -1.0], "size": [4.0, 1.8, 1.5],
                            "yaw": 0.0}]} for i in range(TRACKS)]  # fmt: skip
    folder = root / "seq"
    folder.mkdir()
    (folder / "ground_truth.json").write_text(json.dumps({"tracks": tracks, "tags": []}))
    made = seed_history(engine, settings, scene_id, folder)
    assert seed_history(engine, settings, scene_id, folder) == 0  # seeded once
    with TestClient(create_app(settings)) as c:
        c.headers.update(sign_in(c, engine, settings, "quality-lead", "lead"))
        yield c, engine, made


@pytest.fixture
def lead(seeded: tuple[TestClient, Engine, int]) -> TestClient:
    return seeded[0]


@pytest.fixture
def history(seeded: tuple[TestClient, Engine, int]) -> int:
    return seeded[2]


def _signals(client: TestClient, by: str = "annotator") -> dict[str, Any]:
    r = client.get(f"/api/quality/charts?by={by}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_history_makes_one_reviewed_task_per_annotator_and_day(
    lead: TestClient, history: int
) -> None:
    data = _signals(lead)
    assert history == 24 * len(ANNOTATORS)
    assert sorted(s["key"] for s in data["series"]) == sorted(ANNOTATORS)
    assert all(len(s["points"]) == 24 for s in data["series"])
    point = data["series"][0]["points"][0]
    assert point["objects"] == TRACKS and 0 <= point["rate"] <= point["upper"]
    assert 0.0 < data["centre"] < 0.1  # the team's in-control rate: 4 % of the objects


def test_the_drifting_annotator_is_individual_and_the_taxonomy_shift_is_system(
    lead: TestClient, history: int
) -> None:
    signals = [s for s in _signals(lead)["signals"] if s["side"] == "above"]
    before = [s for s in signals if s["at"] < workday(CHANGE_DAY).isoformat()]
    assert before and {s["series"] for s in before} == {DRIFTER}
    assert all(s["kind"] == "individual" for s in before)
    assert min(s["at"] for s in before) >= workday(DRIFT_FROM).isoformat()
    after = [
        s for s in signals if s["at"] >= workday(CHANGE_DAY).isoformat() and s["series"] != DRIFTER
    ]
    assert {s["series"] for s in after} == set(ANNOTATORS) - {DRIFTER}
    first: dict[str, dict[str, Any]] = {}
    for s in after:
        first.setdefault(s["series"], s)
    assert all(s["kind"] == "system" for s in first.values())
    assert all(s["at"] < workday(CHANGE_DAY + 3).isoformat() for s in first.values())
    assert all(s["taxonomy"] == "v2" and s["classes"][0] == "Car" for s in first.values())


def test_the_issues_behind_a_signal_link_to_their_objects(lead: TestClient, history: int) -> None:
    signal = next(s for s in _signals(lead)["signals"] if s["series"] == DRIFTER)
    r = lead.get(f"/api/quality/tasks/{signal['task_id']}/defects")
    assert r.status_code == 200
    rows = r.json()
    assert len({row["track_id"] for row in rows}) == signal["defects"]
    row = rows[0]
    assert row["link"] == f"/tasks/{signal['task_id']}?object={row['track_id']}"
    assert row["error_type"] == "loose_fit" and row["class"] in ("Car", "Pedestrian")
    cars = lead.get(f"/api/quality/tasks/{signal['task_id']}/defects?class=Pedestrian").json()
    assert all(x["class"] == "Pedestrian" for x in cars) and len(cars) < len(rows)


def test_class_and_taxonomy_charts_show_the_shift_on_cars_in_version_2(
    lead: TestClient, history: int
) -> None:
    by_class = _signals(lead, "class")
    assert {s["key"] for s in by_class["series"]} == {"Car", "Pedestrian"}
    car_after = [s for s in by_class["signals"] if s["series"] == "Car" and s["side"] == "above"]
    assert car_after and all(s["kind"] is None for s in car_after)
    by_version = _signals(lead, "taxonomy")
    assert [s["key"] for s in by_version["series"]] == ["v1", "v2"]


def test_csv_has_a_row_per_series_and_task(lead: TestClient, history: int) -> None:
    r = lead.get("/api/quality/charts.csv?by=annotator")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == history
    flagged = [row for row in rows if row["rules"]]
    assert flagged and {row["kind"] for row in flagged} == {"individual", "system"}


def test_a_later_review_round_does_not_count_in_the_sample(
    seeded: tuple[TestClient, Engine, int],
) -> None:
    client, engine, _ = seeded
    with Session(engine) as db:
        task = db.exec(select(Task).where(Task.state == "approved")).first()
        assert task is not None and task.id is not None and task.reviewer_id is not None
        db.add(ReviewIssue(task_id=task.id, author_id=task.reviewer_id, error_type="other",
                           object_kind="track", object_id="car-1"))  # fmt: skip
        db.commit()
        task_id = task.id
    assert client.get(f"/api/quality/tasks/{task_id}/defects").json() == []


def test_no_review_yet_gives_empty_charts(client: TestClient) -> None:
    data = _signals(client)
    assert data["centre"] is None and data["series"] == [] and data["signals"] == []
    assert client.get("/api/quality/tasks/999/defects").json()["code"] == "task_not_found"


def test_bad_grouping_is_a_clear_422(client: TestClient) -> None:
    r = client.get("/api/quality/charts?by=colour")
    assert r.status_code == 422 and "code" in r.json()


def test_the_page_is_for_roles_that_see_quality(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    r = client.get("/quality")
    assert r.status_code == 200 and 'data-testid="quality-dashboard"' in r.text
    assert "/vendor/uplot/uPlot.esm.js" in r.text
    assert client.get("/vendor/uplot/uPlot.esm.js").status_code == 200
    client.cookies.clear()
    client.headers.update(sign_in(client, engine, settings, "ann", "annotator"))
    assert client.get("/quality").status_code == 403
    assert client.get("/api/quality/charts").json()["code"] == "forbidden"
    assert client.get("/quality/report").status_code == 403
    r = client.get("/api/quality/report?week=2026-W11")
    assert r.status_code == 403 and r.json()["code"] == "forbidden"


def test_the_weekly_report_counts_the_weeks_samples_and_ranks_classes(
    lead: TestClient, seeded: tuple[TestClient, Engine, int]
) -> None:
    """The report's figures equal the week's samples summed here (``server.quality.samples``,
    the charts' definition; the next test counts from the tables themselves): reviewed
    tasks, objects and defective objects, per class; classes come worst first, with the
    earlier weeks' rate beside; the trend's six weeks; the week's system signal."""
    from server.quality import samples

    _, engine, _ = seeded
    with Session(engine) as session:
        every = samples(session)
    week = Week.of(workday(CHANGE_DAY + 2))  # the week after the taxonomy change
    r = lead.get(f"/api/quality/report?week={week}")
    assert r.status_code == 200, r.text
    report = r.json()
    mine = [s for s in every if Week.of(s.at) == week]
    assert report["week"] == str(week) and report["tasks"] == len(mine) > 0
    assert report["objects"] == sum(sum(s.objects.values()) for s in mine)
    assert report["defects"] == sum(sum(s.defects.values()) for s in mine)
    cars = next(c for c in report["classes"] if c["name"] == "Car")
    car_objects = sum(s.objects.get("Car", 0) for s in mine)
    car_defects = sum(s.defects.get("Car", 0) for s in mine)
    assert (cars["objects"], cars["defects"]) == (car_objects, car_defects)
    assert cars["rate"] == pytest.approx(car_defects / car_objects)
    rates = [c["rate"] for c in report["classes"]]
    assert rates == sorted(rates, reverse=True)
    # the taxonomy change raised the car defects: the headline says which way it moved
    assert cars["previous_rate"] < cars["rate"] and "up from" in cars["headline"]
    assert [w["week"] for w in report["trend"]][-1] == str(week) and len(report["trend"]) == 6
    assert sum(w["tasks"] for w in report["trend"]) == len(
        [s for s in every if week.shifted(-5).monday <= Week.of(s.at).monday <= week.monday]
    )
    # the week's signals: the team's shift on version 2 is there, as a system signal
    assert any(s["kind"] == "system" and s["taxonomy"] == "v2" for s in report["signals"])
    assert all(Week.of(datetime.fromisoformat(s["at"])) == week for s in report["signals"])


def test_the_weekly_report_page_prints_and_refuses_bad_weeks(
    lead: TestClient, history: int
) -> None:
    page = lead.get("/quality/report")  # the latest week with a review
    assert page.status_code == 200 and 'data-testid="quality-report"' in page.text
    assert "@media print" in lead.get("/static/css/app.css").text
    latest = lead.get("/api/quality/report").json()
    assert f"week {latest['week']}" in page.text and latest["tasks"] > 0
    for bad in (
        "2026-W54",
        "2026-W00",
        "20x6-W11",
        "2026-11",
        "2026-W11\x00",
        "9" * 40,
        "9999-W52",
        "0001-W01",
    ):
        r = lead.get("/api/quality/report", params={"week": bad})
        assert r.status_code == 422, bad
        assert r.json()["code"] in ("bad_week", "invalid_request"), r.json()
    assert lead.get("/api/quality/report?week=2026-W54").json()["code"] == "bad_week"
    empty = lead.get("/api/quality/report?week=2020-W01").json()
    assert empty["tasks"] == 0 and empty["classes"] == [] and empty["signals"] == []


def test_the_weekly_report_equals_counts_made_from_the_table_rows(
    lead: TestClient, seeded: tuple[TestClient, Engine, int]
) -> None:
    """Counted here straight from the tables, not through ``server.quality``: a task of the
    week is one whose first move out of ``in_review`` falls in it; its objects are its
    tracks, its defects the tracks with an issue created by then (the demo pins issues on
    tracks only). The report's totals, per class and per project, are these counts."""
    _, engine, _ = seeded
    week = Week.of(workday(DRIFT_FROM + 2))  # dara's drift: the week differs from the rest
    start = datetime.combine(week.monday, datetime.min.time(), UTC)
    with Session(engine) as db:
        planted = set(db.exec(select(PlantedError.task_id)).all())
        first: dict[int, datetime] = {}
        for move in db.exec(select(TaskTransition).order_by(col(TaskTransition.id))).all():
            if move.from_state == "in_review" and move.task_id not in planted:
                first.setdefault(move.task_id, move.created_at.replace(tzinfo=UTC))
        mine = {t: at for t, at in first.items() if start <= at < start + timedelta(days=7)}
        tracks = [tr for tr in db.exec(select(Track)).all() if tr.task_id in mine]
        flagged = {(i.task_id, i.object_id) for i in db.exec(select(ReviewIssue)).all()
                   if i.task_id in mine and i.object_kind == "track"
                   and i.created_at.replace(tzinfo=UTC) <= mine[i.task_id]}  # fmt: skip
        projects = {t.id: t.project_id for t in db.exec(select(Task)).all() if t.id in mine}
    report = lead.get(f"/api/quality/report?week={week}").json()
    assert report["tasks"] == len(mine) == 6 * 5  # six annotators, five working days
    assert report["objects"] == len(tracks) == len(mine) * TRACKS
    assert report["defects"] == len(flagged) > 0
    for label in ("Car", "Pedestrian"):
        (row,) = [c for c in report["classes"] if c["name"] == label]
        objects = [tr for tr in tracks if tr.label == label]
        defects = [tr for tr in objects if (tr.task_id, tr.id) in flagged]
        assert (row["objects"], row["defects"]) == (len(objects), len(defects))
    assert len(set(projects.values())) == 1 and len(report["projects"]) == 1
    (project,) = report["projects"]
    assert (project["objects"], project["defects"]) == (len(tracks), len(flagged))
    assert report["trend"][-1]["defects"] == len(flagged)
    assert report["reviewers"] == []  # this history plants no errors (no tags to shift)
