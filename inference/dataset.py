"""Training and evaluation data: the held-out split, the corpus, and augmented prefix rasters.

The held-out rule (never train on it): a drawing belongs to the *test* split when
``sha256("doodle-party-holdout-v1:" + key_id)`` read as a big-endian integer is in buckets 0..24 of
100 (25%), to *validation* in buckets 25..34 (10%), and to *train* otherwise. The rule depends on
the key_id only, so the same drawing lands in the same split whatever format it came in (simplified,
raw, or a re-rendered bitmap with a key_id), and it scales to the full official dataset unchanged.

Bitmaps in Google's ``numpy_bitmap`` files carry no key_id. A held-out stroke drawing can also be a
bitmap row (the official files are the same drawings), so a bitmap row is dropped from training when
it is a near-copy (cosine >= `NEAR_COPY_COSINE`) of the rasterized complete held-out drawing of the
same class. That keeps the test split clean without knowing the row order.

Training examples are rendered per epoch from a seed and the epoch number only, so a resumed run sees
exactly the rasters an uninterrupted one would. Each stroke example is a *prefix* (the first k of n
strokes, k uniform, or the complete drawing), under a random affine jitter, framed either as the
evaluation frames prefixes (inside the full drawing's frame) or as the live game does (re-normalised
on its own extent); its teacher view is the complete drawing under the same jitter, so a distilled
student learns to name a half-finished drawing what the teacher calls the finished one.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from inference.formats import data_folders, discover, load_drawings, read_bitmaps
from inference.rasterize import rasterize_batch

__all__ = [
    "COMPLETE_RECIPE",
    "NEAR_COPY_COSINE",
    "BitmapSet",
    "Corpus",
    "RenderRecipe",
    "Split",
    "StrokeDrawing",
    "TrainingBatch",
    "augment_bitmaps",
    "balance_weights",
    "drop_near_copies",
    "epoch_size",
    "erase_parts",
    "fit_simplified",
    "load_corpus",
    "median_filter3",
    "render_epoch",
    "split_of",
]

Split = Literal["train", "val", "test"]

_SPLIT_SALT = "doodle-party-holdout-v1:"
_TEST_BUCKETS = 25  # buckets [0, 25) of 100
_VAL_BUCKETS = 10  # buckets [25, 35) of 100
NEAR_COPY_COSINE = 0.95
# Bitmap folders beside Google's own in ../shared/quickdraw: re-rendered real drawings (with key_ids)
# and salt-and-pepper copies, cleaned with a 3x3 median filter before use.
_EXTRA_BITMAP_DIRS = ("numpy_bitmap_rerendered", "numpy_bitmap_noisy")


def split_of(key_id: str) -> Split:
    """The split a drawing belongs to, from its key_id alone (see the module docstring).

    Args:
        key_id: the Quick, Draw! key_id as a decimal string.

    Returns:
        "test", "val" or "train".
    """
    digest = hashlib.sha256((_SPLIT_SALT + key_id).encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % 100
    if bucket < _TEST_BUCKETS:
        return "test"
    if bucket < _TEST_BUCKETS + _VAL_BUCKETS:
        return "val"
    return "train"


@dataclass(frozen=True, slots=True)
class StrokeDrawing:
    """One drawing in the simplified 0..255 space.

    Attributes:
        word: its class name.
        key_id: Google's key_id.
        strokes: (n, 2) float32 x, y arrays, in drawing order.
        label: index into the model's labels, or -1 when the class is not one of them (the drawing is
            then only a distillation input: the teacher says what it looks like).
    """

    word: str
    key_id: str
    strokes: tuple[np.ndarray, ...]
    label: int


@dataclass(frozen=True, slots=True)
class BitmapSet:
    """Bitmaps with labels.

    Attributes:
        rasters: (N, 28, 28) uint8, white on black.
        labels: (N,) int64, index into the model's labels or -1 for other classes.
        words: (N,) class name of each row (for reports and balancing).
    """

    rasters: np.ndarray
    labels: np.ndarray
    words: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    @staticmethod
    def concat(parts: Sequence[BitmapSet]) -> BitmapSet:
        """All rows of `parts`, in order."""
        if not parts:
            return BitmapSet(
                np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64), np.zeros(0, dtype=object)
            )
        return BitmapSet(
            np.concatenate([p.rasters for p in parts]),
            np.concatenate([p.labels for p in parts]),
            np.concatenate([p.words for p in parts]),
        )


@dataclass(frozen=True, slots=True)
class Corpus:
    """Everything one split offers for the model's `labels`.

    Attributes:
        labels: the model's classes in output order.
        drawings: stroke drawings of this split (labelled and, if asked, other classes).
        bitmaps: bitmap rows usable for this split (training only; empty otherwise).
    """

    labels: tuple[str, ...]
    drawings: tuple[StrokeDrawing, ...]
    bitmaps: BitmapSet

    def labelled(self) -> tuple[StrokeDrawing, ...]:
        """The drawings of the model's own classes."""
        return tuple(d for d in self.drawings if d.label >= 0)


