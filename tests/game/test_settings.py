"""RoomSettings: strict reading of the host's raw settings, and valid-by-construction objects."""

from __future__ import annotations

import json

import pytest

from game.errors import InvalidSettings, UnknownWord
from game.settings import RoomSettings
from tests.game.helpers import WORDS


def test_empty_message_gives_defaults_with_every_known_word() -> None:
    """No settings at all: the spec's defaults, and every word the model knows."""
    assert RoomSettings.validated({}, WORDS) == RoomSettings(
        rounds=6,
        round_seconds=20,
        max_players=8,
        words=WORDS,
        show_drawings=True,
        archive=False,
        results_seconds=5,
        max_spectators=32,
    )


def test_every_field_read() -> None:
    """Each setting is read from the message; an explicit word list is kept in its order."""
    raw = {
        "rounds": 2,
        "round_seconds": 45,
        "max_players": 4,
        "words": ["tree", "cat"],
        "show_drawings": False,
        "archive": True,
        "results_seconds": 8,
        "max_spectators": 0,
    }
    assert RoomSettings.validated(raw, WORDS) == RoomSettings(
        rounds=2,
        round_seconds=45,
        max_players=4,
        words=("tree", "cat"),
        show_drawings=False,
        archive=True,
        results_seconds=8,
        max_spectators=0,
    )


def test_empty_word_list_means_every_known_word() -> None:
    """`words: []` from a client asks for the model's whole vocabulary."""
    assert RoomSettings.validated({"words": []}, WORDS).words == WORDS


def test_known_words_are_deduplicated_in_order() -> None:
    """A label list with repeats gives each word once, first occurrence first."""
    assert RoomSettings.validated({"rounds": 2}, ["cat", "dog", "cat"]).words == ("cat", "dog")


def test_base_keeps_the_fields_left_out() -> None:
    """With a base, only the fields in the message change."""
    base = RoomSettings.validated({"rounds": 3, "words": ["cat", "dog", "sun"], "archive": True}, WORDS)
    changed = RoomSettings.validated({"round_seconds": 30}, WORDS, base=base)
    assert changed == RoomSettings(rounds=3, round_seconds=30, words=("cat", "dog", "sun"), archive=True)


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("rounds", 1, 8),  # 8 = len(WORDS): no word may repeat within a game
        ("round_seconds", 5, 120),
        ("max_players", 1, 16),
        ("results_seconds", 1, 60),
        ("max_spectators", 0, 64),
    ],
)
def test_integer_bounds_are_inclusive(name: str, low: int, high: int) -> None:
    """The bounds themselves are accepted; one past either end is refused."""
    assert getattr(RoomSettings.validated({name: low}, WORDS), name) == low
    assert getattr(RoomSettings.validated({name: high}, WORDS), name) == high
    for value in (low - 1, high + 1):
        with pytest.raises(InvalidSettings) as caught:
            RoomSettings.validated({name: value}, WORDS)
        assert type(caught.value) is InvalidSettings
        assert name in str(caught.value)


def test_rounds_up_to_twenty_with_a_big_vocabulary() -> None:
    """The spec's cap on rounds is 20 when there are words enough."""
    vocabulary = [f"word{i}" for i in range(30)]
    assert RoomSettings.validated({"rounds": 20}, vocabulary).rounds == 20
    with pytest.raises(InvalidSettings):
        RoomSettings.validated({"rounds": 21}, vocabulary)


@pytest.mark.parametrize(
    "raw",
    [
        {"rounds": True},  # bool is not int
        {"rounds": 2.0},
        {"rounds": "2"},
        {"max_players": None},
        {"show_drawings": 1},
        {"archive": "yes"},
        {"words": "cat"},
        {"words": ["cat", 3]},
        {"words": {"cat": 1}},
        {"colour": "red"},
    ],
)
def test_wrong_types_and_unknown_names_refused(raw: dict[str, object]) -> None:
    """Types are checked strictly: no coercion from bool, float, str or None."""
    with pytest.raises(InvalidSettings) as caught:
        RoomSettings.validated(raw, WORDS)
    assert type(caught.value) is InvalidSettings


def test_unknown_word_is_named() -> None:
    """A word the model does not know raises UnknownWord naming it."""
    with pytest.raises(UnknownWord) as caught:
        RoomSettings.validated({"rounds": 1, "words": ["cat", "unicorn"]}, WORDS)
    assert caught.value.word == "unicorn"
    assert caught.value.code == "unknown_word"


def test_duplicate_word_refused() -> None:
    """A word listed twice could be drawn twice in a game."""
    with pytest.raises(InvalidSettings, match="'cat' is listed twice"):
        RoomSettings.validated({"rounds": 1, "words": ["cat", "dog", "cat"]}, WORDS)


def test_more_rounds_than_chosen_words_refused() -> None:
    """Every round needs its own word."""
    with pytest.raises(InvalidSettings, match="3 rounds need 3 different words"):
        RoomSettings.validated({"rounds": 3, "words": ["cat", "dog"]}, WORDS)


def test_model_without_words_refused() -> None:
    """No vocabulary, no game."""
    with pytest.raises(InvalidSettings):
        RoomSettings.validated({}, [])


def test_constructor_checks_too() -> None:
    """RoomSettings built in code is as strict as one read from a message."""
    with pytest.raises(InvalidSettings):
        RoomSettings(rounds=0)
    with pytest.raises(InvalidSettings):
        RoomSettings(archive=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidSettings):
        RoomSettings(words=["cat"])  # type: ignore[arg-type]
    with pytest.raises(InvalidSettings):
        RoomSettings(rounds=2, words=("cat",))


def test_to_dict_round_trip_is_plain_json() -> None:
    """to_dict gives JSON-safe data that from_dict turns back into equal settings."""
    settings = RoomSettings.validated({"rounds": 2, "words": ["sun", "moon"], "archive": True}, WORDS)
    data = json.loads(json.dumps(settings.to_dict()))
    assert data == {
        "rounds": 2,
        "round_seconds": 20,
        "max_players": 8,
        "words": ["sun", "moon"],
        "pack": "",
        "show_drawings": True,
        "archive": True,
        "results_seconds": 5,
        "max_spectators": 32,
    }
    assert RoomSettings.from_dict(data) == settings


def test_from_dict_does_not_need_the_model_but_checks_ranges() -> None:
    """Stored settings are read without the vocabulary, still type- and range-checked."""
    assert RoomSettings.from_dict({"rounds": 1, "words": ["retired-word"]}).words == ("retired-word",)
    with pytest.raises(InvalidSettings):
        RoomSettings.from_dict({"rounds": 99, "words": ["cat"]})
