"""The word packs this server offers: `game.packs` themes, filtered by the model's measured word ratings.

The measurements come from the replay of held-out drawings (`doodle-party evaluate --words-file`:
per word, the share recognized, the median time and how many drawings) and are shipped beside the
checkpoint as `<checkpoint>.words.json`; `game.packs.rate_word` turns them into difficulties. Without
that file every word is "unrated" and kept. Read once at start; the gateway passes the packs to
`RoomSettings.validated`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import structlog

from game.packs import DEFAULT_PACK, WordPack, WordRating, build_packs, rate_word
from inference.recognizer import DEFAULT_CHECKPOINT
from server.message_types import PacksMessage

__all__ = ["load_packs", "packs_message", "ratings_path"]

log = structlog.get_logger(__name__)


def ratings_path(checkpoint: Path | None) -> Path:
    """Where the word ratings of `checkpoint` (None: the shipped default) live."""
    path = checkpoint or DEFAULT_CHECKPOINT
    return path.with_suffix(".words.json")


def load_packs(known_words: Sequence[str], checkpoint: Path | None) -> dict[str, WordPack]:
    """The packs for a model with `known_words`, rated by the file beside `checkpoint` if present."""
    path = ratings_path(checkpoint)
    ratings: dict[str, WordRating] = {}
    if path.is_file():
        try:
            for entry in json.loads(path.read_text())["words"]:
                word, figures = (
                    entry["word"],
                    (entry["recognized"], entry["median_s"], int(entry["drawings"])),
                )
                ratings[word] = rate_word(word, *figures)
        except (ValueError, KeyError, TypeError) as exc:
            # A bad ratings file must not stop the server: every word is then unrated and kept.
            log.warning("word_ratings_unreadable", path=str(path), error=repr(exc))
            ratings = {}
    return build_packs(known_words, ratings)


def packs_message(packs: Mapping[str, WordPack], ref: str | None = None) -> PacksMessage:
    """The `packs` server message: every pack, its words with their difficulty, and what was left out."""
    message: PacksMessage = {
        "type": "packs",
        "default": DEFAULT_PACK if DEFAULT_PACK in packs else None,
        "packs": [
            {
                "name": pack.name,
                "title": pack.title,
                "words": [{"word": w, "difficulty": pack.ratings[w].difficulty} for w in pack.words],
                "left_out": list(pack.left_out),
            }
            for pack in packs.values()
        ],
    }
    if ref is not None:
        message["ref"] = ref
    return message
