"""Readers for the official Quick, Draw! file formats, and where those files live on disk.

Formats (https://github.com/googlecreativelab/quickdraw-dataset):

- ndjson, one drawing per line, plain or gzipped. ``simplified``: each stroke is ``[[x...], [y...]]``
  with whole numbers in 0..255. ``raw``: each stroke is ``[[x...], [y...], [t...]]`` in canvas
  pixels with t in milliseconds since the first point.
- ``numpy_bitmap``: one ``.npy`` per class, uint8 of shape (N, 784), 28x28 white on black.
- ``sketchrnn``: one ``.npz`` per class with object arrays ``train`` / ``valid`` / ``test`` of
  stroke-3 drawings, int16 (n, 3) rows ``[dx, dy, pen_lifted]``.

Exceptions::

    ValueError
     └── DataFormatError     a file is not in the format it claims; names the file and line/entry
    FileNotFoundError        load_drawings() was asked for a word that has no stroke files
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import pickle
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

import numpy as np

from inference.simplify import simplify_raw_batch

__all__ = [
    "BITMAP_PIXELS",
    "SKETCHRNN_SPLITS",
    "DataFormatError",
    "DatasetFiles",
    "DrawingRecord",
    "Stroke",
    "data_folders",
    "discover",
    "load_drawings",
    "read_bitmaps",
    "read_ndjson",
    "read_sketchrnn",
]

Stroke = np.ndarray
"""One stroke: float32 (n, 2) columns x, y, or (n, 3) x, y, t (milliseconds) for raw drawings."""

BITMAP_PIXELS = 28 * 28
SKETCHRNN_SPLITS = ("train", "valid", "test")
_GZIP_MAGIC = b"\x1f\x8b"
_FLAT_PREFIXES = ("full_simplified_", "full_raw_", "full_numpy_bitmap_", "sketchrnn_")


class DataFormatError(ValueError):
    """A data file is not in the format it claims to be; the message names the file and line."""


# eq=False: records hold numpy arrays, whose == is elementwise, so generated equality would raise
# "truth value of an array is ambiguous". Records compare (and hash) by identity instead.
@dataclass(frozen=True, slots=True, eq=False)
class DrawingRecord:
    """One drawing and its metadata, as read from an official file.

    Attributes:
        word: the class name, with Google's spelling (spaces kept).
        key_id: Google's unique id of the drawing (a decimal string).
        strokes: the drawing's strokes, each float32 (n, 2) x, y or (n, 3) x, y, t.
        countrycode: two-letter country of the player, if known.
        timestamp: when it was drawn, as Google wrote it, if known.
        recognized: whether Google's game recognized it, if known.
        source: the format it came from: "simplified", "raw", "sketchrnn", ...
        raw_strokes: the raw (n, 3) strokes with pen timings when the record's ``strokes`` are the
            simplified form of a raw drawing (set by ``load_drawings``); None otherwise.
    """

    word: str
    key_id: str
    strokes: list[np.ndarray]
    countrycode: str | None = None
    timestamp: str | None = None
    recognized: bool | None = None
    source: str = ""
    raw_strokes: list[np.ndarray] | None = None


@dataclass(frozen=True, slots=True)
class DatasetFiles:
    """The files found for one class, one path per format (None where there is none).

    Attributes:
        word: the class name, spaces kept.
        simplified: simplified ndjson (plain or gzipped), or a folder of them (partitioned layout).
        raw: raw ndjson (plain or gzipped), or a folder of them (partitioned layout).
        bitmap: numpy_bitmap ``.npy``.
        sketchrnn: sketch-rnn ``.npz``.
    """

    word: str
    simplified: Path | None = None
    raw: Path | None = None
    bitmap: Path | None = None
    sketchrnn: Path | None = None


def read_ndjson(path: str | Path) -> Iterator[DrawingRecord]:
    """Stream the drawings of a simplified or raw ndjson file, plain or gzipped, line by line.

    The format is recognised per drawing: three arrays per stroke is raw, two is simplified; a file
    that mixes the two is rejected. Blank lines are skipped.

    Args:
        path: an ``.ndjson`` or ``.ndjson.gz`` file (gzip is detected from the content).

    Yields:
        One DrawingRecord per line, ``source`` "simplified" or "raw".

    Raises:
        DataFormatError: a line is not valid JSON, lacks ``word``/``key_id``/``drawing``, has a
            malformed drawing, or the gzip stream is corrupt; the message names the file and line.
        OSError: the file cannot be opened.
    """
    path = Path(path)
    file_kind: str | None = None
    line_number = 0
    with _open_text(path) as lines:
        try:
            for line_number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                record = _parse_ndjson_line(line, path, line_number)
                if file_kind is None:
                    file_kind = record.source
                elif record.source != file_kind:
                    raise DataFormatError(
                        f"{path}:{line_number}: {record.source} drawing in a file of {file_kind} drawings"
                    )
                yield record
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
            # gzip reports a truncated or corrupt stream only when it gets there, mid-iteration.
            raise DataFormatError(f"{path}:{line_number + 1}: unreadable data: {error}") from error


def read_bitmaps(path: str | Path, mmap: bool = True) -> np.ndarray:
    """Read a ``numpy_bitmap`` file (``full_numpy_bitmap_<word>.npy`` or ``numpy_bitmap/<word>.npy``).

    Args:
        path: the ``.npy`` file.
        mmap: map the file read-only instead of loading it (the official files are ~100 MB each).

    Returns:
        A (N, 784) uint8 array; each row is a 28x28 image, row-major, white (255) on black (0).

    Raises:
        DataFormatError: not a readable ``.npy``, or not uint8 of shape (N, 784).
        OSError: the file cannot be opened.
    """
    path = Path(path)
    try:
        # allow_pickle=False: a bitmap file never needs it, and unpickling runs arbitrary code.
        bitmaps = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, EOFError) as error:
        raise DataFormatError(f"{path}: not a readable .npy array: {error}") from error
    if not isinstance(bitmaps, np.ndarray):
        raise DataFormatError(f"{path}: expected one .npy array, found {type(bitmaps).__name__}")
    if bitmaps.dtype != np.uint8 or bitmaps.ndim != 2 or bitmaps.shape[1] != BITMAP_PIXELS:
        raise DataFormatError(
            f"{path}: expected uint8 of shape (N, {BITMAP_PIXELS}), got {bitmaps.dtype} {bitmaps.shape}"
        )
    return bitmaps


def read_sketchrnn(path: str | Path) -> dict[str, list[list[np.ndarray]]]:
    """Read a sketch-rnn ``.npz`` and turn its stroke-3 drawings into lists of absolute strokes.

    Stroke-3 rows are ``[dx, dy, pen_lifted]``: offsets from the previous point, and 1 on the last
    point of a stroke. Positions are the running sums of the offsets, starting at (0, 0), so they are
    relative to the drawing's start; ``simplify.normalize_strokes`` brings them into 0..255.

    The official files store object arrays, so they can only be read with pickle enabled: read
    sketch-rnn files from Google's bucket or another source you trust.

    Args:
        path: the ``.npz`` file (``sketchrnn/<word>.npz``).

    Returns:
        Split name ("train", "valid", "test", those present) -> drawings, each a list of float32
        (n, 2) strokes.

    Raises:
        DataFormatError: not a readable ``.npz``, no known split, or a drawing that is not (n, 3)
            numbers; the message names the file, split and index.
        OSError: the file cannot be opened.
    """
    path = Path(path)
    # Check for a zip first: with pickle enabled, np.load would otherwise try to unpickle any
    # non-zip file it is handed.
    if not zipfile.is_zipfile(path):
        if not path.is_file():
            raise FileNotFoundError(f"no sketch-rnn file at {path}")
        raise DataFormatError(f"{path}: not a readable .npz archive (not a zip file)")
    try:
        archive = np.load(path, allow_pickle=True, encoding="latin1")
    except (ValueError, EOFError, OSError, zipfile.BadZipFile) as error:
        raise DataFormatError(f"{path}: not a readable .npz archive: {error}") from error
    with archive:
        splits = [name for name in SKETCHRNN_SPLITS if name in archive.files]
        if not splits:
            raise DataFormatError(f"{path}: no {'/'.join(SKETCHRNN_SPLITS)} array (found {archive.files})")
        result: dict[str, list[list[np.ndarray]]] = {}
        for split in splits:
            try:
                drawings = archive[split]
            except (ValueError, OSError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as error:
                raise DataFormatError(f"{path}: {split}: unreadable: {error}") from error
            result[split] = [
                _stroke3_to_strokes(drawing, f"{path}: {split}[{index}]")
                for index, drawing in enumerate(drawings)
            ]
    return result


def discover(data_dir: str | Path) -> dict[str, DatasetFiles]:
    """Find the Quick, Draw! files under a directory, grouped by class.

    Three layouts are recognised, and may be mixed (the bucket layout wins for a word found in both):

    - the bucket layout: ``simplified/<word>.ndjson[.gz]``, ``raw/<word>.ndjson[.gz]``,
      ``numpy_bitmap/<word>.npy``, ``sketchrnn/<word>.npz``;
    - the partitioned layout of the game's drawing archive (``server/archive``):
      ``simplified/<word>/<day>/<segment>.ndjson`` and the same under ``raw/``; every ``.ndjson``
      below ``simplified/<word>/`` belongs to the word, whose name may be percent-escaped;
    - flat download names in ``data_dir`` itself: ``full_simplified_<word>.ndjson[.gz]``,
      ``full_raw_<word>.ndjson[.gz]``, ``full_numpy_bitmap_<word>.npy``, ``sketchrnn_<word>.npz``
      or ``<word>.npz``.

    Words keep their spaces (``ice cream``). Where both ``.ndjson`` and ``.ndjson.gz`` exist, the
    plain file is taken. Partial downloads (``*.part``) and other files are ignored.

    Args:
        data_dir: the directory to search (not recursively beyond the folders above).

    Returns:
        Word -> its files, sorted by word.

    Raises:
        FileNotFoundError: ``data_dir`` is not a directory.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"no Quick, Draw! data directory at {root}")
    found: dict[str, dict[str, Path]] = {}

    def add(word: str, kind: str, path: Path) -> None:
        found.setdefault(word, {}).setdefault(kind, path)

    # Bucket layout first so it wins, then flat names; plain before gzipped within each.
    for kind in ("simplified", "raw"):
        for suffix in (".ndjson", ".ndjson.gz"):
            for path in _files(root / kind, suffix):
                add(path.name[: -len(suffix)], kind, path)
    for kind in ("simplified", "raw"):
        for folder in _folders(root / kind):
            add(unquote(folder.name), kind, folder)
    for path in _files(root / "numpy_bitmap", ".npy"):
        add(path.name[: -len(".npy")], "bitmap", path)
    for path in _files(root / "sketchrnn", ".npz"):
        add(path.name[: -len(".npz")], "sketchrnn", path)

    flat_patterns = [
        ("simplified", "full_simplified_", ".ndjson"),
        ("simplified", "full_simplified_", ".ndjson.gz"),
        ("raw", "full_raw_", ".ndjson"),
        ("raw", "full_raw_", ".ndjson.gz"),
        ("bitmap", "full_numpy_bitmap_", ".npy"),
        ("sketchrnn", "sketchrnn_", ".npz"),
        ("sketchrnn", "", ".npz"),
    ]
    flat_files = sorted(p for p in root.iterdir() if p.is_file())
    for kind, prefix, suffix in flat_patterns:
        for path in flat_files:
            name = path.name
            if not (name.startswith(prefix) and name.endswith(suffix)):
                continue
            if not prefix and name.startswith(_FLAT_PREFIXES):
                continue  # a bare <word>.npz must not swallow sketchrnn_<word>.npz as a word
            word = name[len(prefix) : -len(suffix)]
            if word:
                add(word, kind, path)

    return {
        word: DatasetFiles(
            word=word,
            simplified=kinds.get("simplified"),
            raw=kinds.get("raw"),
            bitmap=kinds.get("bitmap"),
            sketchrnn=kinds.get("sketchrnn"),
        )
        for word, kinds in sorted(found.items())
    }


