"""The room's settings: one frozen dataclass that is valid by construction.

``RoomSettings(...)`` checks types and ranges itself, so a settings object the rules receive is
always in range. ``RoomSettings.validated`` is the reader for the host's raw message: it also checks
every word against the words the model knows, turns a word pack's name into its words
(`game.packs`), and fills in the default pack (or every known word) when no words are given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

from game.errors import InvalidSettings, UnknownPack, UnknownWord
from game.packs import DEFAULT_PACK, WordPack

# Inclusive bounds of every integer setting. rounds, round_seconds and max_players come from the
# product spec. results_seconds >= 1 keeps each deadline strictly after the Tick that sets it, so one
# Tick advances the phase at most one step.
INT_BOUNDS: Final[Mapping[str, tuple[int, int]]] = {
    "rounds": (1, 20),
    "round_seconds": (5, 120),
    "max_players": (1, 16),
    "results_seconds": (1, 60),
    "max_spectators": (0, 64),
}
BOOL_SETTINGS: Final = ("show_drawings", "archive")
SETTING_NAMES: Final = frozenset({*INT_BOUNDS, *BOOL_SETTINGS, "words", "pack"})


@dataclass(frozen=True, slots=True)
class RoomSettings:
    """What the host chooses in the lobby.

    Attributes:
        rounds: rounds per game; no word repeats within a game, so at most ``len(words)``.
        round_seconds: drawing time of each round.
        max_players: player seats, including seats held for disconnected players.
        words: the words a game draws from. Empty means "not resolved yet"; ``validated`` resolves
            it to the default pack's words, and a room only accepts resolved settings.
        pack: the name of the word pack `words` came from; "" for a list the host wrote.
        show_drawings: spectators and other players see the strokes live.
        archive: the server keeps the drawings after the game.
        results_seconds: pause on a round's results before the next round (or the game over).
        max_spectators: spectator seats.

    Raises:
        InvalidSettings: on construction, for a wrong type, an out-of-range value, a duplicate word,
            or more rounds than words.
    """

    rounds: int = 6
    round_seconds: int = 20
    max_players: int = 8
    words: tuple[str, ...] = ()
    pack: str = ""
    show_drawings: bool = True
    archive: bool = False
    results_seconds: int = 5
    max_spectators: int = 32

    def __post_init__(self) -> None:
        for name, (low, high) in INT_BOUNDS.items():
            value = getattr(self, name)
            # bool is an int subclass; `"rounds": true` from a client is a mistake, not 1 round.
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidSettings(f"{name} must be an integer, got {value!r}")
            if not low <= value <= high:
                raise InvalidSettings(f"{name} must be between {low} and {high}, got {value}")
        for name in BOOL_SETTINGS:
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise InvalidSettings(f"{name} must be true or false, got {value!r}")
        if not isinstance(self.pack, str):
            raise InvalidSettings(f"pack must be a string, got {self.pack!r}")
        if not isinstance(self.words, tuple):
            raise InvalidSettings(f"words must be a tuple, got {self.words!r}")
        seen: set[str] = set()
        for word in self.words:
            if not isinstance(word, str) or not word:
                raise InvalidSettings(f"words must be non-empty strings, got {word!r}")
            if word in seen:
                raise InvalidSettings(f"the word {word!r} is listed twice")
            seen.add(word)
        if self.words and self.rounds > len(self.words):
            raise InvalidSettings(
                f"{self.rounds} rounds need {self.rounds} different words, only {len(self.words)} chosen"
            )

    @classmethod
    def validated(
        cls,
        raw: Mapping[str, object],
        known_words: Sequence[str],
        base: RoomSettings | None = None,
        packs: Mapping[str, WordPack] | None = None,
    ) -> RoomSettings:
        """Read settings sent by a client, strictly.

        Args:
            raw: any subset of the setting names, with JSON-like values (``words`` a list of str,
                an empty list meaning the default pack; ``pack`` a pack's name). ``words`` and
                ``pack`` exclude each other.
            known_words: the words the recognition model knows, in the order to offer them.
            base: settings to start from for the names ``raw`` leaves out (the room's current
                settings when the host changes one field); the defaults when None.
            packs: the word packs on offer (`game.packs.build_packs`); without them, or without a
                default pack among them, no words means every known word.

        Returns:
            Settings with ``words`` resolved (never empty).

        Raises:
            UnknownWord: a word is not in ``known_words``.
            UnknownPack: ``pack`` names no pack on offer.
            InvalidSettings: an unknown name, a wrong type (bool is not int), an out-of-range value,
                a duplicate word, more rounds than words, or both ``words`` and ``pack``.
        """
        known = tuple(dict.fromkeys(known_words))
        if not known:
            raise InvalidSettings("the model knows no words")
        packs = packs or {}
        if "pack" in raw:
            if "words" in raw:
                raise InvalidSettings("give words or a pack, not both")
            name = raw["pack"]
            if not isinstance(name, str) or name not in packs:
                raise UnknownPack(str(name))
            raw = {**raw, "words": list(packs[name].words)}
        settings = _read(raw, base if base is not None else cls(), known=frozenset(known))
        if settings.words:
            return settings
        default = packs.get(DEFAULT_PACK)
        if default is not None:
            return replace(settings, words=default.words, pack=default.name)
        return replace(settings, words=known, pack="")

    def to_dict(self) -> dict[str, object]:
        """Plain data (str, int, bool, list) for msgpack, JSON and the wire."""
        return {
            "rounds": self.rounds,
            "round_seconds": self.round_seconds,
            "max_players": self.max_players,
            "words": list(self.words),
            "pack": self.pack,
            "show_drawings": self.show_drawings,
            "archive": self.archive,
            "results_seconds": self.results_seconds,
            "max_spectators": self.max_spectators,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> RoomSettings:
        """Inverse of ``to_dict``. Names missing from ``data`` take their defaults.

        Raises:
            InvalidSettings: as ``validated``, except that words are not checked against a model.
        """
        return _read(data, cls(), known=None)


def _read(raw: Mapping[str, object], base: RoomSettings, known: frozenset[str] | None) -> RoomSettings:
    unknown = sorted(str(name) for name in raw if name not in SETTING_NAMES)
    if unknown:
        raise InvalidSettings(f"unknown setting {unknown[0]!r}")
    ints = {name: _read_int(raw, name, getattr(base, name)) for name in INT_BOUNDS}
    bools = {name: _read_bool(raw, name, getattr(base, name)) for name in BOOL_SETTINGS}
    words = _read_words(raw["words"], known) if "words" in raw else base.words
    # A list of words the host wrote belongs to no pack; `validated` passes a pack's words with its name.
    pack = raw.get("pack", "" if "words" in raw else base.pack)
    return RoomSettings(
        rounds=ints["rounds"],
        round_seconds=ints["round_seconds"],
        max_players=ints["max_players"],
        words=words,
        pack=pack if isinstance(pack, str) else str(pack),
        show_drawings=bools["show_drawings"],
        archive=bools["archive"],
        results_seconds=ints["results_seconds"],
        max_spectators=ints["max_spectators"],
    )


def _read_int(raw: Mapping[str, object], name: str, default: int) -> int:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSettings(f"{name} must be an integer, got {value!r}")
    return value


def _read_bool(raw: Mapping[str, object], name: str, default: bool) -> bool:
    value = raw.get(name, default)
    if not isinstance(value, bool):
        raise InvalidSettings(f"{name} must be true or false, got {value!r}")
    return value


def _read_words(value: object, known: frozenset[str] | None) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise InvalidSettings(f"words must be a list of strings, got {value!r}")
    words: list[str] = []
    for word in value:
        if not isinstance(word, str):
            raise InvalidSettings(f"words must be a list of strings, got {word!r}")
        if known is not None and word not in known:
            raise UnknownWord(word)
        words.append(word)
    return tuple(words)
