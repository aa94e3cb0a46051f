"""The bots' delivery ledger: what each bot sent, and which members of its room saw it.

All bots run in one process on one monotonic clock, so the ledger can answer two questions exactly:

- **Lost strokes.** Every stroke batch a drawer sent, and the server accepted (no error came back for
  it), must be relayed to every spectator of the room. A batch is keyed by
  ``(player_id, game, round, stroke, last t)``: bots keep ``t`` strictly increasing within a stroke,
  so the last point's ``t`` names the batch both in the relay and in a ``room`` snapshot. An entry
  leaves the ledger once every spectator has it; what is left at the end is lost.
- **Lost recognitions.** A ``recognized`` (or a ``round_ended`` result saying "recognized") seen by
  any member must reach every member of the room.

Reconnect churn makes some misses legitimate, and the rules for them are:

- A member is *excused* from a round if it was disconnected at some moment of that round (from the
  host seeing ``round_started`` to a grace period after it saw ``round_ended``) and its resume did not
  land in that same round. A member that resumes within the round must get everything it missed from
  the ``room`` snapshot (strokes and ``round.recognized``), so it is not excused.
- A drawer that drops has its batches of the round put *in doubt* (the server may not have read
  them). If it resumes in the same round, the snapshot settles each one: there (confirmed) or not
  (withdrawn; the bot sends it again). If the round is over by then, they stay *unconfirmed* and are
  reported apart, never as lost.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

__all__ = [
    "LATE_CODES",
    "LATE_WINDOW_S",
    "ROUND_GRACE_S",
    "BatchKey",
    "DrawerRound",
    "Ledger",
    "LossSummary",
    "Outage",
    "Rejection",
    "RoundKey",
]

# (player_id, game, round, stroke, t of the batch's last point)
BatchKey = tuple[str, int, int, int, int]
# (room code, game, round)
RoundKey = tuple[str, int, int]

# Errors a stroke gets when it races the end of the round (deadline, or everyone recognized).
LATE_CODES = frozenset({"round_over", "wrong_phase", "not_your_turn"})
# The server judges a batch when it reads it, and a busy server reads a batch sent in time after the
# round ended. Such an error is a race, not a fault, when its answer came back after the round's
# deadline (``ends_at``; the error proves the server read the batch before answering), or at most
# this long before the host saw the round end (rounds that end early, when everyone is recognized).
# An error that came back while the round was plainly still open is a fault.
LATE_WINDOW_S = 1.0
# Slack for comparing the server's ``ends_at`` with our clock (same machine, converted once).
DEADLINE_SLACK_S = 0.05
# A round's deliveries may still arrive this long after the host saw it end.
ROUND_GRACE_S = 1.0


@dataclass(slots=True)
class SentBatch:
    room: str
    drawer: str
    sent_at: float
    awaiting: set[str]
    in_doubt: bool = False


@dataclass(frozen=True, slots=True)
class Rejection:
    """A stroke batch the server answered with an error."""

    room: str
    game: int
    round: int
    code: str
    sent_at: float
    answered_at: float
    deadline: float = math.inf  # the round's ends_at on our clock


@dataclass(slots=True)
class Announcement:
    """One player's recognition in one round, and which members have seen it."""

    seen_by: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Outage:
    """A bot's time off the server: from the drop to the snapshot of its resume.

    Attributes:
        resumed_into: (game, round) when the resume snapshot showed that round running, else None.
    """

    bot: str
    room: str
    start: float
    end: float = math.inf
    resumed_into: tuple[int, int] | None = None


@dataclass(slots=True)
class DrawerRound:
    """One bot drawing in one round."""

    bot: str
    room: str
    game: int
    round: int
    right_word: bool
    batches: int = 0
    recognized: bool = False
    outcome_known: bool = False  # the bot saw the round's result (its own recognized, or round_ended)


@dataclass(frozen=True, slots=True)
class LossSummary:
    """What never arrived, counted per (item, member) pair.

    Attributes:
        strokes: accepted batches a spectator never saw (not excused).
        recognitions: recognitions a member never saw (not excused).
        unconfirmed_strokes: batches in doubt after a drop that no snapshot could settle.
        examples: a few human-readable cases, to start debugging from.
    """

    strokes: int
    recognitions: int
    unconfirmed_strokes: int
    examples: tuple[str, ...]


