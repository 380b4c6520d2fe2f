"""Count, rate and time left of a running batch (``core.batch.pipeline``), for the command line and the app."""

from __future__ import annotations

import time
from collections import deque
from typing import Callable

from core.batch.jobs import BatchResult, BatchStatus
from core.text import format_duration


class BatchProgress:
    """Count, rate and time left of a running batch, from its results.

    The rate counts only photos that were processed (not skipped) over the last ``window``
    seconds, so a resumed run that skips hundreds of photos first does not promise too much.
    """

    def __init__(self, total: int, *, window: float = 20.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.counts = {str(status): 0 for status in BatchStatus}
        self.window = window
        self.clock = clock
        self.started = clock()
        self._recent: deque[float] = deque()

    @property
    def finished(self) -> int:
        return sum(self.counts.values())

    def add(self, result: BatchResult) -> None:
        self.counts[str(result.status)] = self.counts.get(str(result.status), 0) + 1
        if result.status != BatchStatus.SKIPPED:
            self._recent.append(self.clock())

    @property
    def rate(self) -> float:
        """Photos per second processed lately (0 until two have finished)."""
        now = self.clock()
        while len(self._recent) > 2 and now - self._recent[0] > self.window:
            self._recent.popleft()
        if len(self._recent) < 2:
            return 0.0
        span = max(now, self._recent[-1]) - self._recent[0]
        return (len(self._recent) - 1) / span if span > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        """Estimated seconds to finish, or None while the rate is unknown."""
        rate = self.rate
        if rate <= 0:
            return None
        return (self.total - self.finished) / rate

    def describe(self) -> str:
        """E.g. '37/120 · 4.2 photos/s · 0:20 left'."""
        parts = [f"{self.finished}/{self.total}"]
        if self.rate > 0:
            parts.append(f"{self.rate:.1f} photos/s")
        left = self.seconds_left
        if left is not None:
            parts.append(f"{format_duration(left)} left")
        return " · ".join(parts)
