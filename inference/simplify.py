"""Google's stroke simplification, so raw and live drawings look like the simplified training data.

The Quick, Draw! README gives the recipe that turned raw drawings into the ``simplified`` files:

1. align the drawing to the top-left corner (minimum x and y become 0);
2. scale it uniformly so that its larger side spans 0..255 (aspect ratio kept);
3. resample every stroke at 1-pixel spacing;
4. simplify every stroke with Ramer-Douglas-Peucker, epsilon 2.0;

and the published files hold the result as integers. ``simplify_raw`` applies it to the official raw
files; ``normalize_strokes`` applies the same steps to a live drawing from a phone, because the model
only ever saw drawings in that space. The ``*_batch`` forms do many drawings in one pass of numpy
calls with identical results, which is what a serving or training loop should call.

On the shared data, ``simplify_raw`` of a raw drawing gives Google's simplified strokes point for
point for ~96% of strokes; the rest differ by one unit of rounding somewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "RDP_EPSILON",
    "SIMPLIFIED_MAX",
    "normalize_batch",
    "normalize_strokes",
    "rdp",
    "simplify_raw",
    "simplify_raw_batch",
]

SIMPLIFIED_MAX = 255.0
RDP_EPSILON = 2.0
_RESAMPLE_SPACING = 1.0
# Drawings per pass of numpy calls: past a few hundred the per-call overhead is already shared.
_CHUNK = 256


def rdp(points: np.ndarray, epsilon: float) -> np.ndarray:
    """Ramer-Douglas-Peucker simplification of one polyline.

    Distances are perpendicular distances to the chord's line (or to its start point when the chord
    has zero length), measured on the first two columns; extra columns such as time ride along.

    Args:
        points: an (n, 2) or (n, k >= 2) array; columns 0 and 1 are x and y.
        epsilon: largest distance a dropped point may lie from the simplified line; >= 0.

    Returns:
        The kept rows of ``points`` (always the first and last), in order, as a new array of the same
        dtype.

    Raises:
        ValueError: ``points`` is not 2-D with at least two columns, or ``epsilon`` is negative.
    """
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] < 2:
        raise ValueError(f"points must have shape (n, 2) or (n, k>=2), got {points.shape}")
    if not epsilon >= 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon}")
    if len(points) < 3:
        return points.copy()
    x = points[:, 0].astype(np.float64)
    y = points[:, 1].astype(np.float64)
    keep = _rdp_keep(x, y, np.array([0]), np.array([len(points) - 1]), epsilon)
    kept: np.ndarray = np.compress(keep, points, axis=0)
    return kept


def simplify_raw(strokes: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Apply Google's raw -> simplified recipe to one drawing.

    Args:
        strokes: the raw drawing's strokes, each (n, 2) x, y or (n, 3) x, y, t in canvas pixels.
            The time column is dropped; empty strokes are dropped.

    Returns:
        One (m, 2) float32 array per non-empty stroke, holding whole numbers in 0..255, the drawing
        touching x = 0 and y = 0 and its larger side reaching 255 (a drawing that is a single point
        stays at (0, 0)).

    Raises:
        ValueError: a stroke is not 2-D with at least two columns, or has non-finite coordinates.
    """
    return simplify_raw_batch([strokes])[0]


def simplify_raw_batch(drawings: Sequence[Sequence[np.ndarray]]) -> list[list[np.ndarray]]:
    """``simplify_raw`` for many drawings in one pass of numpy calls; identical results.

    Raises:
        ValueError: a stroke is not 2-D with at least two columns, or has non-finite coordinates.
    """
    return _simplify_drawings(drawings, [None] * len(drawings))


