"""Text that may be stored or answered: valid UTF-8, no control characters where
they make no sense, and no absolute server paths in messages.

JSON can carry what UTF-8 cannot (a lone surrogate such as ``"\\ud800"``); a
string like that must be refused before anything is written, because every
later read of the row would fail to encode it.
"""

from __future__ import annotations

import re
from typing import Any

# C0 and C1 control characters and DEL; tab, newline and CR are allowed in free text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_ABS_PATH = re.compile(r"(?<![\w.:/])/(?!api/|ws/)(?:[^\s'\"/]+/)+([^\s'\"/]*)")
"""A server path in a message (cut to its last component); the API's own routes stay."""

MAX_DEPTH = 32


class TextError(ValueError):
    """A value that cannot be stored (bad text, too deep): ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_name(value: str, what: str = "name") -> str:
    """An id, name or key: printable text only (no control characters, valid UTF-8)."""
    if _SURROGATE.search(value):
        raise TextError("invalid_text", f"{what} is not valid Unicode (lone surrogate)")
    if _ANY_CONTROL.search(value):
        raise TextError("invalid_text", f"{what} contains a control character")
    return value


def check_free_text(value: str, what: str = "text") -> str:
    """Free text (comments, attribute values): valid UTF-8, no NUL or other controls
    except tab and line breaks."""
    if _SURROGATE.search(value):
        raise TextError("invalid_text", f"{what} is not valid Unicode (lone surrogate)")
    if _CONTROL.search(value):
        raise TextError("invalid_text", f"{what} contains a control character")
    return value


def check_json(value: Any, what: str = "value", depth: int = 0) -> Any:
    """A JSON value whose every key is a name and every string free text, at most
    :data:`MAX_DEPTH` levels deep. (Numbers are the rules' business: a NaN size is
    ``non_finite``.)"""
    if depth > MAX_DEPTH:
        raise TextError("too_deep", f"{what} is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        check_free_text(value, what)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_name(str(key), f"a key of {what}")
            check_json(item, what, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_json(item, what, depth + 1)
    return value


def clean_name(value: str) -> str:
    """A display name with control characters dropped and surrogates replaced."""
    return _ANY_CONTROL.sub("", repair(value)).strip()


def repair(value: str) -> str:
    """The same text with every lone surrogate replaced by U+FFFD."""
    if not _SURROGATE.search(value):
        return value
    return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def repair_json(value: Any) -> tuple[Any, bool]:
    """``value`` with every string (and key) repaired; True when anything changed."""
    if isinstance(value, str):
        fixed = repair(value)
        return fixed, fixed is not value
    if isinstance(value, dict):
        out, changed = {}, False
        for key, item in value.items():
            new_key = repair(key) if isinstance(key, str) else key
            new_item, item_changed = repair_json(item)
            out[new_key] = new_item
            changed = changed or item_changed or new_key is not key
        return out, changed
    if isinstance(value, list):
        pairs = [repair_json(item) for item in value]
        return [p[0] for p in pairs], any(p[1] for p in pairs)
    return value, False


def safe_message(message: str) -> str:
    """An error message fit for a client: valid UTF-8, absolute paths cut to their
    last component."""
    return _ABS_PATH.sub(lambda m: m.group(1) or "/", repair(message))
