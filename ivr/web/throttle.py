"""Failed sign-ins slow an attacker down: after ``max_failures`` failures for one account
or from one address within the lockout window, that account/address must wait.

In memory, per engine: a restart forgives (Argon2's cost still bounds guessing), and a
locked account unlocks by itself (no denial of service on a nurse by a stranger that
lasts longer than the window).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

MAX_KEYS = 10_000  # bounded memory under a spray of user names


class LoginThrottle:
    def __init__(self, max_failures: int, lockout_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = lockout_seconds
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def retry_after(self, user: str, remote: str) -> float:
        """Seconds before this user/address may try again (0: now)."""
        now = self.clock()
        wait = 0.0
        for key in (f"u:{user.lower()}", f"a:{remote}"):
            times = self._recent(key, now)
            if len(times) >= self.max_failures:
                wait = max(wait, times[-self.max_failures] + self.window - now)
        return wait

    def failed(self, user: str, remote: str) -> None:
        now = self.clock()
        if len(self._failures) >= MAX_KEYS:
            for key in [k for k, v in self._failures.items() if not self._recent(k, now)]:
                del self._failures[key]
            if len(self._failures) >= MAX_KEYS:  # still full: forget the oldest
                del self._failures[next(iter(self._failures))]
        for key in (f"u:{user.lower()}", f"a:{remote}"):
            times = self._recent(key, now)
            times.append(now)
            self._failures[key] = times

    def succeeded(self, user: str) -> None:
        """A good password clears the account's count (not the address's)."""
        self._failures.pop(f"u:{user.lower()}", None)
