"""The archive's files: official Quick, Draw! lines by word and day, and the index that finds a player.

Layout under the root (a directory, or a prefix in object storage)::

    salt                                            random secret of this archive; never exported
    simplified/<word>/<YYYY-MM-DD>/<segment>.ndjson one line per drawing, Google's simplified format
    raw/<word>/<YYYY-MM-DD>/<segment>.ndjson        the same drawings with per-point times (raw format)
    index/<player>/<YYYY-MM-DD>_<segment>.json      the key_ids a player has in that segment
    .tmp/, .lock                                    scratch space of atomic writes, local rewrite lock

A *segment* is the kept drawings of one finished round of one room, named after its job's stream
entry id, so a retried job rewrites the same files with the same bytes. ``<player>`` is
HMAC-SHA256(salt, player_id): the archive holds no player id, name, token, address or room code, and
without the salt a folder name says nobody's name; with a player id, ``forget_player`` finds every
line. Days are UTC days of the round's end; ``<word>`` is the word, percent-escaped only where it
could not be a file name ("ice cream" stays "ice cream").

Write order: index, then raw, then simplified. A crash in between leaves an index entry whose files
may be missing (forgetting skips them), never a drawing that no index entry leads to.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

import numpy as np

from inference.formats import DrawingRecord, read_ndjson
from inference.simplify import simplify_raw
from server.archive.storage import Storage, open_storage

SIMPLIFIED = "simplified"
RAW = "raw"
INDEX = "index"
SALT_FILE = "salt"
# Ours are 19 digits; Google's key_ids have 16, so exported drawings never collide with official ones.
_KEY_ID_BASE = 10**18
_TEMPORARY_AGE_S = 3600.0

Point = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class ArchivedDrawing:
    """One player's drawing of a round, as it goes into the archive.

    Attributes:
        player_id: only hashed (into the key_id and the index name); never written.
        recognized: whether the game recognized it.
        strokes: per stroke, in drawing order, the points ``(x, y, t)``: canvas pixels, and ms since
            the round started by the player's clock.
    """

    player_id: str
    recognized: bool
    strokes: tuple[tuple[Point, ...], ...]


@dataclass(frozen=True, slots=True)
class Segment:
    """The drawings of one finished round that are kept, written together.

    Attributes:
        segment_id: unique and stable across retries (the job's stream entry id, e.g. "1718-0").
        word: the round's word.
        ended_at: when the round ended (seconds since the epoch); it picks the day and the timestamp.
    """

    segment_id: str
    word: str
    ended_at: float
    drawings: tuple[ArchivedDrawing, ...]

    @property
    def day(self) -> str:
        return dt.datetime.fromtimestamp(self.ended_at, dt.UTC).strftime("%Y-%m-%d")


class Archive:
    """Reads and writes one archive. Blocking file I/O: async callers run it in a thread."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def __repr__(self) -> str:
        return f"Archive({self.storage!r})"

    # ------------------------------------------------------------------ identities

    def _salt(self) -> bytes | None:
        """The archive's secret, or None for an archive that was never written."""
        stored = self.storage.read(SALT_FILE)
        return stored.strip() if stored is not None else None

    def _ensure_salt(self) -> bytes:
        """The archive's secret, made on first use (racing writers all end up with the same one)."""
        return self._salt() or self.storage.create_once(SALT_FILE, secrets.token_hex(32).encode()).strip()

    @staticmethod
    def _player_folder(salt: bytes, player_id: str) -> str:
        return hmac.new(salt, b"player:" + player_id.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def _key_id(salt: bytes, segment_id: str, player_id: str) -> str:
        digest = hmac.new(salt, f"key:{segment_id}:{player_id}".encode(), hashlib.sha256).digest()
        return str(_KEY_ID_BASE + int.from_bytes(digest[:8], "big") % (9 * _KEY_ID_BASE))

    # ------------------------------------------------------------------ writing

    def write_segment(self, segment: Segment) -> list[str]:
        """Write a round's drawings (index, raw, simplified), each file atomically.

        Returns:
            The key_ids written, in the order of ``segment.drawings``.
        """
        if not segment.drawings:
            return []
        salt = self._ensure_salt()
        day, name, word = segment.day, segment.segment_id, _word_folder(segment.word)
        timestamp = dt.datetime.fromtimestamp(segment.ended_at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
        key_ids = [self._key_id(salt, name, drawing.player_id) for drawing in segment.drawings]
        with self.storage.lock():
            for drawing, key_id in zip(segment.drawings, key_ids, strict=True):
                entry = {"word": segment.word, "day": day, "segment": name, "key_ids": [key_id]}
                folder = self._player_folder(salt, drawing.player_id)
                self.storage.write_atomic(f"{INDEX}/{folder}/{day}_{name}.json", [_json_line(entry)])
            pairs = list(zip(segment.drawings, key_ids, strict=True))
            for kind, encode in ((RAW, _raw_drawing), (SIMPLIFIED, _simplified_drawing)):
                self.storage.write_atomic(
                    f"{kind}/{word}/{day}/{name}.ndjson",
                    (_json_line(_record(segment.word, timestamp, d, k, encode(d))) for d, k in pairs),
                )
        return key_ids

    # ------------------------------------------------------------------ deleting

    def forget_player(self, player_id: str) -> int:
        """Delete every drawing of a player, in both formats, and the player's index.

        Returns:
            How many drawings were removed.
        """
        salt = self._salt()
        if salt is None:
            return 0  # nothing was ever archived here
        folder = f"{INDEX}/{self._player_folder(salt, player_id)}"
        removed: set[str] = set()
        with self.storage.lock():
            entries = self.storage.list(folder)
            for entry_path in entries:
                data = self.storage.read(entry_path)
                if data is None:
                    continue
                entry = json.loads(data)
                keys = set(entry["key_ids"])
                word = _word_folder(entry["word"])
                for kind in (SIMPLIFIED, RAW):
                    path = f"{kind}/{word}/{entry['day']}/{entry['segment']}.ndjson"
                    removed |= self._remove_lines(path, keys)
            for entry_path in entries:
                self.storage.delete(entry_path)
        return len(removed)

    def forget_key(self, key_id: str) -> int:
        """Delete one drawing, in both formats, wherever it is (an operator's request by key_id).

        Returns:
            1 if it was found, else 0.
        """
        if self._salt() is None:
            return 0
        needle = f'"key_id":{json.dumps(key_id)}'.encode()
        removed: set[str] = set()
        with self.storage.lock():
            for path in (*self.storage.list(SIMPLIFIED), *self.storage.list(RAW)):
                data = self.storage.read(path)
                if data is not None and needle in data:
                    removed |= self._remove_lines(path, {key_id}, data)
        return len(removed)

    def _remove_lines(self, path: str, key_ids: set[str], data: bytes | None = None) -> set[str]:
        """Rewrite ``path`` without the lines of ``key_ids`` (delete it if none is left); caller holds
        the lock. Returns the key_ids that were there."""
        data = self.storage.read(path) if data is None else data
        if data is None:
            return set()
        kept, removed = [], set()
        for line in data.splitlines(keepends=True):
            if not line.strip():
                continue
            key_id = str(json.loads(line)["key_id"])
            if key_id in key_ids:
                removed.add(key_id)
            else:
                kept.append(line)
        if removed:
            if kept:
                self.storage.write_atomic(path, kept)
            else:
                self.storage.delete(path)
        return removed

    def prune(self, retention_days: int, now: float) -> int:
        """Delete the drawings of days older than ``retention_days`` before ``now`` (UTC days).

        Returns:
            How many drawings were removed.
        """
        if retention_days < 0:
            raise ValueError(f"retention_days must be >= 0, got {retention_days}")
        if self._salt() is None:
            return 0  # nothing was ever archived here: do not even create the folder
        today = dt.datetime.fromtimestamp(now, dt.UTC).date()
        cutoff = (today - dt.timedelta(days=retention_days)).isoformat()
        removed = 0
        with self.storage.lock():
            for kind in (SIMPLIFIED, RAW):
                for path in self.storage.list(kind):
                    parts = path.split("/")
                    if len(parts) == 4 and parts[2] < cutoff:
                        if kind == SIMPLIFIED:
                            data = self.storage.read(path) or b""
                            removed += sum(1 for line in data.splitlines() if line.strip())
                        self.storage.delete(path)
            for path in self.storage.list(INDEX):
                if path.rsplit("/", 1)[-1][:10] < cutoff:
                    self.storage.delete(path)
            self.storage.clean_temporaries(_TEMPORARY_AGE_S)
        return removed

    # ------------------------------------------------------------------ reading

    def records(self) -> Iterator[DrawingRecord]:
        """Every archived drawing, by word, day and segment, read with the project's ndjson reader.

        Yields:
            Records in the simplified space (``source`` "simplified"), with ``raw_strokes`` set from
            the raw file.
        """
        for path in self.storage.list(SIMPLIFIED):
            raw_path = RAW + path[len(SIMPLIFIED) :]
            with self._readable(raw_path) as raw_file:
                raw = {r.key_id: r.strokes for r in read_ndjson(raw_file)} if raw_file else {}
            with self._readable(path) as simplified_file:
                if simplified_file is None:
                    continue  # forgotten or pruned since it was listed
                for record in read_ndjson(simplified_file):
                    yield dataclasses.replace(record, raw_strokes=raw.get(record.key_id))

    @contextlib.contextmanager
    def _readable(self, rel: str) -> Iterator[Path | None]:
        """A local path to read ``rel`` from (a temporary copy for object storage), or None."""
        local = self.storage.local_path(rel)
        if local is not None:
            yield local if local.is_file() else None
            return
        data = self.storage.read(rel)
        if data is None:
            yield None
            return
        with tempfile.TemporaryDirectory(prefix="doodle-archive-") as scratch:
            copy = Path(scratch, "drawings.ndjson")
            copy.write_bytes(data)
            yield copy

    def export(self, out_dir: str | Path) -> dict[str, int]:
        """Write the archive in Google's bucket layout: ``simplified/<word>.ndjson`` and
        ``raw/<word>.ndjson`` under ``out_dir`` (replacing those files; each appears whole).

        No salt, index or other identity goes out; key_ids stay, so ``split_of`` keeps every drawing in
        the same train/val/test split as in any earlier export.

        Returns:
            Word -> drawings exported.
        """
        out = Path(out_dir)
        by_word: dict[str, list[str]] = {}
        for path in self.storage.list(SIMPLIFIED):
            by_word.setdefault(path.split("/")[1], []).append(path)
        counts: dict[str, int] = {}
        for folder, paths in sorted(by_word.items()):
            counts[unquote(folder)] = _concatenate(self.storage, paths, out / SIMPLIFIED / f"{folder}.ndjson")
            raw_paths = [RAW + path[len(SIMPLIFIED) :] for path in paths]
            _concatenate(self.storage, raw_paths, out / RAW / f"{folder}.ndjson")
        return counts


def open_archive(location: str | Path) -> Archive:
    """The archive at a local directory or an object-storage URL (``s3://bucket/prefix``).

    Raises:
        CloudSupportMissing: a URL is given but fsspec is not installed.
    """
    return Archive(open_storage(location))


def iter_archive(root: str | Path) -> Iterator[DrawingRecord]:
    """Every drawing in the archive at ``root`` (directory or URL), as ``inference.formats`` records.

    See :meth:`Archive.records`.
    """
    return open_archive(root).records()


def archive_as_dataset(root: str | Path, out_dir: str | Path) -> dict[str, int]:
    """Export the archive at ``root`` into the official bucket layout under ``out_dir``, for
    ``doodle-party train --data`` and ``evaluate --data``. See :meth:`Archive.export`.

    Returns:
        Word -> drawings exported.
    """
    return open_archive(root).export(out_dir)


# ---------------------------------------------------------------------- lines


def _record(
    word: str, timestamp: str, drawing: ArchivedDrawing, key_id: str, strokes: list[object]
) -> dict[str, object]:
    # Google's key order. countrycode: we do not know it and do not guess it from addresses.
    return {
        "word": word,
        "countrycode": "",
        "timestamp": timestamp,
        "recognized": drawing.recognized,
        "key_id": key_id,
        "drawing": strokes,
    }


def _raw_drawing(drawing: ArchivedDrawing) -> list[object]:
    """``[[x...], [y...], [t...]]`` per stroke; t in ms since the drawing's first point, as Google's."""
    start = drawing.strokes[0][0][2]
    return [
        [
            [_coordinate(x) for x, _y, _t in stroke],
            [_coordinate(y) for _x, y, _t in stroke],
            [max(0, round(t - start)) for _x, _y, t in stroke],
        ]
        for stroke in drawing.strokes
    ]


def _simplified_drawing(drawing: ArchivedDrawing) -> list[object]:
    """``[[x...], [y...]]`` per stroke, whole numbers in 0..255, by Google's recipe."""
    simplified = simplify_raw([np.asarray(stroke, dtype=np.float64) for stroke in drawing.strokes])
    return [[[int(v) for v in stroke[:, 0]], [int(v) for v in stroke[:, 1]]] for stroke in simplified]


def _coordinate(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(float(value), 2)


def _json_line(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def _word_folder(word: str) -> str:
    """A file-name-safe form of a word; real Quick, Draw! words come out unchanged."""
    folder = quote(word, safe=" ',()&!")
    return "%2E" + folder[1:] if folder.startswith(".") else folder


def _concatenate(storage: Storage, paths: Iterable[str], target: Path) -> int:
    """Write the files one after another into ``target`` (atomically); returns the lines written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = 0
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for path in paths:
                data = storage.read(path) or b""
                if data and not data.endswith(b"\n"):
                    data += b"\n"
                lines += sum(1 for line in data.splitlines() if line.strip())
                out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return lines
