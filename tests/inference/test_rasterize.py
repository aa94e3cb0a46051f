"""Tests for inference.rasterize: the bitmaps must look like Google's official numpy_bitmap files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from inference.formats import DrawingRecord, load_drawings
from inference.rasterize import rasterize, rasterize_batch, rasterize_live, stroke_prefix
from inference.simplify import normalize_batch
from tests.inference.conftest import BITMAP_CHECK_WORDS

Cosine = Callable[[np.ndarray, np.ndarray], np.ndarray]

# Measured on the shared data: mean 0.9995-0.9997 per class, lowest single drawing 0.9977 (apple).
MEAN_COSINE_FLOOR = 0.999
MIN_COSINE_FLOOR = 0.995


@pytest.mark.parametrize("word", BITMAP_CHECK_WORDS)
def test_matches_official_bitmaps(
    word: str,
    seed_drawings: dict[str, list[DrawingRecord]],
    official_bitmaps: dict[str, np.ndarray],
    cosine: Cosine,
) -> None:
    """Every simplified drawing renders to (nearly) its official bitmap, found as its best match.

    The shared simplified files are sorted by key_id, not in official order, so "drawing i is row i"
    cannot be read off the file; instead each drawing's best-matching official row must be distinct
    from every other drawing's (a one-to-one match is itself strong evidence) and very close.
    """
    drawings = [record.strokes for record in seed_drawings[word] if record.source == "simplified"]
    similarity = cosine(rasterize_batch(drawings), official_bitmaps[word])
    best_rows = similarity.argmax(axis=1)
    best = similarity.max(axis=1)
    assert len(set(best_rows.tolist())) == len(drawings)
    print(f"{word}: {len(drawings)} drawings, cosine mean {best.mean():.5f} min {best.min():.5f}")
    assert best.mean() >= MEAN_COSINE_FLOOR
    assert best.min() >= MIN_COSINE_FLOOR


def test_batch_equals_single(seed_drawings: dict[str, list[DrawingRecord]]) -> None:
    """rasterize_batch gives exactly what rasterize gives one drawing at a time, across chunks."""
    drawings = [r.strokes for word in ("apple", "cloud") for r in seed_drawings[word]] * 2
    batch = rasterize_batch(drawings)
    assert batch.shape == (len(drawings), 28, 28) and batch.dtype == np.uint8
    for drawing, bitmap in zip(drawings, batch, strict=True):
        np.testing.assert_array_equal(rasterize(drawing), bitmap)


def test_output_format_and_edge_cases() -> None:
    """White on black uint8; nothing to draw gives black; a one-point stroke is a dot."""
    assert rasterize([]).tolist() == np.zeros((28, 28), np.uint8).tolist()
    assert rasterize([np.zeros((0, 2), np.float32)]).max() == 0
    assert rasterize_batch([]).shape == (0, 28, 28)
    # A dot of diameter 16/304 * 28 = 1.47 px: its ink adds up to its area, ~1.70 px * 255.
    dot = rasterize([np.array([[128, 128]], np.float32)])
    assert abs(dot.sum(dtype=np.int64) - 1.70 * 255) < 0.1 * 1.70 * 255 and np.count_nonzero(dot) <= 9
    line = np.array([[0, 0], [255, 255]], np.float32)
    timed = np.array([[0, 0, 0], [255, 255, 900]], np.float32)
    np.testing.assert_array_equal(rasterize([line]), rasterize([timed]))  # time column ignored
    assert rasterize([line], size=64).shape == (64, 64)
    with pytest.raises(ValueError, match="shape"):
        rasterize([np.zeros(5, np.float32)])
    with pytest.raises(ValueError, match="size"):
        rasterize([line], size=0)
    with pytest.raises(ValueError, match="infinite"):
        rasterize([np.array([[0, 0], [np.nan, 3]], np.float32)])


def test_drawing_is_centred() -> None:
    """A drawing is centred in the square, whatever corner its box starts from."""
    bitmap = rasterize([np.array([[0, 0], [100, 0]], np.float32)]).astype(np.float64)
    rows, cols = np.nonzero(bitmap)
    weights = bitmap[rows, cols]
    assert abs(np.average(cols, weights=weights) - 13.5) < 0.05
    assert abs(np.average(rows, weights=weights) - 13.5) < 0.05


def test_live_drawing_on_phone_canvas_matches(
    seed_drawings: dict[str, list[DrawingRecord]], cosine: Cosine
) -> None:
    """A simplified drawing replayed on a 390x844 phone canvas, scaled and offset, looks the same."""
    drawings = [r.strokes for r in seed_drawings["apple"]]
    similarities = []
    for strokes in drawings:
        on_phone = [stroke * np.float32(1.37) + np.array([40.0, 300.0], np.float32) for stroke in strokes]
        live = rasterize_live(on_phone, canvas=(390, 844))
        similarities.append(cosine(live[None], rasterize(strokes)[None])[0, 0])
    assert np.mean(similarities) >= 0.998
    assert min(similarities) >= 0.99


def test_live_raw_drawing_matches_simplified(
    seed_drawings: dict[str, list[DrawingRecord]], cosine: Cosine
) -> None:
    """Google's raw drawings (canvas pixels with times) render like their official simplified form."""
    pairs = [
        (r.raw_strokes, r.strokes)
        for word in ("apple", "cloud", "cup")
        for r in seed_drawings[word]
        if r.source == "simplified" and r.raw_strokes is not None
    ]
    assert len(pairs) >= 30
    for raw, simplified in pairs:
        assert cosine(rasterize_live(raw)[None], rasterize(simplified)[None])[0, 0] >= 0.998


