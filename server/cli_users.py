"""``pointlabel users``: add, list, set-role, disable, enable, password, token.

Passwords and tokens are printed once, never stored in clear and never logged.
A token is printed alone on stdout, so ``TOKEN=$(pointlabel users token NAME)`` works.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from sqlmodel import Session

from server import accounts
from server.errors import ApiError
from server.policy import Role

ROLES = [r.value for r in Role]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``users`` and its subcommands on the top-level subparsers."""
    p = sub.add_parser("users", help="manage accounts: add, list, set-role, disable, token")
    us = p.add_subparsers(dest="users_command", required=True)
    a = us.add_parser("add", help="add a user (prompts for a password, or generates one)")
    a.add_argument("name")
    a.add_argument("--role", required=True, choices=ROLES)
    a.add_argument("--password", help="the password (default: prompt; generated when not a tty)")
    a = us.add_parser("list", help="every user with role and state")
    a.add_argument("--json", action="store_true", help="print one JSON array")
    a = us.add_parser("set-role", help="change a user's role")
    a.add_argument("name")
    a.add_argument("role", choices=ROLES)
    a = us.add_parser("disable", help="disable a user: no login; sessions revoked, tokens refused")
    a.add_argument("name")
    a = us.add_parser("enable", help="re-enable a disabled user")
    a.add_argument("name")
    a = us.add_parser("password", help="set a user's password (revokes their sessions)")
    a.add_argument("name")
    a.add_argument("--password", help="the password (default: prompt; generated when not a tty)")
    a = us.add_parser("token", help="issue an API token for scripts (printed once)")
    a.add_argument("name")
    a.add_argument("--name", dest="label", default="cli", help="what the token is for")


def run(args: argparse.Namespace) -> int:
    """Run one ``users`` subcommand; a refused one prints JSON ``{error, message}``, exit 2."""
    from server.config import get_settings
    from server.db import make_engine

    with Session(make_engine(get_settings().db_url)) as db:
        try:
            return HANDLERS[args.users_command](db, args)
        except ApiError as exc:
            _out(json.dumps({"error": exc.code, "message": exc.message}), err=True)
            return 2


def _add(db: Session, args: argparse.Namespace) -> int:
    password, generated = _password(args.password)
    user = accounts.create_user(db, args.name, args.role, password=password)
    _out(f"added {user.name} ({user.role})")
    if generated:
        _out(f"password (shown once): {password}")
    return 0


def _list(db: Session, args: argparse.Namespace) -> int:
    rows = [
        {
            "id": u.id,
            "name": u.name,
            "role": u.role,
            "disabled": u.disabled,
            "has_password": u.password_hash is not None,
            "created_at": u.created_at.isoformat(),
        }
        for u in accounts.list_users(db)
    ]
    if args.json:
        _out(json.dumps(rows))
        return 0
    for r in rows:
        state = "disabled" if r["disabled"] else ("active" if r["has_password"] else "no password")
        _out(f"{r['name']:<24} {r['role']:<10} {state}")
    return 0


def _set_role(db: Session, args: argparse.Namespace) -> int:
    user = accounts.set_role(db, args.name, args.role)
    _out(f"{user.name} is now {user.role}")
    return 0


def _disable(db: Session, args: argparse.Namespace) -> int:
    accounts.set_disabled(db, args.name, True)
    _out(f"{args.name} is disabled")
    return 0


def _enable(db: Session, args: argparse.Namespace) -> int:
    accounts.set_disabled(db, args.name, False)
    _out(f"{args.name} is enabled")
    return 0


def _set_password(db: Session, args: argparse.Namespace) -> int:
    password, generated = _password(args.password)
    accounts.set_password(db, args.name, password)
    _out(f"password (shown once): {password}" if generated else f"password of {args.name} set")
    return 0


def _token(db: Session, args: argparse.Namespace) -> int:
    token, record = accounts.create_api_token(db, args.name, label=args.label)
    _out(f"API token {record.id} '{record.name}' for {args.name} (shown once):", err=True)
    _out(token)
    return 0


def _password(given: str | None) -> tuple[str, bool]:
    """(password, generated?): the given one, one typed twice at a tty, or a new one."""
    if given is not None:
        return accounts.check_password(given), False
    if sys.stdin.isatty():
        typed = getpass.getpass("password (empty: generate one): ")
        if typed:
            if getpass.getpass("again: ") != typed:
                raise ApiError(422, "password_mismatch", "the two passwords differ")
            return accounts.check_password(typed), False
    return accounts.generate_password(), True


def _out(text: str, *, err: bool = False) -> None:
    (sys.stderr if err else sys.stdout).write(text + "\n")


HANDLERS = {
    "add": _add,
    "list": _list,
    "set-role": _set_role,
    "disable": _disable,
    "enable": _enable,
    "password": _set_password,
    "token": _token,
}
