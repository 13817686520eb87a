"""The example queries of docs/schema.md run on both engines (those marked SQLite run there)."""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.conftest import REPO_ROOT

DOC = REPO_ROOT / "docs" / "schema.md"


def examples() -> list[tuple[str, str]]:
    """``(the line introducing it, the query)`` for every SQL block of the page."""
    return re.findall(r"([^\n]*)\n```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_every_example_query_of_the_schema_doc_runs(engine: Engine, task_id: int) -> None:
    assert len(examples()) >= 6
    ran = 0
    for intro, query in examples():
        if "(SQLite" in intro and engine.dialect.name != "sqlite":
            continue
        with engine.connect() as conn:
            conn.execute(text(query.replace("task_id = 1", f"task_id = {task_id}"))).all()
        ran += 1
    assert ran >= 5
