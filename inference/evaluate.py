"""`doodle-party evaluate`: score the shipped model beside the seed on the same real drawings.

What is measured, and how:

- Drawings come from DIR in the bucket layout (simplified/, raw/, numpy_bitmap/, sketchrnn/) or
  with flat download names, through `inference.formats`. A drawing in several formats counts once:
  stroke drawings are merged by key_id (raw ones get Google's simplification first); a bitmap row or
  sketch-rnn drawing that is a near-copy (cosine >= 0.95 at 28x28) of a stroke drawing of the same
  class is that drawing again and is dropped. Bitmaps only have complete drawings, so they count for
  "complete" alone. `--split test` keeps only the project's held-out key_ids (see
  `inference.dataset.split_of`), for our own data; external data is scored whole (`--split all`).
- Prefixes: the first ceil(p * strokes) strokes (at least one), p in 25/50/75%, framed as in the
  complete drawing (`stroke_prefix(normalize=False)`). The live framing (re-normalised on the
  prefix's own extent, what the game feeds the model) is reported as extra `live_prefix_*` keys.
- Each model is scored only on the classes it knows; top-k is among its own classes.
- Speed: batch-1 latency and batched throughput on one thread (one core), rasterizing included, and
  the throughput of one worker process per core across `--workers` cores.

Outputs: a table on stdout, `--json FILE`, PNG figures (confusion matrix of the first model, accuracy
against share of strokes for all models) under `--figures DIR`, and with `--model-card FILE` the
model card.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from inference.dataset import drop_near_copies, split_of
from inference.formats import data_folders, discover, load_drawings, read_bitmaps, read_sketchrnn
from inference.model import SEED_LABELS, Checkpoint
from inference.rasterize import rasterize_batch, stroke_prefix
from inference.recognizer import DEFAULT_CHECKPOINT, DOODLENET_DIR, SEED_STATE_DICT, Recognizer
from inference.replay import ROUND_S, Played, RoomScore, load_timed, play, render_guesses
from inference.simplify import normalize_strokes
from inference.tfjs import import_tfjs

__all__ = [
    "CURVE_LEVELS",
    "EvalDrawing",
    "LevelScore",
    "ModelReport",
    "SpeedReport",
    "collect_drawings",
    "configure_parser",
    "draw_confusion_png",
    "draw_curve_png",
    "measure_speed",
    "run",
    "score_model",
]

PREFIX_LEVELS: tuple[float, ...] = (0.25, 0.5, 0.75)
# Finer grid for the accuracy-versus-strokes figure.
CURVE_LEVELS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
EXTRA_BITMAP_DIR = "numpy_bitmap_rerendered"
# Larger models get no confusion matrix in the JSON or the figure (their 20-word restriction does).
CONFUSION_MAX_LABELS = 50  # ../shared's re-rendered real drawings, with key_ids

Split = Literal["all", "test", "val", "train"]
Drawing = tuple[np.ndarray, ...]
# How to rebuild a model in another process: ("seed", state_dict) or ("checkpoint", path or None).
ModelSource = tuple[Literal["seed", "checkpoint"], str | Path | None]


@dataclass(frozen=True, slots=True)
class EvalDrawing:
    """One drawing to score.

    Attributes:
        word: its class.
        key_id: Google's key_id, None for bitmaps and sketch-rnn drawings.
        strokes: simplified-space strokes, or None for a bitmap.
        bitmap: (28, 28) uint8 for a bitmap row, else None.
        source: "strokes", "bitmap", "rerendered" or "sketchrnn".
    """

    word: str
    key_id: str | None
    strokes: tuple[np.ndarray, ...] | None
    bitmap: np.ndarray | None
    source: str


@dataclass(frozen=True, slots=True)
class LevelScore:
    """Accuracy at one share of strokes."""

    top1: float
    top3: float
    n: int

    def to_dict(self) -> dict[str, float | int | None]:
        """JSON form; accuracies are null when there was nothing to score (e.g. bitmaps only)."""
        if self.n == 0:
            return {"top1": None, "top3": None, "n": 0}
        return {"top1": self.top1, "top3": self.top3, "n": self.n}


@dataclass(slots=True)
class ModelReport:
    """Everything measured for one model.

    Attributes:
        name: "seed" or the checkpoint's name.
        classes: the classes scored (those the model knows that have drawings).
        n: drawings scored (complete).
        n_strokes: stroke drawings among them (the ones with prefixes).
        levels: "complete", "class_mean_complete" (`_class_mean`), "prefix_25", ...,
            "live_prefix_25", ..., "complete_<source>" -> score.
        per_class: class -> level -> top-1.
        curve: share of strokes -> top-1 over stroke drawings (CURVE_LEVELS).
        confusion: (C, C) counts on complete drawings, rows = truth, over the model's labels.
        labels: the model's labels (confusion axes).
        speed: timing, if measured.
    """

    name: str
    classes: list[str]
    n: int
    n_strokes: int
    levels: dict[str, LevelScore]
    per_class: dict[str, dict[str, float]]
    curve: dict[float, float]
    confusion: np.ndarray
    labels: tuple[str, ...]
    speed: SpeedReport | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape: fractions in [0, 1]."""
        data: dict[str, Any] = {"classes": self.classes, "n": self.n, "n_strokes": self.n_strokes}
        data.update({name: score.to_dict() for name, score in self.levels.items()})
        data["per_class"] = self.per_class
        data["curve"] = {f"{level:.2f}": value for level, value in self.curve.items()}
        if len(self.labels) <= CONFUSION_MAX_LABELS:  # 345 x 345 counts would be most of the file
            data["confusion"] = {"labels": list(self.labels), "counts": self.confusion.tolist()}
        if self.speed is not None:
            data["speed"] = self.speed.to_dict()
        data.update(self.extra)
        return data


