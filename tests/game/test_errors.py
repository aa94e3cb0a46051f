"""The error tree: wire codes, and the tree drawn in game/errors.py's docstring."""

from __future__ import annotations

import inspect
import re

import game.errors
from game.errors import DoodleError

ERRORS = [
    cls
    for _, cls in inspect.getmembers(game.errors, inspect.isclass)
    if issubclass(cls, DoodleError) and cls.__module__ == "game.errors"
]


def test_codes_are_snake_case_unique_and_set_on_each_class() -> None:
    """Every error defines its own snake_case code, and no two share one."""
    codes = [cls.code for cls in ERRORS]
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", code) for code in codes)
    assert len(set(codes)) == len(codes)
    assert all("code" in vars(cls) for cls in ERRORS)


def test_codes_the_server_relies_on() -> None:
    """The wire codes named in the product spec."""
    expected = {
        "RoomFull": "room_full",
        "RoomNotFound": "room_not_found",
        "NotHost": "not_host",
        "NotInRoom": "not_in_room",
        "NotAPlayer": "not_a_player",
        "KickedFromRoom": "kicked",
        "WrongPhase": "wrong_phase",
        "NotYourTurn": "not_your_turn",
        "GuessAfterDeadline": "round_over",
        "InvalidSettings": "invalid_settings",
        "UnknownWord": "unknown_word",
        "AlreadyRecognized": "already_recognized",
        "NotEnoughPlayers": "not_enough_players",
    }
    actual = {cls.__name__: cls.code for cls in ERRORS}
    assert {name: actual.get(name) for name in expected} == expected


def test_docstring_tree_matches_the_classes() -> None:
    """The drawn tree lists every error once, under its real parent, with its real code."""
    drawn: dict[str, tuple[str | None, str]] = {}
    parents: list[str] = []
    for line in (game.errors.__doc__ or "").splitlines():
        match = re.fullmatch(r" {4}((?:[│ ] {3})*)(?:[├└]── )?(\w+)\s+(\w+)", line)
        if match is None:
            continue
        depth = len(match[1]) // 4 + (1 if "──" in line else 0)
        del parents[depth:]
        drawn[match[2]] = (parents[-1] if parents else None, match[3])
        parents.append(match[2])
    actual = {
        cls.__name__: (cls.__mro__[1].__name__ if cls is not DoodleError else None, cls.code)
        for cls in ERRORS
    }
    assert drawn == actual


def test_unknown_word_names_the_word() -> None:
    """UnknownWord carries the word, for the client to highlight."""
    error = game.errors.UnknownWord("unicorn")
    assert error.word == "unicorn"
    assert "unicorn" in str(error)
    assert isinstance(error, game.errors.InvalidSettings)
