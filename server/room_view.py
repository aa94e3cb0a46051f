"""One room as one gateway sees it: published envelopes in, effects out.

Like websockets' ``Protocol``, this object does no I/O: no sockets, no asyncio, no clock. Every gateway
with members in a room keeps one ``RoomView`` of it and feeds it every envelope of the room's channel
(``server/envelopes.py``), in the channel's order, the gateway that committed included (its own
commits come back as echoes like any other: the channel is the one order of a room's strokes,
guesses and commits). What comes out is the same on every gateway for the same members: the frames
to send and to whom, the drawings to clear, the recognitions to forget, the room's next wake-up, the
seats to give up.

Rules of this file:

- A commit is acted on once, in version order: one older than or equal to the view's version has
  been seen (or was covered by a state the view learned on a join) and gives nothing.
- A member's frames start after its snapshot: from ``seat()`` to ``snapshot_sent()`` what is meant for
  it is held, then given out minus what the snapshot covered (its version, its strokes).
- The view holds no drawing itself: it says when the drawings of its players go stale (a round
  started or ended), and the gateway's drawings are keyed by (game, round) besides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from game import rules
from game.events import LeaveReason, PlayerLeft, RoomClosed, RoundEnded, RoundStarted
from game.state import Role, RoomState
from server import messages as wire
from server.envelopes import CommitEnvelope, Envelope, GuessEnvelope, StrokeEnvelope

# -- effects ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Send `frame` (encoded at most once per encoding) to each member in `to`."""

    frame: wire.WireFrame
    to: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ClearDrawings:
    """The drawings these players hold for recognition belong to a round that is over."""

    player_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ForgetRecognitions:
    """Drop these players' queued recognition work and late results."""

    player_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SetTimer:
    """Wake the room at `deadline` (absolute seconds) to apply due ticks; None: nothing is due."""

    deadline: float | None


@dataclass(frozen=True, slots=True)
class Unseat:
    """This member is no longer in the room (kicked, seat expired, room closed): close its seat here."""

    player_id: str


Effect: TypeAlias = Send | ClearDrawings | ForgetRecognitions | SetTimer | Unseat

# Who a frame is for: everyone, everyone but one, spectators plus one player (their own guesses),
# or the viewers of one drawer's strokes (spectators; players too when the room shows drawings).
Audience: TypeAlias = tuple[str, str]
ALL: Audience = ("all", "")


@dataclass(slots=True)
class Seat:
    """A member of the room on this gateway, and what its snapshot covered."""

    role: Role
    seen_version: int = 0
    seen_strokes: tuple[int, int, int] = (0, 0, 0)  # (game, round, last batch) in the snapshot
    # While the snapshot is built: what arrived for the room meanwhile, delivered after it.
    held: list[_Rendered] | None = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Rendered:
    """An envelope's frames with their audiences, kept for members whose snapshot is not sent yet."""

    version: int  # a commit's version; 0 for strokes and guesses
    strokes: tuple[int, int, int] | None  # (game, round, seq) of a stroke batch
    frames: tuple[tuple[Audience, wire.WireFrame], ...]


