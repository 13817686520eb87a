"""The database engine: SQLite in WAL mode with full fsync, or PostgreSQL.

SQLite (a file in the data directory) is the embedded default. PostgreSQL is
the second engine the test suite runs on: ``POINTLABEL_DATABASE_URL=
postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB`` (docs/scaling.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, create_engine

from server import models  # noqa: F401  (registers the tables)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> Engine:
    """Create the engine and bring the schema up to date (Alembic migrations).

    SQLite runs in WAL mode with ``synchronous=FULL``: a commit has reached the
    disk before it returns, so an acknowledged edit survives a crash.
    PostgreSQL keeps its defaults (``synchronous_commit=on``, ``fsync=on``),
    which make the same promise. A bare ``postgresql://`` URL uses psycopg 3.
    """
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = _create_engine(url)
    migrate(engine)
    return engine


def writer_engine(engine: Engine) -> Engine:
    """A second engine on ``engine``'s database, with a pool of its own, for the one
    write path (``server.annotations.Writer`` in the hub).

    Request handlers hold a connection of the main pool while they await their
    ack. If the writer drew from that pool, enough waiting requests (15, the
    default pool's limit) would leave it none: it would time out, and every group
    after it would fail. The writer applies one group at a time, so its own
    small pool never runs dry.
    """
    return _create_engine(
        engine.url.render_as_string(hide_password=False), pool_size=1, max_overflow=2
    )


def _create_engine(url: str, **pool: int) -> Engine:
    sqlite = url.startswith("sqlite")
    connect_args = {"check_same_thread": False, "timeout": 30} if sqlite else {}
    engine = create_engine(url, connect_args=connect_args, pool_pre_ping=not sqlite, **pool)
    if sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def migrate(engine: Engine, revision: str = "head") -> None:
    """Apply every pending migration in ``server/migrations`` (up to ``revision``).

    On SQLite, foreign keys are switched off while tables are rebuilt (copy,
    drop, rename: SQLite's own procedure for schema changes), then checked
    as a whole before they are switched on again. PostgreSQL alters tables in
    place and checks foreign keys as it goes; after migrations that inserted
    rows with explicit ids (the Default project, task id = scene id), its id
    sequences are moved past the largest id. Several workers starting at once
    migrate one at a time (a transaction-level advisory lock).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    sqlite = engine.dialect.name == "sqlite"
    postgresql = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        if postgresql:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        if pending_migrations(connection):
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            if postgresql:
                advance_sequences(connection)
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left {len(broken)} broken references: {broken[:5]}")
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")


def pending_migrations(conn: Connection) -> list[str]:
    """The migrations the database behind ``conn`` has not had yet (empty: current)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    current = set(MigrationContext.configure(conn).get_current_heads())
    if current == set(script.get_heads()):
        return []
    done = {r.revision for c in current for r in script.iterate_revisions(c, "base")}
    return [r.revision for r in script.walk_revisions() if r.revision not in done][::-1]


MIGRATION_LOCK = 0x706C6D67
"""The advisory lock key under which PostgreSQL databases are migrated ("plmg")."""


def advance_sequences(conn: Connection) -> None:
    """Move each PostgreSQL id sequence past its table's largest id (never back).

    Rows inserted with explicit ids (migrations copying tables, the Default
    project with id 1) do not advance a sequence the way SQLite's
    ``max(rowid) + 1`` does.
    """
    inspector = inspect(conn)
    for table in inspector.get_table_names():
        if "id" not in {c["name"] for c in inspector.get_columns(table)}:
            continue
        quoted = conn.dialect.identifier_preparer.quote(table)
        seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": quoted}).scalar()
        if seq is None:
            continue
        conn.execute(
            text(
                f"SELECT setval(:seq, GREATEST(m, (SELECT last_value FROM {seq}))) "
                f"FROM (SELECT MAX(id) AS m FROM {quoted}) AS t WHERE m IS NOT NULL"
            ),
            {"seq": seq},
        )


TASK_LOCKS = 0x706C << 32
"""Advisory lock keys of tasks: this plus the task id ("pl" in the high bits)."""


def lock_tasks(conn: Connection, task_ids: set[int]) -> None:
    """On PostgreSQL, serialise writes to each task across processes.

    A transaction-level advisory lock per task, taken in id order (so two
    groups cannot deadlock) and held until the transaction ends: another
    worker's group on the same task waits, then reads the revision this one
    stored. SQLite needs none: it has one writer at a time.
    """
    if conn.dialect.name != "postgresql":
        return
    for task_id in sorted(task_ids):
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": TASK_LOCKS + task_id})


EDITS_CHANNEL = "pointlabel_edits"
"""The PostgreSQL notification channel of committed write groups (server/relay.py)."""


def notify_tasks(conn: Connection, revisions: dict[int, int]) -> None:
    """On PostgreSQL, announce ``task:revision`` for each task the transaction wrote.

    Sent inside the transaction: PostgreSQL delivers the notifications only if
    it commits, after the commit, in commit order, to every worker that listens
    (server/relay.py). SQLite has one process and needs none.
    """
    if conn.dialect.name != "postgresql" or not revisions:
        return
    payloads = [f"{task}:{revision}" for task, revision in sorted(revisions.items())]
    conn.execute(
        text("SELECT pg_notify(:channel, p) FROM unnest(CAST(:payloads AS text[])) AS p"),
        {"channel": EDITS_CHANNEL, "payloads": payloads},
    )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
