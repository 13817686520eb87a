"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pointcloud.io.pcd import write_pcd
from server import accounts, taxonomy_drafts
from server.app import create_app
from server.config import Settings
from server.db import make_engine
from server.ingest import ingest
from server.models import Task, User
from server.tasks import DEFAULT_PROJECT_ID, start_for
from tests.sessions import sign_in

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``<repo>/../shared/data``: real sensor files, never copied into the repo."""
    path = (REPO_ROOT / ".." / "shared" / "data").resolve()
    if not path.is_dir():
        pytest.skip("../shared/data not present")
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fresh data directory (a real SQLite file in WAL mode)."""
    return Settings(data_dir=tmp_path / "data", default_user=TEST_USER)


TEST_USER = "tester"
"""The user the ``client`` fixture is logged in as: a lead (sees every scene, may upload,
import and export, and edit the tasks assigned to them)."""


@pytest.fixture
def engine(settings: Settings) -> Engine:
    return make_engine(settings.db_url)


@pytest.fixture
def tester(engine: Engine) -> str:
    """The lead ``tester``, created (without a password) for the fixtures that need them."""
    with Session(engine) as db:
        accounts.create_user(db, TEST_USER, "lead")
    return TEST_USER


def logged_in(client: TestClient, engine: Engine, settings: Settings, name: str = TEST_USER,
              role: str = "lead") -> TestClient:  # fmt: skip
    """``client`` with a real session of ``name`` (created with ``role`` if missing) and the
    CSRF header every state-changing request of a page sends."""
    client.headers.update(sign_in(client, engine, settings, name, role))
    return client


@pytest.fixture
def small_cloud_file(tmp_path: Path) -> Path:
    """A seeded 20k-point PCD: a ground plane with a box-shaped object on it."""
    rng = np.random.default_rng(3)
    ground = np.c_[rng.uniform(-30, 30, (18000, 2)), rng.normal(-1.7, 0.02, 18000)]
    car = rng.uniform([8, -1, -1.7], [12.5, 1, -0.2], (2000, 3))
    xyz = np.vstack([ground, car]).astype(np.float32)
    path = tmp_path / "small.pcd"
    write_pcd(path, xyz, {"intensity": rng.uniform(0, 1, len(xyz)).astype(np.float32)})
    return path


@pytest.fixture
def scene_id(engine: Engine, settings: Settings, small_cloud_file: Path) -> int:
    """A one-frame scene ingested from ``small_cloud_file``."""
    return ingest(engine, settings, small_cloud_file).scene_id


def start_task(engine: Engine, task_id: int, user_name: str) -> int:
    """Assign the task to ``user_name`` and start it, so that user may edit its label set."""
    return start_for(engine, task_id, user_name)


@pytest.fixture
def task_id(engine: Engine, tester: str, scene_id: int) -> int:
    """The scene's first task, assigned to the default user and in progress."""
    with Session(engine) as session:
        task = session.exec(select(Task).where(Task.scene_id == scene_id)).one()
        assert task.id is not None
    return start_task(engine, task.id, tester)


@pytest.fixture
def client(settings: Settings, engine: Engine, tester: str, scene_id: int) -> Iterator[TestClient]:
    """A test client logged in as the lead ``tester`` (the fixtures' task is theirs)."""
    with TestClient(create_app(settings)) as c:
        yield logged_in(c, engine, settings)


def publish_taxonomy(engine: Engine, doc: dict[str, Any], lead: str = "taxonomy-lead") -> int:
    """Publish ``doc`` as the Default project's next taxonomy version (as the lead
    ``lead``, created if missing); new tasks are pinned to it. Returns its id."""
    with Session(engine) as db:
        user = db.exec(select(User).where(User.name == lead)).first()
        user = user or accounts.create_user(db, lead, "lead")
        row = taxonomy_drafts.open_draft(db, DEFAULT_PROJECT_ID, user)
        taxonomy_drafts.replace_body(db, row, doc)
        version_id = taxonomy_drafts.publish(db, row, user, "test taxonomy")
        db.commit()
    return version_id
