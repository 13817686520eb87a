"""schemathesis against a live server: every route of /openapi.json gets generated
requests (examples, boundary cases and fuzzing; valid and invalid), and no answer
may be a 5xx, carry an undocumented content type or break its response schema."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from server.config import Settings
from server.db import make_engine
from server.ingest import ingest
from server.launch import free_port, start_server
from server.tasks import worker_token

MAX_EXAMPLES = 30
"""Per operation and phase; bounded so the run stays near a minute or two."""
CHECKS = "not_a_server_error,content_type_conformance,response_schema_conformance"


def test_no_route_answers_a_server_error_or_outside_its_schema(
    tmp_path: Path, small_cloud_file: Path
) -> None:
    data_dir = tmp_path / "live"
    cfg = Settings(data_dir=data_dir)
    engine = make_engine(cfg.db_url)
    result = ingest(engine, cfg, small_cloud_file)
    token = worker_token(engine, "fuzzer", "admin")  # every route reachable
    # A real scene id in every path, so requests reach the handlers (other ids: 404,
    # covered in test_hardening.py).
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f'headers = {{ Authorization = "Bearer {token}" }}\n'
        f"[parameters]\nscene_id = {result.scene_id}\ntask_id = {result.task_id}\n"
    )
    port = free_port()
    proc = start_server(data_dir, port)
    try:
        run = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "--config-file", str(config), "run",
                f"http://127.0.0.1:{port}/openapi.json",
                "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES),
                "--phases", "examples,coverage,fuzzing", "--seed", "10",
                "--request-timeout", "30", "--no-color",
                "--generation-allow-x00", "true",
            ],
            capture_output=True, text=True, timeout=900, cwd=tmp_path,
            env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
        )  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    tested = re.search(r"Tested: (\d+)", run.stdout)
    assert tested and int(tested.group(1)) >= 10, run.stdout[-3000:]
