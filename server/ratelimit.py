"""Rate limits: a per-connection token bucket, and a per-address budget for failed joins in Redis."""

from __future__ import annotations

import time
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


async def allow_join_attempt(client: aioredis.Redis, address: str, per_minute: int) -> bool:
    """Count one failed room look-up from ``address``; False once it exceeds ``per_minute``.

    Kept in Redis so the budget holds across gateways and reconnects (guessing codes is the attack).
    """
    key = f"ratelimit:join:{address}:{int(time.time() // 60)}"
    async with client.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, 120)
        count, _ = await pipe.execute()
    return int(count) <= per_minute