def load_drawings(
    data_dir: str | Path | Sequence[str | Path], words: Iterable[str] | None = None
) -> dict[str, list[DrawingRecord]]:
    """Every stroke drawing per class, deduplicated by ``key_id``, all in the simplified space.

    A drawing found in the simplified file keeps those strokes (they are Google's own). A drawing
    found only in the raw file gets Google's simplification (``simplify.simplify_raw_batch``) and source
    "raw". Either way, when the raw file has the drawing, its timed (n, 3) strokes are kept in
    ``raw_strokes``. Order: the simplified file's order, then raw-only drawings in the raw order.
    Bitmap and sketch-rnn files are not stroke drawings with ids and are not included.

    Several folders (the official data beside the game's archive, say) read as one: a class's
    drawings are those of the first folder, then the others' in turn, a key_id counted once.

    Args:
        data_dir: a directory in any layout accepted by ``discover``, or a sequence of them.
        words: the classes to load; None loads every class that has a simplified or raw file.

    Returns:
        Word -> drawings, in the order of ``words`` (or sorted by word).

    Raises:
        FileNotFoundError: a directory is missing, or a requested word has no simplified or raw file
            in any of them.
        DataFormatError: a file is malformed.
    """
    folders = data_folders(data_dir)
    found = [discover(folder) for folder in folders]
    has_strokes = [{w for w, f in files.items() if f.simplified or f.raw} for files in found]
    available = set().union(*has_strokes)
    if words is None:
        selected = sorted(available)
    else:
        selected = list(dict.fromkeys(words))
        missing = [w for w in selected if w not in available]
        if missing:
            where = ", ".join(str(folder) for folder in folders)
            raise FileNotFoundError(f"no simplified or raw drawings for {missing} in {where}")
    result: dict[str, list[DrawingRecord]] = {}
    for word in selected:
        merged: dict[str, DrawingRecord] = {}
        for files, words_here in zip(found, has_strokes, strict=True):
            if word in words_here:
                for record in _merge_word(files[word]):
                    merged.setdefault(record.key_id, record)
        result[word] = list(merged.values())
    return result


