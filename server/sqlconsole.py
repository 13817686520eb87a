"""The read-only SQL console: run one SELECT over the SQLite database, safely.

Whatever SQL is typed, it cannot write, attach another file, change a PRAGMA or
read a file. Layers, each enough on its own for writes:

1. The database file is opened read-only (``file:...?mode=ro`` URI), on a
   connection of its own, with ``PRAGMA query_only=ON``.
2. An authorizer (``sqlite3.Connection.set_authorizer``) allows only reading:
   SELECT, column reads, recursive CTEs, functions other than
   :data:`DENIED_FUNCTIONS`, and the read-only schema PRAGMAs of
   :data:`SCHEMA_PRAGMAS`. Everything else (INSERT, UPDATE, DELETE, CREATE,
   DROP, ALTER, ATTACH, DETACH, BEGIN, SAVEPOINT, ANALYZE, other PRAGMAs) is
   denied at prepare time, before it runs.
3. Limits: no attached databases at all, values of at most
   :data:`MAX_VALUE_BYTES`, results of at most :data:`MAX_RESULT_BYTES` of
   text, SQL text of at most :data:`MAX_SQL_CHARS`.
4. A statement timeout (a progress handler interrupts the statement) and a
   row limit.

Secret columns (password and token hashes, :data:`SECRET_COLUMNS`) read as NULL.
Errors are :class:`SqlError` with a stable ``code`` (docs/schema.md lists them).
"""

from __future__ import annotations

import csv
import io
import math
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.errors import ApiError

MAX_SQL_CHARS = 20_000
MAX_VALUE_BYTES = 1_000_000
"""Largest string or blob a query may build (``randomblob(1e9)`` is refused)."""
MAX_RESULT_BYTES = 32_000_000
"""Largest total of the strings and blobs in one result (the row limit alone allows far more)."""
PROGRESS_STEPS = 10_000
"""Virtual-machine instructions between two timeout checks."""
SCHEMA_PRAGMAS = frozenset(
    {"table_info", "table_xinfo", "index_list", "index_info", "index_xinfo", "foreign_key_list"}
)
"""PRAGMAs that only describe the schema; every other PRAGMA is refused."""
DENIED_FUNCTIONS = frozenset(
    {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer", "zipfile",
     "sqlar_compress", "sqlar_uncompress", "lsmode"}
)  # fmt: skip
"""Functions that load code or touch files (most are not even registered in Python's sqlite3)."""
SECRET_COLUMNS = frozenset(
    {("user", "password_hash"), ("authsession", "token_hash"), ("apitoken", "token_hash")}
)
"""(table, column) pairs that read as NULL."""

_READS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE}
_NAMES = {
    sqlite3.SQLITE_INSERT: "INSERT", sqlite3.SQLITE_UPDATE: "UPDATE",
    sqlite3.SQLITE_DELETE: "DELETE", sqlite3.SQLITE_TRANSACTION: "a transaction",
    sqlite3.SQLITE_SAVEPOINT: "SAVEPOINT", sqlite3.SQLITE_ANALYZE: "ANALYZE",
    sqlite3.SQLITE_REINDEX: "REINDEX", sqlite3.SQLITE_ALTER_TABLE: "ALTER TABLE",
}  # fmt: skip


class SqlError(ApiError):
    """A statement the console refuses or that failed; ``code`` says which (docs/schema.md)."""

    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(status, code, message)