def normalize_strokes(
    strokes: Sequence[np.ndarray], canvas: tuple[float, float] | None = None
) -> list[np.ndarray]:
    """Bring a live drawing (canvas pixels, any canvas, maybe unfinished) into the simplified space.

    The canvas size does not change the result, because the recipe fits the drawing's own extent,
    not the canvas; an unfinished drawing is therefore scaled up to fill 0..255, exactly as the
    training data was. When the canvas is given, points are first clipped to it, because touch
    screens report strokes that run past the edge and those would otherwise shrink the drawing.

    For many drawings at once use ``normalize_batch``: same result, several times cheaper each.

    Args:
        strokes: strokes in canvas pixels, each (n, 2) x, y or (n, 3) x, y, t (time ignored).
        canvas: optional (width, height) of the drawing surface in the same pixels.

    Returns:
        As ``simplify_raw``: (m, 2) float32 strokes with whole numbers in 0..255.

    Raises:
        ValueError: a stroke is not 2-D with at least two columns or has non-finite coordinates, or
            the canvas is not positive.
    """
    return normalize_batch([strokes], [canvas])[0]


def normalize_batch(
    drawings: Sequence[Sequence[np.ndarray]],
    canvases: Sequence[tuple[float, float] | None] | None = None,
) -> list[list[np.ndarray]]:
    """``normalize_strokes`` for many drawings, in one pass of numpy calls for the whole batch.

    Args:
        drawings: drawings as accepted by ``normalize_strokes``.
        canvases: per drawing, its canvas (width, height) or None; None for all when omitted.

    Returns:
        One normalized drawing per input drawing, in order.

    Raises:
        ValueError: a malformed stroke or non-finite coordinate, a canvas that is not positive, or
            ``canvases`` of another length than ``drawings``.
    """
    if canvases is None:
        canvases = [None] * len(drawings)
    if len(canvases) != len(drawings):
        raise ValueError(f"{len(canvases)} canvases for {len(drawings)} drawings")
    return _simplify_drawings(drawings, canvases)


def _simplify_drawings(
    drawings: Sequence[Sequence[np.ndarray]], canvases: Sequence[tuple[float, float] | None]
) -> list[list[np.ndarray]]:
    """The recipe for drawings of (n, 2+) strokes, each clipped to its canvas if any, chunk by chunk.

    Chunks keep the temporaries small: a whole official file at once would need gigabytes.
    """
    result: list[list[np.ndarray]] = []
    for start in range(0, len(drawings), _CHUNK):
        stop = start + _CHUNK
        result.extend(_simplify_chunk(drawings[start:stop], canvases[start:stop]))
    return result


