"""Room codes: alphabet, length, generation from an injected RNG, normalization."""

from __future__ import annotations

import random
import secrets

import pytest

from game.codes import ALPHABET, CODE_LENGTH, GUESS_SPACE, display_code, new_room_code, normalize_code
from game.errors import InvalidRoomCode, RoomNotFound


def test_alphabet_has_no_ambiguous_symbols() -> None:
    """None of the look-alikes or vowels named in the module docstring."""
    assert set(ALPHABET).isdisjoint("0OQ1IL2Z5S8BGUVAEIY")
    assert len(set(ALPHABET)) == len(ALPHABET) == 18
    assert ALPHABET == "".join(sorted(ALPHABET))


def test_guess_space() -> None:
    """18 symbols, 6 long: 34,012,224 codes, as documented."""
    assert CODE_LENGTH == 6
    assert GUESS_SPACE == 34_012_224 == len(ALPHABET) ** CODE_LENGTH


def test_new_code_is_deterministic_for_a_seeded_rng() -> None:
    """The RNG is an argument: a seeded one gives the same code every time."""
    code = new_room_code(random.Random(2024))
    assert code == new_room_code(random.Random(2024))
    assert len(code) == CODE_LENGTH
    assert set(code) <= set(ALPHABET)
    assert normalize_code(code) == code


def test_new_codes_use_the_whole_alphabet() -> None:
    """Over many draws every symbol appears; with SystemRandom too."""
    rng = random.Random(1)
    seen = set("".join(new_room_code(rng) for _ in range(200)))
    assert seen == set(ALPHABET)
    assert set(new_room_code(secrets.SystemRandom())) <= set(ALPHABET)


@pytest.mark.parametrize("typed", ["CDF4HJ", "cdf4hj", "cdf-4hj", " CDF 4HJ ", "c-d-f-4-h-j", "CDF\u20134HJ"])
def test_normalize_accepts_what_people_type(typed: str) -> None:
    """Case, spaces and dashes do not matter."""
    assert normalize_code(typed) == "CDF4HJ"


@pytest.mark.parametrize("typed", ["", "CDF4H", "CDF4HJK", "CDF0HJ", "CDFOHJ", "CDF4H!", "ÇDF4HJ"])
def test_normalize_refuses_impossible_codes(typed: str) -> None:
    """Wrong length or a symbol outside the alphabet: InvalidRoomCode, a kind of RoomNotFound."""
    with pytest.raises(InvalidRoomCode) as caught:
        normalize_code(typed)
    assert isinstance(caught.value, RoomNotFound)
    assert caught.value.code == "invalid_room_code"


def test_display_code_round_trips() -> None:
    """The grouped form reads aloud as two triples and normalizes back."""
    assert display_code("CDF4HJ") == "CDF-4HJ"
    assert normalize_code(display_code("CDF4HJ")) == "CDF4HJ"
