"""Accounts: argon2 passwords, sessions that expire and can be revoked, API tokens,
disabled users, the login rate limit, and migrating the users that existed before."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server import accounts
from server.config import Settings
from server.db import MIGRATIONS, make_engine
from server.errors import ApiError
from server.login_limit import LoginLimiter
from server.models import utcnow
from server.policy import Role
from tests.pg import database_bytes

PASSWORD = "correct horse battery"


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


def test_password_is_stored_as_argon2id_and_never_in_clear(db: Session, settings: Settings) -> None:
    user = accounts.create_user(db, "ana", "annotator", password=PASSWORD)
    assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    raw = database_bytes(settings)
    assert b"$argon2id$" in raw
    assert PASSWORD.encode() not in raw


def test_session_and_api_tokens_are_stored_only_as_hashes(db: Session, settings: Settings) -> None:
    user = accounts.create_user(db, "ana", "annotator", password=PASSWORD)
    new = accounts.create_session(db, user, settings)
    api_token, _ = accounts.create_api_token(db, "ana", label="nightly")
    raw = database_bytes(settings)
    for secret in (new.token, new.csrf_token, api_token):
        assert secret.encode() not in raw
    assert accounts.token_hash(new.token).encode() in raw
    assert accounts.token_hash(api_token).encode() in raw


def test_authenticate_accepts_only_the_right_password(db: Session) -> None:
    accounts.create_user(db, "ana", "annotator", password=PASSWORD)
    accounts.create_user(db, "nopass", "annotator")
    assert accounts.authenticate(db, "ana", PASSWORD) is not None
    assert accounts.authenticate(db, "ana", PASSWORD + "!") is None
    assert accounts.authenticate(db, "nobody", PASSWORD) is None
    assert accounts.authenticate(db, "nopass", "") is None
    assert accounts.authenticate(db, "../ana", PASSWORD) is None


def test_bad_user_input_is_refused_with_a_code_and_nothing_stored(db: Session) -> None:
    accounts.create_user(db, "ana", "annotator", password=PASSWORD)
    cases = [
        (("ana", "annotator", PASSWORD), "user_exists"),
        (("bob", "boss", PASSWORD), "invalid_role"),
        (("bob", "annotator", "short"), "weak_password"),
        (("bob smith", "annotator", PASSWORD), "invalid_user_name"),
    ]
    for (name, role, password), code in cases:
        with pytest.raises(ApiError) as err:
            accounts.create_user(db, name, role, password=password)
        assert err.value.code == code
    assert [u.name for u in accounts.list_users(db)] == ["ana"]


def test_session_expires_when_idle_and_at_its_absolute_limit(
    db: Session, settings: Settings
) -> None:
    user = accounts.create_user(db, "ana", "annotator", password=PASSWORD)
    t0 = utcnow()
    idle, absolute = settings.session_idle_seconds, settings.session_max_seconds
    idle_one = accounts.create_session(db, user, settings, now=t0)
    just_after_idle = t0 + timedelta(seconds=idle + 1)
    assert accounts.resolve_session(db, idle_one.token, settings, now=just_after_idle) is None

    busy = accounts.create_session(db, user, settings, now=t0)
    t = t0
    while t + timedelta(seconds=idle / 2) < t0 + timedelta(seconds=absolute):
        t += timedelta(seconds=idle / 2)
        assert accounts.resolve_session(db, busy.token, settings, now=t) is not None
    past_absolute = t0 + timedelta(seconds=absolute + 1)
    assert accounts.resolve_session(db, busy.token, settings, now=past_absolute) is None


def test_revoked_session_is_refused(db: Session, settings: Settings) -> None:
    user = accounts.create_user(db, "ana", "annotator", password=PASSWORD)
    new = accounts.create_session(db, user, settings)
    found = accounts.resolve_session(db, new.token, settings)
    assert found is not None and found[0].name == "ana"
    assert accounts.revoke_session(db, new.token)
    assert accounts.resolve_session(db, new.token, settings) is None
    assert accounts.resolve_session(db, "not-a-token", settings) is None


def test_disabled_user_cannot_log_in_and_loses_sessions_and_tokens(
    db: Session, settings: Settings
) -> None:
    user = accounts.create_user(db, "ana", "annotator", password=PASSWORD)
    new = accounts.create_session(db, user, settings)
    api_token, _ = accounts.create_api_token(db, "ana")
    accounts.set_disabled(db, "ana")
    assert accounts.authenticate(db, "ana", PASSWORD) is None
    assert accounts.resolve_session(db, new.token, settings) is None
    assert accounts.resolve_api_token(db, api_token) is None
    accounts.set_disabled(db, "ana", False)
    assert accounts.resolve_api_token(db, api_token) is not None
    assert accounts.resolve_session(db, new.token, settings) is None  # revoked for good


def test_new_password_revokes_open_sessions(db: Session, settings: Settings) -> None:
    user = accounts.create_user(db, "ana", "annotator", password=PASSWORD)
    new = accounts.create_session(db, user, settings)
    accounts.set_password(db, "ana", "another long one")
    assert accounts.resolve_session(db, new.token, settings) is None
    assert accounts.authenticate(db, "ana", "another long one") is not None


def test_role_change_shows_on_the_next_resolve(db: Session, settings: Settings) -> None:
    user = accounts.create_user(db, "ana", "annotator", password=PASSWORD)
    new = accounts.create_session(db, user, settings)
    accounts.set_role(db, "ana", "reviewer")
    found = accounts.resolve_session(db, new.token, settings)
    assert found is not None and found[0].role == "reviewer"


def test_api_token_resolves_until_revoked(db: Session) -> None:
    accounts.create_user(db, "bot", "lead")
    token, record = accounts.create_api_token(db, "bot", label="nightly export")
    assert token.startswith(accounts.API_TOKEN_PREFIX)
    found = accounts.resolve_api_token(db, token)
    assert found is not None and found[0].name == "bot" and found[1].last_used_at is not None
    assert [t.name for t in accounts.list_api_tokens(db, "bot")] == ["nightly export"]
    assert record.id is not None
    accounts.revoke_api_token(db, record.id)
    assert accounts.resolve_api_token(db, token) is None


def test_demo_users_one_per_role_can_log_in(db: Session) -> None:
    accounts.create_demo_users(db)
    creds = accounts.create_demo_users(db)  # idempotent
    assert sorted(c.role for c in creds) == sorted(r.value for r in Role)
    for c in creds:
        user = accounts.authenticate(db, c.name, c.password)
        assert user is not None and user.role == c.role


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_login_limit_per_name_slides_and_clears_on_success() -> None:
    clock = FakeClock()
    limiter = LoginLimiter(max_per_name=3, max_per_ip=100, window=60, clock=clock)
    for i in range(3):
        limiter.check("ana", f"10.0.0.{i}")
        limiter.failure("ana", f"10.0.0.{i}")
        clock.t += 10
    with pytest.raises(ApiError) as err:
        limiter.check("ANA", "10.0.0.9")  # names are case-insensitive
    assert err.value.status == 429 and err.value.code == "too_many_attempts"
    assert err.value.headers == {"Retry-After": "30"}  # the first failure leaves the window
    limiter.check("bob", "10.0.0.9")
    clock.t += 30
    limiter.check("ana", "10.0.0.9")
    limiter.failure("ana", "10.0.0.9")
    with pytest.raises(ApiError):
        limiter.check("ana", "10.0.0.9")
    limiter.success("ana")
    limiter.check("ana", "10.0.0.9")


def test_login_limit_per_ip_spans_names() -> None:
    clock = FakeClock()
    limiter = LoginLimiter(max_per_name=100, max_per_ip=4, window=60, clock=clock)
    for name in ("a1", "a2", "a3", "a4"):
        limiter.failure(name, "10.0.0.1")
    with pytest.raises(ApiError) as err:
        limiter.check("a5", "10.0.0.1")
    assert err.value.code == "too_many_attempts"
    limiter.check("a5", "10.0.0.2")


def test_users_from_before_accounts_keep_their_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with create_engine(url).begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(
            text("INSERT INTO user (name, role, created_at) VALUES ('local', 'annotator', :t)"),
            {"t": utcnow()},
        )
    engine = make_engine(url)  # migrates to head
    with Session(engine) as db:
        local = accounts.get_user(db, "local")
        assert local.id == 1 and not local.disabled and local.password_hash is None
        assert accounts.authenticate(db, "local", "") is None
        accounts.set_password(db, "local", PASSWORD)
        assert accounts.authenticate(db, "local", PASSWORD) is not None
