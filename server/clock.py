"""The gateway's clock: what time it is, and a wake-up at a given time.

The rules in ``game/`` never read a clock; the gateway asks this one. Production runs on
`SystemClock` (wall time, since deadlines are stored as epoch seconds shared by every gateway). Tests
that are not about timing run on `FakeClock`, which, like trio's ``MockClock``, moves only when told:
a round's end or a seat's expiry happens when the test advances it, not after seconds of waiting.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol


class Wakeup(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """What the gateway needs of time."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def call_at(self, when: float, callback: Callable[[], None]) -> Wakeup:
        """Run `callback` on the event loop once `now()` reaches `when`."""
        ...


class SystemClock:
    """Wall time, and wake-ups on the running event loop."""

    def now(self) -> float:
        return time.time()

    def call_at(self, when: float, callback: Callable[[], None]) -> Wakeup:
        return asyncio.get_running_loop().call_later(max(0.0, when - time.time()), callback)


class _FakeWakeup:
    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """Time that moves only with `advance`; wake-ups that come due run then, in time order.

    Args:
        start: the time it starts at (seconds since the epoch; default: the real time now, so that
            times written to Redis next to real ones, such as key expiries, stay plausible).
    """

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._due: list[tuple[float, int, Callable[[], None], _FakeWakeup]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], None]) -> Wakeup:
        wakeup = _FakeWakeup()
        heapq.heappush(self._due, (when, next(self._order), callback, wakeup))
        return wakeup

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`, running every wake-up that comes due on the way."""
        target = self._now + seconds
        while self._due and self._due[0][0] <= target:
            when, _order, callback, wakeup = heapq.heappop(self._due)
            self._now = max(self._now, when)
            if not wakeup.cancelled:
                callback()
        self._now = target
