"""Names that arrive as request or command-line text: uploaded file names and scene names.

Rules (docs/validation.md, "Uploads"):

- a **file name** is refused (``invalid_filename``) unless it is a plain name: no
  control character (Unicode category Cc: NUL, C0, DEL, C1), no lone surrogate,
  no ``/`` or ``\\``, no leading dot, at most ``MAX_FILENAME_BYTES`` bytes of UTF-8;
- a **scene name** is cleaned: line breaks and tabs become spaces, other control
  characters are removed and the ends are trimmed. A lone surrogate (text that is
  not Unicode) or more than ``MAX_SCENE_NAME_CHARS`` characters after cleaning is
  refused (``invalid_name``).
"""

from __future__ import annotations

import re
import unicodedata

from server.text import TextError, check_name

MAX_FILENAME_BYTES = 255
"""Longest uploaded file name, in bytes of UTF-8 (the usual file-system limit, NAME_MAX)."""
MAX_SCENE_NAME_CHARS = 200
"""Longest scene name, in characters, after cleaning."""

_SPACE_LIKE = frozenset("\t\n\v\f\r\x1c\x1d\x1e\x1f\x85\u2028\u2029")


class InvalidNameError(ValueError):
    """A file or scene name that cannot be stored; ``code`` is stable (``invalid_filename``
    or ``invalid_name``) and the message says what is wrong without echoing the name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


def _is_control(c: str) -> bool:
    return unicodedata.category(c) == "Cc"


def check_filename(filename: str) -> str:
    """Return ``filename`` if it is a plain file name (rules above); else raise
    :class:`InvalidNameError` with code ``invalid_filename``."""
    problem = None
    if not filename:
        problem = "is empty"
    elif _has_surrogate(filename) or any(_is_control(c) for c in filename):
        problem = "holds a control character or text that is not Unicode"
    elif "/" in filename or "\\" in filename:
        problem = "holds a path separator"
    elif filename.startswith("."):
        problem = "starts with a dot"
    elif len(filename.encode("utf-8")) > MAX_FILENAME_BYTES:
        problem = f"is longer than {MAX_FILENAME_BYTES} bytes"
    if problem is not None:
        raise InvalidNameError(
            "invalid_filename", f"the file name {problem}; give a plain file name, e.g. scan.laz"
        )
    return filename


def clean_scene_name(name: str) -> str:
    """The scene name as stored (rules above); may be ``""`` when nothing printable is left.

    Raises :class:`InvalidNameError` with code ``invalid_name``.
    """
    if _has_surrogate(name):
        raise InvalidNameError("invalid_name", "the scene name is not valid Unicode text")
    cleaned = _clean(name)
    if len(cleaned) > MAX_SCENE_NAME_CHARS:
        raise InvalidNameError(
            "invalid_name", f"the scene name is longer than {MAX_SCENE_NAME_CHARS} characters"
        )
    return cleaned


def name_from_path(text: str) -> str:
    """A scene name from a file or folder name: cleaned like :func:`clean_scene_name`, with
    lone surrogates (how Python keeps bytes that are not UTF-8) as U+FFFD, cut to the limit."""
    text = "".join("\ufffd" if _has_surrogate(c) else c for c in text)
    return _clean(text)[:MAX_SCENE_NAME_CHARS]


def _clean(name: str) -> str:
    """Line breaks and tabs as spaces, other control characters removed, ends trimmed."""
    kept = (" " if c in _SPACE_LIKE else c for c in name if c in _SPACE_LIKE or not _is_control(c))
    return "".join(kept).strip()


ATTRIBUTE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MAX_ATTRIBUTES = 16
MAX_ATTRIBUTE_VALUE = 64


def clean_scene_attributes(attributes: dict[str, str]) -> dict[str, str]:
    """A scene's attributes as stored: at most 16 keys of lower-case letters, digits and
    ``_`` (a letter first, up to 32), each with printable text of 1-64 characters
    (trimmed); else :class:`InvalidNameError` with code ``bad_attributes``."""
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidNameError("bad_attributes", f"at most {MAX_ATTRIBUTES} attributes")
    out = {}
    for key, value in attributes.items():
        if not ATTRIBUTE_KEY.match(key):
            raise InvalidNameError(
                "bad_attributes",
                "an attribute key is 1-32 lower-case letters, digits or _, a letter first",
            )
        try:
            check_name(value, f"attribute {key}")
        except TextError as exc:
            raise InvalidNameError("bad_attributes", str(exc)) from exc
        value = value.strip()
        if not 1 <= len(value) <= MAX_ATTRIBUTE_VALUE:
            raise InvalidNameError(
                "bad_attributes", f"attribute {key}: a value of 1-{MAX_ATTRIBUTE_VALUE} characters"
            )
        out[key] = value
    return dict(sorted(out.items()))
