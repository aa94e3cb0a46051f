"""When each player's newest drawing is sent for recognition: the one admission policy, sans I/O.

Every decision about what recognition accepts is made here, and only here; the batcher behind it
(`inference.batcher`) runs whatever it is given, in order, and never refuses, replaces or evicts:

- Coalescing. A player has at most one drawing waiting: a newer one replaces it. At most one
  ordinary job per player is in flight, and a player's jobs go at least `min_interval_s` apart.
- Deciding jobs (a finished stroke, the final drawing) go at once, past the interval, the
  one-in-flight rule and the capacity bound, and are sent again when their result is lost. One
  deciding job per player is in flight at a time (what bounds one player's share); a drawing that
  arrives while a finished stroke waits for that decides in its place.
- Shedding. At most `max_in_flight` ordinary jobs are in flight over all players. A player ready
  for a guess beyond that waits in line with only their newest drawing; under overload every player
  is guessed less often (coalescing drops the drawings in between), and nothing queues without bound:
  waiting work is at most one drawing per player.
- Fairness. The line is served round robin over rooms (within a room, in the order players became
  ready), so a room's share of recognition under overload does not grow with its size or its
  players' stroke rate.
"""

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
    in_flight: set[str] = field(default_factory=set)
    next_seq: int = 0
    delivered_seq: int = -1
    timer_at: float | None = None


