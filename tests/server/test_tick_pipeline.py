"""TickPipeline: the commands of one tick share one pipeline, each caller gets its own reply (real Redis)."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from server.tick_pipeline import TickPipeline

# KEYS[1] counter
# ARGV[1] amount; a negative amount is refused
ADD = """
if tonumber(ARGV[1]) < 0 then return redis.error_reply('NEGATIVE') end
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""


async def test_commands_of_one_tick_go_in_one_pipeline_with_their_own_replies(
    redis_client: aioredis.Redis,
) -> None:
    """Five calls queued together: one pipeline, replies in order, a refused one fails alone."""
    await redis_client.delete("tick:counter")
    tick = TickPipeline(redis_client)
    add = redis_client.register_script(ADD)
    calls = [tick.run_script(add, ["tick:counter"], [amount]) for amount in (1, 2, -1, 3)]
    calls.append(tick.publish("tick:channel", b"hello"))
    replies = await asyncio.gather(*calls, return_exceptions=True)
    assert replies[:2] == [1, 3] and replies[3] == 6 and replies[4] == 0
    assert isinstance(replies[2], ResponseError) and "NEGATIVE" in str(replies[2])
    assert (tick.pipelines, tick.commands) == (1, 5)
    # Calls that await one another go out one tick after the other, in order.
    assert await tick.run_script(add, ["tick:counter"], [4]) == 10
    assert tick.pipelines == 2


async def test_a_script_flushed_from_redis_is_loaded_again(redis_client: aioredis.Redis) -> None:
    """After SCRIPT FLUSH (a restarted Redis) the call still succeeds: the script is loaded once more."""
    await redis_client.delete("tick:counter")
    tick = TickPipeline(redis_client)
    add = redis_client.register_script(ADD)
    assert await tick.run_script(add, ["tick:counter"], [5]) == 5
    await redis_client.script_flush()
    assert await asyncio.gather(*(tick.run_script(add, ["tick:counter"], [1]) for _ in range(3))) == [6, 7, 8]


async def test_a_dead_connection_fails_every_caller_of_the_pipeline() -> None:
    """No Redis at all: each queued call raises the connection error; none hangs."""
    client = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    tick = TickPipeline(client)
    outcomes = await asyncio.gather(tick.publish("a", b"1"), tick.publish("b", b"2"), return_exceptions=True)
    assert all(isinstance(outcome, RedisConnectionError) for outcome in outcomes), outcomes
    await client.aclose()
