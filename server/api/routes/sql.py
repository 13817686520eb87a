"""The read-only SQL console for leads: ``POST /api/sql`` (JSON or CSV) and the ``/sql`` page.

The statement runs on a read-only connection of its own (``server/sqlconsole.py``);
docs/schema.md describes the tables and lists example root-cause queries.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from server.api.deps import SessionDep, SettingsDep, needs
from server.api.routes.pages import templates
from server.auth import PUBLIC, CsrfDep, OptionalUser, login_redirect
from server.errors import ApiError
from server.models import User
from server.policy import Permission
from server.sqlconsole import MAX_SQL_CHARS, SqlError, run_query, sqlite_path
from server.text import check_free_text

router = APIRouter(tags=["sql"], dependencies=[CsrfDep])


class Query(BaseModel):
    """One statement; ``max_rows`` is capped by ``POINTLABEL_SQL_MAX_ROWS``."""

    model_config = ConfigDict(extra="forbid", strict=True)
    sql: str = Field(max_length=MAX_SQL_CHARS)
    max_rows: int = Field(default=1000, ge=1, le=1_000_000)
    format: Literal["json", "csv"] = "json"

    @model_validator(mode="after")
    def _text(self) -> Query:
        check_free_text(self.sql, "sql")
        return self


class SqlResult(BaseModel):
    """The rows of one statement (values as SQLite returns them; blobs as ``x'hex'`` text)."""

    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool = Field(description="there were more rows than max_rows")
    max_rows: int


RESULT_CONTENT = {
    "application/json": {"schema": SqlResult.model_json_schema()},
    "text/csv": {"schema": {"type": "string"}},
}


@router.post(
    "/api/sql",
    dependencies=[needs(Permission.query_sql)],
    response_class=Response,
    responses={200: {"content": RESULT_CONTENT, "description": "The rows, as JSON or CSV"}},
)
async def run_sql(query: Query, settings: SettingsDep) -> Response:
    """Run one read-only statement: JSON ``{columns, rows, row_count, truncated, max_rows}``,
    or with ``format: "csv"`` a CSV download."""
    path = sqlite_path(settings.db_url)
    if path is None:
        raise SqlError("sql_unavailable", "the SQL console works on the SQLite database only", 501)
    limit = min(query.max_rows, settings.sql_max_rows)
    result = await run_in_threadpool(
        run_query, path, query.sql, max_rows=limit, timeout_s=settings.sql_timeout_seconds
    )
    if query.format == "csv":
        headers = {"Content-Disposition": 'attachment; filename="query.csv"'}
        return Response(result.to_csv(), media_type="text/csv; charset=utf-8", headers=headers)
    body = SqlResult(columns=result.columns, rows=result.rows, row_count=len(result.rows),
                     truncated=result.truncated, max_rows=limit)  # fmt: skip
    return JSONResponse(body.model_dump())


@router.get("/sql", response_class=HTMLResponse, include_in_schema=False, dependencies=[PUBLIC])
def sql_page(request: Request, session: SessionDep, principal: OptionalUser) -> Response:
    """The console page (anonymous: the login page; without ``query_sql``: 403)."""
    user = None if principal is None else session.get(User, principal.user_id)
    if user is None or principal is None:
        return login_redirect(request)
    if not principal.can(Permission.query_sql):
        raise ApiError(403, "forbidden", "the SQL console is for leads")
    context = {"user": user, "csrf": principal.csrf_token or "", "max_sql": MAX_SQL_CHARS}
    return templates.TemplateResponse(request, "sql.html", context)
