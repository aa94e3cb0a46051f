"""The server's word packs: the model's words, rated by the replay figures shipped beside its checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

from game.packs import CLASSIC_WORDS
from server.packs import load_packs, packs_message, ratings_path
from tests.game.test_packs import OFFICIAL


def test_ratings_beside_the_checkpoint_leave_slow_words_out(tmp_path: Path) -> None:
    """Words recognized too rarely are left out of their packs and named; the rest carry a difficulty."""
    checkpoint = tmp_path / "model.pt"
    words = [
        {"word": "cat", "recognized": 1.0, "median_s": 1.5, "drawings": 6},
        {"word": "mosquito", "recognized": 0.2, "median_s": 9.0, "drawings": 6},
        {"word": "bear", "recognized": 0.8, "median_s": 4.0, "drawings": 6},
    ]
    ratings_path(checkpoint).write_text(json.dumps({"words": words}))
    assert ratings_path(checkpoint) == tmp_path / "model.words.json"
    packs = load_packs(OFFICIAL, checkpoint)
    assert "mosquito" not in packs["animals"].words and "mosquito" in packs["animals"].left_out
    message = packs_message(packs, "r1")
    animals = next(p for p in message["packs"] if p["name"] == "animals")
    difficulty = {w["word"]: w["difficulty"] for w in animals["words"]}
    assert difficulty["cat"] == "easy" and difficulty["bear"] == "medium" and difficulty["dog"] == "unrated"
    assert animals["left_out"] == ["mosquito"] and message["default"] == "classic" and message["ref"] == "r1"
    json.dumps(message)


def test_a_broken_ratings_file_keeps_every_word(tmp_path: Path) -> None:
    """A bad file is logged and ignored: the server starts, every word unrated."""
    checkpoint = tmp_path / "model.pt"
    ratings_path(checkpoint).write_text("{not json")
    packs = load_packs(OFFICIAL, checkpoint)
    assert packs["classic"].words == CLASSIC_WORDS
    assert all(r.difficulty == "unrated" for r in packs["animals"].ratings.values())
