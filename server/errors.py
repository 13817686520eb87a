"""The server's error root: an HTTP status, a stable machine-readable code, a message.

One exception handler in ``server/app.py`` turns it into JSON ``{code, message}``.
"""

from __future__ import annotations


class ApiError(Exception):
    """An error with an HTTP status and a stable machine-readable code.

    ``headers`` go on the response (e.g. ``Retry-After`` with a 429).
    """

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers
