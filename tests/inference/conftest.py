"""Fixtures for the inference data tests: small slices of the real Quick, Draw! data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from inference.formats import DrawingRecord, load_drawings, read_bitmaps

# Classes whose shared simplified drawings all have their official bitmap among the shared rows
# (the official bitmaps of hat, star, bowtie and door here are other rows, so they cannot be checked).
BITMAP_CHECK_WORDS = ("apple", "cloud", "tree", "scissors")


@pytest.fixture(scope="session")
def seed_drawings(quickdraw_dir: Path) -> dict[str, list[DrawingRecord]]:
    """Every stroke drawing of a few classes (simplified and raw merged), read once per session."""
    return load_drawings(quickdraw_dir, [*BITMAP_CHECK_WORDS, "book", "ice cream", "cup"])


@pytest.fixture(scope="session")
def official_bitmaps(quickdraw_dir: Path) -> dict[str, np.ndarray]:
    """The official 28x28 bitmaps of the BITMAP_CHECK_WORDS classes, (N, 784) uint8 each."""
    return {
        word: np.asarray(read_bitmaps(quickdraw_dir / "numpy_bitmap" / f"{word}.npy"))
        for word in BITMAP_CHECK_WORDS
    }


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row of ``a`` with every row of ``b`` (images flattened), (A, B)."""
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    a /= np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b /= np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return a @ b.T


@pytest.fixture(scope="session")
def cosine() -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``cosine(a, b)``: cosine similarity of every image in ``a`` with every image in ``b``."""
    return cosine_rows
