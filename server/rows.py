"""Reading stored rows defensively: no stored row can make a scene unreadable.

Annotation rows are read with their JSON columns as plain text and decoded
here, one row at a time (SQLite stores JSON as text; on PostgreSQL the column
is cast to text in SQL, since psycopg would otherwise decode it itself). A row whose JSON does not decode, or whose fields do
not make a state, is skipped; text that UTF-8 cannot carry (a lone surrogate
stored before the server refused them) is repaired to U+FFFD. Either way the
row is reported as a :class:`RowProblem`, so snapshots, the edit log replay
and ``pointlabel doctor`` can say what they skipped or repaired.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import JSON, Table, Text, cast, select, type_coerce
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from server.text import repair_json

State = dict[str, Any]


@dataclass(frozen=True)
class RowProblem:
    """A stored row that was repaired (``row_repaired``) or skipped (``row_unreadable``)."""

    table: str
    row_id: str
    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"table": self.table, "id": self.row_id, "code": self.code, "message": self.message}


def read_rows(
    conn: Connection,
    table: Table,
    where: ColumnElement[bool],
    to_state: Callable[[Any], State],
    problems: list[RowProblem],
    *,
    order_by: Any = None,
) -> Iterator[tuple[Any, State]]:
    """``(row, state)`` for every row of ``table`` matching ``where`` whose state can
    be built and answered; the others are skipped or repaired and appended to
    ``problems``. ``row`` has the JSON columns decoded."""
    json_cols = {c.name for c in table.columns if isinstance(c.type, JSON)}
    as_text = type_coerce if conn.dialect.name == "sqlite" else cast
    cols = [as_text(c, Text).label(c.name) if c.name in json_cols else c for c in table.columns]
    stmt = select(*cols).where(where)
    if order_by is not None:
        stmt = stmt.order_by(order_by)
    for raw in conn.execute(stmt):
        values = dict(raw._mapping)
        row_id = str(values.get("id"))
        try:
            for name in json_cols:
                text = values[name]
                values[name] = None if text is None else json.loads(text)
            row = SimpleNamespace(**values)
            state = to_state(row)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            message = f"skipped: {type(exc).__name__}"
            problems.append(RowProblem(table.name, row_id, "row_unreadable", message))
            continue
        state, changed = repair_json(state)
        if changed:
            message = "text that is not valid Unicode was replaced by U+FFFD"
            problems.append(RowProblem(table.name, row_id, "row_repaired", message))
        yield row, state
