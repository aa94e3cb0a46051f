"""Redis keys of distributed recognition (fixed names, not room keys: rooms use {room:CODE} hash tags)::

doodle:jobs                  stream, consumer group "workers"; field "job" = msgpack job
doodle:results:{gateway_id}  stream per gateway; field "result" = msgpack result; expires when idle
doodle:labels                JSON list of the workers' model labels (set by each worker at start)
"""

from __future__ import annotations

import redis.asyncio as aioredis
import structlog
from redis.exceptions import ResponseError

log = structlog.get_logger("server.recognition")

JOBS_STREAM = "doodle:jobs"
WORKER_GROUP = "workers"
LABELS_KEY = "doodle:labels"
RESULTS_PREFIX = "doodle:results:"
# A gateway's result stream is trimmed by the gateway as it reads; this caps it if the gateway is gone.
RESULTS_MAXLEN = 10_000
RESULTS_TTL_S = 300


def results_stream(gateway_id: str) -> str:
    """Name of the stream that carries results back to `gateway_id`."""
    return RESULTS_PREFIX + gateway_id


async def ensure_group(client: aioredis.Redis) -> None:
    """Create the `workers` group on `doodle:jobs` (and the stream) unless it exists.

    Gateways and workers both call it, so whichever starts first, no job is written before the group
    exists; the group starts at id 0 so jobs written before it are read too.
    """
    try:
        await client.xgroup_create(JOBS_STREAM, WORKER_GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