def data_folders(data_dir: str | Path | Sequence[str | Path]) -> list[Path]:
    """One data folder or several, as a list of paths (what the readers of several folders take)."""
    return [Path(data_dir)] if isinstance(data_dir, str | Path) else [Path(d) for d in data_dir]


def _read_ndjson_files(path: Path) -> Iterator[DrawingRecord]:
    """The drawings of one ndjson file, or of every ``.ndjson`` below a partitioned folder in name
    order (days sort by date); a folder's raw and simplified files may each be the other kind."""
    if not path.is_dir():
        yield from read_ndjson(path)
        return
    for file in sorted(p for p in path.rglob("*.ndjson*") if p.is_file() and not p.name.endswith(".part")):
        yield from read_ndjson(file)


def _merge_word(found: DatasetFiles) -> list[DrawingRecord]:
    """One class's drawings from its simplified and raw files, merged by key_id (see load_drawings)."""
    merged: dict[str, DrawingRecord] = {}
    if found.simplified is not None:
        for record in _read_ndjson_files(found.simplified):
            merged.setdefault(record.key_id, record)
    raw_only: list[DrawingRecord] = []
    if found.raw is not None:
        for raw in _read_ndjson_files(found.raw):
            known = merged.get(raw.key_id)
            if known is None:
                merged[raw.key_id] = raw  # placeholder, keeps the order; simplified below
                raw_only.append(raw)
            elif known.raw_strokes is None and known.source != "raw":
                merged[raw.key_id] = dataclasses.replace(known, raw_strokes=raw.strokes)
    # One batch for the whole class: the recipe costs a fixed number of numpy calls per batch.
    for raw, strokes in zip(raw_only, simplify_raw_batch([r.strokes for r in raw_only]), strict=True):
        merged[raw.key_id] = dataclasses.replace(raw, strokes=strokes, raw_strokes=raw.strokes)
    return list(merged.values())


