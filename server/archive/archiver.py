"""Turn finished rounds queued in Redis into archive files, off the event loop; delete on request.

Every gateway runs an :class:`Archiver` (one more can run alone: ``doodle-party archive run``). They
share the consumer group ``archivers`` on the stream ``doodle:archive``:

1. read: XREADGROUP a few jobs; each is one finished round of an archiving room;
2. decide: only drawers in the room's consent set, whose session still consents and who have not
   asked to be forgotten since the round started; the strokes come from the round's Redis list;
3. write: ``Archive.write_segment`` in a worker thread (fsync + atomic rename, or one PUT);
4. acknowledge: XACK + XDEL only once the files are durable. A process killed before that leaves
   the job pending; another archiver takes it over with XAUTOCLAIM after ``claim_idle_ms`` and
   rewrites the same files with the same bytes. A job that fails ``max_deliveries`` times, or is
   older than the strokes can be, is dropped with a log line.

Deletion (``forget_player``) first records the request in Redis, then deletes under the archive's
rewrite lock. An archiver checks for such a request again after writing, so a deletion that ran
while the files were being written is completed by the archiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import LockError, ResponseError

from server import metrics
from server.archive.errors import ArchiveBusy
from server.archive.jobs import (
    ARCHIVE_GROUP,
    ARCHIVE_STREAM,
    MAX_JOB_AGE_SECONDS,
    ArchiveJob,
    DrawerResult,
    consent_key,
    ensure_group,
    forgotten_at,
    mark_forgotten,
)
from server.archive.layout import Archive, ArchivedDrawing, Point, Segment, open_archive
from server.config import Settings
from server.sessions import session_key
from server.store import decode_stroke_entry, strokes_key

log = structlog.get_logger("doodle_party.archive")

REWRITE_LOCK = "doodle:archive:rewrite-lock"
REWRITE_LOCK_TIMEOUT_S = 300.0  # longest a deletion or prune may hold the lock
REWRITE_LOCK_WAIT_S = 60.0
IDLE_CONSUMER_MS = 24 * 3600 * 1000  # group members of gateways gone this long are removed

_drawings_archived = metrics.counter("doodle_archive_drawings_total", "Drawings written to the archive.")
_drawings_removed = metrics.counter(
    "doodle_archive_removed_total", "Drawings deleted from the archive.", ["reason"]
)
_jobs_dropped = metrics.counter("doodle_archive_jobs_dropped_total", "Archive jobs given up.", ["reason"])


def archive_location(settings: Settings) -> str | Path:
    """Where the archive lives: ``archive_url`` (object storage) if the settings have one, else
    ``archive_dir``."""
    url = getattr(settings, "archive_url", None)
    return str(url) if url else settings.archive_dir


async def forget_player(settings: Settings, client: aioredis.Redis, player_id: str) -> int:
    """Delete every archived drawing of a player, and keep queued rounds from adding more.

    Returns:
        How many drawings were removed from the archive.

    Raises:
        ArchiveBusy: another deletion held the archive for too long; nothing was deleted yet (the
            request is recorded, so queued rounds already skip the player).
        CloudSupportMissing: the archive is at a URL and fsspec is not installed.
    """
    await mark_forgotten(client, player_id)
    return await forget_in_archive(client, open_archive(archive_location(settings)), player_id)


async def forget_in_archive(client: aioredis.Redis, archive: Archive, player_id: str) -> int:
    """``Archive.forget_player`` in a thread, under the cluster-wide rewrite lock."""
    async with _rewrite_lock(client):
        removed = await asyncio.to_thread(archive.forget_player, player_id)
    _drawings_removed.inc(removed, reason="forget")
    log.info("archive_player_forgotten", drawings_removed=removed)
    return removed


@contextlib.asynccontextmanager
async def _rewrite_lock(client: aioredis.Redis, wait_s: float = REWRITE_LOCK_WAIT_S) -> Any:
    """Serialise rewrites of archive files across hosts (object storage has no file locks).

    Raises:
        ArchiveBusy: the lock stayed taken for ``wait_s``.
    """
    lock = client.lock(REWRITE_LOCK, timeout=REWRITE_LOCK_TIMEOUT_S, blocking_timeout=wait_s)
    if not await lock.acquire(blocking=wait_s > 0):
        raise ArchiveBusy("the archive is busy deleting; try again in a minute")
    try:
        yield
    finally:
        with contextlib.suppress(LockError):  # expired while we worked: nothing left to release
            await lock.release()


class Archiver:
    """Consumes the archive stream and writes what consent allows (see the module docstring)."""

    def __init__(
        self,
        client: aioredis.Redis,
        root: str | Path,
        *,
        consumer: str,
        retention_days: int = 365,
        claim_idle_ms: int = 30_000,
        block_ms: int = 500,
        batch_size: int = 16,
        max_deliveries: int = 5,
        prune_interval_s: float = 24 * 3600.0,
    ) -> None:
        """
        Args:
            client: Redis holding the rooms and the stream.
            root: the archive: a directory, or an object-storage URL (needs fsspec).
            consumer: this archiver's name in the group; unique per process (the gateway id).
            retention_days: drawings of older days are pruned at start and every ``prune_interval_s``.
            claim_idle_ms: a job pending this long with another consumer is taken over.
            block_ms: longest wait for new jobs before checking ``stop`` again.

        Raises:
            ValueError: ``retention_days`` is negative.
            CloudSupportMissing: ``root`` is a URL and fsspec is not installed.
        """
        if retention_days < 0:
            raise ValueError(f"retention_days must be >= 0, got {retention_days}")
        self.client = client
        self.archive = open_archive(root)
        self.consumer = consumer
        self.retention_days = retention_days
        self.claim_idle_ms = claim_idle_ms
        self.block_ms = block_ms
        self.batch_size = batch_size
        self.max_deliveries = max_deliveries
        self.prune_interval_s = prune_interval_s
        self.drawings_written = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Archive finished rounds until ``stop`` is set; Redis outages are waited out."""
        claim_interval_s = max(0.05, self.claim_idle_ms / 2000.0)
        next_prune = next_claim = 0.0
        group_ready = False
        while not stop.is_set():
            try:
                if not group_ready:
                    await ensure_group(self.client)
                    group_ready = True
                now = time.monotonic()
                if now >= next_prune:
                    next_prune = now + self.prune_interval_s
                    await self.prune()
                if now >= next_claim:
                    next_claim = now + claim_interval_s
                    await self.claim_abandoned()
                await self._read_new(self.block_ms)
            except (aioredis.ConnectionError, aioredis.TimeoutError) as exc:
                log.warning("archive_redis_unavailable", error=str(exc))
                await _sleep_unless(stop, 1.0)
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                group_ready = False  # the stream was deleted (a flushed Redis): make it again

    async def process_available(self) -> int:
        """Archive every job waiting now (new ones, and abandoned ones past ``claim_idle_ms``) without
        blocking; for one-shot runs and tests.

        Returns:
            How many jobs were handled (written, skipped or dropped).
        """
        await ensure_group(self.client)
        handled = await self.claim_abandoned()
        while count := await self._read_new(None):
            handled += count
        return handled

    async def prune(self) -> int:
        """Delete drawings past the retention period; returns how many. Storage errors are logged.

        If another process holds the rewrite lock (often: another gateway pruning), this one skips.
        """
        try:
            async with _rewrite_lock(self.client, wait_s=0):
                removed = await asyncio.to_thread(self.archive.prune, self.retention_days, time.time())
        except ArchiveBusy:
            log.debug("archive_prune_skipped")
            return 0
        except OSError:
            log.exception("archive_prune_failed")
            return 0
        await self._remove_idle_consumers()
        if removed:
            _drawings_removed.inc(removed, reason="retention")
            log.info("archive_pruned", drawings_removed=removed, retention_days=self.retention_days)
        return removed

    async def claim_abandoned(self) -> int:
        """Take over jobs pending longer than ``claim_idle_ms`` (their archiver died) and handle them."""
        handled = 0
        cursor: bytes | str = "0-0"
        while True:
            response = await self.client.xautoclaim(
                ARCHIVE_STREAM,
                ARCHIVE_GROUP,
                self.consumer,
                min_idle_time=self.claim_idle_ms,
                start_id=cursor,
                count=self.batch_size,
            )
            cursor, claimed = response[0], response[1]
            for entry_id, fields in claimed:
                if not fields:  # deleted from the stream while pending
                    await self._acknowledge(entry_id)
                    continue
                rows = await self.client.xpending_range(
                    ARCHIVE_STREAM, ARCHIVE_GROUP, min=entry_id, max=entry_id, count=1
                )
                deliveries = int(rows[0]["times_delivered"]) if rows else 1
                log.info("archive_job_claimed", entry_id=_text(entry_id), deliveries=deliveries)
                await self._handle(entry_id, fields, deliveries)
                handled += 1
            if cursor in (b"0-0", "0-0"):
                return handled

    async def _read_new(self, block_ms: int | None) -> int:
        response = await self.client.xreadgroup(
            ARCHIVE_GROUP, self.consumer, {ARCHIVE_STREAM: ">"}, count=self.batch_size, block=block_ms
        )
        entries = [entry for _stream, batch in response or [] for entry in batch]
        for entry_id, fields in entries:
            await self._handle(entry_id, fields, deliveries=1)
        return len(entries)

    async def _handle(self, entry_id: bytes | str, fields: dict[Any, Any], deliveries: int) -> None:
        """Archive one job and acknowledge it, or leave it pending to be retried."""
        entry = _text(entry_id)
        if deliveries > self.max_deliveries:
            _jobs_dropped.inc(reason="poison")
            log.error("archive_job_dropped", entry_id=entry, deliveries=deliveries)
            await self._acknowledge(entry_id)
            return
        try:
            job = ArchiveJob.decode(fields)
        except ValueError:
            _jobs_dropped.inc(reason="malformed")
            log.exception("archive_job_malformed", entry_id=entry)
            await self._acknowledge(entry_id)
            return
        if time.time() - job.ended_at > MAX_JOB_AGE_SECONDS:
            # Older than any forget request we still remember: it must not be written now.
            _jobs_dropped.inc(reason="expired")
            log.warning("archive_job_expired", entry_id=entry)
            await self._acknowledge(entry_id)
            return
        try:
            written = await self._archive(entry, job)
        except (aioredis.ConnectionError, aioredis.TimeoutError):
            raise
        except Exception:
            # Storage trouble (disk full, bucket unreachable): the job stays pending and is claimed
            # again after claim_idle_ms, then dropped as poison after max_deliveries.
            log.exception("archive_write_failed", entry_id=entry, deliveries=deliveries)
            return
        await self._acknowledge(entry_id)
        self.drawings_written += written
        _drawings_archived.inc(written)
        log.debug("archive_round_written", entry_id=entry, drawings=written, word=job.word)

    async def _archive(self, entry_id: str, job: ArchiveJob) -> int:
        """Write the job's allowed drawings; returns how many stay in the archive."""
        members = await self.client.smembers(consent_key(job.room))
        consented = {_text(member) for member in members}
        drawers = await self._still_allowed(job, [r for r in job.results if r.player_id in consented])
        if not drawers:
            return 0
        raw = await self.client.lrange(strokes_key(job.room, job.game, job.round), 0, -1)
        strokes = _strokes_by_player(raw, {r.player_id for r in drawers})
        drawings = tuple(
            ArchivedDrawing(r.player_id, r.recognized, strokes[r.player_id])
            for r in drawers
            if strokes.get(r.player_id)
        )
        if not drawings:
            return 0
        segment = Segment(entry_id, job.word, job.ended_at, drawings)
        await asyncio.to_thread(self.archive.write_segment, segment)
        # A forget request records itself before deleting: if one is visible now, its deletion may
        # have run before these files existed, so finish it here.
        late = await forgotten_at(self.client, [d.player_id for d in drawings])
        for player_id, at in late.items():
            if job.started_at <= at:
                await forget_in_archive(self.client, self.archive, player_id)
        return len(drawings) - sum(1 for at in late.values() if job.started_at <= at)

    async def _still_allowed(self, job: ArchiveJob, drawers: Sequence[DrawerResult]) -> list[DrawerResult]:
        """The consenting drawers whose session has not withdrawn consent and who have not asked to be
        forgotten since the round started."""
        if not drawers:
            return []
        ids = [r.player_id for r in drawers]
        forgotten = await forgotten_at(self.client, ids)
        async with self.client.pipeline(transaction=False) as pipe:
            for player_id in ids:
                pipe.hget(session_key(player_id), "consent_archive")
            flags = await pipe.execute()
        return [
            r
            for r, flag in zip(drawers, flags, strict=True)
            # No session any more (expired after a day): the room's consent set is what we have.
            if _text(flag or b"1") != "0" and job.started_at > forgotten.get(r.player_id, float("-inf"))
        ]

    async def _acknowledge(self, entry_id: bytes | str) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.xack(ARCHIVE_STREAM, ARCHIVE_GROUP, entry_id)
            pipe.xdel(ARCHIVE_STREAM, entry_id)
            await pipe.execute()

    async def _remove_idle_consumers(self) -> None:
        """Drop group members of gateways long gone (their jobs were claimed already)."""
        try:
            consumers = await self.client.xinfo_consumers(ARCHIVE_STREAM, ARCHIVE_GROUP)
        except ResponseError:
            return
        for consumer in consumers:
            name = _text(consumer["name"])
            if name != self.consumer and consumer["pending"] == 0 and consumer["idle"] > IDLE_CONSUMER_MS:
                await self.client.xgroup_delconsumer(ARCHIVE_STREAM, ARCHIVE_GROUP, name)


def _strokes_by_player(raw: Sequence[bytes], wanted: set[str]) -> dict[str, tuple[tuple[Point, ...], ...]]:
    """Each wanted player's strokes, by stroke index, from the round's msgpack stroke entries
    (see ``StrokeEntry`` in ``server/store.py``); empty strokes are left out."""
    by_player: dict[str, dict[int, list[Point]]] = {}
    for item in raw:
        entry = decode_stroke_entry(item)
        if entry.player_id in wanted:
            target = by_player.setdefault(entry.player_id, {}).setdefault(int(entry.stroke), [])
            target.extend(
                (float(p[0]), float(p[1]), float(p[2]) if len(p) > 2 else 0.0) for p in entry.points
            )
    return {
        player_id: tuple(tuple(strokes[index]) for index in sorted(strokes) if strokes[index])
        for player_id, strokes in by_player.items()
    }


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