def _simplify_chunk(
    drawings: Sequence[Sequence[np.ndarray]], canvases: Sequence[tuple[float, float] | None]
) -> list[list[np.ndarray]]:
    """The recipe for one chunk of drawings, all strokes through each step together.

    The cost is a few dozen numpy calls per chunk (plus one per recursion level of RDP) rather than
    per stroke. Coordinates travel as separate x and y arrays: on numpy 2.x, fancy indexing of
    (n, 2) rows is ~20x slower per row than indexing two flat arrays.
    """
    strokes: list[np.ndarray] = []
    strokes_per_drawing: list[int] = []
    clip_bounds: list[tuple[float, float]] = []  # per drawing; (inf, inf) when it has no canvas
    for drawing in drawings:
        count = 0
        for stroke in drawing:
            points = np.asarray(stroke)
            if points.ndim != 2 or points.shape[1] < 2:
                raise ValueError(f"a stroke must have shape (n, 2) or (n, 3), got {points.shape}")
            if len(points):
                strokes.append(points[:, :2])
                count += 1
        strokes_per_drawing.append(count)
    for canvas in canvases:
        if canvas is None:
            clip_bounds.append((np.inf, np.inf))
            continue
        width, height = canvas
        if not (width > 0 and height > 0):
            raise ValueError(f"canvas must be a positive (width, height), got {canvas}")
        clip_bounds.append((float(width), float(height)))
    if not strokes:
        return [[] for _ in drawings]
    # float64: enough precision for canvas pixels and times, and what the recipe was checked with.
    points = np.concatenate(strokes, dtype=np.float64)
    if not np.isfinite(points).all():  # live strokes come from clients; NaN would poison the scale
        raise ValueError("a stroke has NaN or infinite coordinates")
    x, y = np.ascontiguousarray(points[:, 0]), np.ascontiguousarray(points[:, 1])
    lengths = np.fromiter((len(stroke) for stroke in strokes), dtype=np.int64, count=len(strokes))
    n_drawn_strokes = np.asarray(strokes_per_drawing, dtype=np.int64)
    drawing_of_stroke = np.repeat(np.arange(len(drawings)), n_drawn_strokes)
    stroke_of = np.repeat(np.arange(len(strokes)), lengths)
    drawing_of = np.repeat(drawing_of_stroke, lengths)

    if any(canvas is not None for canvas in canvases):
        # np.clip(stroke, 0, (width, height)) per stroke, as one call per axis; a drawing without a
        # canvas gets (-inf, inf), which leaves every finite value as it is.
        bounds = np.asarray(clip_bounds)
        has_canvas = np.isfinite(bounds[:, 0])
        low = np.where(has_canvas, 0.0, -np.inf)[drawing_of]
        x = np.minimum(np.maximum(x, low), bounds[:, 0][drawing_of])
        y = np.minimum(np.maximum(y, low), bounds[:, 1][drawing_of])

    # Steps 1 and 2: per drawing, subtract the minimum and scale the larger side to 255.
    drawn = np.flatnonzero(n_drawn_strokes > 0)
    first_point = np.searchsorted(drawing_of, drawn)
    origin_x, origin_y = np.zeros(len(drawings)), np.zeros(len(drawings))
    extent = np.zeros(len(drawings))
    origin_x[drawn] = np.minimum.reduceat(x, first_point)
    origin_y[drawn] = np.minimum.reduceat(y, first_point)
    extent[drawn] = np.maximum(
        np.maximum.reduceat(x, first_point) - origin_x[drawn],
        np.maximum.reduceat(y, first_point) - origin_y[drawn],
    )
    # A drawing that is one point has no size to scale; Google's recipe would divide by zero.
    scale = np.where(extent > 0, SIMPLIFIED_MAX / np.where(extent > 0, extent, 1.0), 1.0)
    point_scale = scale[drawing_of]
    x = (x - origin_x[drawing_of]) * point_scale
    y = (y - origin_y[drawing_of]) * point_scale

    # Steps 3 and 4: resample, then RDP, every stroke at once.
    sample_x, sample_y, samples_per_stroke = _resample_candidates(x, y, stroke_of, _RESAMPLE_SPACING)
    stroke_ends = np.cumsum(samples_per_stroke)
    stroke_starts = stroke_ends - samples_per_stroke
    keep = _rdp_keep(sample_x, sample_y, stroke_starts, stroke_ends - 1, RDP_EPSILON)
    kept = np.empty((int(np.count_nonzero(keep)), 2))
    kept[:, 0] = sample_x[keep]
    kept[:, 1] = sample_y[keep]
    np.rint(kept, out=kept)
    kept = np.minimum(np.maximum(kept, 0.0, out=kept), SIMPLIFIED_MAX, out=kept).astype(np.float32)
    kept_ends = np.cumsum(np.add.reduceat(keep, stroke_starts)).tolist()
    simplified = [kept[a:b] for a, b in zip([0, *kept_ends[:-1]], kept_ends, strict=True)]

    result = []
    first = 0
    for count in strokes_per_drawing:
        result.append(simplified[first : first + count])
        first += count
    return result