class GuessScheduler:
    """Decides when each player's newest drawing is sent for recognition. No I/O; time is an argument.

    Every method returns the jobs to send now, in the order to send them; the caller sends them and
    wakes the scheduler with `poll(now)` at `next_deadline()`.

    Args:
        min_interval_s: least time between two ordinary jobs of one player (the guess rate limit).
        max_in_flight: most ordinary jobs in flight at once, over all players; more wait in line.
        result_timeout_s: a job unanswered this long is lost; a deciding one is sent again.
        max_attempts: how many times a deciding job is sent before it is given up.
    """

    def __init__(
        self, *, min_interval_s: float, max_in_flight: int, result_timeout_s: float, max_attempts: int = 3
    ) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {max_in_flight}")
        self.min_interval_s = min_interval_s
        self.max_in_flight = max_in_flight
        self.result_timeout_s = result_timeout_s
        self.max_attempts = max_attempts
        self._players: dict[PlayerKey, _Player] = {}
        # Insertion order is deadline order: every (re)send appends with now + result_timeout_s.
        self._in_flight: dict[str, _InFlight] = {}
        self._ordinary_in_flight = 0
        # Players ready for a guess and waiting for capacity only: room -> its players in ready order.
        # The rooms' order is the round robin: a room served goes to the back if it still has players.
        self._line: OrderedDict[str, OrderedDict[PlayerKey, None]] = OrderedDict()
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

    @property
    def waiting(self) -> int:
        """Players ready for a guess and waiting for capacity only."""
        return sum(len(players) for players in self._line.values())

    def offer(self, job: RecognitionJob, now: float) -> list[RecognitionJob]:
        """A player's drawing changed. Returns the jobs to send now (this one, or none yet)."""
        key = (job.room_code, job.player_id)
        player = self._players.get(key)
        if player is None:
            player = self._players[key] = _Player()
        if player.deferred is not None:
            self.coalesced += 1
            if player.deferred.deciding and not job.deciding:
                # The newer drawing holds the finished stroke that was waiting: it decides in its place.
                job = dataclasses.replace(job, deciding=True)
        player.deferred = job
        if job.deciding:
            # Newer than anything the player had in line, which therefore no longer matters.
            self._leave_line(key)
            return self._send_deciding(key, player, now)
        self._make_ready(key, player, now)
        return self.pump(now)

    def outdated_in_flight(self, room_code: str, player_id: str) -> list[str]:
        """The player's ordinary jobs in flight that a deciding job sent since has made outdated: their
        result would be dropped as older anyway. The caller takes back those that have not started
        (`abandon` each one taken back) so the model does not judge a drawing no one will see."""
        player = self._players.get((room_code, player_id))
        if player is None:
            return []
        records = [self._in_flight[job_id] for job_id in player.in_flight]
        newest_deciding = max((r.seq for r in records if r.job.deciding), default=-1)
        return sorted(r.job.job_id for r in records if not r.job.deciding and r.seq < newest_deciding)

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
        """No result will come for `job_id` (the model failed on its batch)."""
        record = self._finish(job_id)
        return [] if record is None else self._after_finish(record.key, now)

    def forget(self, room_code: str, player_id: str) -> list[str]:
        """Drop a player's deferred drawing and in-flight jobs (their late results will be unknown).

        Returns:
            The ids of the jobs that were in flight. Call `pump(now)` afterwards: capacity was freed.
        """
        key = (room_code, player_id)
        player = self._players.pop(key, None)
        self._leave_line(key)
        if player is None:
            return []
        for job_id in player.in_flight:
            record = self._in_flight.pop(job_id)
            if not record.job.deciding:
                self._ordinary_in_flight -= 1
        return sorted(player.in_flight)

    def pump(self, now: float) -> list[RecognitionJob]:
        """Send the drawings waiting in line while there is capacity, one room at a time in turn."""
        to_send: list[RecognitionJob] = []
        while self._line and self._ordinary_in_flight < self.max_in_flight:
            room_code, players = next(iter(self._line.items()))
            key, _ = players.popitem(last=False)
            if players:
                self._line.move_to_end(room_code)
            else:
                del self._line[room_code]
            # The line holds only players with a deferred drawing and nothing in flight.
            player = self._players[key]
            job, player.deferred = player.deferred, None
            assert job is not None
            to_send.append(self._send(key, player, job, now))
        return to_send

    def poll(self, now: float) -> list[RecognitionJob]:
        """Timers: players whose interval has passed, and jobs whose result is overdue."""
        resent: list[RecognitionJob] = []
        while self._ready_timers and self._ready_timers[0][0] <= now:
            when, _, key = heapq.heappop(self._ready_timers)
            player = self._players.get(key)
            if player is not None and player.timer_at == when:
                player.timer_at = None
                self._make_ready(key, player, now)
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
                resent.append(record.job)
            else:
                self._finish(job_id)
                self.lost += 1
                resent += self._send_deciding(record.key, self._players[record.key], now)
                self._make_ready(record.key, self._players[record.key], now)
        return resent + self.pump(now)

    def next_deadline(self) -> float | None:
        """When `poll` has work next, or None."""
        candidates = []
        if self._ready_timers:
            candidates.append(self._ready_timers[0][0])
        if self._in_flight:
            candidates.append(next(iter(self._in_flight.values())).deadline)
        return min(candidates) if candidates else None

    def _send_deciding(self, key: PlayerKey, player: _Player, now: float) -> list[RecognitionJob]:
        """Send the player's waiting deciding drawing at once, unless their previous one is unanswered."""
        job = player.deferred
        if job is None or not job.deciding:
            return []
        if any(self._in_flight[job_id].job.deciding for job_id in player.in_flight):
            return []  # its result sends this one
        player.deferred = None
        return [self._send(key, player, job, now)]

    def _make_ready(self, key: PlayerKey, player: _Player, now: float) -> None:
        """Put the player in line if their newest drawing may go now, or book a timer for when it may."""
        if player.deferred is None or player.deferred.deciding or player.in_flight:
            return  # nothing new, a deciding drawing (never in line), or a result will make them ready
        ready_at = player.last_sent_at + self.min_interval_s
        if now < ready_at:
            if player.timer_at != ready_at:
                player.timer_at = ready_at
                heapq.heappush(self._ready_timers, (ready_at, next(self._tiebreak), key))
            return
        players = self._line.get(key[0])
        if players is None:
            players = self._line[key[0]] = OrderedDict()
        players[key] = None  # already in line: keeps its place, with the newer drawing

    def _leave_line(self, key: PlayerKey) -> None:
        players = self._line.get(key[0])
        if players is not None and key in players:
            del players[key]
            if not players:
                del self._line[key[0]]

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
        # The player goes to the back of the line like anyone else: a player whose result just came
        # must not take the freed capacity ahead of players who were already waiting for it.
        player = self._players.get(key)
        if player is None:
            return self.pump(now)
        deciding = self._send_deciding(key, player, now)
        self._make_ready(key, player, now)
        return deciding + self.pump(now)
