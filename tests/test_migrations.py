"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server.db import MIGRATIONS, _sqlite_pragmas, migrate
from server.models import Edit, Project
from server.state import load_scene
from tests.conftest import POSTGRESQL_ONLY, SQLITE_ONLY


def test_migrated_database_matches_the_models(engine: Engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.check(config)  # raises if the models and the migrations differ
    tables = set(inspect(engine).get_table_names())
    assert {"scene", "frame", "track", "cuboid", "behaviourtag", "edit", "user"} <= tables
    assert {"authsession", "apitoken"} <= tables


@SQLITE_ONLY
def test_sqlite_runs_in_wal_mode_with_full_sync(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


@POSTGRESQL_ONLY
def test_postgresql_acknowledges_only_what_is_committed(engine: Engine) -> None:
    """Acknowledged means committed on PostgreSQL too: its defaults are kept."""
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
        assert (
            conn.exec_driver_sql("SHOW default_transaction_isolation").scalar() == "read committed"
        )


@pytest.fixture
def empty_engine(tmp_path: Path, database: str | None) -> Engine:
    """An engine on a database without tables: a SQLite file, or a PostgreSQL database
    emptied of the template's schema."""
    if database is None:
        engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
        event.listen(engine, "connect", _sqlite_pragmas)  # foreign keys on, as the server runs
        return engine
    engine = create_engine(database)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    return engine


def test_a_single_label_set_database_migrates_into_one_task_per_scene(empty_engine: Engine) -> None:
    """A database at 0002 (scenes own their annotations) upgrades with nothing lost, and
    new rows get ids after the copied ones (PostgreSQL's sequences are moved on)."""
    engine = empty_engine
    migrate(engine, "0002")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO scene (id, name, source, storage, revision, frame_count, point_count,"
                " created_at) VALUES (7, 's', '/x', 'abc', 3, 1, 10, '2026-01-01')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO \"user\" (id, name, role, created_at) VALUES (1, 'ann', 'annotator', '2026-01-01')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO track (id, scene_id, label, attributes, revision) VALUES ('t', 7, 'Car', '{}', 1)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO cuboid (id, scene_id, track_id, frame_index, cx, cy, cz, length, width,"
                " height, yaw, pitch, roll, attributes, source, keyframe, revision)"
                " VALUES ('c', 7, 't', 0, 1, 2, 3, 4, 2, 1.5, 0.1, 0, 0, '{}', 'manual', TRUE, 2)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO behaviourtag (id, scene_id, tag, subject, track_id, first_frame,"
                " last_frame, attributes, revision) VALUES ('g', 7, 'hard_braking', 'track', 't', 0, 0, '{}', 3)"
            )
        )
        for rev, kind, oid in ((1, "track", "t"), (2, "cuboid", "c"), (3, "tag", "g")):
            connection.execute(
                text(
                    "INSERT INTO edit (scene_id, revision, user_id, created_at, op, kind, object_id,"
                    " warnings) VALUES (7, :r, 1, '2026-01-01', 'create', :k, :o, '[]')"
                ),
                {"r": rev, "k": kind, "o": oid},
            )
    migrate(engine)
    with engine.connect() as conn:
        task = conn.execute(text("SELECT id, scene_id, state, revision FROM task")).one()
        assert tuple(task) == (7, 7, "open", 3)
        for table in ("track", "cuboid", "behaviourtag"):
            assert conn.execute(text(f"SELECT task_id FROM {table}")).scalar_one() == 7
        edits = conn.execute(text("SELECT task_id, revision FROM edit ORDER BY revision")).all()
        assert [tuple(e) for e in edits] == [(7, 1), (7, 2), (7, 3)]
        assert conn.execute(text("SELECT project_id FROM scene")).scalar_one() == 1
        st = load_scene(conn, 7)
    assert st is not None and st.revision == 3
    assert set(st.objects["cuboid"]) == {"c"} and st.box_at == {("t", 0): "c"}
    with Session(engine) as db:
        project = Project(name="Second")
        edit = Edit(task_id=7, scene_id=7, revision=4, user_id=1, op="delete", kind="tag",
                    object_id="g")  # fmt: skip
        db.add_all([project, edit])
        db.commit()
        assert (project.id, edit.id) == (2, 4)
