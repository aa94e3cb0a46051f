"""When each player's newest drawing is sent for recognition: the one admission policy, sans I/O."""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
from collections import OrderedDict
from dataclasses import dataclass, field

import structlog

from server.recognition.jobs import PlayerKey, RecognitionJob

log = structlog.get_logger("server.recognition")

# Least wait before a drawing refused for lack of room is offered again.
SHED_BACKOFF_S = 0.05


@dataclass(slots=True)
class _InFlight:
    key: PlayerKey
    seq: int
    job: RecognitionJob
    deadline: float
    attempts: int = 1


@dataclass(slots=True)
class _Player:
    deferred: RecognitionJob | None = None
    last_sent_at: float = -math.inf
    hold_until: float = -math.inf  # set when a job was shed: no new job before this
    in_flight: set[str] = field(default_factory=set)
    next_seq: int = 0
    delivered_seq: int = -1
    timer_at: float | None = None


class GuessScheduler:
    """Decides when each player's newest drawing is sent for recognition. No I/O; time is an argument.

    Every method returns the jobs to send now; the caller sends them and wakes the scheduler with
    `poll(now)` at `next_deadline()`.

    Args:
        min_interval_s: least time between two ordinary jobs of one player (the guess rate limit).
        max_in_flight: most ordinary jobs in flight at once, over all players; more wait their turn.
        result_timeout_s: a job unanswered this long is lost; a deciding one is sent again.
        max_attempts: how many times a deciding job is sent before it is given up.
    """

    def __init__(
        self, *, min_interval_s: float, max_in_flight: int, result_timeout_s: float, max_attempts: int = 3
    ) -> None:
        self.min_interval_s = min_interval_s
        self.max_in_flight = max_in_flight
        self.result_timeout_s = result_timeout_s
        self.max_attempts = max_attempts
        self._players: dict[PlayerKey, _Player] = {}
        # Insertion order is deadline order: every (re)send appends with now + result_timeout_s.
        self._in_flight: dict[str, _InFlight] = {}
        self._ordinary_in_flight = 0
        self._waiting: OrderedDict[PlayerKey, None] = OrderedDict()  # ready, waiting for capacity only
        self._ready_timers: list[tuple[float, int, PlayerKey]] = []
        self._tiebreak = itertools.count()
        self.coalesced = 0
        self.retried = 0
        self.lost = 0

    @property
    def in_flight(self) -> int:
        """Jobs sent and not yet answered."""
        return len(self._in_flight)

    @property
    def deferred(self) -> int:
        """Players whose newest drawing has not been sent yet."""
        return sum(1 for player in self._players.values() if player.deferred is not None)

    def offer(self, job: RecognitionJob, now: float) -> list[RecognitionJob]:
        """A player's drawing changed. Returns the jobs to send now (this one, or none yet)."""
        key = (job.room_code, job.player_id)
        player = self._players.get(key)
        if player is None:
            player = self._players[key] = _Player()
        if player.deferred is not None:
            self.coalesced += 1
        if player.deferred is not None and player.deferred.deciding and not job.deciding:
            # The newer drawing holds the finished stroke that was waiting: it decides in its place.
            job = dataclasses.replace(job, deciding=True)
        player.deferred = job
        return self._try_send(key, player, now)

    def completed(self, job_id: str, now: float) -> tuple[bool, list[RecognitionJob]]:
        """A result for `job_id` arrived.

        Returns:
            (deliver, to_send): deliver is False for a result of an unknown job (forgotten player,
            duplicate, timed out) or older than one already delivered for the player.
        """
        record = self._finish(job_id)
        if record is None:
            return False, []
        player = self._players[record.key]
        deliver = record.seq > player.delivered_seq
        if deliver:
            player.delivered_seq = record.seq
        return deliver, self._after_finish(record.key, now)

    def abandon(self, job_id: str, now: float) -> list[RecognitionJob]:
        """No result will come for `job_id` (replaced in the batcher, or the model failed)."""
        record = self._finish(job_id)
        return [] if record is None else self._after_finish(record.key, now)

    def shed(self, job_id: str, now: float) -> list[RecognitionJob]:
        """`job_id` was refused for lack of room: its drawing waits one more interval (unless newer)."""
        record = self._finish(job_id)
        if record is None:
            return []
        player = self._players[record.key]
        if player.deferred is None:
            player.deferred = record.job
        # Back off: under overload a player guesses less often (and never retries in a tight loop).
        player.hold_until = now + max(self.min_interval_s, SHED_BACKOFF_S)
        return self._try_send(record.key, player, now)

    def forget(self, room_code: str, player_id: str) -> list[str]:
        """Drop a player's deferred drawing and in-flight jobs (their late results will be unknown).

        Returns:
            The ids of the jobs that were in flight. Call `pump(now)` afterwards: room was freed.
        """
        key = (room_code, player_id)
        player = self._players.pop(key, None)
        self._waiting.pop(key, None)
        if player is None:
            return []
        for job_id in player.in_flight:
            record = self._in_flight.pop(job_id)
            if not record.job.deciding:
                self._ordinary_in_flight -= 1
        return sorted(player.in_flight)

    def pump(self, now: float) -> list[RecognitionJob]:
        """Send the drawings that were waiting only for capacity, while there is some."""
        to_send: list[RecognitionJob] = []
        while self._waiting and self._ordinary_in_flight < self.max_in_flight:
            key, _ = self._waiting.popitem(last=False)
            player = self._players.get(key)
            if player is not None:
                to_send += self._try_send(key, player, now)
        return to_send

    def poll(self, now: float) -> list[RecognitionJob]:
        """Timers: players whose interval has passed, and jobs whose result is overdue."""
        to_send: list[RecognitionJob] = []
        while self._ready_timers and self._ready_timers[0][0] <= now:
            when, _, key = heapq.heappop(self._ready_timers)
            player = self._players.get(key)
            if player is not None and player.timer_at == when:
                player.timer_at = None
                to_send += self._try_send(key, player, now)
        while self._in_flight:
            job_id, record = next(iter(self._in_flight.items()))
            if record.deadline > now:
                break
            if record.job.deciding and record.attempts < self.max_attempts:
                # Never let a deciding result get lost: send the same job again (same id, so whichever
                # copy answers first is delivered and the other is dropped as unknown).
                del self._in_flight[job_id]
                record.attempts += 1
                record.deadline = now + self.result_timeout_s
                self._in_flight[job_id] = record
                self.retried += 1
                to_send.append(record.job)
            else:
                self._finish(job_id)
                self.lost += 1
                to_send += self._after_finish(record.key, now)
        return to_send

    def next_deadline(self) -> float | None:
        """When `poll` has work next, or None."""
        candidates = []
        if self._ready_timers:
            candidates.append(self._ready_timers[0][0])
        if self._in_flight:
            candidates.append(next(iter(self._in_flight.values())).deadline)
        return min(candidates) if candidates else None

    def _deciding_in_flight(self, player: _Player) -> bool:
        return any(self._in_flight[job_id].job.deciding for job_id in player.in_flight)

    def _try_send(self, key: PlayerKey, player: _Player, now: float) -> list[RecognitionJob]:
        job = player.deferred
        if job is not None and job.deciding:
            # At once, whatever the interval or capacity say, once the player's previous deciding
            # job is answered (one at a time per player: what bounds one player's share).
            if self._deciding_in_flight(player):
                return []
            player.deferred = None
            self._waiting.pop(key, None)
            return [self._send(key, player, job, now)]
        if job is None or player.in_flight:
            return []  # nothing new, or the previous job's result will trigger the next one
        ready_at = max(player.last_sent_at + self.min_interval_s, player.hold_until)
        if now < ready_at:
            if player.timer_at != ready_at:
                player.timer_at = ready_at
                heapq.heappush(self._ready_timers, (ready_at, next(self._tiebreak), key))
            return []
        if not job.deciding and self._ordinary_in_flight >= self.max_in_flight:
            self._waiting[key] = None
            return []
        player.deferred = None
        self._waiting.pop(key, None)
        return [self._send(key, player, job, now)]

    def _send(self, key: PlayerKey, player: _Player, job: RecognitionJob, now: float) -> RecognitionJob:
        record = _InFlight(key=key, seq=player.next_seq, job=job, deadline=now + self.result_timeout_s)
        player.next_seq += 1
        player.last_sent_at = now
        player.in_flight.add(job.job_id)
        self._in_flight[job.job_id] = record
        if not job.deciding:
            self._ordinary_in_flight += 1
        return job

    def _finish(self, job_id: str) -> _InFlight | None:
        record = self._in_flight.pop(job_id, None)
        if record is None:
            return None
        if not record.job.deciding:
            self._ordinary_in_flight -= 1
        self._players[record.key].in_flight.discard(job_id)
        return record

    def _after_finish(self, key: PlayerKey, now: float) -> list[RecognitionJob]:
        to_send: list[RecognitionJob] = []
        player = self._players.get(key)
        if player is not None:
            to_send += self._try_send(key, player, now)
        return to_send + self.pump(now)
