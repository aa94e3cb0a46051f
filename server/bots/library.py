"""Where the bots' drawings come from: real Quick, Draw! drawings per word, timed and ready to replay.

Lookup order for the data directory (official bucket or flat layout, see ``inference.formats``):

1. ``--data DIR`` when given;
2. ``../shared/quickdraw`` beside the repository (the project's gathered data, in development);
3. ``server/bots_data/``: two real raw drawings of each of the 20 default words, shipped with the
   code (docs/bots.md says where they come from).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.formats import DrawingRecord, load_drawings
from server.bots.replay import timed_strokes

__all__ = ["DEFAULT_WORDS", "SHIPPED_DATA_DIR", "DrawingLibrary", "ReplayDrawing", "default_data_dir"]

# The classes of the shipped model, in its output order: the words a room plays by default.
DEFAULT_WORDS: tuple[str, ...] = (
    "apple", "book", "bowtie", "candle", "cloud", "cup", "door", "envelope", "eyeglasses", "guitar",
    "hammer", "hat", "ice cream", "leaf", "scissors", "star", "t-shirt", "pants", "lightning", "tree",
)  # fmt: skip

SHIPPED_DATA_DIR = Path(__file__).resolve().parents[1] / "bots_data"
_DEVELOPMENT_DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "quickdraw"


def default_data_dir() -> Path:
    """``../shared/quickdraw`` beside the repository when it exists, else the shipped drawings."""
    return _DEVELOPMENT_DATA_DIR if _DEVELOPMENT_DATA_DIR.is_dir() else SHIPPED_DATA_DIR


@dataclass(frozen=True, slots=True, eq=False)
class ReplayDrawing:
    """One real drawing, ready to replay.

    Attributes:
        word: its class.
        key_id: Google's id of the drawing.
        strokes: float64 (n, 3) x, y, t arrays, t in ms since the first point (see ``timed_strokes``).
        real_timing: the times are the player's own (raw data), not synthesized from a pen speed.
    """

    word: str
    key_id: str
    strokes: tuple[np.ndarray, ...]
    real_timing: bool

    @classmethod
    def from_record(cls, record: DrawingRecord) -> ReplayDrawing:
        source = record.raw_strokes if record.raw_strokes is not None else record.strokes
        real_timing = all(stroke.shape[1] == 3 for stroke in source)
        return cls(record.word, record.key_id, tuple(timed_strokes(source)), real_timing)


class DrawingLibrary:
    """Drawings per word; hands a bot a drawing of the round's word, or of another word."""

    def __init__(self, drawings: dict[str, list[ReplayDrawing]], source: Path | None = None) -> None:
        self.drawings = {word: found for word, found in drawings.items() if found}
        self.source = source
        if not self.drawings:
            raise ValueError("a drawing library needs at least one drawing")

    @classmethod
    def load(cls, data_dir: Path, words: Iterable[str]) -> DrawingLibrary:
        """Read the drawings of ``words`` from a data directory.

        Raises:
            FileNotFoundError: no such directory, or a word has no simplified or raw file there.
            inference.formats.DataFormatError: a file is malformed.
        """
        records = load_drawings(data_dir, list(words))
        drawings = {
            word: [ReplayDrawing.from_record(record) for record in found] for word, found in records.items()
        }
        empty = [word for word, found in drawings.items() if not found]
        if empty:
            raise FileNotFoundError(f"no drawings of {empty} in {data_dir}")
        return cls(drawings, Path(data_dir))

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self.drawings)

    @property
    def size(self) -> int:
        return sum(len(found) for found in self.drawings.values())

    def pick(self, word: str, rng: random.Random) -> ReplayDrawing:
        """A random drawing of ``word``.

        Raises:
            KeyError: the library has no drawing of ``word``.
        """
        return rng.choice(self.drawings[word])

    def pick_other(self, word: str, rng: random.Random, among: Sequence[str] = ()) -> ReplayDrawing:
        """A random drawing of a word other than ``word`` (a player who draws the wrong thing).

        Args:
            word: the word to avoid.
            rng: randomness.
            among: prefer these words (the room's words) when the library has them.
        """
        candidates = [w for w in (among or self.words) if w != word and w in self.drawings]
        if not candidates:
            candidates = [w for w in self.words if w != word] or [word]
        return self.pick(rng.choice(candidates), rng)