@dataclass(frozen=True, slots=True)
class SpeedReport:
    """CPU timing, rasterizing included.

    Attributes:
        latency_ms_p50: median wall time of one drawing (batch 1) on one thread.
        latency_ms_p95: 95th percentile of the same.
        model_latency_ms_p50: the forward pass alone, batch 1, one thread.
        throughput_per_core: doodles per CPU second batched (batch `batch_size`) on one thread.
        throughput_workers: doodles per wall-clock second of `workers` processes together, one
            thread each (what a server with that many cores gets, if nothing else runs).
        throughput_workers_cpu: the sum of the workers' doodles per CPU second (the same without
            the other jobs of a shared machine).
        workers: processes used for `throughput_workers`.
        batch_size: batch size of the throughput runs.
    """

    latency_ms_p50: float
    latency_ms_p95: float
    model_latency_ms_p50: float
    throughput_per_core: float
    throughput_workers: float
    throughput_workers_cpu: float
    workers: int
    batch_size: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "latency_ms_p50": self.latency_ms_p50,
            "latency_ms_p95": self.latency_ms_p95,
            "model_latency_ms_p50": self.model_latency_ms_p50,
            "throughput_per_core": self.throughput_per_core,
            "throughput_workers": self.throughput_workers,
            "throughput_workers_cpu": self.throughput_workers_cpu,
            "workers": self.workers,
            "batch_size": self.batch_size,
        }


def _keep(key_id: str | None, split: Split) -> bool:
    """Whether a drawing belongs to the requested split (drawings without key_id only to "all")."""
    if split == "all":
        return True
    return key_id is not None and split_of(key_id) == split


def collect_drawings(
    data_dir: str | Path | Sequence[str | Path],
    words: Sequence[str] | None = None,
    split: Split = "all",
    max_per_class: int | None = None,
) -> list[EvalDrawing]:
    """Every distinct drawing of `words` in `data_dir` (see the module docstring for the rules).

    Args:
        data_dir: bucket, flat or archive layout; or several such folders, read one after the other,
            a key_id counted once.
        words: classes to read; None = every class found.
        split: "all", or only the drawings of one split of the project's held-out rule.
        max_per_class: cap per class, source and folder, first rows first (deterministic).

    Returns:
        Drawings, grouped by class (in the order of `words`, else sorted), stroke drawings first.

    Raises:
        FileNotFoundError: a folder is missing.
    """
    folders = data_folders(data_dir)
    seen: set[str] = set()
    drawings: list[EvalDrawing] = []
    for folder in folders:
        for drawing in _collect_folder(folder, words, split, max_per_class):
            if drawing.key_id is not None:
                if drawing.key_id in seen:
                    continue
                seen.add(drawing.key_id)
            drawings.append(drawing)
    order = {word: i for i, word in enumerate(words or sorted({d.word for d in drawings}))}
    return sorted(drawings, key=lambda d: order[d.word])  # stable: each folder's order within a class


def _collect_folder(
    data_dir: Path, words: Sequence[str] | None, split: Split, max_per_class: int | None
) -> list[EvalDrawing]:
    """`collect_drawings` for one folder."""
    files = discover(data_dir)
    wanted = sorted(files) if words is None else [w for w in words if w in files]
    drawings: list[EvalDrawing] = []
    stroke_words = [w for w in wanted if files[w].simplified or files[w].raw]
    records = load_drawings(data_dir, stroke_words) if stroke_words else {}
    for word in wanted:
        stroke_drawings = [
            EvalDrawing(
                word,
                r.key_id,
                tuple(np.asarray(s, np.float32)[:, :2] for s in r.strokes if len(s)),
                None,
                "strokes",
            )
            for r in records.get(word, [])
            if _keep(r.key_id, split) and any(len(s) for s in r.strokes)
        ][:max_per_class]
        drawings += stroke_drawings
        references = (
            rasterize_batch([d.strokes for d in stroke_drawings if d.strokes])
            if stroke_drawings
            else np.zeros((0, 28, 28), np.uint8)
        )
        sketchrnn_path = files[word].sketchrnn
        if sketchrnn_path is not None and split == "all":
            sketches = [
                normalize_strokes(s)
                for part in read_sketchrnn(sketchrnn_path).values()
                for s in part
                if any(len(stroke) for stroke in s)
            ][:max_per_class]
            if sketches:
                keep = drop_near_copies(rasterize_batch(sketches), references)
                drawings += [
                    EvalDrawing(word, None, tuple(s), None, "sketchrnn")
                    for s, k in zip(sketches, keep, strict=True)
                    if k
                ]
        bitmap_path = files[word].bitmap
        if bitmap_path is not None and split == "all":
            rows = np.asarray(read_bitmaps(bitmap_path)[:max_per_class]).reshape(-1, 28, 28)
            keep = drop_near_copies(rows, references)
            drawings += [EvalDrawing(word, None, None, row, "bitmap") for row in rows[keep]]
        extra = data_dir / EXTRA_BITMAP_DIR / f"{word}.npy"
        if extra.is_file() and extra.with_suffix(".key_ids.txt").is_file():
            key_ids = extra.with_suffix(".key_ids.txt").read_text().split()
            rows = np.asarray(read_bitmaps(extra)).reshape(-1, 28, 28)
            seen = {d.key_id for d in stroke_drawings}
            chosen = [i for i, k in enumerate(key_ids[: len(rows)]) if _keep(k, split) and k not in seen]
            drawings += [
                EvalDrawing(word, key_ids[i], None, rows[i], "rerendered") for i in chosen[:max_per_class]
            ]
    return drawings


@dataclass(frozen=True, slots=True)
class _Rendered:
    """The drawings of one class set, rendered once at every level both tables need."""

    complete: np.ndarray  # (N, 28, 28): stroke drawings rasterized, bitmaps as they are
    prefixes: dict[str, np.ndarray]  # level name -> (S, 28, 28) over stroke drawings only
    curve: dict[float, np.ndarray]  # share -> (S, 28, 28)


def _render(drawings: Sequence[EvalDrawing], size: int) -> _Rendered:
    """Rasterize complete drawings, prefixes (both framings) and the curve's levels."""
    strokes = [d.strokes for d in drawings if d.strokes is not None]
    complete = np.zeros((len(drawings), size, size), np.uint8)
    stroke_rows = [i for i, d in enumerate(drawings) if d.strokes is not None]
    if strokes:
        complete[stroke_rows] = rasterize_batch(strokes, size=size)
    for i, d in enumerate(drawings):
        if d.bitmap is not None:
            complete[i] = d.bitmap
    prefixes: dict[str, np.ndarray] = {}
    for level in PREFIX_LEVELS:
        name = f"{round(level * 100)}"
        prefixes[f"prefix_{name}"] = rasterize_batch([stroke_prefix(s, level) for s in strokes], size=size)
        prefixes[f"live_prefix_{name}"] = rasterize_batch(
            [stroke_prefix(s, level, normalize=True) for s in strokes], size=size
        )
    curve = {
        level: rasterize_batch([stroke_prefix(s, level) for s in strokes], size=size)
        for level in CURVE_LEVELS
    }
    return _Rendered(complete, prefixes, curve)


