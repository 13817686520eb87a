"""Signing a test client in through the real session code, without argon2's cost.

The user is created without a password if missing, and a real session row is
made with :func:`server.accounts.create_session`; the client carries its cookie
as a browser would. Password checks have their own tests (test_accounts.py).
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server import accounts
from server.auth import CSRF_HEADER, SESSION_COOKIE
from server.config import Settings
from server.errors import ApiError


def sign_in(
    client: TestClient, engine: Engine, settings: Settings, name: str, role: str = "annotator"
) -> dict[str, str]:
    """Log ``client`` in as ``name`` (created with ``role`` if missing); returns the
    headers a state-changing request needs (``X-CSRF-Token``)."""
    with Session(engine) as db:
        try:
            user = accounts.get_user(db, name)
        except ApiError:
            user = accounts.create_user(db, name, role)
        new = accounts.create_session(db, user, settings)
    client.cookies.set(SESSION_COOKIE, new.token)
    return {CSRF_HEADER: new.csrf_token}
