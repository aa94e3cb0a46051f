"""Points for a recognized doodle: faster and earlier score more. See docs/scoring.md.

points = speed part + rank bonus, where

* speed part = 100 * (time left / round duration), rounded half up, at least 10 for anyone
  recognized (even at the buzzer);
* rank bonus = 50, 30, 15, 5 for the 1st to 4th player recognized in the round, then 0.

Integer arithmetic only, so every server and replay computes the same points.
"""

from __future__ import annotations

from typing import Final

MAX_SPEED_POINTS: Final = 100
MIN_SPEED_POINTS: Final = 10
RANK_BONUS: Final = (50, 30, 15, 5)


def points_for(rank: int, elapsed_ms: int, duration_ms: int) -> int:
    """Points for the ``rank``-th player recognized, ``elapsed_ms`` into a ``duration_ms`` round.

    Raises:
        ValueError: rank < 1, duration_ms <= 0, or elapsed_ms outside 0..duration_ms.
    """
    if rank < 1:
        raise ValueError(f"rank starts at 1, got {rank}")
    if duration_ms <= 0:
        raise ValueError(f"duration_ms must be positive, got {duration_ms}")
    if not 0 <= elapsed_ms <= duration_ms:
        raise ValueError(f"elapsed_ms must be within 0..{duration_ms}, got {elapsed_ms}")
    left_ms = duration_ms - elapsed_ms
    # floor(100 * left / duration + 1/2) without floats: round half up, the same on every machine.
    speed = (2 * MAX_SPEED_POINTS * left_ms + duration_ms) // (2 * duration_ms)
    bonus = RANK_BONUS[rank - 1] if rank <= len(RANK_BONUS) else 0
    return max(MIN_SPEED_POINTS, speed) + bonus