@pytest.mark.parametrize(
    ("fraction", "expected"), [(0.0, 1), (0.01, 1), (0.25, 2), (0.5, 3), (0.51, 4), (1.0, 6)]
)
def test_stroke_prefix_counts(fraction: float, expected: int) -> None:
    """The prefix keeps ceil(fraction * n) strokes, at least one, in order."""
    strokes = [np.full((2, 2), index, np.float32) for index in range(6)]
    prefix = stroke_prefix(strokes, fraction)
    assert len(prefix) == expected
    assert all(a is b for a, b in zip(prefix, strokes, strict=False))


def test_stroke_prefix_normalize_and_errors(seed_drawings: dict[str, list[DrawingRecord]]) -> None:
    """normalize=True refits the prefix to 0..255 like a live drawing; bad fractions raise."""
    strokes = seed_drawings["apple"][0].strokes
    prefix = stroke_prefix(strokes, 0.3, normalize=True)
    points = np.concatenate(prefix)
    assert points.min(axis=0).tolist() == [0.0, 0.0] and points.max() == 255.0
    assert stroke_prefix([], 0.5) == []
    for fraction in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="fraction"):
            stroke_prefix(strokes, fraction)


# Outputs of normalize_batch and rasterize_batch frozen before the preprocessing was optimized (the
# shipped checkpoint was trained on those exact bitmaps): every drawing of the seed's 20 classes and
# every stroke prefix of it, in the order of _frozen_inputs().
FROZEN_OUTPUTS = Path(__file__).parent / "fixtures" / "preprocessing_reference.npz"
SEED20 = (
    "apple", "book", "bowtie", "candle", "cloud", "cup", "door", "envelope", "eyeglasses", "guitar",
    "hammer", "hat", "ice cream", "leaf", "scissors", "star", "t-shirt", "pants", "lightning", "tree",
)  # fmt: skip


def _stroke_prefixes(strokes: Sequence[np.ndarray]) -> list[list[np.ndarray]]:
    """The first 1, 2, ..., n strokes of a drawing (the drawing itself last)."""
    return [list(strokes[:count]) for count in range(1, len(strokes) + 1)] or [[]]


def _frozen_inputs(quickdraw_dir: Path) -> tuple[list[list[np.ndarray]], list[list[np.ndarray]]]:
    """(simplified drawings and their prefixes, raw drawings and their prefixes) of the 20 classes."""
    records = load_drawings(quickdraw_dir, SEED20)
    simplified = [p for word in SEED20 for r in records[word] for p in _stroke_prefixes(r.strokes)]
    raw = [
        prefix
        for word in SEED20
        for record in records[word]
        if record.raw_strokes is not None
        for prefix in _stroke_prefixes(record.raw_strokes)
    ]
    return simplified, raw


def test_outputs_equal_frozen_reference(quickdraw_dir: Path) -> None:
    """normalize_batch and rasterize_batch reproduce the frozen outputs exactly, batched and single."""
    frozen = np.load(FROZEN_OUTPUTS)
    simplified, raw = _frozen_inputs(quickdraw_dir)
    normalized = normalize_batch(raw)
    lengths = [len(stroke) for drawing in normalized for stroke in drawing]
    np.testing.assert_array_equal([len(d) for d in normalized], frozen["normalized_strokes_per_drawing"])
    np.testing.assert_array_equal(lengths, frozen["normalized_stroke_lengths"])
    np.testing.assert_array_equal(
        np.concatenate([stroke for drawing in normalized for stroke in drawing]), frozen["normalized_points"]
    )
    # Identical, not just within one gray level: the model never saw any other bitmaps.
    np.testing.assert_array_equal(rasterize_batch(simplified), frozen["simplified_rasters"])
    np.testing.assert_array_equal(rasterize_batch(normalized), frozen["live_rasters"])
    # Batch size 1 takes other code paths (one chunk, one stroke group); check a slice of it too.
    for index in range(0, len(raw), 37):
        single = normalize_batch([raw[index]])[0]
        assert len(single) == len(normalized[index])
        for got, expected in zip(single, normalized[index], strict=True):
            np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(rasterize(single), frozen["live_rasters"][index])
