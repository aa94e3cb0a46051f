"""The drawings of this gateway's players, as the recognizer takes them.

Each player's drawing belongs to one round of one game, ``(game, round)``: round numbers restart at 1
after a rematch, so a drawing kept from game 1 must never be judged in game 2 (a stroke of another
round starts a fresh drawing whatever else happened). Each batch of points is converted to a float32
(n, 3) array once, when it arrives, and each stroke's batches are joined once, when the stroke grows,
so a recognition job costs no work proportional to the whole drawing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

RoundKey = tuple[int, int]  # (game, round)


@dataclass(slots=True)
class _Drawing:
    round: RoundKey
    # Stroke index -> its points so far, one float32 (n, 3) array per stroke.
    strokes: dict[int, np.ndarray] = field(default_factory=dict)


class Drawings:
    """Player id -> their drawing of one round."""

    def __init__(self) -> None:
        self._by_player: dict[str, _Drawing] = {}

    def add(
        self, player_id: str, round_key: RoundKey, stroke: int, points: Sequence[Sequence[float]]
    ) -> list[np.ndarray]:
        """Add a batch of [x, y, t] points to a stroke; returns the drawing's strokes in order."""
        drawing = self._by_player.get(player_id)
        if drawing is None or drawing.round != round_key:
            drawing = self._by_player[player_id] = _Drawing(round_key)
        batch = np.asarray(points, dtype=np.float32).reshape(-1, 3)
        previous = drawing.strokes.get(stroke)
        drawing.strokes[stroke] = batch if previous is None else np.concatenate((previous, batch))
        return [drawing.strokes[index] for index in sorted(drawing.strokes)]

    def restore(self, player_id: str, round_key: RoundKey, strokes: dict[int, np.ndarray]) -> None:
        """Replace the player's drawing with `strokes` (stroke index -> float32 (n, 3) points), as read
        back for a snapshot; no strokes: no drawing."""
        if not strokes:
            self.clear(player_id)
            return
        self._by_player[player_id] = _Drawing(round_key, dict(strokes))

    def round_of(self, player_id: str) -> RoundKey | None:
        """The round of the player's drawing, or None when they have none."""
        drawing = self._by_player.get(player_id)
        return drawing.round if drawing is not None else None

    def clear(self, player_id: str) -> None:
        self._by_player.pop(player_id, None)