def _top(probs: np.ndarray, k: int) -> np.ndarray:
    """(N, k) indices of the k largest probabilities, best first."""
    return np.argsort(-probs, axis=1, kind="stable")[:, :k]


def _hits(probs: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,) booleans: the truth is the top-1 guess, the truth is among the top 3."""
    top = _top(probs, min(3, probs.shape[1]))
    return top[:, 0] == truth, (top == truth[:, None]).any(axis=1)


def _score(probs: np.ndarray, truth: np.ndarray) -> LevelScore:
    if len(truth) == 0:
        return LevelScore(0.0, 0.0, 0)
    hit1, hit3 = _hits(probs, truth)
    return LevelScore(float(hit1.mean()), float(hit3.mean()), len(truth))


def _class_mean(probs: np.ndarray, truth: np.ndarray) -> LevelScore:
    """Top-1 and top-3 averaged over classes, each class weighing the same whatever its count.

    The held-out set is far from even (five classes have ~1,000 re-rendered drawings, most have a
    few), so the pooled figure mostly measures those five, and a model that merely leans towards
    them scores higher. The game draws its words evenly, which this figure reflects.
    """
    if len(truth) == 0:
        return LevelScore(0.0, 0.0, 0)
    hit1, hit3 = _hits(probs, truth)
    classes = np.unique(truth)
    return LevelScore(
        float(np.mean([hit1[truth == c].mean() for c in classes])),
        float(np.mean([hit3[truth == c].mean() for c in classes])),
        len(truth),
    )


def score_model(name: str, recognizer: Recognizer, drawings: Sequence[EvalDrawing]) -> ModelReport:
    """Score one model on the drawings of the classes it knows.

    Args:
        name: the model's name in the report.
        recognizer: the model.
        drawings: candidates; drawings of unknown classes are skipped.

    Returns:
        The report (without speed).
    """
    index = {word: i for i, word in enumerate(recognizer.labels)}
    known = [d for d in drawings if d.word in index]
    rendered = _render(known, recognizer.checkpoint.raster.size)
    truth = np.array([index[d.word] for d in known], dtype=np.int64)
    stroke_mask = np.array([d.strokes is not None for d in known], dtype=bool)
    stroke_truth = truth[stroke_mask]

    complete_probs = recognizer.predict_rasters(rendered.complete)
    levels = {
        "complete": _score(complete_probs, truth),
        "class_mean_complete": _class_mean(complete_probs, truth),
    }
    level_probs = {name: recognizer.predict_rasters(r) for name, r in rendered.prefixes.items()}
    levels.update({level_name: _score(p, stroke_truth) for level_name, p in level_probs.items()})
    levels["complete_strokes"] = _score(complete_probs[stroke_mask], stroke_truth)
    for source in sorted({d.source for d in known} - {"strokes"}):
        mask = np.array([d.source == source for d in known])
        levels[f"complete_{source}"] = _score(complete_probs[mask], truth[mask])

    per_class: dict[str, dict[str, float]] = {}
    classes = sorted({d.word for d in known}, key=index.__getitem__)
    for word in classes:
        row = index[word]
        entry = {
            "n": float((truth == row).sum()),
            "complete": float((_top(complete_probs, 1)[:, 0] == row)[truth == row].mean()),
        }
        for level_name, p in level_probs.items():
            if level_name.startswith("prefix_") and (stroke_truth == row).any():
                entry[level_name] = float((_top(p, 1)[:, 0] == row)[stroke_truth == row].mean())
        per_class[word] = entry

    curve = {
        level: float((_top(recognizer.predict_rasters(r), 1)[:, 0] == stroke_truth).mean()) if len(r) else 0.0
        for level, r in rendered.curve.items()
    }
    confusion = np.zeros((len(recognizer.labels), len(recognizer.labels)), dtype=np.int64)
    np.add.at(confusion, (truth, _top(complete_probs, 1)[:, 0]), 1)
    return ModelReport(
        name,
        classes,
        len(known),
        int(stroke_mask.sum()),
        levels,
        per_class,
        curve,
        confusion,
        recognizer.labels,
    )


def _load(model: ModelSource) -> Recognizer:
    """Rebuild a recognizer from how it was loaded (worker processes cannot share the parent's)."""
    kind, path = model
    if kind == "seed":
        return Recognizer.from_seed(SEED_STATE_DICT if path is None else path)
    return Recognizer.load(path)


def _throughput(
    recognizer: Recognizer, strokes: Sequence[Drawing], batch_size: int, seconds: float
) -> tuple[float, float]:
    """Rasterize and classify batches for about `seconds` on this (single-threaded) process.

    Returns:
        (doodles per wall-clock second, doodles per CPU second of this process). On a machine
        shared with other jobs the second is the honest per-core figure.
    """
    done, started, cpu_started = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        for i in range(0, len(strokes), batch_size):
            recognizer.predict_rasters(rasterize_batch(strokes[i : i + batch_size]))
            done += len(strokes[i : i + batch_size])
    return done / (time.perf_counter() - started), done / max(time.process_time() - cpu_started, 1e-9)


def _throughput_worker(args: tuple[ModelSource, list[Drawing], int, float]) -> tuple[float, float]:
    """One worker process on one thread: its (wall-clock, CPU-time) doodles per second."""
    model, strokes, batch_size, seconds = args
    torch.set_num_threads(1)
    return _throughput(_load(model), strokes, batch_size, seconds)


def measure_speed(
    model: ModelSource,
    drawings: Sequence[EvalDrawing],
    workers: int = 2,
    batch_size: int = 256,
    seconds: float = 3.0,
) -> SpeedReport:
    """CPU latency and throughput on real drawings, rasterizing from simplified strokes included.

    Args:
        model: ("seed", state_dict path) or ("checkpoint", path or None for the default).
        drawings: stroke drawings are used (bitmaps skip rasterizing and are ignored).
        workers: processes for the multi-core throughput.
        batch_size: batch size for throughput.
        seconds: duration of each throughput run.

    Returns:
        The timings.
    """
    strokes = [d.strokes for d in drawings if d.strokes is not None][:1024]
    if not strokes:
        raise ValueError("speed needs stroke drawings")
    recognizer = _load(model)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        latencies, model_latencies = [], []
        for s in strokes[:300]:
            started = time.perf_counter()
            raster = rasterize_batch([s])
            rasterized = time.perf_counter()
            recognizer.predict_rasters(raster)
            ended = time.perf_counter()
            latencies.append(ended - started)
            model_latencies.append(ended - rasterized)
        _, per_core = _throughput(recognizer, strokes, batch_size, seconds)
    finally:
        torch.set_num_threads(previous)
    # Separate processes, one thread each: how the server scales inference over cores.
    with ProcessPoolExecutor(max_workers=workers) as pool:
        rates = list(pool.map(_throughput_worker, [(model, strokes, batch_size, seconds)] * workers))
    return SpeedReport(
        latency_ms_p50=float(np.percentile(latencies, 50) * 1e3),
        latency_ms_p95=float(np.percentile(latencies, 95) * 1e3),
        model_latency_ms_p50=float(np.percentile(model_latencies, 50) * 1e3),
        throughput_per_core=per_core,
        throughput_workers=sum(wall for wall, _ in rates),
        throughput_workers_cpu=sum(cpu for _, cpu in rates),
        workers=workers,
        batch_size=batch_size,
    )


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's bundled font (scalable in Pillow >= 10.1), so no system font is needed."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # older Pillow: fixed bitmap font
        return ImageFont.load_default()


def draw_confusion_png(confusion: np.ndarray, labels: Sequence[str], path: str | Path, title: str) -> None:
    """Confusion matrix as a PNG: rows are the true class, columns the prediction, shade = row share."""
    n = len(labels)
    cell, left, top = 28, 110, 120
    image = Image.new("RGB", (left + n * cell + 20, top + n * cell + 20), "white")
    draw = ImageDraw.Draw(image)
    font = _font(11)
    draw.text((10, 8), title, fill="black", font=_font(14))
    rows = confusion.sum(axis=1, keepdims=True)
    shares = np.divide(confusion, rows, out=np.zeros(confusion.shape, dtype=float), where=rows > 0)
    for i, label in enumerate(labels):
        draw.text((8, top + i * cell + 8), label[:16], fill="black", font=font)
        column = Image.new("RGBA", (110, 14), (255, 255, 255, 0))
        ImageDraw.Draw(column).text((0, 0), label[:16], fill="black", font=font)
        image.paste(
            column.rotate(90, expand=True), (left + i * cell + 7, top - 112), column.rotate(90, expand=True)
        )
        for j in range(n):
            shade = int(255 * (1 - shares[i, j]))
            box = (left + j * cell, top + i * cell, left + (j + 1) * cell - 1, top + (i + 1) * cell - 1)
            draw.rectangle(
                box, fill=(shade, shade, 255) if i != j else (shade, 255, shade), outline=(220, 220, 220)
            )
            if confusion[i, j]:
                draw.text(
                    (box[0] + 3, box[1] + 8),
                    str(int(confusion[i, j])),
                    fill="black" if shade > 120 else "white",
                    font=_font(9),
                )
    image.save(path)


def draw_curve_png(
    curves: dict[str, dict[float, float]],
    path: str | Path,
    title: str,
    x_max: float = 1.0,
    x_label: str = "share of strokes drawn",
    y_label: str = "",
) -> None:
    """One line per model: top-1 against the share of strokes drawn, or any share against `x_max`.

    With `x_max` other than 1 the x axis is in seconds (0..x_max), as for "recognized by time".
    """
    width, height, margin = 640, 420, 60
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = _font(12)
    draw.text((margin, 12), title, fill="black", font=_font(14))
    x0, y0, x1, y1 = margin, height - margin, width - 20, 40

    def point(x: float, share: float) -> tuple[float, float]:
        return x0 + x / x_max * (x1 - x0), y0 - share * (y0 - y1)

    for tick in range(0, 11, 2):
        _, y = point(0, tick / 10)
        draw.line((x0, y, x1, y), fill=(230, 230, 230))
        draw.text((x0 - 35, y - 7), f"{tick * 10}%", fill="black", font=font)
        x, _ = point(tick / 10 * x_max, 0)
        tick_text = f"{tick * 10}%" if x_max == 1.0 else f"{tick / 10 * x_max:g} s"
        draw.text((x - 12, y0 + 8), tick_text, fill="black", font=font)
    draw.line((x0, y0, x1, y0), fill="black")
    draw.line((x0, y0, x0, y1), fill="black")
    draw.text(((x0 + x1) / 2 - 60, height - 25), x_label, fill="black", font=font)
    if y_label:
        draw.text((x0 + 6, y1 - 14), y_label, fill="black", font=font)
    colours = [(214, 39, 40), (31, 119, 180), (44, 160, 44), (148, 103, 189)]
    for k, (name, curve) in enumerate(curves.items()):
        colour = colours[k % len(colours)]
        points = [point(x, share) for x, share in sorted(curve.items())]
        draw.line(points, fill=colour, width=3)
        for x, y in points:
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=colour)
        legend_y = y0 - 40 - 18 * k
        draw.line((x1 - 190, legend_y + 7, x1 - 170, legend_y + 7), fill=colour, width=3)
        draw.text((x1 - 164, legend_y), name, fill=colour, font=font)
    image.save(path)


