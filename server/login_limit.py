"""Login rate limiting: failed attempts per user name and per client IP.

A sliding window (``login_window_seconds``, 15 min by default): once a name
has ``login_max_failures_per_name`` (5) failures in the window, or an IP has
``login_max_failures_per_ip`` (20), every login for that name or from that IP
is refused with 429 ``too_many_attempts`` and a ``Retry-After`` (seconds until
the oldest failure leaves the window), before the password is even checked,
so the right password does not get in either. A successful login clears the
failures of its name (not of its IP).

The counts live in the server process's memory: a restart clears them. The
server runs as one process (one writer), so one process sees every attempt.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from server.config import Settings
from server.errors import ApiError


class LoginLimiter:
    """Counts failed logins per name and per IP; ``clock`` returns seconds (monotonic)."""

    def __init__(
        self,
        *,
        max_per_name: int,
        max_per_ip: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_per_name, self.max_per_ip, self.window = max_per_name, max_per_ip, window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginLimiter:
        return cls(
            max_per_name=settings.login_max_failures_per_name,
            max_per_ip=settings.login_max_failures_per_ip,
            window=settings.login_window_seconds,
        )

    def check(self, name: str, ip: str) -> None:
        """Raise 429 ``too_many_attempts`` if ``name`` or ``ip`` is over its limit."""
        with self._lock:
            now = self.clock()
            waits = [
                self._wait(key, limit, now)
                for key, limit in (
                    (_name_key(name), self.max_per_name),
                    (f"ip:{ip}", self.max_per_ip),
                )
            ]
        wait = max(waits)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise ApiError(
                429,
                "too_many_attempts",
                f"too many failed logins; try again in {seconds} s",
                headers={"Retry-After": str(seconds)},
            )

    def failure(self, name: str, ip: str) -> None:
        """Count one failed login for ``name`` and for ``ip``."""
        with self._lock:
            now = self.clock()
            for key in (_name_key(name), f"ip:{ip}"):
                self._failures.setdefault(key, deque()).append(now)
            if len(self._failures) > 10_000:
                self._prune(now)

    def success(self, name: str) -> None:
        """Forget the failures of ``name`` after a successful login."""
        with self._lock:
            self._failures.pop(_name_key(name), None)

    def _wait(self, key: str, limit: int, now: float) -> float:
        """Seconds until ``key`` is under ``limit`` again (0: it is)."""
        times = self._failures.get(key)
        if times is None:
            return 0.0
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) < limit:
            return 0.0
        return times[len(times) - limit] + self.window - now

    def _prune(self, now: float) -> None:
        for key in [k for k, t in self._failures.items() if not t or t[-1] <= now - self.window]:
            del self._failures[key]


def _name_key(name: str) -> str:
    return f"name:{name.casefold()}"
