"""How fast and how faithful the doodle rasterizer is, on the real shared Quick, Draw! drawings.

Prints, for one core (numpy here is single-threaded):

- microseconds per doodle for ``rasterize`` (one call per doodle) and ``rasterize_batch`` at a few
  batch sizes, on simplified drawings;
- microseconds per doodle for ``normalize_batch`` and for the whole live path
  (``normalize_batch`` + ``rasterize_batch``) on raw phone-style drawings;
- cosine similarity of our bitmaps to Google's official ``numpy_bitmap`` rows (each drawing against
  its best-matching official row; the shared simplified files are sorted by key_id, not in official
  order).

Timings are the best of several repeats of CPU time (``time.process_time``), because our machines are
shared and wall time swings with other jobs. Reproduce with:

    .venv/bin/python benchmarks/bench_rasterize.py
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inference.formats import load_drawings, read_bitmaps
from inference.rasterize import rasterize, rasterize_batch
from inference.simplify import normalize_batch

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("DOODLE_SHARED", REPO_ROOT.parent / "shared")) / "quickdraw"
SEED20 = (
    "apple", "book", "bowtie", "candle", "cloud", "cup", "door", "envelope", "eyeglasses", "guitar",
    "hammer", "hat", "ice cream", "leaf", "scissors", "star", "t-shirt", "pants", "lightning", "tree",
)  # fmt: skip
BITMAP_CHECK_WORDS = ("apple", "cloud", "tree", "scissors")


def best_us_per_item(run: Callable[[], object], n_items: int, repeats: int) -> float:
    """Best-of-``repeats`` CPU microseconds per item of one call of ``run``."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best / n_items * 1e6


def in_batches(
    items: Sequence[Any], batch_size: int, work: Callable[[Sequence[Any]], object]
) -> Callable[[], None]:
    """A callable that runs ``work`` on ``items`` in consecutive batches."""

    def run() -> None:
        for start in range(0, len(items), batch_size):
            work(items[start : start + batch_size])

    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="shared quickdraw dir (default: %(default)s)"
    )
    parser.add_argument(
        "--repeats", type=int, default=9, help="timing repeats, best taken (default: %(default)s)"
    )
    args = parser.parse_args(argv)

    records = load_drawings(args.data, SEED20)
    simplified = [r.strokes for word in SEED20 for r in records[word]]
    raw = [r.raw_strokes for word in SEED20 for r in records[word] if r.raw_strokes is not None]
    n_points = np.mean([sum(len(s) for s in d) for d in simplified])
    n_raw_points = np.mean([sum(len(s) for s in d) for d in raw])
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, 1 core")
    print(f"data: {args.data}, the seed's 20 classes:")
    print(f"  {len(simplified)} simplified drawings (mean {n_points:.0f} points)")
    print(f"  {len(raw)} raw drawings (mean {n_raw_points:.0f} points)")
    print()

    print("rasterize 28x28, simplified drawings (CPU us per doodle, best of repeats)")
    single = best_us_per_item(lambda: [rasterize(d) for d in simplified], len(simplified), args.repeats)
    print(f"  rasterize, one call per doodle   {single:8.1f} us  ({1e6 / single:,.0f} doodles/s/core)")
    for batch_size in (16, 64, 256):
        run = in_batches(simplified, batch_size, rasterize_batch)
        per_doodle = best_us_per_item(run, len(simplified), args.repeats)
        label = f"rasterize_batch, batch {batch_size}"
        print(f"  {label:<32} {per_doodle:8.1f} us  ({1e6 / per_doodle:,.0f} doodles/s/core)")
    print()

    print("live path on raw drawings (canvas pixels), CPU us per doodle")
    normalized = normalize_batch(raw)
    for batch_size in (1, 16, 64, 256):
        normalize_us = best_us_per_item(in_batches(raw, batch_size, normalize_batch), len(raw), args.repeats)
        raster_us = best_us_per_item(
            in_batches(normalized, batch_size, rasterize_batch), len(raw), args.repeats
        )
        live = in_batches(raw, batch_size, lambda chunk: rasterize_batch(normalize_batch(chunk)))
        live_us = best_us_per_item(live, len(raw), args.repeats)
        print(f"  batch {batch_size:<3} normalize_batch {normalize_us:8.1f} us")
        print(f"  batch {batch_size:<3} rasterize_batch (normalized) {raster_us:8.1f} us")
        print(f"  batch {batch_size:<3} normalize_batch + rasterize_batch {live_us:8.1f} us")
    print()

    print("fidelity: cosine to the official numpy_bitmap row each drawing matches best")
    all_best = []
    for word in BITMAP_CHECK_WORDS:
        drawings = [r.strokes for r in records[word] if r.source == "simplified"]
        ours = rasterize_batch(drawings).reshape(len(drawings), -1).astype(np.float64)
        official = np.asarray(read_bitmaps(args.data / "numpy_bitmap" / f"{word}.npy")).astype(np.float64)
        ours /= np.linalg.norm(ours, axis=1, keepdims=True)
        official /= np.maximum(np.linalg.norm(official, axis=1, keepdims=True), 1e-12)
        similarity = ours @ official.T
        best = similarity.max(axis=1)
        distinct = len(set(similarity.argmax(axis=1).tolist()))
        all_best.append(best)
        matched = f"{len(drawings)} drawings -> {distinct} distinct rows"
        print(f"  {word:<9} {matched:<32} cosine mean {best.mean():.5f}  min {best.min():.5f}")
    joined = np.concatenate(all_best)
    total = f"{len(joined)} drawings"
    print(f"  {'all':<9} {total:<32} cosine mean {joined.mean():.5f}  min {joined.min():.5f}")
    print()
    command = f".venv/bin/python benchmarks/bench_rasterize.py --repeats {args.repeats}"
    print(f"reproduce: cd {REPO_ROOT} && {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
