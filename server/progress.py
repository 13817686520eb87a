"""Progress reporting for long CLI operations (ingest, import, export).

Operations take an optional ``progress(stage, done, total)`` callback;
:func:`terminal_bar` draws it on standard error when that is a terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

Progress = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    """The default: report nothing."""


def terminal_bar(stream: TextIO = sys.stderr, width: int = 30) -> Progress:
    """A callback drawing ``stage [#####.....] done/total`` in place (nothing if not a tty)."""
    if not stream.isatty():
        return no_progress

    def draw(stage: str, done: int, total: int) -> None:
        filled = width * done // max(total, 1)
        stream.write(f"\r{stage:<10} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return draw