def _table(reports: Sequence[ModelReport]) -> str:
    """Markdown table: one row per model, top-1 / top-3 per level, speed."""
    header = (
        "| model | n | complete | class mean | first 25% | first 50% | first 75% | latency b=1 | per core "
        "| all cores |"
    )
    lines = [header, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in reports:
        cells = [
            f"{100 * r.levels[k].top1:.1f} / {100 * r.levels[k].top3:.1f}" if r.levels[k].n else "-"
            for k in ("complete", "class_mean_complete", "prefix_25", "prefix_50", "prefix_75")
        ]
        speed = (
            [
                f"{r.speed.latency_ms_p50:.2f} ms",
                f"{r.speed.throughput_per_core:,.0f}/s",
                f"{r.speed.throughput_workers:,.0f}/s ({r.speed.workers})",
            ]
            if r.speed
            else ["", "", ""]
        )
        lines.append(f"| {r.name} | {r.n} | " + " | ".join(cells + speed) + " |")
    return "\n".join(lines)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add `doodle-party evaluate` options to `parser`."""
    parser.add_argument(
        "--data",
        type=Path,
        action="append",
        required=True,
        help="Quick, Draw! folder (bucket or flat layout) or drawing archive; repeat to read several",
    )
    parser.add_argument(
        "--model", type=Path, default=None, help=f"checkpoint (default {DEFAULT_CHECKPOINT.name})"
    )
    parser.add_argument(
        "--compare",
        type=_named_checkpoint,
        action="append",
        default=[],
        metavar="NAME=CHECKPOINT",
        help="another checkpoint scored on the same drawings, e.g. without-archive=runs/a/model.pt",
    )
    parser.add_argument("--seed-model", type=Path, default=SEED_STATE_DICT, help="the seed's state_dict")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument(
        "--figures", type=Path, default=None, help="PNG folder (default: beside --json, else .)"
    )
    parser.add_argument("--model-card", type=Path, default=None, help="also write the model card here")
    parser.add_argument(
        "--split",
        choices=["all", "test", "val", "train"],
        default="all",
        help="'test' = only the project's held-out key_ids (for ../shared/quickdraw)",
    )
    parser.add_argument("--words", default=None, help="comma-separated classes (default: all found)")
    parser.add_argument(
        "--max-per-class",
        type=int,
        default=1000,
        help="first N drawings per class and source (default 1000; 0 = all, slow on the full dataset)",
    )
    parser.add_argument("--no-speed", action="store_true", help="skip the CPU timing")
    parser.add_argument(
        "--teacher",
        type=Path,
        default=DOODLENET_DIR,
        help="the 345-word yardstick, a TensorFlow.js folder or a checkpoint (default: ../shared's DoodleNet;"
        " skipped if missing)",
    )
    parser.add_argument(
        "--no-game", action="store_true", help="skip the replay of timed drawings with the decision rule"
    )
    parser.add_argument(
        "--words-file",
        type=Path,
        default=None,
        help="write the model's per-word replay figures here (ship as <checkpoint>.words.json: the"
        " server rates each word's difficulty from it for the word packs)",
    )
    parser.add_argument("--workers", type=int, default=2, help="processes for the multi-core throughput")
    parser.add_argument("--command", default=None, help="command line to print in the model card")
    parser.add_argument("--notes", type=Path, default=None, help="markdown appended to the model card")


def run(args: argparse.Namespace) -> int:
    """Run `doodle-party evaluate`; returns the exit status (1 if no drawing matched the model)."""
    ours = Recognizer.load(args.model)
    seed = Recognizer.from_seed(args.seed_model)
    name = Path(ours.source).stem
    words = None if args.words is None else [w.strip() for w in args.words.split(",") if w.strip()]
    wanted = sorted(set(ours.labels) | set(seed.labels)) if words is None else words
    drawings = collect_drawings(args.data, wanted, args.split, args.max_per_class or None)
    compared = [(other, Recognizer.load(path)) for other, path in args.compare]
    teacher = _teacher(args.teacher)
    if teacher is not None:
        compared.append(("DoodleNet", teacher))
    if set(seed.labels) < set(ours.labels):
        # Like for like with the seed: the same network answering among the seed's 20 words only.
        compared.append((f"{name}, 20 words", Recognizer(ours.checkpoint.restricted(seed.labels))))
    reports = [score_model(name, ours, drawings), score_model("seed", seed, drawings)]
    reports += [score_model(other, recognizer, drawings) for other, recognizer in compared]
    names = [report.name for report in reports]
    if len(set(names)) < len(names):
        print(f"two models share a name in {names}: rename with --compare NAME=...", file=sys.stderr)
        return 2
    if not reports[0].n:
        print(f"no drawings of the model's classes in {args.data}", file=sys.stderr)
        return 1
    if not args.no_speed and any(d.strokes is not None for d in drawings):
        reports[0].speed = measure_speed(("checkpoint", args.model), drawings, workers=args.workers)
        reports[1].speed = measure_speed(("seed", args.seed_model), drawings, workers=args.workers)
    table = _table(reports)
    print(table)
    figures = args.figures or (args.json.parent if args.json else Path("."))
    figures.mkdir(parents=True, exist_ok=True)
    # Ours, or when ours has too many classes to draw, ours answering among the 20 words.
    mine = [r for r in reports if r.name in (name, f"{name}, 20 words")]
    shown = next((r for r in mine if len(r.labels) <= CONFUSION_MAX_LABELS), None)
    if shown is not None:
        draw_confusion_png(
            shown.confusion, shown.labels, figures / "confusion.png", f"{shown.name}: complete drawings"
        )
    draw_curve_png(
        {r.name: r.curve for r in reports}, figures / "accuracy_vs_strokes.png", "top-1 vs strokes"
    )
    game: dict[str, dict[str, RoomScore]] = {}
    tradeoff: dict[str, list[RoomScore]] = {}
    if not args.no_game:
        players = {name: ours, "seed": seed, **{n: r for n, r in compared if not n.endswith("20 words")}}
        played = play_rooms(args.data, args.split, players, words)
        game, tradeoff = played.scores, played.tradeoff
        print(game_table(game))
        draw_curve_png(
            {
                model: {s.other_things or 0.0: s.recognized for s in scores}
                for model, scores in tradeoff.items()
            },
            figures / "tradeoff.png",
            "classic room, plain rule (top guess, p >= t) at t = 0.2 ... 0.95",
            x_max=1.0,
            x_label="drawings of other things ever accepted as a room word",
            y_label="recognized within 20 s",
        )
        if args.words_file is not None:
            every_room = next(room for room in game[name] if room.startswith("all "))
            write_word_figures(args.words_file, game[name][every_room], args.split)
        draw_curve_png(
            {model: rooms["classic 20"].curve for model, rooms in game.items() if "classic 20" in rooms},
            figures / "recognized_by_time.png",
            "room of the 20 classic words: drawings recognized, by time since the first point",
            x_max=ROUND_S,
            x_label="seconds since the first point",
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        result = {
            "data": [str(folder) for folder in args.data],
            "split": args.split,
            "models": {r.name: r.to_dict() for r in reports},
            "game": {
                model: {room: s.to_dict() for room, s in rooms.items()} for model, rooms in game.items()
            },
            "tradeoff_classic": {
                model: [_tradeoff_point(s) for s in curve] for model, curve in tradeoff.items()
            },
        }
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if args.model_card:
        argv = sys.argv[1:]
        if argv[:1] == ["evaluate"]:  # run through `doodle-party evaluate`
            argv = argv[1:]
        command = args.command or "doodle-party evaluate " + shlex.join(argv)
        notes = args.notes.read_text() if args.notes else ""
        write_model_card(args.model_card, ours, reports, figures, command, notes, game, tradeoff)
    return 0


def _teacher(source: Path | None) -> Recognizer | None:
    """The yardstick model from a TensorFlow.js folder or a checkpoint; None if it is not there."""
    if source is None or not source.exists():
        return None
    checkpoint = import_tfjs(source) if source.is_dir() else Checkpoint.load(source)
    return Recognizer(checkpoint, source=str(source))


def play_rooms(
    data: Sequence[Path], split: Split, models: dict[str, Recognizer], words: Sequence[str] | None = None
) -> Played:
    """Replay the split's timed drawings (of `words`, default all) through every model with its rule,
    in the two standard rooms: the 20 classic words, and every word the largest model knows."""
    splits = ("train", "val", "test") if split == "all" else (split,)
    guesses = render_guesses(load_timed(data, splits=splits, words=words))
    every_word = max((model.labels for model in models.values()), key=len)
    rooms = {"classic 20": SEED_LABELS, f"all {len(every_word)}": every_word}
    return play(models, guesses, rooms, tradeoff_room="classic 20")


def _tradeoff_point(score: RoomScore) -> dict[str, object]:
    return {
        "rule": score.room,
        "recognized": score.recognized,
        "median_s": score.median_s,
        "wrong_word": score.wrong_word,
        "other_things": score.other_things,
    }


def tradeoff_table(tradeoff: dict[str, list[RoomScore]]) -> str:
    """The classic room under the plain rule at every threshold, a row per model and threshold."""
    lines = [
        "| model | rule | recognized within 20 s | median | ever accepted as another room word"
        " | other things accepted as a room word |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for model, scores in tradeoff.items():
        lines += [
            f"| {model} | {s.room} | {_pct(s.recognized)} | {_secs(s.median_s)} | {_pct(s.wrong_word)} | "
            f"{_pct(s.other_things)} |"
            for s in scores
        ]
    return "\n".join(lines)


def write_word_figures(path: Path, score: RoomScore, split: str) -> None:
    """Per word: share of its Google-recognized drawings recognized, median seconds, how many drawings."""
    words = [
        {
            "word": word,
            "recognized": entry["recognized"],
            "median_s": entry["median_s"],
            "drawings": entry["drawings"],
        }
        for word, entry in sorted(score.per_word.items())
    ]
    record = {
        "about": "held-out drawings replayed at their pen timing, judged by the shipped rule (evaluate)",
        "split": split,
        "words": words,
    }
    path.write_text(json.dumps(record, indent=1) + "\n")


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.1f}%"


def _secs(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f} s"


def game_table(game: dict[str, dict[str, RoomScore]]) -> str:
    """The game figures as a markdown table, a row per model and room."""
    lines = [
        "| model | room | recognized within 20 s (of Google-recognized) | median | p90"
        " | accepted, of Google-rejected | ever accepted as another room word"
        " | other things accepted as a room word |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for model, rooms in game.items():
        for room, s in rooms.items():
            lines.append(
                f"| {model} | {room} | {_pct(s.recognized)} ({s.positives}) | {_secs(s.median_s)} | "
                f"{_secs(s.p90_s)} | {_pct(s.accepted_of_google_rejected)} ({s.google_rejected}) | "
                f"{_pct(s.wrong_word)} ({s.room_drawings}) | {_pct(s.other_things)} ({s.others}) |"
            )
    return "\n".join(lines)


def _named_checkpoint(text: str) -> tuple[str, Path]:
    """Parse ``--compare NAME=CHECKPOINT``."""
    name, sep, path = text.partition("=")
    if not sep or not name or not path or name == "seed":
        raise argparse.ArgumentTypeError(f"expected NAME=CHECKPOINT (NAME not 'seed'), got {text!r}")
    return name, Path(path)


def _report(reports: Sequence[ModelReport], name: str) -> ModelReport | None:
    return next((r for r in reports if r.name == name), None)


def _top1(report: ModelReport | None, key: str = "complete") -> float:
    if report is None or key not in report.levels or not report.levels[key].n:
        return float("nan")
    return report.levels[key].top1


def _targets(reports: Sequence[ModelReport], game: dict[str, dict[str, RoomScore]]) -> str:
    """The issue's targets against what was measured, as markdown table rows.

    `reports`: ours first, the seed second, then "DoodleNet" and "<ours>, 20 words" when measured.
    """
    ours, seed = reports[0], reports[1]
    teacher, twenty = _report(reports, "DoodleNet"), _report(reports, f"{ours.name}, 20 words")
    rows: list[tuple[str, bool, str]] = []
    classic = game.get(ours.name, {}).get("classic 20")
    if classic is not None:
        rows += [
            (
                "classic room: >= 98% of Google-recognized drawings recognized within 20 s",
                classic.recognized >= 0.98,
                f"{100 * classic.recognized:.1f}% of {classic.positives}",
            ),
            (
                "classic room: median time to recognition <= 2.0 s",
                classic.median_s is not None and classic.median_s <= 2.0,
                _secs(classic.median_s),
            ),
            (
                "classic room: drawings of one word ever accepted as another <= 5%",
                classic.wrong_word <= 0.05,
                f"{_pct(classic.wrong_word)} of {classic.room_drawings}",
            ),
            (
                "classic room: drawings of other things ever accepted as a room word <= 5%",
                (classic.other_things or 0.0) <= 0.05,
                f"{_pct(classic.other_things)} of {classic.others}",
            ),
        ]
    if twenty is not None:
        rows.append(
            (
                "complete drawings, top-1 over the 20 words: not below the seed",
                _top1(twenty) >= _top1(seed),
                f"{100 * _top1(twenty):.1f}% vs the seed's {100 * _top1(seed):.1f}% ({twenty.n} drawings)",
            )
        )
    if teacher is not None and len(ours.labels) > len(seed.labels):
        rows.append(
            (
                f"complete drawings, top-1 over all {len(ours.labels)}: not below DoodleNet",
                _top1(ours) >= _top1(teacher),
                f"{100 * _top1(ours):.1f}% vs DoodleNet's {100 * _top1(teacher):.1f}% ({ours.n} drawings)",
            )
        )
    return "\n".join(f"| {name} | {value} | {'met' if met else 'NOT met'} |" for name, met, value in rows)


def _blend_text(blend: dict[str, Any] | None, start: str) -> str:
    """The model card's sentence on the weight blend (`inference.train.choose_blend`).

    Args:
        blend: the checkpoint's record of the blend, if any.
        start: what training started from and was blended towards ("the seed", "stage 1").
    """
    if not blend:
        return "The fine-tuned weights are shipped as they are."
    scores = dict(blend.get("validation_complete_top1", {}))
    target = scores.pop("teacher", 0.0)
    reached = not scores or any(value >= target for value in scores.values())
    rule = (
        f"the largest share of the fine-tuned weights whose complete-drawing accuracy on the validation "
        f"split is not below {start}'s"
        if reached
        else f"no share from 1.0 down to 0.5 reached {start}'s complete-drawing accuracy on the "
        "validation split, so the share that came closest"
    )
    return (
        f"Finally the weights are blended back towards {start}'s, "
        f"{blend['alpha']:.1f} x fine-tuned + {1 - blend['alpha']:.1f} x {start} (WiSE-FT): {rule}."
    )


def _percent(score: LevelScore) -> str:
    """Top-1 / top-3 in percent, or "-" when nothing was scored."""
    return f"{100 * score.top1:.1f}% / {100 * score.top3:.1f}%" if score.n else "-"


def _level_rows(a: ModelReport, b: ModelReport) -> str:
    """Top-1 / top-3 of two models at every level both were scored at, a markdown row each."""
    levels = (
        [("complete", "complete drawings"), ("class_mean_complete", "complete, mean over classes")]
        + [(f"prefix_{round(p * 100)}", f"first {round(p * 100)}% of strokes") for p in PREFIX_LEVELS]
        + [(f"live_prefix_{round(p * 100)}", f"first {round(p * 100)}%, live framing") for p in PREFIX_LEVELS]
    )
    return "\n".join(
        f"| {label} | {_percent(a.levels[key])} | {_percent(b.levels[key])} | "
        f"{100 * (a.levels[key].top1 - b.levels[key].top1):+.1f} | {a.levels[key].n} |"
        for key, label in levels
        if key in a.levels and key in b.levels
    )


def write_model_card(
    path: Path,
    recognizer: Recognizer,
    reports: Sequence[ModelReport],
    figures: Path,
    command: str,
    notes: str = "",
    game: dict[str, dict[str, RoomScore]] | None = None,
    tradeoff: dict[str, list[RoomScore]] | None = None,
) -> None:
    """Write the model card: the game figures first, then data, recipe, accuracy, speed, limits, licence.

    Args:
        path: the markdown file to write.
        recognizer: the evaluated model (its checkpoint carries the training metadata).
        reports: ours first, then the seed, then "DoodleNet" and "<ours>, 20 words" when measured.
        figures: where the PNGs were written (linked relative to `path`).
        command: the command line that reproduces the results.
        notes: markdown appended at the end (history of the evaluation, caveats).
        game: `play_rooms`' scores.
        tradeoff: `play_rooms`' trade-off curves of the classic room.
    """
    game = game or {}
    checkpoint = recognizer.checkpoint
    training = checkpoint.training
    ours, seed = reports[0], reports[1]
    teacher, twenty = _report(reports, "DoodleNet"), _report(reports, f"{ours.name}, 20 words")
    size_kb = Path(recognizer.source).stat().st_size / 1024 if Path(recognizer.source).is_file() else 0.0
    params = sum(t.numel() for t in checkpoint.state_dict.values() if t.is_floating_point())
    relative = Path(os.path.relpath(figures, path.parent))
    twenty_rows = _level_rows(twenty if twenty is not None else ours, seed)
    teacher_rows = _level_rows(ours, teacher) if teacher is not None else "| (DoodleNet not found) | | | | |"
    per_class = "\n".join(
        f"| {word} | {int(entry['n'])} | "
        + " | ".join(
            f"{100 * entry[k]:.0f} / {100 * seed.per_class[word][k]:.0f}" if k in entry else "-"
            for k in ("complete", "prefix_25", "prefix_50", "prefix_75")
        )
        + " |"
        for word, entry in (twenty or ours).per_class.items()
        if word in seed.per_class
    )
    speed_rows = "\n".join(
        f"| {r.name} | {r.speed.latency_ms_p50:.2f} ms (p95 {r.speed.latency_ms_p95:.2f}) | "
        f"{r.speed.model_latency_ms_p50:.2f} ms | {r.speed.throughput_per_core:,.0f} | "
        f"{r.speed.throughput_workers:,.0f} ({r.speed.workers} processes) | "
        f"{r.speed.throughput_workers_cpu:,.0f} |"
        for r in reports
        if r.speed is not None
    )
    sweep = training.get("decision_sweep", {})
    rule = checkpoint.decision
    text = MODEL_CARD.format(
        game=game_table(game) if game else "(the replay was skipped: `--no-game`)",
        tradeoff=tradeoff_table(tradeoff) if tradeoff else "(the replay was skipped: `--no-game`)",
        targets=_targets(reports, game),
        name=ours.name,
        arch=checkpoint.config.arch,
        params=params,
        size_kb=size_kb,
        classes=len(checkpoint.labels),
        threshold=rule.threshold,
        margin=rule.margin,
        temperature=rule.temperature,
        sweep_drawings=sweep.get("validation_drawings", "?"),
        max_false=sweep.get("max_false", "?"),
        epochs=training.get("epoch", "?"),
        lr=training.get("lr", "?"),
        variants=training.get("recipe", {}).get("variants_labelled", "?"),
        bitmaps_per_class=training.get("bitmaps_per_class", "?"),
        seconds=float(training.get("seconds", 0.0)) / 60,
        blend=_blend_text(training.get("blend"), "DoodleNet"),
        data_counts=training.get("data", "see the training log"),
        command=command,
        train_command=training.get("command", "doodle-party train --data ../shared/quickdraw"),
        twenty_rows=twenty_rows,
        teacher_rows=teacher_rows,
        per_class=per_class,
        speed_rows=speed_rows or "| (not measured) | | | | | |",
        figures=relative.as_posix(),
        n=ours.n,
        n_strokes=ours.n_strokes,
        n_twenty=(twenty or ours).n,
        cpu=f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + ("\n" + notes.strip() + "\n" if notes.strip() else ""))


MODEL_CARD = """\
# Model card: {name}

The doodle recognizer the game server loads by default (`inference/checkpoints/{name}.pt`): it watches
a drawing while it is made and scores it against all {classes} Quick, Draw! words, so a room's word
is recognized only when it beats everything else people draw. This file is written by `doodle-party
evaluate` (the command is at the end of *Results*), from the checkpoint's own record of its training
and from the evaluation it has just run.

## As players feel it
Held-out drawings (the test split, never trained on or used to choose the rule) replayed at their
real pen timing: the server's schedule (a guess at every pen-up, otherwise at most every 150 ms while
the drawing changes), each model judging with its own shipped rule. "Recognized" counts the drawings
Google's own game recognized; times are from the drawing's first point; wrong acceptances count over
the whole round. The classic room plays the 20 words of the seed; in the all-words room every class
is a room word, so "ever accepted as another room word" there counts any moment the model's
confident top guess was some other word, early strokes included.

