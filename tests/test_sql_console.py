"""The read-only SQL console (POST /api/sql, /sql): what it answers, and every way of
writing, attaching, changing a PRAGMA or reading a file it refuses, with stable codes;
docs/schema.md documents every column and its example queries run through it."""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server import accounts
from server.annotations import Writer
from server.app import create_app
from server.config import Settings
from server.frames import FrameStore
from server.models import Cuboid, ReviewIssue, Scene, Task
from server.protocol import Ops
from server.tasks import create_task, move, start_for, take_next_review
from server.taxonomies import Taxonomies
from tests.conftest import POSTGRESQL_ONLY, SQLITE_ONLY, logged_in

SCHEMA_DOC = Path(__file__).resolve().parents[1] / "docs" / "schema.md"


@pytest.fixture
def console(settings: Settings, engine: Engine, tester: str, scene_id: int) -> Iterator[TestClient]:
    """A lead's client on an app whose statements stop after 0.5 s."""
    fast = settings.model_copy(update={"sql_timeout_seconds": 0.5})
    with TestClient(create_app(fast)) as c:
        yield logged_in(c, engine, fast)


def sql(client: TestClient, statement: str, **extra: Any) -> Any:
    return client.post("/api/sql", json={"sql": statement, **extra})


def refused(client: TestClient, statement: str) -> tuple[int, str]:
    r = sql(client, statement)
    return r.status_code, r.json()["code"]


def project_names(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [row[0] for row in conn.exec_driver_sql("SELECT name FROM project ORDER BY id")]


@SQLITE_ONLY
def test_a_select_answers_columns_and_rows(console: TestClient) -> None:
    r = sql(console, "SELECT name, role FROM user ORDER BY name")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"] == ["name", "role"]
    assert ["tester", "lead"] in body["rows"]
    assert body["truncated"] is False and body["row_count"] == len(body["rows"])


@SQLITE_ONLY
def test_the_row_limit_cuts_the_result_and_says_so(console: TestClient) -> None:
    statement = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) SELECT i FROM n"
    body = sql(console, statement, max_rows=20).json()
    assert body["rows"] == [[i] for i in range(1, 21)]
    assert body["truncated"] is True and body["max_rows"] == 20


@SQLITE_ONLY
def test_csv_download_has_a_header_row(console: TestClient) -> None:
    r = sql(console, "SELECT 'a,b' AS text, 2 AS n", format="csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.text == 'text,n\n"a,b",2\n'


@SQLITE_ONLY
def test_password_and_token_hashes_read_as_null(
    console: TestClient, engine: Engine, settings: Settings
) -> None:
    with Session(engine) as db:
        user = accounts.get_user(db, "tester")
        user.password_hash = "$argon2id$secret"
        db.add(user)
        db.commit()
    rows = sql(console, "SELECT password_hash FROM user WHERE name = 'tester'").json()["rows"]
    assert rows == [[None]]
    assert sql(console, "SELECT count(*) FROM user WHERE password_hash LIKE '$argon%'").json()[
        "rows"
    ] == [[0]]
    assert sql(console, "SELECT token_hash FROM authsession").json()["rows"][0] == [None]


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("statement", "code"),
    [
        ("INSERT INTO project (name, created_at) VALUES ('x', '2020-01-01')", "sql_write_refused"),
        ("WITH x AS (SELECT 'x' AS n) INSERT INTO project (name, created_at) SELECT n, '2020' FROM x",
         "sql_write_refused"),
        ("UPDATE user SET role = 'admin'", "sql_write_refused"),
        ("DELETE FROM project", "sql_write_refused"),
        ("DROP TABLE project", "sql_write_refused"),
        ("CREATE TABLE t (a)", "sql_write_refused"),
        ("CREATE TEMP VIEW v AS SELECT 1", "sql_write_refused"),
        ("ALTER TABLE project ADD COLUMN c", "sql_write_refused"),
        ("BEGIN", "sql_write_refused"),
        ("SAVEPOINT s", "sql_write_refused"),
        ("REPLACE INTO project (id, name, created_at) VALUES (1, 'y', '2020')", "sql_write_refused"),
        ("ATTACH 'file:/etc/passwd' AS p", "sql_attach_refused"),
        ("ATTACH ':memory:' AS m", "sql_attach_refused"),
        ("DETACH main", "sql_attach_refused"),
        ("VACUUM", "sql_attach_refused"),
        ("PRAGMA query_only = OFF", "sql_pragma_refused"),
        ("PRAGMA writable_schema = ON", "sql_pragma_refused"),
        ("PRAGMA journal_mode = DELETE", "sql_pragma_refused"),
        ("PRAGMA database_list", "sql_pragma_refused"),  # would show the server's file path
        ("SELECT load_extension('/tmp/evil.so')", "sql_function_refused"),
        ("SELECT fts3_tokenizer('simple')", "sql_function_refused"),
        ("SELECT 1; DELETE FROM project", "sql_multiple_statements"),
        ("SELECT 1; SELECT 2", "sql_multiple_statements"),
        ("SELECT randomblob(100000000)", "sql_too_big"),
        ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) "
         "SELECT zeroblob(900000) FROM n", "sql_too_big"),  # 90 MB in 1,000-row limits
        ("   ", "sql_empty"),
        ("SELECT * FROM no_such_table", "sql_error"),
    ],
)  # fmt: skip
def test_statements_that_would_write_attach_change_pragmas_or_load_code_are_refused(
    console: TestClient, engine: Engine, statement: str, code: str
) -> None:
    before = project_names(engine)
    status, got = refused(console, statement)
    assert got == code
    assert status == (403 if code.endswith("_refused") else 422)
    assert project_names(engine) == before  # nothing changed