@dataclass(frozen=True)
class QueryResult:
    """Column names, rows (JSON-able values) and whether the row limit cut the result."""

    columns: list[str]
    rows: list[list[Any]]
    truncated: bool

    def to_csv(self) -> str:
        """The result as CSV text with a header row."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return out.getvalue()


class _Guard:
    """The authorizer: allows reads, remembers the first refusal for the error message."""

    def __init__(self) -> None:
        self.refusal: SqlError | None = None

    def __call__(self, action: int, arg1: str | None, arg2: str | None, *_: Any) -> int:
        if action in _READS:
            if (
                action == sqlite3.SQLITE_READ
                and ((arg1 or "").lower(), (arg2 or "").lower()) in SECRET_COLUMNS
            ):
                return sqlite3.SQLITE_IGNORE  # the column reads as NULL
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() not in DENIED_FUNCTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in SCHEMA_PRAGMAS:
            return sqlite3.SQLITE_OK
        self.refusal = self.refusal or _refusal(action, arg1, arg2)
        return sqlite3.SQLITE_DENY


def _refusal(action: int, arg1: str | None, arg2: str | None) -> SqlError:
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return SqlError("sql_attach_refused", "ATTACH, DETACH and VACUUM (which attaches its "
                        "target) are not allowed: the console reads this database only", 403)  # fmt: skip
    if action == sqlite3.SQLITE_PRAGMA:
        return SqlError("sql_pragma_refused", f"PRAGMA {arg1} is not allowed: only "
                        f"{', '.join(sorted(SCHEMA_PRAGMAS))} may run here", 403)  # fmt: skip
    if action == sqlite3.SQLITE_FUNCTION:
        return SqlError("sql_function_refused", f"the function {arg2}() is not allowed", 403)
    what = _NAMES.get(action, "changing the database")
    return SqlError("sql_write_refused", f"{what} is not allowed: the console is read-only", 403)


def _connect(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise SqlError("sql_unavailable", "the database file does not exist yet", 503)
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    conn.execute("PRAGMA query_only=ON")
    conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_CHARS * 4)
    return conn


def _cell(value: Any) -> Any:
    """A JSON-able cell: blobs as hex text, infinite floats as text."""
    if isinstance(value, bytes):
        return "x'" + value.hex() + "'"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def run_query(path: Path, sql: str, *, max_rows: int, timeout_s: float) -> QueryResult:
    """Run one read-only statement on the SQLite file ``path``.

    Returns at most ``max_rows`` rows (``truncated`` says whether there were
    more); the statement is interrupted after ``timeout_s`` seconds (executing
    and fetching together). Raises :class:`SqlError`.
    """
    if not sql.strip():
        raise SqlError("sql_empty", "type a SELECT statement")
    if len(sql) > MAX_SQL_CHARS:
        raise SqlError("sql_too_long", f"a statement may have at most {MAX_SQL_CHARS} characters")
    conn = _connect(path)
    guard = _Guard()
    deadline = time.monotonic() + timeout_s
    conn.set_authorizer(guard)
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), PROGRESS_STEPS)
    try:
        cursor = conn.execute(sql)
        rows = _fetch(cursor, max_rows + 1)
        columns = [d[0] for d in cursor.description or ()]
    except (sqlite3.Error, sqlite3.Warning) as exc:
        raise _failure(exc, guard, timeout_s, deadline) from None
    finally:
        conn.close()
    cells = [[_cell(v) for v in row] for row in rows[:max_rows]]
    return QueryResult(columns, cells, len(rows) > max_rows)


def _fetch(cursor: sqlite3.Cursor, limit: int) -> list[Any]:
    """Up to ``limit`` rows, refusing a result whose text and blobs pass MAX_RESULT_BYTES."""
    rows, size = [], 0
    for row in cursor:
        size += sum(len(v) for v in row if isinstance(v, str | bytes))
        if size > MAX_RESULT_BYTES:
            raise SqlError("sql_too_big", f"the result holds more than {MAX_RESULT_BYTES:,} "
                           "bytes of text: select fewer rows or columns")  # fmt: skip
        rows.append(row)
        if len(rows) == limit:
            break
    return rows


def _failure(exc: Exception, guard: _Guard, timeout_s: float, deadline: float) -> SqlError:
    if guard.refusal is not None:
        return guard.refusal
    text = str(exc)
    if "one statement at a time" in text:
        return SqlError("sql_multiple_statements", "run one statement at a time")
    if "interrupted" in text and time.monotonic() > deadline:
        return SqlError(
            "sql_timeout", f"the statement ran longer than {timeout_s:g} s and was stopped"
        )
    if "readonly" in text or "read-only" in text:
        return SqlError("sql_write_refused", "the console is read-only", 403)
    if "too big" in text:
        return SqlError("sql_too_big", f"a value may have at most {MAX_VALUE_BYTES:,} bytes")
    return SqlError("sql_error", text)


def sqlite_path(db_url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL, None for another database."""
    prefix = "sqlite:///"
    if not db_url.startswith(prefix) or db_url == prefix or ":memory:" in db_url:
        return None
    return Path(db_url.removeprefix(prefix).split("?", 1)[0])