{game}

![recognized by time]({figures}/recognized_by_time.png)

### The trade-off
Any judge trades recognizing drawings early against accepting the wrong thing. The same replay in the
classic room, each model under the plain rule (its top guess with probability >= t) at thresholds
from 0.2 to 0.95: where each model's curve lies shows what a looser or stricter rule would give.

![recognized against wrong acceptances]({figures}/tradeoff.png)

<details><summary>The curve as a table</summary>

{tradeoff}

</details>

## Targets

| target | measured | |
| --- | --- | --- |
{targets}

## The decision rule
A guess recognizes the room's word when that word is the top guess among all {classes} classes, its
probability (after calibration at temperature {temperature}) is at least {threshold}, and it leads the
runner-up by at least {margin} (`inference/decision.py`; docs/scoring.md tells players). Chosen by
`doodle-party rule` on the validation split ({sweep_drawings} timed drawings): the rule that recognizes
drawings earliest while, in the classic room, at most {max_false} of drawings are ever accepted as
another room word or as a room word they are not.

## Model
- Architecture: `{arch}` (see `inference/model.py`; the layout of ml5's DoodleNet), {params:,}
  parameters, {size_kb:.0f} KB on disk.
- Input: the drawing in Google's simplified space (align, scale to 0..255, resample, RDP 2.0), drawn
  with Google's `numpy_bitmap` recipe as 28x28 white-on-black (`inference/rasterize.py`), / 255.
- Output: probabilities over the {classes} official class names (spaces kept).
- Loading: `Recognizer.load()` reads the checkpoint with `torch.load(weights_only=True)`; the file
  carries its config, labels, raster recipe, decision rule, training settings and validation metrics.

## Data
Only real drawings from Google's Quick, Draw! dataset, as gathered in `../shared/quickdraw`:

- Stroke drawings (simplified and raw, merged by key_id): a few dozen per class for all 345 classes,
  every one a labelled example.
- 28x28 bitmaps: Google's `numpy_bitmap` rows of 43 classes, re-rendered real drawings of 6 classes,
  and salt-and-pepper copies of 2 classes cleaned with a 3x3 median filter.
- Held out, never trained on: a drawing is *test* when sha256("doodle-party-holdout-v1:" + key_id)
  falls in buckets 0..24 of 100 and *validation* in 25..34 (`inference/dataset.split_of`). Bitmap
  rows that are near-copies (cosine >= 0.95) of a held-out drawing are dropped from training.
- Used for this checkpoint: {data_counts}.

## Training recipe
Training starts from DoodleNet (ml5.js, trained on 50,000 finished drawings of every class), imported
exactly from its TensorFlow.js files (`doodle-party data import-tfjs`), which is also the teacher.
Every epoch renders fresh examples (seeded by the epoch, so runs resume exactly):

- each stroke drawing {variants} times as a *prefix* (the first k of its n strokes; 30% of renders
  keep all of them) under a random affine jitter and a small shift of each stroke, half of the
  prefixes re-normalised on their own extent as the live game does;
- up to {bitmaps_per_class} bitmap rows per class, jittered, 40% with part of the ink erased.

Loss per example: cross-entropy on the true class plus T^2 * KL(teacher || student), where the teacher
sees the *complete* drawing: the student learns to name a half-finished doodle what DoodleNet calls
the finished one. Classes are weighted to equal total weight. AdamW, one-cycle schedule, peak learning
rate {lr}, {epochs} epochs, {seconds:.0f} minutes on CPU. {blend}

Reproduce: `doodle-party data import-tfjs ../shared/teachers/doodlenet --out runs/doodlenet.pt`, then
`{train_command}`, then `doodle-party rule runs/.../model.pt --data ../shared/quickdraw --out ...`.

## Accuracy on complete drawings and prefixes
Held-out real drawings ({n} drawings of all classes, {n_strokes} with strokes). Against the seed, over
the seed's 20 words ({n_twenty} drawings), ours answering among those 20 words only (its output layer
restricted, `Checkpoint.restricted`), top-1 / top-3:

