"""TickPipeline: the commands of one tick share one pipeline, each caller gets its own reply (real Redis)."""

from __future__ import annotations

import asyncio
import ssl

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from server.redis_wire import _ssl_context
from server.tick_pipeline import CLIENT_NAME, TickPipeline

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


async def _kill_pipeline_connection(client: aioredis.Redis) -> None:
    for entry in await client.client_list():
        if entry["name"] == CLIENT_NAME:
            await client.client_kill_filter(_id=entry["id"])


async def test_a_lost_connection_fails_its_callers_and_the_next_call_reconnects(
    redis_client: aioredis.Redis,
) -> None:
    """Redis drops the connection (a restart, a CLIENT KILL): what was waiting fails with a
    connection error, nothing hangs, and the next command opens a new connection."""
    tick = TickPipeline(redis_client)
    add = redis_client.register_script(ADD)
    assert await tick.run_script(add, ["tick:counter"], [1]) == 1
    # A call blocked in Redis while its connection is killed: it must fail, not wait forever.
    waiting = asyncio.ensure_future(tick._queue(("BLPOP", "tick:never", 0), None))
    await asyncio.sleep(0.05)
    await _kill_pipeline_connection(redis_client)
    try:
        await asyncio.wait_for(waiting, 5)
    except RedisConnectionError:
        pass
    else:  # pragma: no cover - the assertion below explains
        raise AssertionError("a call on a killed connection returned")
    assert await tick.run_script(add, ["tick:counter"], [2]) == 3
    await tick.aclose()


async def test_the_connection_logs_in_as_the_client_does(redis_client: aioredis.Redis) -> None:
    """A user, a password and a database in the client's settings: the pipeline's commands run as
    that user, in that database, like the client's own."""
    await redis_client.execute_command("ACL", "SETUSER", "ticker", "on", ">s3cret", "~*", "&*", "+@all")
    try:
        pool = redis_client.connection_pool
        login = {"username": "ticker", "password": "s3cret", "db": 3}
        client = aioredis.Redis(
            connection_pool=aioredis.ConnectionPool(
                connection_class=pool.connection_class, **{**pool.connection_kwargs, **login}
            )
        )
        tick = TickPipeline(client)
        assert await tick.publish("tick:channel", b"x") == 0
        add = client.register_script(ADD)
        assert await tick.run_script(add, ["tick:in-db-3"], [7]) == 7
        assert await client.get("tick:in-db-3") == b"7"
        assert await redis_client.get("tick:in-db-3") is None  # not in the default database
        names = {entry["name"]: entry for entry in await redis_client.client_list()}
        assert names[CLIENT_NAME]["user"] == "ticker" and names[CLIENT_NAME]["db"] == "3"
        await tick.aclose()
        await client.aclose()
    finally:
        await redis_client.execute_command("ACL", "DELUSER", "ticker")


def test_tls_is_set_up_as_redis_py_sets_it_up() -> None:
    """A `rediss://` URL gets the TLS context redis-py builds from it (verified, host checked, or
    as its `ssl_*` options say); a plain or Unix-socket URL gets none."""
    verified = _ssl_context(aioredis.Redis.from_url("rediss://cache.example:6380/0"))
    assert verified is not None and verified.verify_mode == ssl.CERT_REQUIRED and verified.check_hostname
    unverified = _ssl_context(aioredis.Redis.from_url("rediss://cache.example:6380/0?ssl_cert_reqs=none"))
    assert unverified is not None and unverified.verify_mode == ssl.CERT_NONE
    assert _ssl_context(aioredis.Redis.from_url("redis://127.0.0.1:6379/0")) is None
    assert _ssl_context(aioredis.Redis.from_url("unix:///tmp/redis.sock?db=0")) is None
