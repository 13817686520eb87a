"""Accounts: users and passwords, browser sessions, API tokens.

Passwords are hashed with argon2id through pwdlib. Session and API tokens are
random (256 bits, :mod:`secrets`); the database keeps only their SHA-256, so
a copy of the database file lets nobody log in. A session's CSRF token is an
HMAC of its cookie token, so it is not stored either. Nothing here logs a
password or a token. Rules are in ``docs/security.md``.

Every function takes an open :class:`sqlmodel.Session` and commits its own
change, so a failure stores nothing. ``now`` parameters (UTC) exist for tests.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select, update

from server.config import Settings
from server.errors import ApiError
from server.models import ApiToken, AuthSession, User, utcnow
from server.policy import Role

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD, MAX_PASSWORD = 8, 1024
API_TOKEN_PREFIX = "plt_"
TOUCH_EVERY = timedelta(seconds=60)
"""``last_seen_at`` / ``last_used_at`` are written at most this often per session or token."""

_hasher = PasswordHash((Argon2Hasher(),))


@dataclass(frozen=True)
class NewSession:
    """A session just created: the cookie token and its CSRF token (shown once), and
    its user's id, name and role."""

    token: str
    csrf_token: str
    expires_at: datetime
    user_id: int
    name: str
    role: str
    session_id: int


@dataclass(frozen=True)
class Credential:
    """A demo user's name, role and password."""

    name: str
    role: str
    password: str


def token_hash(token: str) -> str:
    """SHA-256 hex of a session or API token: what the database stores."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token_for(session_token: str) -> str:
    """The CSRF token of the session whose cookie holds ``session_token``."""
    return hmac.new(session_token.encode(), b"pointlabel csrf v1", hashlib.sha256).hexdigest()


def generate_password() -> str:
    """A random 16-character password (96 bits)."""
    return secrets.token_urlsafe(12)


# Users and passwords ------------------------------------------------------------------


def check_name(name: str) -> str:
    """``name`` if it is a valid user name (1-64 of letters, digits, ``._@-``), else 422."""
    if not NAME_PATTERN.fullmatch(name):
        raise ApiError(
            422,
            "invalid_user_name",
            "1-64 letters, digits or ._@- (starting with one of the first)",
        )
    return name


def check_role(role: str) -> Role:
    """``role`` as a :class:`Role`, or 422 ``invalid_role``."""
    try:
        return Role(role)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise ApiError(422, "invalid_role", f"the role must be one of {names}") from None


def check_password(password: str) -> str:
    """``password`` if it is 8-1024 characters long, else 422 ``weak_password``."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ApiError(
            422, "weak_password", f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters"
        )
    return password


def create_user(session: Session, name: str, role: str, *, password: str | None = None) -> User:
    """A new user; 409 ``user_exists`` when the name is taken. No password: cannot log in."""
    check_name(name)
    check_role(role)
    if password is not None:
        check_password(password)
    if _find(session, name) is not None:
        raise ApiError(409, "user_exists", f"a user called {name!r} exists")
    user = User(name=name, role=role)
    user.password_hash = None if password is None else _hasher.hash(password)
    session.add(user)
    try:
        session.commit()
    except IntegrityError:  # created meanwhile by another request
        session.rollback()
        raise ApiError(409, "user_exists", f"a user called {name!r} exists") from None
    session.refresh(user)
    return user


def get_user(session: Session, name: str) -> User:
    """The user called ``name``, or 404 ``user_not_found``."""
    user = _find(session, name)
    if user is None:
        raise ApiError(404, "user_not_found", f"no user called {name!r}")
    return user


def list_users(session: Session) -> list[User]:
    """Every user, by name."""
    return list(session.exec(select(User).order_by(col(User.name))).all())


def set_password(session: Session, name: str, password: str) -> User:
    """Replace a user's password. Their open sessions are revoked."""
    user = get_user(session, name)
    user.password_hash = _hasher.hash(check_password(password))
    session.add(user)
    _revoke_sessions(session, user)
    session.commit()
    return user


def set_role(session: Session, name: str, role: str) -> User:
    """Change a user's role; it applies from their next request."""
    user = get_user(session, name)
    user.role = check_role(role).value
    session.add(user)
    session.commit()
    return user


def set_disabled(session: Session, name: str, disabled: bool = True) -> User:
    """Disable (or re-enable) a user. Disabling revokes their sessions; their API
    tokens are refused while they are disabled."""
    user = get_user(session, name)
    user.disabled = disabled
    session.add(user)
    if disabled:
        _revoke_sessions(session, user)
    session.commit()
    return user


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The user if ``password`` is theirs and they may log in, else None.

    An unknown name costs one hash verification too, so response time does not
    tell which names exist. An outdated hash is upgraded on success.
    """
    user = _find(session, name) if NAME_PATTERN.fullmatch(name) else None
    if user is None or user.password_hash is None:
        _hasher.verify(password, _dummy_hash())
        return None
    ok, new_hash = _hasher.verify_and_update(password, user.password_hash)
    if not ok or user.disabled:
        return None
    if new_hash is not None:
        user.password_hash = new_hash
        session.add(user)
        session.commit()
    return user


def create_demo_users(session: Session) -> list[Credential]:
    """One user per role, named after it, with the password ``demo-<role>``.

    For ``pointlabel demo`` only. Existing demo users get their role and
    password back and are re-enabled. Returns the credentials to print.
    """
    out = []
    for role in Role:
        cred = Credential(name=role.value, role=role.value, password=f"demo-{role.value}")
        user = _find(session, cred.name) or create_user(session, cred.name, cred.role)
        user.role, user.disabled = cred.role, False
        user.password_hash = _hasher.hash(cred.password)
        session.add(user)
        session.commit()
        out.append(cred)
    return out


# Sessions -----------------------------------------------------------------------------


def create_session(
    session: Session, user: User, settings: Settings, *, now: datetime | None = None
) -> NewSession:
    """A new browser session for ``user``; the token goes in the cookie only."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    assert user.id is not None
    record = AuthSession(
        token_hash=token_hash(token),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=settings.session_max_seconds),
    )
    user_id, name, role = user.id, user.name, user.role
    session.add(record)
    session.commit()
    assert record.id is not None
    return NewSession(
        token, csrf_token_for(token), record.expires_at, user_id, name, role, record.id
    )


