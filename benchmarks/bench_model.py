"""CPU speed of the recognizers on real drawings: rasterizing, the forward pass, and both together.

Run: `.venv/bin/python benchmarks/bench_model.py [--data ../shared/quickdraw] [--workers 2]
[--compare NAME=CHECKPOINT ...]`

Prints, for the shipped checkpoint, the seed and any checkpoint named with `--compare` (the previous
20-word model, say), side by side in one run, batch-1 latency and batched throughput on one
thread (one core), and the throughput of one single-threaded worker process per core, rasterizing
from simplified strokes included (the path the server takes after normalising live strokes). The
rasterizer alone is timed too, because at 28x28 it costs about as much as the network. Wall-clock
figures swing on a shared machine; the CPU-second ones divide by the CPU time the process used.

A second table is the serving path as the server runs it, by batch size: raw timed strokes (what
phones send) through normalizing, rasterizing and the network, in CPU microseconds per drawing, for
every model and for the shipped one on both runtimes (ONNX Runtime, what `auto` serves, and torch).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence, Sized
from pathlib import Path
from typing import Any

import torch

from inference.evaluate import collect_drawings, measure_speed
from inference.formats import load_drawings
from inference.model import SEED_LABELS
from inference.rasterize import rasterize_batch
from inference.recognizer import DEFAULT_CHECKPOINT, SEED_STATE_DICT, Recognizer

REPO = Path(__file__).resolve().parents[1]


def _per_second(
    function: Callable[[Any], object], batches: Sequence[Sized], seconds: float = 2.0
) -> tuple[float, float]:
    """Items per second of `function` over `batches`, repeated for about `seconds`: per wall-clock
    second, and per CPU second of this process (what other load on the machine barely moves)."""
    done, started, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        for batch in batches:
            function(batch)
            done += len(batch)
    return done / (time.perf_counter() - started), done / max(time.process_time() - cpu, 1e-9)


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "quickdraw")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument(
        "--serving-batches",
        type=int,
        nargs="+",
        default=[1, 2, 4, 8, 16, 64],
        help="batch sizes of the serving-path table",
    )
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="NAME=CHECKPOINT",
        help="another checkpoint measured in the same run (e.g. doodle20=inference/checkpoints/doodle20.pt)",
    )
    args = parser.parse_args()
    models: list[tuple[str, Any, Recognizer]] = [
        (DEFAULT_CHECKPOINT.stem, ("checkpoint", None), Recognizer.load(DEFAULT_CHECKPOINT)),
        ("seed", ("seed", SEED_STATE_DICT), Recognizer.from_seed(SEED_STATE_DICT)),
    ]
    for text in args.compare:
        name, _, path = text.partition("=")
        models.append((name, ("checkpoint", Path(path)), Recognizer.load(Path(path))))
    shipped_on_torch = Recognizer.load(DEFAULT_CHECKPOINT, runtime="torch")

    drawings = [
        d for d in collect_drawings(args.data, SEED_LABELS, max_per_class=60) if d.strokes is not None
    ]
    strokes = [d.strokes for d in drawings if d.strokes is not None]
    batches = [strokes[i : i + args.batch_size] for i in range(0, len(strokes), args.batch_size)]
    torch.set_num_threads(1)
    _, raster_rate = _per_second(rasterize_batch, batches)
    rasters = [rasterize_batch(b) for b in batches]
    print(f"{len(strokes)} real drawings; rasterize_batch alone: {raster_rate:,.0f} doodles per CPU-second")
    print(
        f"| model | latency b=1 | forward b=1 | forward, CPU us per drawing (b={args.batch_size}) "
        "| end to end, one core (CPU-s) | end to end, all cores (wall) | all cores (CPU-s) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, source, recognizer in models:
        _, forward_rate = _per_second(recognizer.predict_rasters, rasters)
        speed = measure_speed(source, drawings, workers=args.workers, batch_size=args.batch_size)
        print(
            f"| {name} | {speed.latency_ms_p50:.2f} ms | {speed.model_latency_ms_p50:.2f} ms | "
            f"{1e6 / forward_rate:,.0f} | {speed.throughput_per_core:,.0f}/s | "
            f"{speed.throughput_workers:,.0f}/s ({args.workers} processes) | "
            f"{speed.throughput_workers_cpu:,.0f}/s |"
        )
    serving_path(
        [(f"{name} ({recognizer.runtime})", recognizer) for name, _, recognizer in models]
        + [(f"{DEFAULT_CHECKPOINT.stem} (torch)", shipped_on_torch)],
        args.data,
        args.serving_batches,
    )


def serving_path(models: Sequence[tuple[str, Recognizer]], data: Path, batch_sizes: Sequence[int]) -> None:
    """Print CPU microseconds per drawing of `predict_strokes` on raw timed strokes, by batch size."""
    by_word = load_drawings(data, SEED_LABELS)
    raw = [record.raw_strokes for word in SEED_LABELS for record in by_word[word][:8] if record.raw_strokes]
    print(f"\nserving path on {len(raw)} raw drawings: CPU microseconds per drawing, one thread")
    print("| model | " + " | ".join(f"b={size}" for size in batch_sizes) + " |")
    print("| --- | " + " | ".join("---:" for _ in batch_sizes) + " |")
    for name, recognizer in models:
        cells = []
        for size in batch_sizes:
            batches = [raw[i : i + size] for i in range(0, len(raw) - size + 1, size)]
            _, rate = _per_second(recognizer.predict_strokes, batches, seconds=1.5)
            cells.append(f"{1e6 / rate:,.0f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
