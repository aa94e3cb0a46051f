"""Word packs: named word lists a host picks from, each word with a measured difficulty.

The themes are lists of official Quick, Draw! class names. Which words a pack finally offers depends
on the model: `build_packs` drops words the model does not know, and by default the words whose
measured difficulty is "left_out" (recognized too rarely or too slowly in the replay of held-out
drawings; `inference.replay`, written to a words file by `doodle-party evaluate --words-file`). The
server builds the packs once at start and passes them to `RoomSettings.validated`; this module reads
no file and knows no model.

Shapes (circle, line, squiggle, ...) are in no pack: they are too easy to be a word, but the model
keeps them as answers, so a scribble has somewhere to go that is not a room's word.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final, Literal

__all__ = [
    "CLASSIC_WORDS",
    "DEFAULT_PACK",
    "THEMES",
    "Difficulty",
    "WordPack",
    "WordRating",
    "build_packs",
    "rate_word",
]

Difficulty = Literal["easy", "medium", "hard", "left_out", "unrated"]

# The game's words since the start (the seed model's 20 classes), the default pack.
CLASSIC_WORDS: Final = (
    "apple", "book", "bowtie", "candle", "cloud", "cup", "door", "envelope", "eyeglasses", "guitar",
    "hammer", "hat", "ice cream", "leaf", "scissors", "star", "t-shirt", "pants", "lightning", "tree",
)  # fmt: skip
DEFAULT_PACK: Final = "classic"

# The lines between difficulties, on the replay of held-out drawings at their pen timing with the
# shipped rule: share of drawings recognized within the round, and median seconds to recognition.
EASY: Final = (0.9, 3.0)
MEDIUM: Final = (0.75, 5.0)
LEFT_OUT_BELOW: Final = (0.5, 8.0)  # recognized by fewer than half, or a median over 8 s: left out
MIN_DRAWINGS: Final = 3  # fewer held-out drawings than this: "unrated" (kept, no claim made)
# A pack with fewer words is not offered: a game of the default six rounds never repeats a word.
MIN_PACK_WORDS: Final = 8

SHAPES: Final = frozenset(
    {"circle", "line", "square", "squiggle", "triangle", "hexagon", "octagon", "zigzag"}
    | {"animal migration", "camouflage"}
)

# name -> (title shown to players, official class names). Every word is checked against the
# official list by the tests.
THEMES: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = {
    "animals": (
        "Animals",
        (
            "ant",
            "bat",
            "bear",
            "bee",
            "bird",
            "butterfly",
            "camel",
            "cat",
            "cow",
            "crab",
            "crocodile",
            "dog",
            "dolphin",
            "dragon",
            "duck",
            "elephant",
            "fish",
            "flamingo",
            "frog",
            "giraffe",
            "hedgehog",
            "horse",
            "kangaroo",
            "lion",
            "lobster",
            "monkey",
            "mosquito",
            "mouse",
            "octopus",
            "owl",
            "panda",
            "parrot",
            "penguin",
            "pig",
            "rabbit",
            "raccoon",
            "rhinoceros",
            "scorpion",
            "sea turtle",
            "shark",
            "sheep",
            "snail",
            "snake",
            "spider",
            "squirrel",
            "swan",
            "teddy-bear",
            "tiger",
            "whale",
            "zebra",
        ),
    ),
    "food": (
        "Food and drink",
        (
            "apple",
            "asparagus",
            "banana",
            "birthday cake",
            "blackberry",
            "blueberry",
            "bread",
            "broccoli",
            "cake",
            "carrot",
            "cookie",
            "donut",
            "grapes",
            "hamburger",
            "hot dog",
            "ice cream",
            "lollipop",
            "mushroom",
            "onion",
            "peanut",
            "pear",
            "peas",
            "pineapple",
            "pizza",
            "popsicle",
            "potato",
            "sandwich",
            "steak",
            "strawberry",
            "string bean",
            "watermelon",
            "coffee cup",
            "wine bottle",
            "wine glass",
            "teapot",
            "mug",
        ),
    ),
    "home": (
        "Things at home",
        (
            "alarm clock",
            "bathtub",
            "bed",
            "bench",
            "book",
            "broom",
            "bucket",
            "calculator",
            "calendar",
            "candle",
            "ceiling fan",
            "chair",
            "chandelier",
            "clock",
            "computer",
            "couch",
            "cup",
            "door",
            "dishwasher",
            "dresser",
            "envelope",
            "fan",
            "fireplace",
            "floor lamp",
            "fork",
            "frying pan",
            "house plant",
            "key",
            "keyboard",
            "knife",
            "lantern",
            "laptop",
            "light bulb",
            "lighter",
            "matches",
            "microwave",
            "oven",
            "paint can",
            "picture frame",
            "pillow",
            "power outlet",
            "radio",
            "remote control",
            "scissors",
            "sink",
            "sleeping bag",
            "spoon",
            "stairs",
            "stereo",
            "stove",
            "table",
            "telephone",
            "television",
            "toaster",
            "toilet",
            "toothbrush",
            "toothpaste",
            "umbrella",
            "vase",
            "washing machine",
        ),
    ),
    "clothes": (
        "Clothes and accessories",
        (
            "backpack",
            "belt",
            "bowtie",
            "bracelet",
            "crown",
            "eyeglasses",
            "flip flops",
            "hat",
            "helmet",
            "jacket",
            "necklace",
            "pants",
            "purse",
            "rollerskates",
            "shoe",
            "shorts",
            "sock",
            "suitcase",
            "sweater",
            "t-shirt",
            "underwear",
            "wristwatch",
            "lipstick",
            "headphones",
        ),
    ),
    "outdoors": (
        "Nature and weather",
        (
            "beach",
            "bush",
            "cactus",
            "cloud",
            "flower",
            "garden",
            "grass",
            "hurricane",
            "leaf",
            "lightning",
            "moon",
            "mountain",
            "ocean",
            "palm tree",
            "pond",
            "rain",
            "rainbow",
            "river",
            "snowflake",
            "snowman",
            "star",
            "sun",
            "tornado",
            "tree",
            "campfire",
            "tent",
        ),
    ),
    "travel": (
        "Getting around",
        (
            "aircraft carrier",
            "airplane",
            "ambulance",
            "bicycle",
            "bulldozer",
            "bus",
            "canoe",
            "car",
            "cruise ship",
            "firetruck",
            "flying saucer",
            "helicopter",
            "hot air balloon",
            "motorbike",
            "parachute",
            "pickup truck",
            "police car",
            "sailboat",
            "school bus",
            "skateboard",
            "speedboat",
            "submarine",
            "tractor",
            "train",
            "truck",
            "van",
            "traffic light",
            "stop sign",
            "streetlight",
            "bridge",
            "lighthouse",
            "map",
            "passport",
            "compass",
        ),
    ),
    "tools": (
        "Tools and music",
        (
            "anvil",
            "axe",
            "drill",
            "hammer",
            "ladder",
            "nail",
            "paintbrush",
            "paper clip",
            "pencil",
            "pliers",
            "rake",
            "saw",
            "screwdriver",
            "shovel",
            "flashlight",
            "crayon",
            "eraser",
            "marker",
            "cello",
            "clarinet",
            "drums",
            "guitar",
            "harp",
            "piano",
            "saxophone",
            "trombone",
            "trumpet",
            "violin",
            "microphone",
            "megaphone",
        ),
    ),
    "body": (
        "The body",
        (
            "arm",
            "beard",
            "brain",
            "ear",
            "elbow",
            "eye",
            "face",
            "finger",
            "foot",
            "goatee",
            "hand",
            "knee",
            "leg",
            "moustache",
            "mouth",
            "nose",
            "skull",
            "smiley face",
            "toe",
            "tooth",
        ),
    ),
}


@dataclass(frozen=True, slots=True)
class WordRating:
    """How one word fared in the replay of held-out drawings.

    Attributes:
        word: the official class name.
        difficulty: "easy", "medium", "hard", "left_out" (out of packs by default) or "unrated".
        recognized: share of its drawings recognized within the round (None if unrated).
        median_s: median seconds to recognition (None if none was recognized).
        drawings: how many held-out drawings the figures come from.
    """

    word: str
    difficulty: Difficulty
    recognized: float | None
    median_s: float | None
    drawings: int

    def to_dict(self) -> dict[str, object]:
        return {
            "word": self.word,
            "difficulty": self.difficulty,
            "recognized": self.recognized,
            "median_s": self.median_s,
            "drawings": self.drawings,
        }


def rate_word(word: str, recognized: float | None, median_s: float | None, drawings: int) -> WordRating:
    """The difficulty the measured figures put a word at (the lines are this module's constants)."""
    if drawings < MIN_DRAWINGS or recognized is None:
        difficulty: Difficulty = "unrated"
    elif recognized < LEFT_OUT_BELOW[0] or median_s is None or median_s > LEFT_OUT_BELOW[1]:
        difficulty = "left_out"
    elif recognized >= EASY[0] and median_s <= EASY[1]:
        difficulty = "easy"
    elif recognized >= MEDIUM[0] and median_s <= MEDIUM[1]:
        difficulty = "medium"
    else:
        difficulty = "hard"
    return WordRating(word, difficulty, recognized, median_s, drawings)


@dataclass(frozen=True, slots=True)
class WordPack:
    """A named word list a host can pick.

    Attributes:
        name: what the protocol calls it ("classic", "animals", "all").
        title: what players read.
        words: the words a game draws from, in a stable order.
        ratings: difficulty of each word of `words` (and of those left out), by word; a word kept
            although rated "left_out" (the classic pack keeps every word) shows as "hard".
        left_out: words of the theme the model knows but recognizes too rarely or slowly.
    """

    name: str
    title: str
    words: tuple[str, ...]
    ratings: Mapping[str, WordRating]
    left_out: tuple[str, ...] = ()


def build_packs(
    known_words: Sequence[str], ratings: Mapping[str, WordRating], include_left_out: bool = False
) -> dict[str, WordPack]:
    """The packs this model can play: "classic", every theme, and "all".

    Args:
        known_words: the model's classes.
        ratings: measured difficulty per word; a word without one is "unrated" and kept.
        include_left_out: keep the words rated "left_out" as well.

    Returns:
        name -> pack, classic first; packs left with fewer than `MIN_PACK_WORDS` words are dropped.
    """
    known = set(known_words)
    lists: dict[str, tuple[str, tuple[str, ...]]] = {
        DEFAULT_PACK: ("Classic 20", CLASSIC_WORDS),
        **THEMES,
        "all": ("Every word", tuple(sorted((w for w in known_words if w not in SHAPES), key=str.lower))),
    }
    packs: dict[str, WordPack] = {}
    for name, (title, theme) in lists.items():
        playable = [word for word in theme if word in known]
        rated = {w: _rating(w, ratings) for w in playable}
        # The classic words stay whatever their rating: rooms made before packs existed play them.
        keeps_all = include_left_out or name == DEFAULT_PACK
        left_out = () if keeps_all else tuple(w for w in playable if rated[w].difficulty == "left_out")
        words = tuple(w for w in playable if w not in left_out)
        for word in words:
            if rated[word].difficulty == "left_out":
                rated[word] = replace(rated[word], difficulty="hard")  # kept anyway: to players, a hard word
        if len(words) >= MIN_PACK_WORDS:
            packs[name] = WordPack(name, title, words, rated, left_out)
    return packs


def _rating(word: str, ratings: Mapping[str, WordRating]) -> WordRating:
    return ratings.get(word) or WordRating(word, "unrated", None, None, 0)
