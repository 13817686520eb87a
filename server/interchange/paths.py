"""Files of an import folder, opened without ever leaving it.

Every reader opens its files through an :class:`ImportFolder`: a path is
taken relative to the folder, resolved (following symlinks) and refused with
``import_path_escapes`` when it ends up outside the folder, before anything is
read. :meth:`ImportFolder.check_tree` does the same for every symlink in the
folder (files and subfolders) before the points are ingested. Messages name
files relative to the folder (``calib/000000.txt``), never by absolute path,
and never quote the content of a refused file.
"""

from __future__ import annotations

import os
from pathlib import Path

from server.interchange.model import InterchangeError


class PathEscapesError(InterchangeError):
    """A file or folder of an import resolves (through a symlink) outside the import folder."""

    code = "import_path_escapes"


class MissingFileError(InterchangeError):
    """A file or folder the format needs is not in the import folder."""

    code = "import_file_not_found"


class MalformedImportError(InterchangeError):
    """A file that parses but does not hold what its format prescribes (a missing key, a
    wrong type); the message names the problem, never the file's content."""

    code = "malformed_import"


class ImportFolder:
    """An import folder. ``named`` is the file the user named inside it, if any."""

    def __init__(self, root: Path, named: str | None = None) -> None:
        self.root = Path(root).resolve()
        self.named = named

    def rel(self, path: str | Path) -> str:
        """``path`` as a POSIX path relative to the folder (``.`` for the folder itself)."""
        p = Path(path)
        if p.is_absolute():
            try:
                p = p.relative_to(self.root)
            except ValueError:
                return p.name
        return p.as_posix() if str(p) else "."

    def path(self, rel: str | Path) -> Path:
        """``rel`` under the folder; :class:`PathEscapesError` when it resolves outside."""
        candidate = self.root / rel
        if not candidate.resolve().is_relative_to(self.root):
            raise PathEscapesError(f"{self.rel(candidate)} leads outside the import folder")
        return candidate

    def is_file(self, rel: str | Path) -> bool:
        return self.path(rel).is_file()

    def is_dir(self, rel: str | Path) -> bool:
        return self.path(rel).is_dir()

    def read_text(self, rel: str | Path) -> str:
        """The UTF-8 text of ``rel``; unreadable files are an :class:`InterchangeError`."""
        try:
            return self.path(rel).read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InterchangeError(f"{self.rel(rel)}: not UTF-8 text") from exc
        except OSError as exc:
            raise InterchangeError(f"{self.rel(rel)}: cannot read ({exc.strerror})") from exc

    def files(self, rel: str | Path, pattern: str) -> list[Path]:
        """The files matching ``pattern`` in the subfolder ``rel``, sorted by name (each checked)."""
        folder = self.path(rel)
        if not folder.is_dir():
            return []
        return [self.path(p.relative_to(self.root)) for p in sorted(folder.glob(pattern))]

    def check_tree(self) -> None:
        """Refuse the folder when any symlink in it (file or folder) resolves outside it."""
        for top, dirs, files in os.walk(self.root, followlinks=False):
            for name in [*dirs, *files]:
                entry = Path(top) / name
                if entry.is_symlink():
                    self.path(entry.relative_to(self.root))

    def scrub(self, message: str) -> str:
        """``message`` with the folder's absolute path replaced by relative names."""
        return message.replace(f"{self.root}{os.sep}", "").replace(str(self.root), ".")
