"""A room's whole state as frozen dataclasses, and its round trip through plain data.

Only ``rules.py`` builds new states. ``to_dict`` gives str/int/float/bool/None/list/dict only, for
msgpack in Redis and JSON; ``from_dict`` is its inverse (``RoomState.from_dict(s.to_dict()) == s``).
The store's version number is not part of the state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeAlias

from game import _plain
from game.settings import RoomSettings

PlayerId: TypeAlias = str

# Bumped when the shape of RoomState.to_dict() changes, so a stored room from another release is
# refused loudly instead of being misread.
SCHEMA_VERSION: Final = 1


class Phase(StrEnum):
    """Where a room is in its life; ``rules.TRANSITIONS`` says how it moves."""

    LOBBY = "lobby"
    ROUND = "round"
    ROUND_RESULTS = "round_results"
    GAME_OVER = "game_over"
    # The last player left: the room is gone and every command raises RoomNotFound.
    CLOSED = "closed"


class Role(StrEnum):
    """How a member takes part: players draw and score, spectators watch."""

    PLAYER = "player"
    SPECTATOR = "spectator"


@dataclass(frozen=True, slots=True)
class Player:
    """A member who draws and scores.

    Attributes:
        joined_at: when they joined; the longest-present connected player inherits the host role.
        connected: False while their connection is down and their seat is held.
        disconnected_at: when the connection dropped; the seat expires ``rules.RESUME_SECONDS`` later.
    """

    player_id: PlayerId
    name: str
    score: int
    joined_at: float
    connected: bool = True
    disconnected_at: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "player_id": self.player_id,
            "name": self.name,
            "score": self.score,
            "joined_at": self.joined_at,
            "connected": self.connected,
            "disconnected_at": self.disconnected_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Player:
        return cls(
            player_id=_plain.string(data, "player_id"),
            name=_plain.string(data, "name"),
            score=_plain.integer(data, "score"),
            joined_at=_plain.number(data, "joined_at"),
            connected=_plain.boolean(data, "connected"),
            disconnected_at=_plain.optional_number(data, "disconnected_at"),
        )


@dataclass(frozen=True, slots=True)
class Spectator:
    """A member who watches. Their seat is held on disconnect like a player's."""

    player_id: PlayerId
    name: str
    joined_at: float
    connected: bool = True
    disconnected_at: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "player_id": self.player_id,
            "name": self.name,
            "joined_at": self.joined_at,
            "connected": self.connected,
            "disconnected_at": self.disconnected_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Spectator:
        return cls(
            player_id=_plain.string(data, "player_id"),
            name=_plain.string(data, "name"),
            joined_at=_plain.number(data, "joined_at"),
            connected=_plain.boolean(data, "connected"),
            disconnected_at=_plain.optional_number(data, "disconnected_at"),
        )


