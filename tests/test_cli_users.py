"""``pointlabel users``: add, list, set-role, disable/enable, password, token."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from server import accounts
from server.cli import main
from server.config import get_settings
from server.db import make_engine


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("POINTLABEL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: no prompts
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def db() -> Session:
    return Session(make_engine(get_settings().db_url))


def test_add_list_set_role_disable_enable(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "add", "ana", "--role", "annotator", "--password", "long enough"]) == 0
    assert "added ana (annotator)" in capsys.readouterr().out
    assert main(["users", "set-role", "ana", "reviewer"]) == 0
    assert main(["users", "disable", "ana"]) == 0
    capsys.readouterr()
    assert main(["users", "list", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["name"] == "ana" and row["role"] == "reviewer" and row["disabled"] is True
    assert row["has_password"] is True and "password_hash" not in row
    with db() as s:
        assert accounts.authenticate(s, "ana", "long enough") is None
    assert main(["users", "enable", "ana"]) == 0
    with db() as s:
        assert accounts.authenticate(s, "ana", "long enough") is not None


def test_add_without_a_password_generates_one_and_prints_it_once(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "add", "rev", "--role", "reviewer"]) == 0
    out = capsys.readouterr().out
    password = out.split("password (shown once): ")[1].strip()
    with db() as s:
        user = accounts.authenticate(s, "rev", password)
    assert user is not None and user.role == "reviewer"
    main(["users", "list"])
    assert password not in capsys.readouterr().out


def test_password_sets_a_new_one(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["users", "add", "ana", "--role", "annotator", "--password", "first password"])
    assert main(["users", "password", "ana", "--password", "second password"]) == 0
    with db() as s:
        assert accounts.authenticate(s, "ana", "first password") is None
        assert accounts.authenticate(s, "ana", "second password") is not None


def test_token_is_printed_alone_once_and_resolves(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["users", "add", "bot", "--role", "lead", "--password", "long enough"])
    capsys.readouterr()
    assert main(["users", "token", "bot", "--name", "nightly export"]) == 0
    captured = capsys.readouterr()
    token = captured.out.strip()
    assert "\n" not in token and "nightly export" in captured.err
    with db() as s:
        found = accounts.resolve_api_token(s, token)
    assert found is not None and found[0].name == "bot" and found[1].name == "nightly export"


def test_refusals_are_json_with_a_code_and_exit_2(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["users", "add", "ana", "--role", "annotator", "--password", "long enough"])
    capsys.readouterr()
    cases = [
        (["users", "add", "ana", "--role", "lead", "--password", "long enough"], "user_exists"),
        (["users", "add", "bob", "--role", "lead", "--password", "short"], "weak_password"),
        (["users", "set-role", "nobody", "lead"], "user_not_found"),
        (["users", "token", "nobody"], "user_not_found"),
    ]
    for argv, code in cases:
        assert main(argv) == 2
        assert json.loads(capsys.readouterr().err)["error"] == code
    with pytest.raises(SystemExit):
        main(["users", "add", "bob", "--role", "boss"])
    with db() as s:
        assert [u.name for u in accounts.list_users(s)] == ["ana"]