def resolve_session(
    session: Session, token: str, settings: Settings, *, now: datetime | None = None
) -> tuple[User, AuthSession] | None:
    """The user and session behind a cookie token, or None when the session is
    unknown, revoked, past its absolute expiry, idle too long, or its user is
    disabled. Marks the session as seen (at most once a minute)."""
    now = now or utcnow()
    record = session.exec(
        select(AuthSession).where(AuthSession.token_hash == token_hash(token))
    ).first()
    user = _live_session_user(session, record, settings, now)
    if user is None or record is None:
        return None
    if now - _aware(record.last_seen_at) >= TOUCH_EVERY:
        record.last_seen_at = now
        session.add(record)
        session.commit()
        session.refresh(user)
        session.refresh(record)
    return user, record


def reload_session(
    session: Session, session_id: int, settings: Settings, *, now: datetime | None = None
) -> User | None:
    """The user of session ``session_id`` if it is still live (as :func:`resolve_session`
    decides, without marking it seen), else None. For re-checking open websockets."""
    record = session.get(AuthSession, session_id)
    return _live_session_user(session, record, settings, now or utcnow())


def _live_session_user(
    session: Session, record: AuthSession | None, settings: Settings, now: datetime
) -> User | None:
    if record is None or record.revoked_at is not None:
        return None
    idle_limit = _aware(record.last_seen_at) + timedelta(seconds=settings.session_idle_seconds)
    if now >= _aware(record.expires_at) or now >= idle_limit:
        return None
    user = session.get(User, record.user_id)
    return None if user is None or user.disabled else user


def revoke_session(session: Session, token: str, *, now: datetime | None = None) -> bool:
    """Revoke the session behind a cookie token; False when there was none to revoke."""
    record = session.exec(
        select(AuthSession).where(AuthSession.token_hash == token_hash(token))
    ).first()
    if record is None or record.revoked_at is not None:
        return False
    record.revoked_at = now or utcnow()
    session.add(record)
    session.commit()
    return True


def _revoke_sessions(session: Session, user: User) -> None:
    """Revoke every open session of ``user`` (the caller commits)."""
    session.exec(
        update(AuthSession)
        .where(col(AuthSession.user_id) == user.id, col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )


# API tokens ---------------------------------------------------------------------------


def create_api_token(session: Session, name: str, *, label: str = "api") -> tuple[str, ApiToken]:
    """A new API token for the user called ``name``: (the token, shown once; its row)."""
    user = get_user(session, name)
    if not 1 <= len(label) <= 100:
        raise ApiError(422, "invalid_token_name", "a token name has 1 to 100 characters")
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    assert user.id is not None
    record = ApiToken(token_hash=token_hash(token), user_id=user.id, name=label)
    session.add(record)
    session.commit()
    session.refresh(record)
    return token, record


def resolve_api_token(
    session: Session, token: str, *, now: datetime | None = None
) -> tuple[User, ApiToken] | None:
    """The user and row behind an API token, or None when it is unknown, revoked,
    or its user is disabled. Marks it as used (at most once a minute)."""
    now = now or utcnow()
    record = session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash(token))).first()
    if record is None or record.revoked_at is not None:
        return None
    user = session.get(User, record.user_id)
    if user is None or user.disabled:
        return None
    if record.last_used_at is None or now - _aware(record.last_used_at) >= TOUCH_EVERY:
        record.last_used_at = now
        session.add(record)
        session.commit()
        session.refresh(user)
        session.refresh(record)
    return user, record


def reload_api_token(session: Session, token_id: int) -> User | None:
    """The user of API token ``token_id`` if it is not revoked and they are not
    disabled, else None. For re-checking open websockets."""
    record = session.get(ApiToken, token_id)
    if record is None or record.revoked_at is not None:
        return None
    user = session.get(User, record.user_id)
    return None if user is None or user.disabled else user


def list_api_tokens(session: Session, name: str) -> list[ApiToken]:
    """The API tokens of the user called ``name`` (rows only; tokens are not kept)."""
    user = get_user(session, name)
    return list(session.exec(select(ApiToken).where(ApiToken.user_id == user.id)).all())


def revoke_api_token(session: Session, token_id: int) -> ApiToken:
    """Revoke the API token with row id ``token_id``; 404 ``token_not_found``."""
    record = session.get(ApiToken, token_id)
    if record is None:
        raise ApiError(404, "token_not_found", f"no API token {token_id}")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        session.add(record)
        session.commit()
    return record


# Helpers ------------------------------------------------------------------------------


def _find(session: Session, name: str) -> User | None:
    return session.exec(select(User).where(User.name == name)).first()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def _aware(t: datetime) -> datetime:
    """``t`` as an aware UTC datetime (SQLite may hand back naive ones)."""
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
