"""``pointlabel doctor``: check a data directory and report what is wrong.

For every task: its label set loads (rows that had to be repaired or left out
are reported), the edit log replays to exactly the stored state, and the
task's revision is the log's last one. For every scene: every frame's
hierarchy, points and every tile it references exist (its gzip and, from
hierarchy version 3, brotli copies). Nothing is changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from server.config import Settings
from server.ingest import frame_file
from server.models import Edit, Scene, Task
from server.rows import RowProblem, read_rows
from server.state import KINDS, State, load_scene

EDITS = Edit.__table__  # type: ignore[attr-defined]
SCENES = Scene.__table__  # type: ignore[attr-defined]
TASKS = Task.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a scene: a stable ``code``, where, and what."""

    scene_id: int
    task_id: int | None
    code: str
    where: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"scene": self.scene_id, "task": self.task_id, "code": self.code,
                "where": self.where, "message": self.message}  # fmt: skip


def check(engine: Engine, settings: Settings) -> list[Finding]:
    """Every finding in the data directory, scene by scene (empty: all is well)."""
    findings: list[Finding] = []
    with engine.connect() as conn:
        tasks = conn.execute(select(TASKS.c.id, TASKS.c.scene_id).order_by(TASKS.c.id)).all()
        for task in tasks:
            findings += _check_annotations(conn, task.scene_id, task.id)
        for scene in conn.execute(select(SCENES).order_by(SCENES.c.id)).all():
            findings += _check_tiles(settings, scene)
    return findings


def _check_annotations(conn: Connection, scene_id: int, task_id: int) -> list[Finding]:
    problems: list[RowProblem] = []
    st = load_scene(conn, task_id, problems)
    if st is None:
        return []

    def finding(code: str, where: str, message: str) -> Finding:
        return Finding(scene_id, task_id, code, where, message)

    found = [finding(p.code, f"{p.table} {p.row_id}", p.message) for p in problems]
    replayed: dict[tuple[str, str], State | None] = {}
    last_revision = 0
    log_problems: list[RowProblem] = []
    rows = read_rows(
        conn, EDITS, EDITS.c.task_id == task_id, lambda r: {"after": r.after}, log_problems,
        order_by=EDITS.c.revision,
    )  # fmt: skip
    for row, state in rows:
        replayed[(row.kind, row.object_id)] = state["after"]
        last_revision = row.revision
    found += [finding(p.code, f"edit {p.row_id}", p.message) for p in log_problems]
    if last_revision != st.revision:
        msg = f"the task is at revision {st.revision}, its edit log ends at {last_revision}"
        found.append(finding("revision_mismatch", "task", msg))
    stored = {(k, i): s for k in KINDS for i, s in st.objects[k].items()}
    for key in sorted(set(stored) | {k for k, v in replayed.items() if v is not None}):
        if stored.get(key) != replayed.get(key):
            kind, obj_id = key
            msg = "the stored state differs from the edit log's last state"
            found.append(finding("log_mismatch", f"{kind} {obj_id}", msg))
    return found


def _check_tiles(settings: Settings, scene: Any) -> list[Finding]:
    found = []
    for index in range(scene.frame_count):
        path = frame_file(settings, scene, index, ".json")
        try:
            hierarchy = json.loads(path.read_text())
            digests = [node["tile"] for node in hierarchy["nodes"]]
            # version 3 stores a brotli copy beside the gzip one (docs/tiles.md)
            encodings = ("gzip", "br") if hierarchy.get("version", 2) >= 3 else ("gzip",)
        except (OSError, ValueError, KeyError, TypeError):
            msg = "the frame's hierarchy is missing or unreadable"
            found.append(Finding(scene.id, None, "hierarchy_unreadable", f"frame {index}", msg))
            continue
        store = settings.tile_store
        missing = [f"{d} ({e})" for d in digests for e in encodings if not store.has(d, e)]
        if missing:
            total = len(digests) * len(encodings)
            msg = f"{len(missing)} of {total} tile copies are missing, e.g. {missing[0]}"
            found.append(Finding(scene.id, None, "tile_missing", f"frame {index}", msg))
        if not frame_file(settings, scene, index, ".npy").is_file():
            msg = "the frame's full-resolution points are missing"
            found.append(Finding(scene.id, None, "points_missing", f"frame {index}", msg))
    return found
