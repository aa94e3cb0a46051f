"""The Recognizer API the game server calls, with the real shipped checkpoint and the real seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inference.formats import DrawingRecord, load_drawings
from inference.model import SEED_LABELS
from inference.recognizer import DEFAULT_CHECKPOINT, Recognizer

WORDS = ("apple", "cup", "star", "hammer", "t-shirt")


@pytest.fixture(scope="module")
def drawings(quickdraw_dir: Path) -> list[DrawingRecord]:
    """A few real drawings of several classes."""
    by_word = load_drawings(quickdraw_dir, WORDS)
    return [record for word in WORDS for record in by_word[word][:4]]


@pytest.fixture(scope="module", params=["shipped", "shipped on torch", "seed"])
def recognizer(request: pytest.FixtureRequest, seed_model_path: Path) -> Recognizer:
    """Both models behind the same API, the shipped one on both runtimes."""
    if request.param == "seed":
        return Recognizer.from_seed(seed_model_path)
    return Recognizer.load(runtime="torch" if request.param == "shipped on torch" else "auto")


def _as_live(record: DrawingRecord, offset: float = 40.0, scale: float = 1.7) -> list[np.ndarray]:
    """The drawing as a phone would send it: canvas pixels with times, shifted and scaled."""
    return [
        np.column_stack([s[:, 0] * scale + offset, s[:, 1] * scale + offset, np.arange(len(s)) * 16.0])
        for s in record.strokes
    ]


def test_load_none_serves_the_shipped_checkpoint() -> None:
    """load() with no path is the shipped doodle345.pt: every official word, and the rule chosen for it."""
    recognizer = Recognizer.load()
    assert recognizer.source == str(DEFAULT_CHECKPOINT)
    assert len(recognizer.labels) == 345 and set(SEED_LABELS) <= set(recognizer.labels)
    assert "ice cream" in recognizer.labels and "The Eiffel Tower" in recognizer.labels
    chosen = recognizer.checkpoint.training["decision_sweep"]["chosen"]
    assert recognizer.rule.threshold == chosen["threshold"] and recognizer.rule.margin == chosen["margin"]


def test_batched_equals_unbatched(recognizer: Recognizer, drawings: list[DrawingRecord]) -> None:
    """One batched call gives the same probabilities as one call per drawing."""
    live = [_as_live(d) for d in drawings]
    canvases = [(600.0, 600.0)] * len(live)
    batched = recognizer.predict_strokes(live, canvases)
    single = np.concatenate(
        [recognizer.predict_strokes([s], [c]) for s, c in zip(live, canvases, strict=True)]
    )
    assert batched.shape == (len(live), len(recognizer.labels))
    assert batched.dtype == np.float32
    np.testing.assert_allclose(batched, single, atol=1e-5)
    np.testing.assert_allclose(batched.sum(axis=1), 1.0, atol=1e-5)


def test_predict_rasters_batched_equals_unbatched(
    recognizer: Recognizer, drawings: list[DrawingRecord]
) -> None:
    """predict_rasters is row-independent too."""
    rasters = recognizer.rasterize([d.strokes for d in drawings])
    batched = recognizer.predict_rasters(rasters)
    single = np.concatenate([recognizer.predict_rasters(rasters[i : i + 1]) for i in range(len(rasters))])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_live_drawings_are_recognized(recognizer: Recognizer, drawings: list[DrawingRecord]) -> None:
    """Shifted and scaled canvas drawings are recognized as their word (the seed's training rows).

    The seed picks among 20 words; the shipped model among 345, where a cup can honestly look like a
    mug or a coffee cup, so its bar is top-3 (and a lower top-1)."""
    probs = recognizer.predict_strokes([_as_live(d) for d in drawings])
    top3 = [[label for label, _ in recognizer.top_k(row, 3)] for row in probs]
    top1 = np.mean([labels[0] == d.word for labels, d in zip(top3, drawings, strict=True)])
    within3 = np.mean([d.word in labels for labels, d in zip(top3, drawings, strict=True)])
    if len(recognizer.labels) > len(SEED_LABELS):
        assert top1 >= 0.7 and within3 >= 0.85
    else:
        assert top1 >= 0.85


def test_top_k_is_sorted_and_capped(recognizer: Recognizer) -> None:
    """top_k returns the k most probable labels, best first, never more than the classes."""
    row = np.linspace(0.0, 1.0, len(recognizer.labels), dtype=np.float32)
    row /= row.sum()
    top = recognizer.top_k(row, 3)
    assert [label for label, _ in top] == list(recognizer.labels[::-1][:3])
    assert top[0][1] >= top[1][1] >= top[2][1]
    assert len(recognizer.top_k(row, 1000)) == len(recognizer.labels)


def test_empty_batches(recognizer: Recognizer) -> None:
    """No drawings give an empty (0, C) result instead of an error."""
    assert recognizer.predict_strokes([]).shape == (0, len(recognizer.labels))
    assert recognizer.predict_rasters(np.zeros((0, 28, 28), np.uint8)).shape == (0, len(recognizer.labels))


def test_wrong_raster_size_is_refused(recognizer: Recognizer) -> None:
    """A raster of the wrong size raises instead of silently mis-scoring."""
    with pytest.raises(ValueError):
        recognizer.predict_rasters(np.zeros((1, 32, 32), np.uint8))


def test_mismatched_canvases_are_refused(recognizer: Recognizer, drawings: list[DrawingRecord]) -> None:
    """One canvas per drawing, or none."""
    with pytest.raises(ValueError):
        recognizer.predict_strokes([_as_live(drawings[0])], [(100.0, 100.0), (100.0, 100.0)])
