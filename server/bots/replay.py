"""Turn one recorded drawing into what a phone sends: points on the bot's canvas, flushed in batches.

No I/O and no clock: every time here is milliseconds since the round started (the ``t`` the protocol
wants), and the caller sleeps until each batch's ``send_at_ms``.

The recipe, step by step:

1. ``timed_strokes``: raw Quick, Draw! strokes keep their real per-point times (pauses between strokes
   longer than ``MAX_PAUSE_MS`` are shortened; a player thinking for 20 s is not load). Untimed
   (simplified) strokes are given a steady pen speed, resampled at a touch screen's 60 Hz.
2. ``fit_to_canvas``: the drawing is scaled and moved onto the phone's canvas the way a person fills
   the drawing area: 60-90% of its width, somewhere near the middle.
3. ``plan_batches``: a 50 ms flush timer (the reference client's rate) sends every point drawn since
   the previous tick; the tick after pen-up sends the stroke's last points with ``end: true``.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BATCH_INTERVAL_MS",
    "DEFAULT_CANVAS",
    "MAX_PAUSE_MS",
    "MAX_POINTS_PER_BATCH",
    "Batch",
    "fit_to_canvas",
    "plan_batches",
    "timed_strokes",
]

# An iPhone 12-15 screen in points: what the bots declare in hello.
DEFAULT_CANVAS: tuple[int, int] = (390, 844)
# The protocol asks for a batch every 50-100 ms; the reference client flushes every 50 ms.
BATCH_INTERVAL_MS = 50
# Protocol limit on points per stroke message.
MAX_POINTS_PER_BATCH = 512
# Longest pause between strokes kept from real data.
MAX_PAUSE_MS = 2000
# Synthesized timing for drawings without times: pen speed in the 0..255 space (a full-width line in
# about a quarter of a second, as in Google's raw data), a 60 Hz touch screen, and a pause between strokes.
SYNTH_UNITS_PER_MS = 1.0
SYNTH_SAMPLE_MS = 1000.0 / 60.0
SYNTH_PAUSE_MS = 300.0


@dataclass(frozen=True, slots=True)
class Batch:
    """One ``stroke`` message as a phone would send it.

    Attributes:
        send_at_ms: when the flush timer sends it, in ms since the round started.
        stroke: the stroke's index in the round's drawing (0, 1, 2, ...).
        points: ``(x, y, t)`` in canvas pixels and ms since the round started; ``t`` increases strictly
            within a stroke, so the last ``t`` names the batch.
        end: the last batch of the stroke (pen up).
    """

    send_at_ms: int
    stroke: int
    points: tuple[tuple[float, float, int], ...]
    end: bool

    @property
    def last_t(self) -> int:
        return self.points[-1][2]

    def wire_points(self) -> list[list[float]]:
        return [[x, y, t] for x, y, t in self.points]


def timed_strokes(strokes: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Strokes with times in ms since the drawing's first point.

    Args:
        strokes: (n, 3) x, y, t arrays (raw data: real times) or (n, 2) x, y arrays in the 0..255
            simplified space (times are synthesized from a steady pen speed).

    Returns:
        float64 (n, 3) arrays. Times start at 0, increase strictly within a stroke, and each stroke
        starts after the previous one ends (at most ``MAX_PAUSE_MS`` later).

    Raises:
        ValueError: no strokes, an empty stroke, or strokes that are not (n, 2) or (n, 3).
    """
    if not strokes:
        raise ValueError("a drawing needs at least one stroke")
    timed = all(np.asarray(s).ndim == 2 and np.asarray(s).shape[1] == 3 for s in strokes)
    result: list[np.ndarray] = []
    clock = 0.0  # where the next stroke may start
    previous_end: float | None = None
    for stroke in strokes:
        points = np.asarray(stroke, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] not in (2, 3) or len(points) == 0:
            raise ValueError(f"a stroke must be a non-empty (n, 2) or (n, 3) array, got {points.shape}")
        if timed:
            times = points[:, 2] - points[0, 2]
            if previous_end is None:
                start = 0.0
            else:
                pause = points[0, 2] - previous_end
                start = clock + min(max(pause, 1.0), MAX_PAUSE_MS)
            previous_end = float(points[-1, 2])
            times = np.maximum.accumulate(np.maximum(times, 0.0)) + start
            xy = points[:, :2]
        else:
            if result:
                clock += SYNTH_PAUSE_MS
            xy, times = _resample_at_pen_speed(points[:, :2])
            times = times + clock
        times = _strictly_increasing(np.round(times))
        result.append(np.column_stack([xy, times]))
        clock = float(times[-1])
    return result