| drawings | {name}, 20 words | seed | top-1 gain (points) | n |
| --- | ---: | ---: | ---: | ---: |
{twenty_rows}

Against DoodleNet over all 345 classes, on exactly the same drawings. DoodleNet trained on the first
50,000 official rows of every class, which contain nearly all of our drawings, test split included:
its figures here are optimistic.

| drawings | {name} | DoodleNet | top-1 gain (points) | n |
| --- | ---: | ---: | ---: | ---: |
{teacher_rows}

Per class of the 20 classic words, top-1 % ({name}, 20 words / seed):

| class | n | complete | first 25% | first 50% | first 75% |
| --- | ---: | ---: | ---: | ---: | ---: |
{per_class}

![accuracy against strokes drawn]({figures}/accuracy_vs_strokes.png)

CPU speed, rasterizing from simplified strokes included, one thread per core ({cpu}). Latency is
wall time; "per CPU-second" divides by the CPU time the process used.

| model | latency, b=1 | forward, b=1 | per CPU-s, one core (b=256) | all cores, wall clock | all, per CPU-s |
| --- | ---: | ---: | ---: | ---: | ---: |
{speed_rows}

Reproduce: `{command}`

## Limits
- Small evaluation set: a few held-out timed drawings per class (about a hundred for the 20 classic
  words), so one drawing moves a word's figures by 10-30 points and the classic room's by about one.
- Prefixes in training are counted in whole strokes; the live game also sees strokes half drawn.
- Trained on drawings from Google's players (2016-2017); other styles are untested.

## Licence and attribution
- Training and evaluation data: Quick, Draw! dataset by Google Creative Lab, CC BY 4.0
  (https://github.com/googlecreativelab/quickdraw-dataset).
- Teacher and initial weights: DoodleNet by Yining Shi for ml5.js (ml5js/ml5-data-and-models,
  yining1023/doodleNet), MIT licence.
- Yardstick and the previous recipe's teacher: the seed model from uvipen/QuickDraw by Viet Nguyen, MIT.
- This checkpoint: released with Doodle Party under its MIT licence, with the attributions above.
"""


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="python -m inference.evaluate", description=__doc__.split("\n")[0])
    configure_parser(_parser)
    sys.exit(run(_parser.parse_args()))
