"""Shared pytest fixtures."""

from __future__ import annotations

import os
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
from tests.pg import PostgresServer, find_bin_dir
from tests.sessions import sign_in

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``<repo>/../shared/data``: real sensor files, never copied into the repo."""
    path = (REPO_ROOT / ".." / "shared" / "data").resolve()
    if not path.is_dir():
        pytest.skip("../shared/data not present")
    return path


DATABASES = os.environ.get("POINTLABEL_TEST_DATABASES", "sqlite,postgresql").split(",")
"""The engines the ``settings``/``engine``/``client`` tests run on (set the variable to
``sqlite`` for a quick run while iterating)."""

SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
"""For a test that is about SQLite itself (its WAL file, its PRAGMAs, its fsync):
it runs on SQLite only (docs/scaling.md lists them)."""

POSTGRESQL_ONLY = pytest.mark.parametrize("database", ["postgresql"], indirect=True)
"""For a test of PostgreSQL's own behaviour (its settings, several workers on one database)."""


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A private PostgreSQL server for the whole run (tests/pg.py)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (Debian package postgresql; make install)")
        pytest.skip("PostgreSQL is not installed: /usr/lib/postgresql/*/bin not found")
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


ON_BOTH = {
    "test_accounts", "test_api", "test_auth_api", "test_geometry_api", "test_hardening",
    "test_hostile", "test_hub", "test_interchange_api", "test_migrations", "test_operations",
    "test_scene_admin", "test_sql_console", "test_stream", "test_taxonomy", "test_team",
    "test_uploads", "test_validation", "test_workers", "test_workers_live", "test_ws",
    "test_sampling", "test_golden_queue", "test_consensus", "test_quality_api",
}  # fmt: skip
"""The API and websocket suites: their tests run on every engine in ``DATABASES``. The
others (file formats, ingest, pages, geometry) run on SQLite only: their subject is not
the engine, and the PostgreSQL half must stay a few minutes (docs/scaling.md)."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``database``: every engine for the modules in ON_BOTH, SQLite for the
    rest, unless the test names its engine (SQLITE_ONLY, POSTGRESQL_ONLY)."""
    if "database" not in metafunc.fixturenames:
        return
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0]
        if "database" in (names.split(",") if isinstance(names, str) else names):
            return
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    engines = DATABASES if module in ON_BOTH else ["sqlite"]
    metafunc.parametrize("database", engines, indirect=True)


@pytest.fixture
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The database URL of the test: None (a SQLite file in the data directory) or a
    fresh PostgreSQL database, dropped after the test."""
    if request.param == "sqlite":
        yield None
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    name = server.create_database()
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture
def settings(tmp_path: Path, database: str | None) -> Settings:
    """Settings with a fresh data directory and a fresh database: a real SQLite file in
    WAL mode, or a PostgreSQL database (the ``database`` fixture)."""
    return Settings(data_dir=tmp_path / "data", default_user=TEST_USER, database_url=database)


TEST_USER = "tester"
"""The user the ``client`` fixture is logged in as: a lead (sees every scene, may upload,
import and export, and edit the tasks assigned to them)."""


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def tester(engine: Engine) -> str:
    """The lead ``tester``, created (without a password) for the fixtures that need them."""
    with Session(engine) as db:
        accounts.create_user(db, TEST_USER, "lead")
    return TEST_USER


def use_in_cli(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Point the ``pointlabel`` command (which reads its settings from the environment)
    at ``settings``' data directory and database (the caller clears ``get_settings``' cache)."""
    monkeypatch.setenv("POINTLABEL_DATA_DIR", str(settings.data_dir))
    if settings.database_url is not None:
        monkeypatch.setenv("POINTLABEL_DATABASE_URL", settings.database_url)


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