def _resample_candidates(
    x: np.ndarray, y: np.ndarray, stroke_of: np.ndarray, spacing: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The samples of step 3 that step 4 (RDP) can keep, for every stroke at once.

    Resampling puts a sample every ``spacing`` units of arc length (0, spacing, 2 * spacing, ...
    below the stroke's length, then its end point, as ``np.arange`` plus the end would). All samples
    that fall on one straight piece of the stroke are collinear, and their distance to any chord is
    a convex function along the piece (one that only grows away from a chord end lying on the
    piece); so RDP's farthest point, and the first one on ties, is always the first or the last
    sample of a piece.
    Generating only those (plus the stroke's end) gives RDP's result on the full resampling with a
    fraction of the points: phone strokes have many points per piece, simplified ones few. (Only
    floating-point near-ties, such as a piece exactly parallel to the chord, can pick differently.)

    Every value comes from the stroke's own points, so a stroke gives the same samples whatever else
    is in the batch (batched and one-by-one results are identical).

    Args:
        x, y: (n,) float64 coordinates of all strokes' points, one stroke after another.
        stroke_of: (n,) index of each point's stroke, non-decreasing, every stroke non-empty.
        spacing: distance between samples along a stroke.

    Returns:
        (x, y of the candidate samples in stroke order, number of candidates per stroke). A stroke
        without length gives its first point.
    """
    n_strokes = int(stroke_of[-1]) + 1
    # Drop repeated points: a piece of zero length has no samples and no direction.
    moving = np.concatenate([[True], (np.diff(stroke_of) != 0) | (np.diff(x) != 0) | (np.diff(y) != 0)])
    x, y, stroke_of = x[moving], y[moving], stroke_of[moving]
    lengths = np.bincount(stroke_of, minlength=n_strokes)
    first = np.cumsum(lengths) - lengths
    last = first + lengths - 1

    # Arc length from each stroke's start, a running sum per stroke: a running sum over the batch
    # minus an offset would round differently depending on the strokes before it. One row per
    # stroke in a zero-padded matrix does them all in one call, unless the strokes are so uneven
    # that the padding would dwarf the points.
    step_length = np.hypot(np.diff(x), np.diff(y))
    width = int(lengths.max())
    if n_strokes * width <= 4 * len(x) + 4096:
        position = np.arange(len(x)) - first[stroke_of]
        cell = stroke_of * width + position
        padded = np.zeros(n_strokes * width)
        padded[cell[1:][position[1:] > 0]] = step_length[position[1:] > 0]
        arc = np.cumsum(padded.reshape(n_strokes, width), axis=1).ravel()[cell]
    else:
        arc = np.concatenate(
            [
                np.cumsum(np.concatenate([[0.0], step_length[a:b]]))
                for a, b in zip(first.tolist(), last.tolist(), strict=True)
            ]
        )
    stroke_length = arc[last]

    # Sample numbers m (at m * spacing) on piece k = [arc[k], arc[k + 1]): from ceil(arc[k] / s)
    # to ceil(arc[k + 1] / s) - 1; keep the first and the last of each non-empty range.
    piece = np.flatnonzero(np.diff(stroke_of) == 0)  # piece k joins point k and k + 1 of one stroke
    low = np.ceil(arc[piece] / spacing)
    high = np.ceil(arc[piece + 1] / spacing) - 1
    # np.arange(0, length, s) stops before the length; samples at or past it do not exist.
    n_regular = np.ceil(stroke_length / spacing)
    high = np.minimum(high, n_regular[stroke_of[piece]] - 1)
    has_sample = high >= low
    two = has_sample & (high > low)
    n_first = int(has_sample.sum())
    piece_of = np.concatenate([piece[has_sample], piece[two]])
    targets = np.concatenate([low[has_sample], high[two]]) * spacing
    arc_before = arc[piece_of]
    fraction = (targets - arc_before) / (arc[piece_of + 1] - arc_before)
    x_before, y_before = x[piece_of], y[piece_of]
    regular_x = x_before + fraction * (x[piece_of + 1] - x_before)
    regular_y = y_before + fraction * (y[piece_of + 1] - y_before)

    # The end point, when np.arange's last sample falls short of it; and the lone point of a
    # stroke without length.
    add_end = (stroke_length - (np.maximum(n_regular, 1) - 1) * spacing > 1e-9) | (lengths == 1)
    end_point = last[add_end]

    # Place everything in stroke order without sorting: point k's slot holds piece k's first and
    # last sample, or, for a stroke's last point, the stroke's end sample.
    slot_count = np.zeros(len(x), dtype=np.int64)
    slot_count[piece[has_sample]] = 1 + two[has_sample]
    slot_count[end_point] = 1
    slot_start = np.cumsum(slot_count) - slot_count
    total = int(slot_count.sum())
    sample_x, sample_y = np.empty(total), np.empty(total)
    for out, regular, source in ((sample_x, regular_x, x), (sample_y, regular_y, y)):
        out[slot_start[piece[has_sample]]] = regular[:n_first]
        out[slot_start[piece[two]] + 1] = regular[n_first:]
        out[slot_start[end_point]] = source[end_point]
    samples_per_stroke = np.bincount(stroke_of, weights=slot_count, minlength=n_strokes).astype(np.int64)
    return sample_x, sample_y, samples_per_stroke


def _rdp_keep(
    x: np.ndarray, y: np.ndarray, firsts: np.ndarray, lasts: np.ndarray, epsilon: float
) -> np.ndarray:
    """Which points RDP keeps, for many polylines at once (points ``firsts[i]..lasts[i]`` each).

    RDP's decision for a span depends only on that span, so instead of recursing span by span we
    split every open span of every polyline in the same round: a few numpy calls per level of the
    recursion, which is the same result as the textbook recursion (ties go to the first farthest
    point, as argmax does).

    Returns:
        A boolean mask over the points; the first and last point of each polyline are always kept.
    """
    keep = np.zeros(len(x), dtype=bool)
    keep[firsts] = True
    keep[lasts] = True
    open_span = lasts - firsts >= 2
    starts, stops = firsts[open_span], lasts[open_span]
    while len(starts):
        interior = stops - starts - 1
        span_begin = np.cumsum(interior) - interior
        # Each interior point's index: its span's start + 1 + its rank in the span.
        index = np.arange(int(span_begin[-1] + interior[-1]))
        index += np.repeat(starts + 1 - span_begin, interior)
        anchor_x, anchor_y = x[starts], y[starts]
        chord_x, chord_y = x[stops] - anchor_x, y[stops] - anchor_y
        chord_length = np.hypot(chord_x, chord_y)
        offset_x = x[index] - np.repeat(anchor_x, interior)
        offset_y = y[index] - np.repeat(anchor_y, interior)
        # Perpendicular distance to the chord's line, in the same float64 operations as always:
        # |offset x chord| / |chord|; or the distance to the start when the chord has no length.
        distance = offset_x * np.repeat(chord_y, interior)
        distance -= offset_y * np.repeat(chord_x, interior)
        np.abs(distance, out=distance)
        degenerate = chord_length == 0.0
        if degenerate.any():
            closed = np.repeat(degenerate, interior)
            distance[closed] = np.hypot(offset_x[closed], offset_y[closed])
            chord_length[degenerate] = 1.0
        distance /= np.repeat(chord_length, interior)
        farthest = np.maximum.reduceat(distance, span_begin)
        # First position reaching its span's maximum, like argmax.
        at_max = np.where(distance == np.repeat(farthest, interior), index, len(x))
        split = np.minimum.reduceat(at_max, span_begin)
        splitting = farthest > epsilon
        split, starts, stops = split[splitting], starts[splitting], stops[splitting]
        keep[split] = True
        starts, stops = np.concatenate([starts, split]), np.concatenate([split, stops])
        still_open = stops - starts >= 2
        starts, stops = starts[still_open], stops[still_open]
    return keep
