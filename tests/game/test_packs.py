"""Word packs: themes of official words, measured difficulty, and settings that name a pack."""

from __future__ import annotations

import pytest

from game.errors import InvalidSettings, UnknownPack
from game.packs import CLASSIC_WORDS, DEFAULT_PACK, SHAPES, THEMES, build_packs, rate_word
from game.settings import RoomSettings
from tests.conftest import SHARED_DIR

OFFICIAL = tuple(
    line.strip().replace("_", " ")
    for line in (SHARED_DIR / "teachers" / "doodlenet" / "class_names.txt").read_text().splitlines()
    if line.strip()
)


def test_every_theme_word_is_an_official_class_name() -> None:
    """A typo in a theme would silently shrink a pack: every word must be one of the 345 names."""
    official = set(OFFICIAL)
    assert len(official) == 345
    for name, (title, words) in THEMES.items():
        assert title and len(words) == len(set(words)) >= 20, name
        assert set(words) <= official, (name, set(words) - official)
    assert set(CLASSIC_WORDS) <= official and SHAPES <= official


def test_difficulty_lines() -> None:
    """Rates follow the documented lines; too few drawings make no claim."""
    assert rate_word("sun", 1.0, 1.2, 8).difficulty == "easy"
    assert rate_word("cat", 0.8, 4.0, 8).difficulty == "medium"
    assert rate_word("yoga", 0.6, 6.5, 8).difficulty == "hard"
    assert rate_word("bat", 0.4, 3.0, 8).difficulty == "left_out"
    assert rate_word("bat", 0.9, 9.0, 8).difficulty == "left_out"
    assert rate_word("owl", 1.0, 1.0, 2).difficulty == "unrated"


def test_packs_drop_unknown_and_left_out_words() -> None:
    """A pack offers what the model knows and recognizes well enough; the rest is named as left out."""
    ratings = {"bat": rate_word("bat", 0.2, None, 6), "cat": rate_word("cat", 1.0, 1.0, 6)}
    packs = build_packs(OFFICIAL, ratings)
    assert next(iter(packs)) == DEFAULT_PACK and packs[DEFAULT_PACK].words == CLASSIC_WORDS
    assert "bat" not in packs["animals"].words and packs["animals"].left_out == ("bat",)
    assert "cat" in packs["animals"].words and packs["animals"].ratings["cat"].difficulty == "easy"
    assert not set(packs["all"].words) & SHAPES and "bat" not in packs["all"].words
    assert len(packs["all"].words) == 345 - len(SHAPES) - 1
    assert "bat" in build_packs(OFFICIAL, ratings, include_left_out=True)["animals"].words
    # The classic pack keeps a word rated "left_out"; players see it as hard.
    classic = build_packs(OFFICIAL, {"cup": rate_word("cup", 0.2, None, 6)})[DEFAULT_PACK]
    assert "cup" in classic.words and not classic.left_out and classic.ratings["cup"].difficulty == "hard"
    # A 20-word model: no theme has enough of its words to fill a game.
    assert set(build_packs(CLASSIC_WORDS, {})) == {DEFAULT_PACK, "all"}


def test_settings_name_a_pack_or_default_to_it() -> None:
    """`pack` becomes that pack's words; no words means the default pack; both at once is refused."""
    packs = build_packs(OFFICIAL, {})
    default = RoomSettings.validated({}, OFFICIAL, packs=packs)
    assert default.words == CLASSIC_WORDS and default.pack == DEFAULT_PACK
    animals = RoomSettings.validated({"pack": "animals"}, OFFICIAL, packs=packs)
    assert animals.words == packs["animals"].words and animals.pack == "animals"
    assert animals.to_dict()["pack"] == "animals" and RoomSettings.from_dict(animals.to_dict()) == animals
    # A host's own list belongs to no pack, and changing another setting keeps the pack.
    custom = RoomSettings.validated({"words": ["cat", "dog"], "rounds": 2}, OFFICIAL, animals, packs)
    assert custom.pack == "" and custom.words == ("cat", "dog")
    assert RoomSettings.validated({"rounds": 3}, OFFICIAL, animals, packs).pack == "animals"
    with pytest.raises(UnknownPack):
        RoomSettings.validated({"pack": "dinosaurs"}, OFFICIAL, packs=packs)
    with pytest.raises(UnknownPack):
        RoomSettings.validated({"pack": 3}, OFFICIAL, packs=packs)
    with pytest.raises(InvalidSettings, match="not both"):
        RoomSettings.validated({"pack": "food", "words": ["cat"]}, OFFICIAL, packs=packs)
