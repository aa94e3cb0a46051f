"""Rate limits: a token bucket for messages, and sliding windows for room look-ups and creations.

Look-ups (``join_room``) and creations are counted per connection (:class:`SlidingWindow`) and per
address across every gateway (:class:`AddressLimit`, in Redis). A window is a log of event times,
so at most ``limit`` events pass in *any* window, whatever its start (docs/protocol.md, Security).
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from dataclasses import dataclass, field

import redis.asyncio as aioredis


@dataclass(slots=True)
class TokenBucket:
    """Allows ``rate`` events per second on average, with bursts up to ``burst``."""

    rate: float
    burst: int
    tokens: float = field(init=False)
    updated_at: float = field(init=False, default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def take(self, now: float | None = None) -> bool:
        """Spend one token; False when the bucket is empty (the event should be refused)."""
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.updated_at) * self.rate)
        self.updated_at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass(slots=True)
class SlidingWindow:
    """Allows at most ``limit`` events in any ``window_s`` seconds (a log of times, not fixed buckets,
    so no burst can straddle a window boundary and get twice the limit through). Per connection."""

    limit: int
    window_s: float
    times: deque[float] = field(default_factory=deque)

    def take(self, now: float | None = None) -> bool:
        """Count one event; False (and nothing counted) when ``limit`` were seen in the window."""
        now = time.monotonic() if now is None else now
        while self.times and self.times[0] <= now - self.window_s:
            self.times.popleft()
        if len(self.times) >= self.limit:
            return False
        self.times.append(now)
        return True

    def refund(self) -> None:
        """Give back the newest counted event."""
        if self.times:
            self.times.pop()


# The same sliding log in Redis, so one address's budget holds across connections and gateways.
# KEYS[1] the address's window (sorted set of event times in ms)
# ARGV[1] now_ms, ARGV[2] window_ms, ARGV[3] limit, ARGV[4] a unique member for this event
TAKE_FROM_WINDOW = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


class AddressLimit:
    """At most ``limit`` events per address in any ``window_s`` seconds, over every gateway.

    An event is counted *before* the work it guards (a room look-up, a room creation), so concurrent
    requests cannot slip through while earlier ones are still being decided; work that turned out
    harmless (a look-up that found the room) can be given back with :meth:`refund`.
    """

    def __init__(self, client: aioredis.Redis, name: str, *, limit: int, window_s: float) -> None:
        self.client = client
        self.name = name
        self.limit = limit
        self.window_ms = int(window_s * 1000)
        self._take = client.register_script(TAKE_FROM_WINDOW)

    def _key(self, address: str) -> str:
        return f"ratelimit:{self.name}:{address}"

    async def take(self, address: str) -> str | None:
        """Count one event; returns its receipt (for :meth:`refund`), or None when over the limit."""
        receipt = secrets.token_hex(8)
        allowed = await self._take(
            keys=[self._key(address)], args=[int(time.time() * 1000), self.window_ms, self.limit, receipt]
        )
        return receipt if int(allowed) else None

    async def refund(self, address: str, receipt: str) -> None:
        """Give back one counted event."""
        await self.client.zrem(self._key(address), receipt)
