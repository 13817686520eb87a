"""The point-cloud core is a pure library: it never imports the server or web stack."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = {"server", "fastapi", "starlette", "sqlmodel", "sqlalchemy", "uvicorn", "jinja2"}
CORE = Path(__file__).resolve().parents[1] / "pointcloud"


def test_pointcloud_imports_nothing_from_the_server_or_web_stack() -> None:
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