@SQLITE_ONLY
def test_vacuum_into_a_file_is_refused_and_writes_no_file(
    console: TestClient, tmp_path: Path
) -> None:
    target = tmp_path / "copy.db"
    assert refused(console, f"VACUUM INTO '{target}'") == (403, "sql_attach_refused")
    assert not target.exists()


@SQLITE_ONLY
def test_reading_a_file_is_impossible(console: TestClient) -> None:
    # readfile() exists only in the sqlite3 shell; it is denied even if a build registers it
    assert refused(console, "SELECT readfile('/etc/passwd')")[1] in (
        "sql_error",
        "sql_function_refused",
    )
    assert refused(console, "SELECT * FROM pragma_table_info('user')")[0] == 403


@SQLITE_ONLY
def test_a_statement_running_past_the_timeout_is_stopped(console: TestClient) -> None:
    endless = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    )
    assert refused(console, endless) == (422, "sql_timeout")
    assert sql(console, "SELECT 1").status_code == 200  # the server goes on


@SQLITE_ONLY
def test_values_json_cannot_hold_come_back_as_text(console: TestClient) -> None:
    assert sql(console, "SELECT 1e999, -1e999, x'00ff'").json()["rows"] == [
        ["inf", "-inf", "x'00ff'"]
    ]


@SQLITE_ONLY
def test_schema_pragmas_describe_tables(console: TestClient) -> None:
    rows = sql(console, "PRAGMA table_info(cuboid)").json()["rows"]
    assert "yaw" in [row[1] for row in rows]


@SQLITE_ONLY
def test_the_console_opens_the_file_read_only_even_without_the_authorizer(
    settings: Settings, engine: Engine
) -> None:
    """The connection itself refuses writes: the authorizer is not the only layer."""
    from server.sqlconsole import _connect, sqlite_path

    path = sqlite_path(settings.db_url)
    assert path is not None
    conn = _connect(path)
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly|read-only|query_only"):
            conn.execute("INSERT INTO project (name, created_at) VALUES ('z', '2020')")
        with pytest.raises(sqlite3.OperationalError):
            conn.execute("ATTACH ':memory:' AS m")
    finally:
        conn.close()


@SQLITE_ONLY
def test_only_leads_and_admins_may_use_the_console(
    settings: Settings, engine: Engine, scene_id: int
) -> None:
    with TestClient(create_app(settings)) as c:
        logged_in(c, engine, settings, "rev", "reviewer")
        assert c.post("/api/sql", json={"sql": "SELECT 1"}).json()["code"] == "forbidden"
        assert c.get("/sql").status_code == 403
        logged_in(c, engine, settings, "boss", "admin")
        assert c.post("/api/sql", json={"sql": "SELECT 1"}).status_code == 200
        page = c.get("/sql")
        assert page.status_code == 200 and 'data-testid="sql-text"' in page.text


@POSTGRESQL_ONLY
def test_on_postgresql_the_console_answers_that_it_works_on_sqlite_only(
    settings: Settings, engine: Engine, tester: str
) -> None:
    """docs/scaling.md: its guarantees come from SQLite's authorizer and read-only file."""
    with TestClient(create_app(settings)) as c:
        logged_in(c, engine, settings)
        r = c.post("/api/sql", json={"sql": "SELECT 1"})
        assert r.status_code == 501 and r.json()["code"] == "sql_unavailable"
        assert "/" not in r.json()["message"]


