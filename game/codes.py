"""Room codes: short, typed on a phone, read aloud across a room, never ambiguous.

Alphabet (18 symbols): ``34679CDFHJKMNPRTWX``. Left out, and why:

* look-alikes: ``0 O Q``, ``1 I L``, ``2 Z``, ``5 S`` and ``8 B`` go whole; of ``6 G`` only ``G``
  goes; ``V`` goes with its twin ``U``;
* vowels ``A E I O U`` and ``Y``: without them, codes can hardly spell words, rude ones included.

``CODE_LENGTH`` is 6, shown as two groups of three (``CDF-4HJ``). Guess space: 18**6 = 34,012,224
codes. With 10,000 rooms open at once, one random guess finds a room with probability about 1 in
3,400, so the edge still rate-limits joins by unknown code. A new code that collides with an open
room is refused by the store (the caller draws again).
"""

from __future__ import annotations

from typing import Final, Protocol

from game.errors import InvalidRoomCode

ALPHABET: Final = "34679CDFHJKMNPRTWX"
CODE_LENGTH: Final = 6
GUESS_SPACE: Final = len(ALPHABET) ** CODE_LENGTH
# Typed or pasted separators that normalize_code drops: "cdf-4hj", "CDF 4HJ".
_SEPARATORS: Final = frozenset("-_ \t\n\r\u00a0\u2010\u2011\u2012\u2013\u2014")


class SupportsChoice(Protocol):
    """What ``new_room_code`` needs: ``random.Random`` or ``secrets.SystemRandom``."""

    def choice(self, seq: str, /) -> str: ...


def new_room_code(rng: SupportsChoice) -> str:
    """A random code of ``CODE_LENGTH`` symbols of ``ALPHABET``; pass ``secrets.SystemRandom()``."""
    return "".join(rng.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str:
    """The canonical code for what a person typed: uppercase, separators and spaces removed.

    Raises:
        InvalidRoomCode: the result has the wrong length or a symbol outside ``ALPHABET``.
    """
    code = "".join(ch for ch in text.upper() if ch not in _SEPARATORS)
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        raise InvalidRoomCode(f"{text!r} is not a room code: {CODE_LENGTH} of {ALPHABET}")
    return code


def display_code(code: str) -> str:
    """``CDF4HJ`` -> ``CDF-4HJ``, easier to read aloud; ``normalize_code`` undoes it."""
    half = CODE_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"
