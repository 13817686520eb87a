"""Long operations report their progress stage by stage."""

from __future__ import annotations

import io
from pathlib import Path

from sqlalchemy.engine import Engine

from pointcloud.synth import generate_sequence
from server.config import Settings
from server.ingest import ingest
from server.interchange import export_scene
from server.progress import terminal_bar


def test_ingest_and_export_report_every_frame(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    seq = generate_sequence(tmp_path / "seq", frames=3, azimuth_steps=200)
    heard: list[tuple[str, int, int]] = []
    scene = ingest(engine, settings, seq, progress=lambda *a: heard.append(a)).scene_id
    assert heard == [("frames", 1, 3), ("frames", 2, 3), ("frames", 3, 3)]
    heard.clear()
    export_scene(engine, settings, scene, "openlabel", tmp_path / "out",
                 progress=lambda *a: heard.append(a))  # fmt: skip
    assert heard[-1] == ("points", 3, 3) and len(heard) == 3


def test_terminal_bar_draws_only_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    terminal_bar(tty, width=10)("frames", 5, 10)
    terminal_bar(pipe, width=10)("frames", 5, 10)
    assert tty.getvalue() == "\rframes     [#####.....] 5/10" and pipe.getvalue() == ""