def _open_text(path: Path) -> IO[str]:
    """Open a plain or gzipped text file for reading, deciding by its first two bytes."""
    with path.open("rb") as probe:
        is_gzip = probe.read(2) == _GZIP_MAGIC
    if is_gzip:
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def _parse_ndjson_line(line: str, path: Path, line_number: int) -> DrawingRecord:
    """Turn one ndjson line into a DrawingRecord, or raise DataFormatError naming file and line."""
    where = f"{path}:{line_number}"
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise DataFormatError(f"{where}: not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise DataFormatError(f"{where}: expected a JSON object, got {type(data).__name__}")
    for key in ("word", "key_id", "drawing"):
        if key not in data:
            raise DataFormatError(f"{where}: missing key {key!r}")
    word, key_id = data["word"], data["key_id"]
    if not isinstance(word, str) or not word:
        raise DataFormatError(f"{where}: 'word' must be a non-empty string")
    # Google writes key_id as a string; some re-exports wrote it as a number.
    if isinstance(key_id, bool) or not isinstance(key_id, str | int):
        raise DataFormatError(f"{where}: 'key_id' must be a string")
    strokes, source = _parse_drawing(data["drawing"], where)
    recognized = data.get("recognized")
    return DrawingRecord(
        word=word,
        key_id=str(key_id),
        strokes=strokes,
        countrycode=_optional_str(data.get("countrycode")),
        timestamp=_optional_str(data.get("timestamp")),
        recognized=recognized if isinstance(recognized, bool) else None,
        source=source,
    )


def _parse_drawing(drawing: Any, where: str) -> tuple[list[np.ndarray], str]:
    """Validate a ``drawing`` value and convert it to float32 (n, 2) or (n, 3) stroke arrays."""
    if not isinstance(drawing, list) or not drawing:
        raise DataFormatError(f"{where}: 'drawing' must be a non-empty list of strokes")
    n_arrays: int | None = None
    strokes = []
    for index, stroke in enumerate(drawing):
        if not isinstance(stroke, list) or len(stroke) not in (2, 3):
            raise DataFormatError(
                f"{where}: stroke {index} must be [[x...], [y...]] or [[x...], [y...], [t...]]"
            )
        if n_arrays is None:
            n_arrays = len(stroke)
        elif len(stroke) != n_arrays:
            raise DataFormatError(
                f"{where}: stroke {index} has {len(stroke)} arrays, stroke 0 has {n_arrays}"
            )
        lengths = {len(axis) if isinstance(axis, list) else -1 for axis in stroke}
        if len(lengths) != 1 or lengths == {-1} or lengths == {0}:
            raise DataFormatError(f"{where}: stroke {index} needs equal-length, non-empty coordinate lists")
        try:
            points = np.array(stroke, dtype=np.float32).T
        except (TypeError, ValueError) as error:
            raise DataFormatError(f"{where}: stroke {index} has non-numeric coordinates") from error
        if not np.isfinite(points).all():
            raise DataFormatError(f"{where}: stroke {index} has non-finite coordinates")
        strokes.append(np.ascontiguousarray(points))
    return strokes, "raw" if n_arrays == 3 else "simplified"


def _stroke3_to_strokes(drawing: Any, where: str) -> list[np.ndarray]:
    """Convert one stroke-3 drawing (deltas plus pen-lifted flag) to absolute (n, 2) strokes."""
    try:
        rows = np.asarray(drawing, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise DataFormatError(f"{where}: not a numeric (n, 3) array") from error
    if rows.ndim != 2 or rows.shape[1] != 3 or len(rows) == 0:
        raise DataFormatError(f"{where}: expected a non-empty (n, 3) stroke-3 array, got shape {rows.shape}")
    if not np.isfinite(rows).all():
        raise DataFormatError(f"{where}: non-finite values")
    positions = np.cumsum(rows[:, :2], axis=0).astype(np.float32)
    # A stroke ends at each point whose pen_lifted flag is set; a final stroke left open still counts.
    ends = np.flatnonzero(rows[:, 2] > 0) + 1
    pieces = np.split(positions, ends)
    return [np.ascontiguousarray(piece) for piece in pieces if len(piece)]


def _files(folder: Path, suffix: str) -> Sequence[Path]:
    """Files directly in ``folder`` whose names end with ``suffix``, sorted; none if no folder."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(suffix))


def _folders(folder: Path) -> Sequence[Path]:
    """Folders directly in ``folder`` (hidden ones skipped), sorted; none if no folder."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