@dataclass(frozen=True, slots=True)
class Recognition:
    """The model recognized a drawer's doodle: rank 1 was first, at ``at`` (absolute seconds)."""

    player_id: PlayerId
    rank: int
    elapsed_ms: int
    points: int
    at: float

    def to_dict(self) -> dict[str, object]:
        return {
            "player_id": self.player_id,
            "rank": self.rank,
            "elapsed_ms": self.elapsed_ms,
            "points": self.points,
            "at": self.at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Recognition:
        return cls(
            player_id=_plain.string(data, "player_id"),
            rank=_plain.integer(data, "rank"),
            elapsed_ms=_plain.integer(data, "elapsed_ms"),
            points=_plain.integer(data, "points"),
            at=_plain.number(data, "at"),
        )


@dataclass(frozen=True, slots=True)
class RoundState:
    """One round: everyone in ``drawers`` draws ``word`` until ``ends_at``.

    Attributes:
        number: 1-based within the game.
        started_at, ends_at: absolute times in seconds since the epoch.
        drawers: the players taking part, in join order: the players present when the round
            started, less those who left since. Players who join mid-round wait for the next one.
        recognitions: in recognition order (rank 1 first). A drawer who left keeps their entry.
    """

    number: int
    word: str
    started_at: float
    ends_at: float
    drawers: tuple[PlayerId, ...]
    recognitions: tuple[Recognition, ...] = ()

    @property
    def duration_ms(self) -> int:
        return round((self.ends_at - self.started_at) * 1000)

    def recognition(self, player_id: PlayerId) -> Recognition | None:
        return next((r for r in self.recognitions if r.player_id == player_id), None)

    def to_dict(self) -> dict[str, object]:
        return {
            "number": self.number,
            "word": self.word,
            "started_at": self.started_at,
            "ends_at": self.ends_at,
            "drawers": list(self.drawers),
            "recognitions": [r.to_dict() for r in self.recognitions],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> RoundState:
        return cls(
            number=_plain.integer(data, "number"),
            word=_plain.string(data, "word"),
            started_at=_plain.number(data, "started_at"),
            ends_at=_plain.number(data, "ends_at"),
            drawers=_plain.strings(data, "drawers"),
            recognitions=tuple(
                Recognition.from_dict(_plain.mapping(item, "recognitions[]"))
                for item in _plain.sequence(data, "recognitions")
            ),
        )


@dataclass(frozen=True, slots=True)
class RoomState:
    """Everything the rules know about one room.

    Attributes:
        code: the room code (see ``codes.py``).
        host: a player id; None only once the room is closed.
        players, spectators: in join order.
        kicked: ids the host kicked; they may not rejoin this room in any role.
        game_number: games started in this room so far (0 in the first lobby; a rematch's game is 2).
        word_order: the current game's words, round 1 first: the settings' words shuffled by the
            StartGame seed, cut to ``settings.rounds``. Empty in the lobby.
        round: the round being played (phase round) or whose results are shown (round_results);
            None in the other phases.
        round_results_until: when the results pause ends (phase round_results only).
    """

    code: str
    host: PlayerId | None
    phase: Phase
    settings: RoomSettings
    created_at: float
    players: tuple[Player, ...] = ()
    spectators: tuple[Spectator, ...] = ()
    kicked: frozenset[PlayerId] = frozenset()
    game_number: int = 0
    word_order: tuple[str, ...] = ()
    round: RoundState | None = None
    round_results_until: float | None = None

    def player(self, player_id: PlayerId) -> Player | None:
        return next((p for p in self.players if p.player_id == player_id), None)

    def spectator(self, player_id: PlayerId) -> Spectator | None:
        return next((s for s in self.spectators if s.player_id == player_id), None)

    def member(self, player_id: PlayerId) -> Player | Spectator | None:
        return self.player(player_id) or self.spectator(player_id)

    @property
    def members(self) -> tuple[Player | Spectator, ...]:
        """Players, then spectators, each in join order."""
        return (*self.players, *self.spectators)

    @property
    def words_played(self) -> tuple[str, ...]:
        """The words of this game's rounds so far (all of them once the game is over)."""
        if self.phase is Phase.GAME_OVER:
            return self.word_order
        return self.word_order[: self.round.number] if self.round is not None else ()

    def to_dict(self) -> dict[str, object]:
        """Plain data only: str, int, float, bool, None, list and dict (msgpack- and JSON-safe)."""
        return {
            "schema": SCHEMA_VERSION,
            "code": self.code,
            "host": self.host,
            "phase": self.phase.value,
            "settings": self.settings.to_dict(),
            "created_at": self.created_at,
            "players": [p.to_dict() for p in self.players],
            "spectators": [s.to_dict() for s in self.spectators],
            "kicked": sorted(self.kicked),
            "game_number": self.game_number,
            "word_order": list(self.word_order),
            "round": self.round.to_dict() if self.round is not None else None,
            "round_results_until": self.round_results_until,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> RoomState:
        """Inverse of ``to_dict``.

        Raises:
            ValueError: the data is not a room of this schema version.
        """
        schema = _plain.integer(data, "schema")
        if schema != SCHEMA_VERSION:
            raise ValueError(f"room state schema {schema} is not {SCHEMA_VERSION}")
        raw_round = data.get("round")
        return cls(
            code=_plain.string(data, "code"),
            host=_plain.optional_string(data, "host"),
            phase=Phase(_plain.string(data, "phase")),
            settings=RoomSettings.from_dict(_plain.mapping(data.get("settings"), "settings")),
            created_at=_plain.number(data, "created_at"),
            players=tuple(
                Player.from_dict(_plain.mapping(item, "players[]"))
                for item in _plain.sequence(data, "players")
            ),
            spectators=tuple(
                Spectator.from_dict(_plain.mapping(item, "spectators[]"))
                for item in _plain.sequence(data, "spectators")
            ),
            kicked=frozenset(_plain.strings(data, "kicked")),
            game_number=_plain.integer(data, "game_number"),
            word_order=_plain.strings(data, "word_order"),
            round=RoundState.from_dict(_plain.mapping(raw_round, "round")) if raw_round is not None else None,
            round_results_until=_plain.optional_number(data, "round_results_until"),
        )