class Ledger:
    """Every send and every sighting that the loss checks need (see the module docstring)."""

    def __init__(self) -> None:
        self.batches: dict[BatchKey, SentBatch] = {}
        self.rejections: list[Rejection] = []
        self.recognitions: dict[tuple[str, int, int, str], Announcement] = {}
        self.members: dict[str, set[str]] = {}
        self.timeline: dict[RoundKey, list[float]] = {}
        self.outages: list[Outage] = []
        self.drawer_rounds: list[DrawerRound] = []
        self.anomalies: Counter[str] = Counter()
        self.anomaly_examples: list[str] = []

    # ---------------------------------------------------------------- rooms and rounds

    def joined(self, room: str, bot: str) -> None:
        self.members.setdefault(room, set()).add(bot)

    def round_started(self, key: RoundKey, at: float) -> None:
        self.timeline[key] = [at, math.inf]

    def round_ended(self, key: RoundKey, at: float) -> None:
        self.timeline.setdefault(key, [at, at])[1] = at

    def outage_started(self, bot: str, room: str, at: float) -> Outage:
        outage = Outage(bot, room, at)
        self.outages.append(outage)
        return outage

    def excused(self, member: str, room: str, game: int, round_number: int) -> bool:
        """Whether ``member`` may have missed deliveries of this round (see the module docstring)."""
        span = self.timeline.get((room, game, round_number))
        start, end = (span[0], span[1] + ROUND_GRACE_S) if span else (-math.inf, math.inf)
        return any(
            outage.bot == member
            and outage.start <= end
            and outage.end >= start
            and outage.resumed_into != (game, round_number)
            for outage in self.outages
        )

    # ---------------------------------------------------------------- strokes

    def batch_sent(self, key: BatchKey, room: str, drawer: str, spectators: set[str], at: float) -> None:
        """A drawer sent a batch; each of ``spectators`` must now see it."""
        if spectators:
            self.batches[key] = SentBatch(room, drawer, at, set(spectators))

    def relay_seen(self, key: BatchKey, spectator: str) -> float | None:
        """A spectator got a ``stroke`` relay. Returns when the batch was sent, or None if unknown."""
        entry = self.batches.get(key)
        if entry is None or spectator not in entry.awaiting:
            player_id, game, round_number, stroke, last_t = key
            stale = self.batches.get((player_id, game - 1, round_number, stroke, last_t))
            if stale is not None and spectator in stale.awaiting:
                # A batch of the previous game's round with the same number, relayed in this game: the
                # server took a late batch as part of the new round. It still counts as lost there.
                self.anomalies["relays_of_previous_game"] += 1
                if len(self.anomaly_examples) < 10:
                    self.anomaly_examples.append(
                        f"{spectator} got {player_id} ({stale.drawer}) stroke {stroke} t={last_t} of game"
                        f" {game - 1} round {round_number} during game {game}"
                    )
            else:
                self.anomalies["unexpected_relays"] += 1
            return None
        self._delivered(key, entry, spectator)
        return entry.sent_at

    def snapshot_seen(self, keys: list[BatchKey], spectator: str) -> None:
        """A spectator's ``room`` snapshot holds these batches: they count as delivered."""
        for key in keys:
            entry = self.batches.get(key)
            if entry is not None and spectator in entry.awaiting:
                self._delivered(key, entry, spectator)

    def batch_rejected(
        self,
        key: BatchKey,
        room: str,
        code: str,
        sent_at: float,
        answered_at: float,
        deadline: float = math.inf,
    ) -> None:
        """The server answered a batch with an error: it must not be relayed."""
        self.batches.pop(key, None)
        self.rejections.append(Rejection(room, key[1], key[2], code, sent_at, answered_at, deadline))

    def put_in_doubt(self, keys: list[BatchKey]) -> None:
        for key in keys:
            entry = self.batches.get(key)
            if entry is not None:
                entry.in_doubt = True

    def confirm(self, key: BatchKey) -> None:
        entry = self.batches.get(key)
        if entry is not None:
            entry.in_doubt = False
            if not entry.awaiting:
                del self.batches[key]

    def withdraw(self, key: BatchKey) -> None:
        """The server never got this batch (a drop ate it); the drawer sends it again."""
        self.batches.pop(key, None)

    def _delivered(self, key: BatchKey, entry: SentBatch, spectator: str) -> None:
        entry.awaiting.discard(spectator)
        if not entry.awaiting and not entry.in_doubt:
            del self.batches[key]

    # ---------------------------------------------------------------- recognitions

    def recognized_seen(self, key: RoundKey, player_id: str, member: str) -> None:
        self.recognitions.setdefault((*key, player_id), Announcement()).seen_by.add(member)

    def recognized_announced(self, key: RoundKey, player_id: str) -> None:
        """The round's results say ``player_id`` was recognized: every member must have been told."""
        self.recognitions.setdefault((*key, player_id), Announcement())

    # ---------------------------------------------------------------- verdict

    def late_rejection(self, rejection: Rejection) -> bool:
        """Whether a rejected batch merely raced the round's end (see ``LATE_CODES``)."""
        if rejection.code not in LATE_CODES:
            return False
        if rejection.answered_at >= rejection.deadline - DEADLINE_SLACK_S:
            return True
        span = self.timeline.get((rejection.room, rejection.game, rejection.round))
        return span is None or rejection.answered_at >= span[1] - LATE_WINDOW_S

    def losses(self) -> LossSummary:
        """Count what never arrived; call once every bot has stopped."""
        lost_strokes = unconfirmed = 0
        examples: list[str] = []
        for key, entry in self.batches.items():
            player_id, game, round_number, stroke, last_t = key
            for spectator in sorted(entry.awaiting):
                if entry.in_doubt:
                    unconfirmed += 1
                elif not self.excused(spectator, entry.room, game, round_number):
                    lost_strokes += 1
                    if len(examples) < 10:
                        span = self.timeline.get((entry.room, game, round_number))
                        when = (
                            f"{span[1] - entry.sent_at:.2f}s before the host saw the round end"
                            if span
                            else ""
                        )
                        examples.append(
                            f"stroke: room {entry.room} game {game} round {round_number}: {spectator}"
                            f" never got {player_id} ({entry.drawer}) stroke {stroke} batch ending"
                            f" t={last_t}, sent {when}"
                        )
        lost_recognitions = 0
        for (room, game, round_number, player_id), announcement in self.recognitions.items():
            for member in sorted(self.members.get(room, set()) - announcement.seen_by):
                if self.excused(member, room, game, round_number):
                    continue
                lost_recognitions += 1
                if len(examples) < 20:
                    examples.append(
                        f"recognition: room {room} game {game} round {round_number}: {member} never got"
                        f" recognized for {player_id} (seen by {len(announcement.seen_by)})"
                    )
        return LossSummary(lost_strokes, lost_recognitions, unconfirmed, tuple(examples))