def _xy_strokes(strokes: Iterable[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Keep x, y only (the rasters ignore time) as float32, dropping empty strokes."""
    kept = (np.asarray(s, dtype=np.float32)[:, :2] for s in strokes)
    return tuple(s for s in kept if len(s))


def load_corpus(
    data_dir: str | Path | Sequence[str | Path],
    labels: Sequence[str],
    split: Split,
    *,
    other_classes: bool = False,
    bitmaps: bool = False,
    max_per_class: int | None = None,
) -> Corpus:
    """Read one split of the real data in `data_dir` (bucket, flat or archive layout).

    Args:
        data_dir: a Quick, Draw! folder as `inference.formats.discover` understands it, or several
            (the official data beside the game's archive): they read as one, a key_id counted once.
            Every drawing goes to its split by the same rule, archived ones included.
        labels: the model's classes; drawings of these get their label index.
        split: which split to keep.
        other_classes: also keep stroke drawings (and bitmaps) of every other class, with label -1.
        bitmaps: also read bitmaps. For "train": Google's numpy_bitmap plus the extra folders in
            ../shared, without rows that copy a held-out drawing. For "val"/"test": only rows whose
            key_id is known (../shared's re-rendered folder) and in that split.
        max_per_class: keep at most this many drawings (and bitmap rows per folder) of each class;
            drawings are taken in key_id order, so the cap is deterministic. Needed for the full
            official dataset, where a class holds 100k+ drawings.

    Returns:
        The corpus.

    Raises:
        FileNotFoundError: `data_dir` does not exist.
    """
    folders = data_folders(data_dir)
    label_index = {word: i for i, word in enumerate(labels)}
    by_word = load_drawings(folders, words=None if other_classes else list(labels))
    drawings: list[StrokeDrawing] = []
    held_out: dict[str, list[tuple[np.ndarray, ...]]] = {}
    for word in sorted(by_word):
        records = sorted(by_word[word], key=lambda r: r.key_id)
        kept = 0
        for record in records:
            strokes = _xy_strokes(record.strokes)
            if not strokes:
                continue
            record_split = split_of(record.key_id)
            if record_split != "train" and word in label_index:
                held_out.setdefault(word, []).append(strokes)
            if record_split != split or (max_per_class is not None and kept >= max_per_class):
                continue
            drawings.append(StrokeDrawing(word, record.key_id, strokes, label_index.get(word, -1)))
            kept += 1
    bitmap_set = BitmapSet.concat([])
    if bitmaps:
        bitmap_set = BitmapSet.concat(
            [
                _load_bitmaps(folder, label_index, split, held_out, max_per_class, other_classes)
                for folder in folders
            ]
        )
    return Corpus(tuple(labels), tuple(drawings), bitmap_set)


def median_filter3(rasters: np.ndarray) -> np.ndarray:
    """3x3 median filter over (N, H, W) uint8 rasters (edges replicated).

    The noisy folder flips ~10% of pixels to 0 or 255; a 3x3 median removes isolated flips while
    keeping Google's ~2-pixel-wide strokes.
    """
    padded = np.pad(rasters, ((0, 0), (1, 1), (1, 1)), mode="edge")
    height, width = rasters.shape[1:]
    shifted = [padded[:, dy : dy + height, dx : dx + width] for dy in range(3) for dx in range(3)]
    return np.median(np.stack(shifted), axis=0).astype(np.uint8)


def drop_near_copies(
    rasters: np.ndarray, references: np.ndarray, threshold: float = NEAR_COPY_COSINE
) -> np.ndarray:
    """Boolean mask of rows of `rasters` that are NOT near-copies of any row of `references`.

    Args:
        rasters: (N, H, W) or (N, H*W) uint8.
        references: (M, H, W) or (M, H*W) uint8.
        threshold: cosine similarity at or above which two rasters are the same drawing.

    Returns:
        (N,) bool, True = keep.
    """
    keep = np.ones(len(rasters), dtype=bool)
    if len(rasters) == 0 or len(references) == 0:
        return keep
    a = rasters.reshape(len(rasters), -1).astype(np.float32)
    b = references.reshape(len(references), -1).astype(np.float32)
    a /= np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-6)
    b /= np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-6)
    for start in range(0, len(a), 4096):
        keep[start : start + 4096] = (a[start : start + 4096] @ b.T).max(axis=1) < threshold
    return keep


def _bitmap_files(data_dir: Path) -> dict[str, list[tuple[str, Path]]]:
    """Bitmap files per class as (folder kind, path): Google's file first (either layout, found by
    `inference.formats.discover`), then ../shared's extra folders."""
    files: dict[str, list[tuple[str, Path]]] = {}
    for word, found in discover(data_dir).items():
        if found.bitmap is not None:
            files.setdefault(word, []).append(("numpy_bitmap", found.bitmap))
    for folder in _EXTRA_BITMAP_DIRS:
        for path in sorted((data_dir / folder).glob("*.npy")):
            files.setdefault(path.stem, []).append((folder, path))
    return files


def _load_bitmaps(
    data_dir: Path,
    label_index: dict[str, int],
    split: Split,
    held_out: dict[str, list[tuple[np.ndarray, ...]]],
    max_per_class: int | None,
    other_classes: bool,
) -> BitmapSet:
    """Every bitmap row of `split` in `data_dir` (see `load_corpus`)."""
    files = _bitmap_files(data_dir)
    if not other_classes:
        files = {word: paths for word, paths in files.items() if word in label_index}
    parts: list[BitmapSet] = []
    for word in sorted(files):
        references = (
            rasterize_batch(held_out[word]) if held_out.get(word) else np.zeros((0, 28, 28), np.uint8)
        )
        for kind, path in files[word]:
            ids_path = path.with_suffix(".key_ids.txt")
            if split != "train" and not ids_path.is_file():
                continue  # without key_ids a row cannot be placed in a held-out split
            rows = read_bitmaps(path, mmap=True)
            if max_per_class is not None:
                rows = rows[:max_per_class]
            rows = np.asarray(rows, dtype=np.uint8).reshape(-1, 28, 28)
            keep = np.ones(len(rows), dtype=bool)
            if kind == "numpy_bitmap_noisy":
                rows = median_filter3(rows)
            if ids_path.is_file():
                key_ids = ids_path.read_text().split()
                keep &= np.array([split_of(k) == split for k in key_ids[: len(rows)]])
            if split == "train":
                keep &= drop_near_copies(rows, references)
            rows = rows[keep]
            label = label_index.get(word, -1)
            parts.append(
                BitmapSet(rows, np.full(len(rows), label, np.int64), np.full(len(rows), word, dtype=object))
            )
    return BitmapSet.concat(parts)


@dataclass(frozen=True, slots=True)
class RenderRecipe:
    """How one epoch of stroke examples is drawn.

    Attributes:
        variants_labelled: renders per drawing of the model's own classes per epoch.
        variants_other: renders per drawing of other classes per epoch (distillation only).
        complete_share: probability that a render is the complete drawing rather than a prefix.
        live_share: probability that a prefix is re-normalised on its own extent (the live game's
            framing) instead of staying in the full drawing's frame (the evaluation's framing).
        rotate_deg: maximum rotation of the affine jitter.
        scale: maximum relative per-axis scale change of the jitter.
        shear: maximum shear of the jitter.
        stroke_shift: standard deviation of each stroke's own shift, in 0..255 units.
        stroke_scale: maximum relative change of each stroke's own size.
        partial_bitmaps: share of bitmap examples shown with part of their ink erased (a stand-in
            for unfinished drawings: bitmaps have no strokes to take a prefix of).
        all_labelled_bitmaps: use every bitmap row of the model's own classes each epoch (rows of
            other classes stay capped at `bitmaps_per_class`).
        balance_classes: weight labelled examples so every class carries the same total weight
            (`balance_weights`); otherwise every example weighs 1.
        size: raster side.
    """

    variants_labelled: int = 32
    variants_other: int = 1
    complete_share: float = 0.3
    live_share: float = 0.5
    rotate_deg: float = 12.0
    scale: float = 0.15
    shear: float = 0.15
    stroke_shift: float = 5.0
    stroke_scale: float = 0.1
    partial_bitmaps: float = 0.4
    all_labelled_bitmaps: bool = False
    balance_classes: bool = True
    size: int = 28


# The first training stage's recipe (`inference.train`): complete drawings only, every labelled
# bitmap row each epoch, lighter jitter, no erased ink, no class weights. Its job is the
# complete-drawing accuracy that the prefix stage then starts from and is blended back towards.
COMPLETE_RECIPE = RenderRecipe(
    variants_labelled=0,
    variants_other=0,
    rotate_deg=5.0,
    scale=0.05,
    shear=0.05,
    partial_bitmaps=0.0,
    all_labelled_bitmaps=True,
    balance_classes=False,
)


@dataclass(frozen=True, slots=True)
class TrainingBatch:
    """Rendered examples with what the loss needs.

    Attributes:
        inputs: (N, size, size) uint8 student inputs (prefixes or complete drawings or bitmaps).
        teacher_inputs: (N, size, size) uint8 teacher inputs (the complete drawing).
        labels: (N,) int64, -1 where only the teacher's opinion is known.
        fractions: (N,) float32 share of strokes kept (1.0 for complete drawings and bitmaps).
        weights: (N,) float32 loss weight; see `balance_weights`.
    """

    inputs: np.ndarray
    teacher_inputs: np.ndarray
    labels: np.ndarray
    fractions: np.ndarray
    weights: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    @staticmethod
    def concat(parts: Sequence[TrainingBatch]) -> TrainingBatch:
        """All examples of `parts`, in order."""
        return TrainingBatch(
            np.concatenate([p.inputs for p in parts]),
            np.concatenate([p.teacher_inputs for p in parts]),
            np.concatenate([p.labels for p in parts]),
            np.concatenate([p.fractions for p in parts]),
            np.concatenate([p.weights for p in parts]),
        )


def _jitter(
    strokes: tuple[np.ndarray, ...], rng: np.random.Generator, recipe: RenderRecipe
) -> list[np.ndarray]:
    """A random affine copy of a drawing, re-normalised to the simplified space (top-left, max 255)."""
    angle = math.radians(rng.uniform(-recipe.rotate_deg, recipe.rotate_deg))
    sx, sy = 1.0 + rng.uniform(-recipe.scale, recipe.scale, size=2)
    shear = rng.uniform(-recipe.shear, recipe.shear)
    cos, sin = math.cos(angle), math.sin(angle)
    matrix = (np.array([[cos, -sin], [sin, cos]]) @ np.array([[sx, shear], [0.0, sy]])).astype(np.float32)
    moved = []
    for stroke in strokes:
        # Each stroke also moves and scales a little on its own: people place parts imprecisely, and
        # a few dozen drawings per class need every variation they can get.
        centre = stroke.mean(axis=0)
        own_scale = np.float32(1.0 + rng.uniform(-recipe.stroke_scale, recipe.stroke_scale))
        shift = rng.normal(0.0, recipe.stroke_shift, size=2).astype(np.float32)
        moved.append(((stroke - centre) * own_scale + centre + shift) @ matrix.T)
    return fit_simplified(moved)


def fit_simplified(strokes: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Align strokes to the top-left and scale the larger side to 0..255, keeping the aspect ratio.

    Steps 1 and 2 of Google's simplification (`inference.simplify.normalize_strokes`) without the
    resampling and RDP passes: the points here are already simplified, and those passes cost ten
    times the rasterizing.
    """
    points = np.concatenate(strokes)
    low = points.min(axis=0)
    extent = float((points.max(axis=0) - low).max())
    scale = np.float32(255.0 / extent) if extent > 0 else np.float32(1.0)
    return [(s - low) * scale for s in strokes]


def render_strokes(
    drawings: Sequence[StrokeDrawing],
    recipe: RenderRecipe,
    rng: np.random.Generator,
) -> TrainingBatch:
    """Render every drawing's augmented prefix variants for one epoch (see the module docstring).

    Args:
        drawings: the drawings; labelled ones get `variants_labelled` renders, others `variants_other`.
        recipe: augmentation settings.
        rng: the epoch's random generator.

    Returns:
        The rendered examples, in drawing order.
    """
    student: list[list[np.ndarray]] = []
    teacher: list[list[np.ndarray]] = []
    labels: list[int] = []
    fractions: list[float] = []
    for drawing in drawings:
        variants = recipe.variants_labelled if drawing.label >= 0 else recipe.variants_other
        n_strokes = len(drawing.strokes)
        for _ in range(variants):
            complete = _jitter(drawing.strokes, rng, recipe)
            if n_strokes == 1 or rng.random() < recipe.complete_share:
                kept = n_strokes
            else:
                kept = int(rng.integers(1, n_strokes))  # 1 .. n-1
            prefix = complete[:kept]
            if kept < n_strokes and rng.random() < recipe.live_share:
                prefix = fit_simplified(prefix)
            student.append(prefix)
            teacher.append(complete)
            labels.append(drawing.label)
            fractions.append(kept / n_strokes)
    return TrainingBatch(
        inputs=rasterize_batch(student, size=recipe.size)
        if student
        else np.zeros((0, recipe.size, recipe.size), np.uint8),
        teacher_inputs=rasterize_batch(teacher, size=recipe.size)
        if teacher
        else np.zeros((0, recipe.size, recipe.size), np.uint8),
        labels=np.asarray(labels, dtype=np.int64),
        fractions=np.asarray(fractions, dtype=np.float32),
        weights=np.ones(len(labels), dtype=np.float32),
    )


def augment_bitmaps(rasters: np.ndarray, recipe: RenderRecipe, generator: torch.Generator) -> np.ndarray:
    """Random affine jitter of bitmaps (rotation, scale, shear, shift of up to 1.5 pixels).

    Args:
        rasters: (N, H, W) uint8.
        recipe: the same jitter limits as the stroke renders use.
        generator: the epoch's torch generator.

    Returns:
        (N, H, W) uint8.
    """
    n = len(rasters)
    if n == 0:
        return rasters
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(recipe.rotate_deg)
    scale = 1 + (torch.rand(n, 2, generator=generator) * 2 - 1) * recipe.scale
    shear = (torch.rand(n, generator=generator) * 2 - 1) * recipe.shear
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * (1.5 * 2 / rasters.shape[-1])
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(n, 2, 3)
    # affine_grid maps output to input coordinates, so this is the inverse of the visible change;
    # with symmetric random ranges that makes no difference.
    theta[:, 0, 0] = cos * scale[:, 0]
    theta[:, 0, 1] = -sin * scale[:, 1] + shear
    theta[:, 1, 0] = sin * scale[:, 0]
    theta[:, 1, 1] = cos * scale[:, 1]
    theta[:, :, 2] = shift
    images = torch.from_numpy(np.ascontiguousarray(rasters)).float().unsqueeze(1)  # (N, 1, H, W)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    warped = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return warped.squeeze(1).round().clamp(0, 255).to(torch.uint8).numpy()


def erase_parts(rasters: np.ndarray, generator: torch.Generator) -> np.ndarray:
    """Erase part of each drawing's ink: a half-plane cut through it, or a few round blobs.

    Real unfinished drawings miss whole parts (the trunk of a tree, the handle of a cup, one lens of
    a pair of glasses), so the cut goes through the ink at a random angle and keeps 35-80% of the
    drawing's extent along that direction; the blobs (radius 3-7 pixels) remove smaller details.

    Args:
        rasters: (N, H, W) uint8 complete drawings.
        generator: the epoch's torch generator.

    Returns:
        (N, H, W) uint8 with part of the ink set to 0.
    """
    n, height, width = rasters.shape
    if n == 0:
        return rasters
    images = torch.from_numpy(np.ascontiguousarray(rasters)).float()  # (N, H, W)
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32), indexing="ij"
    )
    angle = torch.rand(n, generator=generator) * 2 * math.pi
    direction = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)  # (N, 2)
    projection = xs[None] * direction[:, 0, None, None] + ys[None] * direction[:, 1, None, None]  # (N, H, W)
    ink = images > 32
    big = projection.abs().amax() + 1
    low = torch.where(ink, projection, big).flatten(1).amin(1)
    high = torch.where(ink, projection, -big).flatten(1).amax(1)
    keep_share = 0.35 + 0.45 * torch.rand(n, generator=generator)
    cut = low + keep_share * (high - low)
    half_plane = projection <= cut[:, None, None]
    blobs = torch.ones_like(ink)
    for _ in range(3):
        cx = torch.rand(n, generator=generator) * width
        cy = torch.rand(n, generator=generator) * height
        radius = 3 + 4 * torch.rand(n, generator=generator)
        inside = (xs[None] - cx[:, None, None]) ** 2 + (ys[None] - cy[:, None, None]) ** 2 <= radius[
            :, None, None
        ] ** 2
        blobs &= ~inside
    use_cut = torch.rand(n, generator=generator) < 0.6
    mask = torch.where(use_cut[:, None, None], half_plane, blobs)
    return (images * mask).to(torch.uint8).numpy()


def _bitmap_quota(bitmaps: BitmapSet, rows: np.ndarray, per_class: int, all_labelled: bool) -> int:
    """How many of one class's `rows` an epoch uses."""
    return len(rows) if all_labelled and bitmaps.labels[rows[0]] >= 0 else min(per_class, len(rows))


def sample_bitmaps(
    bitmaps: BitmapSet, per_class: int, rng: np.random.Generator, all_labelled: bool = False
) -> np.ndarray:
    """Row indices drawing up to `per_class` rows of each class (without replacement).

    Balancing matters because the rows are very uneven (apple ~8,000, scissors ~500). With
    `all_labelled`, every row of the model's own classes is taken and only other classes are capped.
    """
    chosen: list[np.ndarray] = []
    for word in sorted(set(bitmaps.words.tolist())):
        rows = np.flatnonzero(bitmaps.words == word)
        take = _bitmap_quota(bitmaps, rows, per_class, all_labelled)
        chosen.append(rng.choice(rows, size=take, replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)


def epoch_size(corpus: Corpus, recipe: RenderRecipe, bitmaps_per_class: int) -> int:
    """Examples `render_epoch` yields per epoch (the same every epoch)."""
    labelled = len(corpus.labelled())
    strokes = labelled * recipe.variants_labelled + (len(corpus.drawings) - labelled) * recipe.variants_other
    bitmaps, every = corpus.bitmaps, recipe.all_labelled_bitmaps
    rows = (np.flatnonzero(bitmaps.words == word) for word in set(bitmaps.words.tolist()))
    return strokes + sum(_bitmap_quota(bitmaps, r, bitmaps_per_class, every) for r in rows)


def render_epoch(
    corpus: Corpus, epoch: int, seed: int, recipe: RenderRecipe, bitmaps_per_class: int
) -> TrainingBatch:
    """All training examples of one epoch, from (seed, epoch) alone, in a fixed order.

    Args:
        corpus: the training corpus.
        epoch: epoch number (0-based); with `seed` it fixes every random choice.
        seed: the run's seed.
        recipe: augmentation settings.
        bitmaps_per_class: bitmap rows drawn per class this epoch.

    Returns:
        Stroke renders followed by jittered bitmaps; the training loop shuffles them.
    """
    rng = np.random.default_rng([seed, epoch])
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    strokes = render_strokes(corpus.drawings, recipe, rng)
    rows = sample_bitmaps(corpus.bitmaps, bitmaps_per_class, rng, recipe.all_labelled_bitmaps)
    jittered = augment_bitmaps(corpus.bitmaps.rasters[rows], recipe, generator)
    partial = rng.random(len(rows)) < recipe.partial_bitmaps
    inputs = jittered.copy()
    inputs[partial] = erase_parts(jittered[partial], generator)
    bitmaps = TrainingBatch(
        inputs=inputs,
        teacher_inputs=jittered,
        labels=corpus.bitmaps.labels[rows],
        fractions=np.where(partial, 0.5, 1.0).astype(np.float32),
        weights=np.ones(len(rows), dtype=np.float32),
    )
    examples = TrainingBatch.concat([strokes, bitmaps])
    return replace(examples, weights=balance_weights(examples.labels)) if recipe.balance_classes else examples


def balance_weights(labels: np.ndarray) -> np.ndarray:
    """Loss weights that give every labelled class the same total weight per epoch.

    Six of the seed's classes have no bitmaps at all and others have thousands, so unweighted the
    student learns a prior against the six (a hammer becomes scissors). Each labelled example is
    weighted by (mean examples per labelled class) / (examples of its class); examples of other
    classes keep weight 1.

    Args:
        labels: (N,) class index or -1.

    Returns:
        (N,) float32 weights.
    """
    weights = np.ones(len(labels), dtype=np.float32)
    known = labels >= 0
    if known.any():
        classes, counts = np.unique(labels[known], return_counts=True)
        per_class = np.zeros(int(classes.max()) + 1, dtype=np.float32)
        per_class[classes] = counts.mean() / counts
        weights[known] = per_class[labels[known]]
    return weights