def test_the_console_page_sends_anonymous_visitors_to_log_in(settings: Settings) -> None:
    with TestClient(create_app(settings)) as c:
        r = c.get("/sql", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


# docs/schema.md ------------------------------------------------------------------------


def documented_columns() -> dict[str, set[str]]:
    """Table -> the columns its section of docs/schema.md lists (`a`, `b` in the first cell)."""
    tables: dict[str, set[str]] = {}
    current = None
    for line in SCHEMA_DOC.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^### `(\w+)`$", line)
        if heading:
            current = heading.group(1)
            tables[current] = set()
        elif line.startswith("## "):
            current = None
        elif current and line.startswith("| `"):
            tables[current] |= set(re.findall(r"`(\w+)`", line.split("|")[1]))
    return tables


@SQLITE_ONLY
def test_schema_doc_lists_every_table_and_column(engine: Engine) -> None:
    with engine.connect() as conn:
        names = [r[0] for r in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]  # fmt: skip
        actual = {
            name: {r[1] for r in conn.exec_driver_sql(f'PRAGMA table_info("{name}")')}
            for name in names
        }
    assert documented_columns() == actual


def seed(engine: Engine, settings: Settings, scene_id: int) -> None:
    """Three annotators label the scene, one with boxes 15 % short; a reviewer pins issues,
    rejects the short one's task and approves the others; the rework edits a box."""
    writer = Writer(engine, Taxonomies(engine), FrameStore(settings.frames_dir))
    with Session(engine) as db:
        for name, role in [("ann-a", "annotator"), ("ann-b", "annotator"), ("ann-c", "annotator"),
                           ("rev-1", "reviewer")]:  # fmt: skip
            accounts.create_user(db, name, role)
        scene = db.get(Scene, scene_id)
        assert scene is not None
        tasks = [create_task(db, scene, None).id for _ in range(3)]
        db.commit()
    for task_id, (name, length) in zip(tasks, [("ann-a", 3.8), ("ann-b", 4.5), ("ann-c", 4.4)],
                                       strict=True):  # fmt: skip
        assert task_id is not None
        start_for(engine, task_id, name)
        track, box, tag = (str(uuid.uuid4()) for _ in range(3))
        ops = [
            {"op": "create", "kind": "track", "id": track, "data": {"label": "Car"}},
            {"op": "create", "kind": "cuboid", "id": box, "data": {
                "track_id": track, "frame": 0, "center": [10.25, 0.0, -0.95],
                "size": [length, 2.0, 1.5], "yaw": 0.0}},
            {"op": "create", "kind": "tag", "id": tag, "data": {
                "tag": "cut_in", "subject": "track", "track_id": track, "first_frame": 0,
                "last_frame": 0}},
        ]  # fmt: skip
        reply, _ = writer.apply(task_id, name, _ops(ops), trusted=True)
        assert reply.type == "ack", reply
        with Session(engine) as db:
            task, user = db.get(Task, task_id), accounts.get_user(db, name)
            assert task is not None
            move(db, task, user, "submit")
            reviewer = accounts.get_user(db, "rev-1")
            assert take_next_review(db, reviewer) is not None
            short = name == "ann-a"
            db.add(ReviewIssue(task_id=task_id, author_id=reviewer.id or 0,
                               error_type="tight_fit" if short else "other", object_kind="cuboid",
                               object_id=box, status="open" if short else "closed"))  # fmt: skip
            db.flush()
            move(db, task, reviewer, "reject" if short else "approve")
            db.commit()
        if name == "ann-a":
            with Session(engine) as db:
                task, cuboid = db.get(Task, task_id), db.get(Cuboid, (task_id, box))
                assert task is not None and cuboid is not None
                fix = [{"op": "update", "kind": "cuboid", "id": box, "base_revision": cuboid.revision,
                        "data": {"center": [10.3, 0.0, -0.95]}}]  # fmt: skip
                move(db, task, accounts.get_user(db, name), "start")
                db.commit()
            assert writer.apply(task_id, name, _ops(fix, seq=2), trusted=True)[0].type == "ack"


def _ops(ops: list[dict[str, Any]], seq: int = 1) -> Ops:
    return Ops.model_validate({"type": "ops", "seq": seq, "client_id": "seed", "ops": ops})


def documented_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", SCHEMA_DOC.read_text(encoding="utf-8"), re.S)


def test_schema_doc_has_at_least_six_root_cause_queries() -> None:
    text = SCHEMA_DOC.read_text(encoding="utf-8")
    root_cause = text.split("## Root-cause queries", 1)[1]
    assert len(re.findall(r"```sql\n", root_cause)) >= 6


@SQLITE_ONLY
def test_every_documented_query_runs_in_the_console_on_a_seeded_database(
    console: TestClient, engine: Engine, settings: Settings, scene_id: int
) -> None:
    seed(engine, settings, scene_id)
    queries = documented_queries()
    assert len(queries) >= 11
    for statement in queries:
        r = sql(console, statement)
        assert r.status_code == 200, (statement, r.text)
        assert r.json()["columns"], statement
    short = sql(console, queries[5]).json()  # whose car boxes are short
    assert short["columns"][0] == "annotator"
    assert short["rows"][0][0] == "ann-a" and short["rows"][0][3] < -0.05
    rework = next(q for q in queries if "AND tr.to_state = 'rejected')" in q)
    edits = sql(console, rework).json()["rows"]
    assert [row[1:4] for row in edits] == [["ann-a", "cuboid", "update"]]  # the rework's one edit