class RoomView:
    """The room's newest state known here, its local members, and what each envelope means for them."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.state: RoomState | None = None
        self.version = 0
        self.seats: dict[str, Seat] = {}

    # -- members ------------------------------------------------------------------------------------

    def seat(self, player_id: str, role: Role) -> None:
        """A member joined or resumed here; hold its frames until its snapshot is sent."""
        self.seats[player_id] = Seat(role)

    def unseat(self, player_id: str) -> None:
        """The member left this gateway (no effect if it had no seat)."""
        self.seats.pop(player_id, None)

    def snapshot_sent(self, player_id: str, version: int, strokes: tuple[int, int, int]) -> list[Effect]:
        """The member got a snapshot of `version` with the strokes up to `strokes` (game, round, seq):
        give out what was held for it, minus what the snapshot covered."""
        seat = self.seats.get(player_id)
        if seat is None:
            return []
        held, seat.held = seat.held or [], None
        seat.seen_version, seat.seen_strokes = version, strokes
        effects: list[Effect] = []
        for rendered in held:
            if self._covered(seat, rendered):
                continue
            seat.seen_version = max(seat.seen_version, rendered.version)
            effects.extend(
                Send(frame, (player_id,))
                for audience, frame in rendered.frames
                if self._includes(audience, player_id, seat)
            )
        return effects

    def role(self, player_id: str) -> Role | None:
        seat = self.seats.get(player_id)
        return seat.role if seat is not None else None

    # -- envelopes ----------------------------------------------------------------------------------

    def learn(self, state: RoomState, version: int) -> list[Effect]:
        """Take the state a member's create, join or resume just read, if this view knows none yet.

        A fresh view has heard no envelope: without this it would not know the room until the next
        commit, which may be long (a resume changes nothing when the seat looked connected). It counts
        from `version` - 1, so the echo of that very commit, if one is on its way, is still acted on.
        """
        if self.state is not None:
            return []
        self.state, self.version = state, version - 1
        return [SetTimer(rules.next_deadline(state))]

    def receive(self, envelope: Envelope) -> list[Effect]:
        """Act on one envelope of the room's channel, in the channel's order."""
        match envelope:
            case CommitEnvelope():
                if envelope.version <= self.version:
                    return []
                return self._commit(envelope)
            case StrokeEnvelope():
                relay = wire.stroke_relay_message(
                    envelope.player_id, envelope.game, envelope.round, envelope.stroke, envelope.points,
                    envelope.end, envelope.canvas,
                )  # fmt: skip
                rendered = _Rendered(
                    0,
                    (envelope.game, envelope.round, envelope.seq),
                    ((("stroke_viewers", envelope.player_id), wire.WireFrame(relay)),),
                )
                return self._fan_out(rendered)
            case GuessEnvelope():
                guess = wire.guess_message(envelope.player_id, list(envelope.guesses), envelope.round)
                return self._fan_out(
                    _Rendered(0, None, ((("viewers", envelope.player_id), wire.WireFrame(guess)),))
                )
        return []

    def _commit(self, envelope: CommitEnvelope) -> list[Effect]:
        self.state, self.version = envelope.state, envelope.version
        frames = tuple(
            ((audience[0], audience[1] if len(audience) > 1 else ""), wire.WireFrame(message))
            for event in envelope.events
            for audience, message in wire.render_event(event, envelope.state)
        )
        effects = self._fan_out(_Rendered(envelope.version, None, frames))
        players = tuple(pid for pid, seat in self.seats.items() if seat.role == Role.PLAYER)
        for event in envelope.events:
            match event:
                case RoundStarted() | RoundEnded() if players:
                    effects += [ClearDrawings(players), ForgetRecognitions(players)]
                case PlayerLeft(player_id=player_id, reason=reason) if (
                    player_id in self.seats and reason != LeaveReason.LEFT
                ):
                    # Kicked, or the seat expired: told here, since its socket may be on this gateway
                    # while another gateway committed. (Who leaves by itself is answered directly.)
                    left = wire.left_room_message(self.code, reason.value)
                    effects += [Send(wire.WireFrame(left), (player_id,)), Unseat(player_id)]
                    self.seats.pop(player_id)
                case RoomClosed():
                    effects += [Unseat(player_id) for player_id in self.seats]
                    self.seats.clear()
        effects.append(SetTimer(rules.next_deadline(envelope.state)))
        return effects

    # -- delivery -----------------------------------------------------------------------------------

    def _fan_out(self, rendered: _Rendered) -> list[Effect]:
        recipients: dict[int, list[str]] = {index: [] for index in range(len(rendered.frames))}
        for player_id, seat in self.seats.items():
            if seat.held is not None:
                seat.held.append(rendered)
                continue
            if self._covered(seat, rendered):
                continue
            seat.seen_version = max(seat.seen_version, rendered.version)
            for index, (audience, _frame) in enumerate(rendered.frames):
                if self._includes(audience, player_id, seat):
                    recipients[index].append(player_id)
        return [
            Send(frame, tuple(recipients[index]))
            for index, (_audience, frame) in enumerate(rendered.frames)
            if recipients[index]
        ]

    @staticmethod
    def _covered(seat: Seat, rendered: _Rendered) -> bool:
        """Whether the member's snapshot already showed this."""
        if rendered.strokes is not None:
            game, round_number, seq = rendered.strokes
            seen_game, seen_round, seen_seq = seat.seen_strokes
            return (game, round_number) == (seen_game, seen_round) and seq <= seen_seq
        return bool(rendered.version) and rendered.version <= seat.seen_version

    def _includes(self, audience: Audience, player_id: str, seat: Seat) -> bool:
        kind, named = audience
        if kind == "all":
            return True
        if kind == "all_except":
            return player_id != named
        if kind == "viewers":
            return seat.role == Role.SPECTATOR or player_id == named
        if kind == "stroke_viewers":
            if player_id == named:
                return False
            return seat.role == Role.SPECTATOR or bool(
                self.state is not None and self.state.settings.show_drawings
            )
        return False