def fit_to_canvas(
    strokes: Sequence[np.ndarray], canvas: tuple[int, int], rng: random.Random
) -> list[np.ndarray]:
    """Scale and move a drawing onto a phone canvas, as a person would fill the drawing area.

    The drawing keeps its aspect ratio; its longer side becomes 60-90% of the canvas width, and it is
    placed near the middle of the screen with a little random offset.

    Args:
        strokes: (n, 3) x, y, t arrays in any coordinate space.
        canvas: (width, height) of the bot's canvas.
        rng: where the size and offset come from.

    Returns:
        (n, 3) arrays with x, y in canvas pixels (one decimal, inside the canvas) and t unchanged.
    """
    width, height = canvas
    xy = np.concatenate([s[:, :2] for s in strokes])
    low, high = xy.min(axis=0), xy.max(axis=0)
    extent = float(max(high[0] - low[0], high[1] - low[1], 1.0))
    side = min(width, height) * rng.uniform(0.6, 0.9)
    scale = side / extent
    size = (high - low) * scale
    left = (width - size[0]) / 2 + rng.uniform(-0.05, 0.05) * width
    top = (height - size[1]) / 2 + rng.uniform(-0.1, 0.1) * height
    offset = np.array([left, top])
    fitted = []
    for stroke in strokes:
        placed = (stroke[:, :2] - low) * scale + offset
        placed = np.clip(np.round(placed, 1), 0.0, [width, height])
        fitted.append(np.column_stack([placed, stroke[:, 2]]))
    return fitted


def plan_batches(
    strokes: Sequence[np.ndarray],
    *,
    start_ms: float,
    first_stroke: int = 0,
    interval_ms: int = BATCH_INTERVAL_MS,
) -> list[Batch]:
    """The stroke messages a phone with a flush timer sends while replaying ``strokes``.

    A point drawn at time ``t`` leaves at the first tick at or after ``t`` (ticks every ``interval_ms``
    since the round started); the batch that holds a stroke's last point is its ``end`` batch. A tick
    that would carry more than ``MAX_POINTS_PER_BATCH`` points of one stroke sends several messages.

    Args:
        strokes: (n, 3) arrays on the canvas, t in ms since the drawing's first point.
        start_ms: when the drawing's first point is drawn, in ms since the round started.
        first_stroke: index of the first stroke in the round's drawing (bots that start over continue
            the numbering).
        interval_ms: the flush timer's period.

    Returns:
        Batches sorted by send time, then stroke index.
    """
    batches: list[Batch] = []
    for offset, stroke in enumerate(strokes):
        times = np.round(stroke[:, 2] + start_ms).astype(np.int64)
        ticks = np.ceil(times / interval_ms).astype(np.int64) * interval_ms
        # Indices where the tick changes, plus splits that keep each message within the protocol limit.
        cuts = [0, *np.flatnonzero(np.diff(ticks)) + 1, len(times)]
        groups: list[tuple[int, int]] = []
        for begin, end in itertools.pairwise(cuts):
            for chunk in range(begin, end, MAX_POINTS_PER_BATCH):
                groups.append((chunk, min(chunk + MAX_POINTS_PER_BATCH, end)))
        for number, (begin, end) in enumerate(groups):
            points = tuple(
                (float(stroke[i, 0]), float(stroke[i, 1]), int(times[i])) for i in range(begin, end)
            )
            batches.append(
                Batch(
                    send_at_ms=int(ticks[end - 1]),
                    stroke=first_stroke + offset,
                    points=points,
                    end=number == len(groups) - 1,
                )
            )
    batches.sort(key=lambda batch: (batch.send_at_ms, batch.stroke))
    return batches


def _resample_at_pen_speed(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points along a polyline every touch-screen sample at a steady pen speed, and their times."""
    if len(xy) == 1:
        return xy.copy(), np.zeros(1)
    lengths = np.hypot(*np.diff(xy, axis=0).T)
    distance = np.concatenate([[0.0], np.cumsum(lengths)])
    duration = distance[-1] / SYNTH_UNITS_PER_MS
    samples = max(2, math.ceil(duration / SYNTH_SAMPLE_MS) + 1)
    times = np.linspace(0.0, duration, samples)
    along = times * SYNTH_UNITS_PER_MS
    x = np.interp(along, distance, xy[:, 0])
    y = np.interp(along, distance, xy[:, 1])
    return np.column_stack([x, y]), times


def _strictly_increasing(times: np.ndarray) -> np.ndarray:
    """Nudge equal times apart by 1 ms so each point (and each batch's last point) has its own time."""
    # f[i] = max(t[i], f[i-1] + 1)  <=>  f[i] - i = max(t[i] - i, f[i-1] - (i-1)): a running maximum.
    steps = np.arange(len(times), dtype=np.float64)
    return np.maximum.accumulate(times - steps) + steps
