"""RoomState's round trip through plain data (msgpack in Redis, JSON on the wire)."""

from __future__ import annotations

import json
import math

import msgpack
import pytest

from game.state import SCHEMA_VERSION, Phase, RoomState
from tests.game.helpers import SEED_WORDS, T0, states_in_every_phase

PLAIN_SCALARS = (str, int, float, bool, type(None))


def assert_plain(value: object, path: str = "state") -> None:
    """Only str/int/float/bool/None/list/dict(str keys) anywhere; no enum or tuple in disguise."""
    if isinstance(value, dict):
        assert type(value) is dict, path
        for key, item in value.items():
            assert type(key) is str, f"{path} key {key!r}"
            assert_plain(item, f"{path}.{key}")
    elif isinstance(value, list):
        assert type(value) is list, path
        for index, item in enumerate(value):
            assert_plain(item, f"{path}[{index}]")
    else:
        assert type(value) in PLAIN_SCALARS, f"{path} is {type(value).__name__}"
        assert not (isinstance(value, float) and not math.isfinite(value)), path


STATES = states_in_every_phase()


def test_fixture_covers_every_phase() -> None:
    """The round-trip cases below reach every phase."""
    assert {state.phase for state in STATES.values()} == set(Phase)


@pytest.mark.parametrize("name", STATES)
def test_to_dict_is_plain_data(name: str) -> None:
    """to_dict gives only plain, finite, JSON- and msgpack-safe values."""
    data = STATES[name].to_dict()
    assert_plain(data)
    assert data["schema"] == SCHEMA_VERSION
    json.dumps(data, allow_nan=False)


@pytest.mark.parametrize("name", STATES)
def test_round_trip_through_json_and_msgpack(name: str) -> None:
    """from_dict(to_dict(state)) == state, also after a trip through JSON or msgpack bytes."""
    state = STATES[name]
    assert RoomState.from_dict(state.to_dict()) == state
    assert RoomState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    packed = msgpack.packb(state.to_dict(), use_bin_type=True)
    assert RoomState.from_dict(msgpack.unpackb(packed, raw=False)) == state


def test_to_dict_of_a_round_in_full() -> None:
    """The exact plain shape of a state in a round: the contract with the store."""
    assert STATES["round"].to_dict() == {
        "schema": 1,
        "code": "CDF4HJ",
        "host": "ana",
        "phase": "round",
        "settings": {
            "rounds": 2,
            "round_seconds": 20,
            "max_players": 8,
            "words": ["apple", "bicycle", "cat", "dog", "house", "moon", "sun", "tree"],
            "pack": "",
            "show_drawings": True,
            "archive": False,
            "results_seconds": 5,
            "max_spectators": 32,
        },
        "created_at": T0,
        "players": [
            {
                "player_id": "ana",
                "name": "Ana",
                "score": 0,
                "joined_at": T0,
                "connected": True,
                "disconnected_at": None,
            },
            {
                "player_id": "ben",
                "name": "Ben",
                "score": 134,
                "joined_at": T0 + 1,
                "connected": True,
                "disconnected_at": None,
            },
            {
                "player_id": "cy",
                "name": "Cy",
                "score": 0,
                "joined_at": T0 + 2,
                "connected": False,
                "disconnected_at": T0 + 5.125,
            },
        ],
        "spectators": [
            {
                "player_id": "sam",
                "name": "Sam ☃",
                "joined_at": T0 + 3.5,
                "connected": True,
                "disconnected_at": None,
            }
        ],
        "kicked": ["kim"],
        "game_number": 1,
        "word_order": ["sun", "tree"],
        "round": {
            "number": 1,
            "word": "sun",
            "started_at": T0 + 10,
            "ends_at": T0 + 30,
            "drawers": ["ana", "ben", "cy"],
            "recognitions": [
                {"player_id": "ben", "rank": 1, "elapsed_ms": 3300, "points": 134, "at": T0 + 13.3},
            ],
        },
        "round_results_until": None,
    }


def test_integral_times_from_json_come_back_equal() -> None:
    """A time stored as an int (JSON writes 1700000000 for 1700000000.0 in some encoders) reads back."""
    data = STATES["lobby"].to_dict()
    data["created_at"] = int(T0)
    assert RoomState.from_dict(data) == STATES["lobby"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("schema", 2),
        ("phase", "intermission"),
        ("players", "ben"),
        ("game_number", True),
        ("host", 7),
        ("created_at", "yesterday"),
        ("kicked", [1]),
    ],
)
def test_from_dict_refuses_corrupt_data(key: str, value: object) -> None:
    """A stored room that does not parse raises ValueError, never a half-read state."""
    data = STATES["lobby"].to_dict()
    data[key] = value
    with pytest.raises(ValueError):
        RoomState.from_dict(data)


def test_words_played() -> None:
    """The words of the rounds so far; all of them at game over; none in the lobby."""
    assert STATES["lobby"].words_played == ()
    assert STATES["round"].words_played == SEED_WORDS[:1]
    assert STATES["round_results"].words_played == SEED_WORDS[:1]
    assert STATES["game_over"].words_played == SEED_WORDS[:2]
