"""e2e fixtures: Debian Chromium, and a real server on a free port over a temp data dir."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from server.launch import free_port, start_server

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared" / "data").resolve()
ARTIFACTS = REPO / "test-results"
E2E_USER = "e2e"
"""Who the e2e browser acts as: a lead (sees every scene; edits the tasks given to them)."""
E2E_PASSWORD = "e2e-password-long-enough"


# Waits for the server (saves, fits) get 15 s: a loaded 2-core machine is slow, never wrong.
expect.set_options(timeout=15_000)


# Waits for the server (saves, fits) get 15 s: a loaded 2-core machine is slow, never wrong.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    return {
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(server: Server) -> dict[str, Any]:
    """Every page starts logged in as :data:`E2E_USER` (a real session cookie)."""
    return {"viewport": {"width": 1280, "height": 760},
            "storage_state": {"cookies": [server.session_cookie(E2E_USER, E2E_PASSWORD)]}}  # fmt: skip


@dataclass
class Server:
    """A `pointlabel serve` process; restart() keeps the data directory."""

    data_dir: Path
    port: int = 0
    token: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {**os.environ, "POINTLABEL_DATA_DIR": str(self.data_dir)}

    def cli(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "server.cli", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        return out.stdout

    def api(self, method: str, path: str, body: Any = None, *, token: str = "") -> Any:
        """A JSON request to the server's API as a script (an API token; default: the e2e
        user's); raises on an error status."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Content-Type": "application/json",
                     "Authorization": f"Bearer {token or self.token}"},
        )  # fmt: skip
        with urllib.request.urlopen(req) as r:
            return json.load(r)

    def add_user(self, name: str, role: str, password: str) -> str:
        """A user made with the CLI, as an admin would; returns an API token of theirs."""
        self.cli("users", "add", name, "--role", role, "--password", password)
        return self.cli("users", "token", name).strip().splitlines()[-1]

    def session_cookie(self, name: str, password: str) -> dict[str, Any]:
        """Log in through ``POST /login`` and return the session cookie, for Playwright."""
        body = json.dumps({"name": name, "password": password}).encode()
        req = urllib.request.Request(
            self.url + "/login", data=body, method="POST",
            headers={"Content-Type": "application/json", "Origin": self.url},
        )  # fmt: skip
        with urllib.request.urlopen(req) as r:
            cookie = r.headers["Set-Cookie"].split(";")[0]
        key, _, value = cookie.partition("=")
        return {"name": key, "value": value, "domain": "127.0.0.1", "path": "/",
                "httpOnly": True, "sameSite": "Lax"}  # fmt: skip

    def ingest_task(self, path: Path, name: str) -> int:
        """Ingest ``path`` as a new scene and return its task, assigned to the e2e user and
        started, so that the workspace can edit it."""
        task_id = int(
            json.loads(self.cli("ingest", str(path), "--name", name, "--json"))["task_id"]
        )
        self.start_task(task_id)
        return task_id

    def start_task(self, task_id: int) -> None:
        self.api("POST", f"/api/tasks/{task_id}/assign", {"assignee": E2E_USER})
        self.api("POST", f"/api/tasks/{task_id}/start")

    def start(self) -> None:
        self.port = self.port or free_port()
        self.proc = start_server(self.data_dir, self.port, quiet=False, timeout=120)

    def stop(self) -> None:
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with a generated 3-frame sequence ingested as scene and task 1, and the
    real KITTI frame, autzen LAZ and SUSTech sequence as 2, 3 and 4 when ../shared/data
    exists; every task in progress for the e2e user."""
    srv = Server(tmp_path_factory.mktemp("pointlabel-e2e"))
    seq = srv.data_dir / "sequence"
    srv.cli("synth", str(seq), "--frames", "3")
    srv.start()
    srv.token = srv.add_user(E2E_USER, "lead", E2E_PASSWORD)
    srv.ingest_task(seq, "generated")
    if SHARED.is_dir():
        srv.ingest_task(SHARED / "kitti/velodyne/000000.bin", "000000.bin")
        srv.ingest_task(SHARED / "las/autzen_trim.laz", "autzen_trim.laz")
        srv.ingest_task(SHARED / "sustech/lidar", "sustech")
    yield srv
    srv.stop()


DOC_IMAGES = REPO / "docs" / "images"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-images",
        action="store_true",
        help="also write the README's and docs' screenshots (docs/images/*.png), on purpose",
    )


@pytest.fixture
def doc_image(request: pytest.FixtureRequest) -> Callable[[Page | Locator, str], None]:
    """Save a screenshot of a page or an element as `name`: into the ignored
    test-results/ always, and over docs/images/`name` only with --update-images
    (`make images`), so a normal run never rewrites a tracked file."""
    update = bool(request.config.getoption("--update-images"))

    def save(target: Page | Locator, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        target.screenshot(path=str(ARTIFACTS / name))
        if update:
            shutil.copyfile(ARTIFACTS / name, DOC_IMAGES / name)

    return save


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep a screenshot of the page when a test fails."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    page = getattr(item, "funcargs", {}).get("page")
    if report.when == "call" and report.failed and page is not None:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{item.name}.png"))


@pytest.fixture
def scene(server: Server) -> int:
    """A fresh task on a fresh scene (the generated 3-frame sequence ingested again),
    in progress for the e2e user: its id, as the workspace URL takes it."""
    return server.ingest_task(server.data_dir / "sequence", "fresh")


@pytest.fixture
def ground_truth(server: Server) -> dict[str, Any]:
    """The generated sequence's ground-truth tracks and tags (docs/demo-data.md)."""
    return dict(json.loads((server.data_dir / "sequence" / "ground_truth.json").read_text()))


LONG_FRAMES = 16


@pytest.fixture(scope="session")
def long_sequence(server: Server) -> Path:
    """A generated 16-frame sequence (the cut-in starts at frame 12), written once."""
    seq = server.data_dir / "sequence16"
    if not seq.is_dir():
        server.cli("synth", str(seq), "--frames", str(LONG_FRAMES))
    return seq


@pytest.fixture
def long_scene(server: Server, long_sequence: Path) -> int:
    """A fresh task on a fresh scene of the generated 16-frame sequence for one test."""
    return server.ingest_task(long_sequence, "sequence")


@pytest.fixture
def long_ground_truth(long_sequence: Path) -> dict[str, Any]:
    """The 16-frame sequence's ground-truth tracks and tags (docs/demo-data.md)."""
    return dict(json.loads((long_sequence / "ground_truth.json").read_text()))
