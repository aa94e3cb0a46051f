"""``doodle-party data download``: fetch official Quick, Draw! files from Google's public bucket.

Files land in the bucket layout that ``inference.formats.discover`` reads::

    <out>/simplified/<word>.ndjson     <- <base>/full/simplified/<word>.ndjson
    <out>/raw/<word>.ndjson            <- <base>/full/raw/<word>.ndjson
    <out>/numpy_bitmap/<word>.npy      <- <base>/full/numpy_bitmap/<word>.npy
    <out>/sketchrnn/<word>.npz         <- <base>/sketchrnn/<word>.npz

Each file is written to ``<file>.part`` first and renamed when complete, so a file without the suffix
is always whole. An interrupted transfer resumes from the ``.part`` file with an HTTP Range request,
both within a run (``--retries``) and on the next run. The sha256 of every completed file is kept in
``<out>/SHA256SUMS`` (``sha256sum -c`` format) and checked again whenever a later run finds the file.

Exceptions::

    DownloadError             a file could not be fetched (HTTP error, network failure, short body)
     └── ChecksumMismatch     a file on disk no longer matches its SHA256SUMS entry
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import IO

import structlog
from tqdm import tqdm

__all__ = [
    "DEFAULT_BASE_URL",
    "FORMATS",
    "SEED20",
    "ChecksumMismatch",
    "DownloadError",
    "DownloadResult",
    "configure_parser",
    "download",
    "read_class_list",
    "run",
]

DEFAULT_BASE_URL = "https://storage.googleapis.com/quickdraw_dataset"
# format -> (path in the bucket below the base URL, local folder, file suffix)
FORMATS: dict[str, tuple[str, str, str]] = {
    "simplified": ("full/simplified", "simplified", ".ndjson"),
    "raw": ("full/raw", "raw", ".ndjson"),
    "numpy_bitmap": ("full/numpy_bitmap", "numpy_bitmap", ".npy"),
    "sketchrnn": ("sketchrnn", "sketchrnn", ".npz"),
}
# The seed model's 20 classes (``../shared/seed_model``), in its label order.
SEED20 = (
    "apple", "book", "bowtie", "candle", "cloud", "cup", "door", "envelope", "eyeglasses", "guitar",
    "hammer", "hat", "ice cream", "leaf", "scissors", "star", "t-shirt", "pants", "lightning", "tree",
)  # fmt: skip
CLASS_LISTS = {"seed20": SEED20}
CHECKSUM_FILE = "SHA256SUMS"
PART_SUFFIX = ".part"
_CHUNK_BYTES = 1 << 20

log = structlog.get_logger(__name__)


class DownloadError(Exception):
    """A file could not be fetched; the message names the URL and what went wrong."""


class ChecksumMismatch(DownloadError):
    """A downloaded file no longer matches the sha256 recorded when it was written."""


@dataclass(frozen=True, slots=True)
class DownloadResult:
    """What happened to one file.

    Attributes:
        path: the local file.
        sha256: its hex digest.
        status: "downloaded", "resumed" (continued a .part file), "verified" (already there and
            matching SHA256SUMS) or "recorded" (already there, no entry yet: hashed and added).
    """

    path: Path
    sha256: str
    status: str


def file_url(base_url: str, fmt: str, word: str) -> str:
    """The bucket URL of one class in one format, with the word URL-quoted (spaces -> %20)."""
    bucket_path, _, suffix = FORMATS[fmt]
    return f"{base_url.rstrip('/')}/{bucket_path}/{urllib.parse.quote(word + suffix)}"


def local_path(out_dir: Path, fmt: str, word: str) -> Path:
    """Where one class in one format is stored under ``out_dir`` (bucket layout, spaces kept)."""
    _, folder, suffix = FORMATS[fmt]
    return out_dir / folder / f"{word}{suffix}"


def read_class_list(names: Iterable[str], class_file: Path | None = None) -> list[str]:
    """Expand the requested classes: names as given, ``seed20``, and the lines of a class file.

    Args:
        names: class names or the name of a built-in list (``seed20``).
        class_file: a text file with one class per line; blank lines and ``#`` comments are skipped.

    Returns:
        The classes in order of first mention, without duplicates.

    Raises:
        OSError: the class file cannot be read.
    """
    words: list[str] = []
    for name in names:
        words.extend(CLASS_LISTS.get(name, (name,)))
    if class_file is not None:
        for line in class_file.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                words.append(line)
    return list(dict.fromkeys(word.strip() for word in words if word.strip()))


def download(
    words: Sequence[str],
    out_dir: Path,
    formats: Sequence[str] = ("simplified",),
    *,
    base_url: str = DEFAULT_BASE_URL,
    retries: int = 3,
    retry_wait_s: float = 2.0,
    timeout_s: float = 60.0,
    repair: bool = False,
    progress: bool = True,
) -> list[DownloadResult]:
    """Download every (word, format) file that is not already complete, recording checksums.

    Args:
        words: official class names (spaces kept).
        out_dir: root of the bucket layout to write.
        formats: keys of ``FORMATS``.
        base_url: the bucket root; tests point it at a local server.
        retries: further attempts per file after a network failure, each resuming the .part file.
        retry_wait_s: pause before each retry, doubled every time.
        timeout_s: socket timeout per request.
        repair: re-download a file whose checksum no longer matches instead of raising.
        progress: show a tqdm bar per file (it hides itself when stderr is not a terminal).

    Returns:
        One result per file, in order.

    Raises:
        DownloadError: a file could not be fetched after all retries (HTTP errors are not retried).
        ChecksumMismatch: a file on disk does not match SHA256SUMS and ``repair`` is False.
        ValueError: an unknown format.
    """
    unknown = [fmt for fmt in formats if fmt not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format(s) {unknown}; choose from {sorted(FORMATS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    sums = _read_sums(out_dir / CHECKSUM_FILE)
    results = []
    for word in words:
        for fmt in formats:
            path = local_path(out_dir, fmt, word)
            relative = path.relative_to(out_dir).as_posix()
            result = _ensure_file(
                file_url(base_url, fmt, word),
                path,
                sums.get(relative),
                retries=retries,
                retry_wait_s=retry_wait_s,
                timeout_s=timeout_s,
                repair=repair,
                progress=progress,
            )
            if sums.get(relative) != result.sha256:
                sums[relative] = result.sha256
                _write_sums(out_dir / CHECKSUM_FILE, sums)  # after each file: a crash keeps the rest
            log.info("quickdraw_file", word=word, format=fmt, status=result.status, path=str(path))
            results.append(result)
    return results


def configure_parser(p: argparse.ArgumentParser) -> None:
    """Add the ``data download`` options to an argparse parser."""
    p.description = "Download official Quick, Draw! files into the bucket layout, resumably."
    p.add_argument(
        "classes",
        nargs="*",
        metavar="CLASS",
        help="official class names (quote names with spaces) or 'seed20' for the seed model's 20 classes",
    )
    p.add_argument("--class-file", type=Path, help="a file with one class name per line")
    p.add_argument(
        "--out", type=Path, default=Path("data/quickdraw"), help="output directory (default: %(default)s)"
    )
    p.add_argument(
        "--format",
        dest="formats",
        action="append",
        choices=sorted(FORMATS),
        help="format to fetch; repeat for several (default: simplified)",
    )
    p.add_argument("--base-url", default=DEFAULT_BASE_URL, help="bucket root URL (default: %(default)s)")
    p.add_argument("--retries", type=int, default=3, help="resuming retries per file (default: %(default)s)")
    p.add_argument(
        "--retry-wait", type=float, default=2.0, help="seconds before the first retry (default: %(default)s)"
    )
    p.add_argument(
        "--timeout", type=float, default=60.0, help="socket timeout in seconds (default: %(default)s)"
    )
    p.add_argument("--repair", action="store_true", help="re-download files whose checksum no longer matches")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def run(args: argparse.Namespace) -> int:
    """Run ``data download`` from parsed arguments.

    Returns:
        0 when every file is complete and verified, 1 on a download or checksum error, 2 on a usage
        error (no classes given, unreadable class file).
    """
    try:
        words = read_class_list(args.classes, args.class_file)
    except OSError as error:
        log.error("class_file_unreadable", error=str(error))
        return 2
    if not words:
        log.error("no_classes", hint="name classes, 'seed20', or pass --class-file")
        return 2
    try:
        results = download(
            words,
            args.out,
            args.formats or ["simplified"],
            base_url=args.base_url,
            retries=args.retries,
            retry_wait_s=args.retry_wait,
            timeout_s=args.timeout,
            repair=args.repair,
            progress=not args.no_progress,
        )
    except DownloadError as error:
        log.error("download_failed", error=str(error))
        return 1
    log.info(
        "download_complete", files=len(results), out=str(args.out), checksums=str(args.out / CHECKSUM_FILE)
    )
    return 0


def _ensure_file(
    url: str,
    path: Path,
    expected_sha256: str | None,
    *,
    retries: int,
    retry_wait_s: float,
    timeout_s: float,
    repair: bool,
    progress: bool,
) -> DownloadResult:
    """Make ``path`` a complete copy of ``url``: verify it if present, else fetch (resuming)."""
    if path.exists():
        digest = _sha256(path)
        if expected_sha256 is None:
            return DownloadResult(path, digest, "recorded")
        if digest == expected_sha256:
            return DownloadResult(path, digest, "verified")
        if not repair:
            raise ChecksumMismatch(
                f"{path}: sha256 {digest} does not match {expected_sha256} in {CHECKSUM_FILE}; "
                "the file changed since it was downloaded (rerun with --repair to fetch it again)"
            )
        path.unlink()
    part = path.with_name(path.name + PART_SUFFIX)
    part.parent.mkdir(parents=True, exist_ok=True)
    resumed = part.exists() and part.stat().st_size > 0
    attempt = 0
    while True:
        try:
            _fetch_into(url, part, timeout_s=timeout_s, progress=progress, label=path.name)
            break
        except _TransientError as error:
            if attempt >= retries:
                raise DownloadError(
                    f"{url}: {error} (after {attempt + 1} attempts; rerun to resume from {part})"
                ) from error
            wait = retry_wait_s * 2**attempt
            attempt += 1
            resumed = True
            log.warning("download_retry", url=url, error=str(error), attempt=attempt, wait_s=wait)
            time.sleep(wait)
    digest = _sha256(part)
    os.replace(part, path)
    return DownloadResult(path, digest, "resumed" if resumed else "downloaded")


class _TransientError(Exception):
    """A failure worth retrying: the connection broke or the body ended early."""


def _fetch_into(url: str, part: Path, *, timeout_s: float, progress: bool, label: str) -> None:
    """Fetch ``url`` into ``part``, continuing after the bytes already there when the server allows.

    Raises:
        DownloadError: an HTTP error status (not retried: a 404 will not go away).
        _TransientError: the connection failed or the body ended before its announced length.
    """
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "doodle-party-downloader"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset and _complete_size(error.headers.get("Content-Range")) == offset:
            return  # the .part file is already whole (a run stopped between the last byte and rename)
        if error.code == 404:
            raise DownloadError(
                f"{url}: HTTP 404 Not Found: no such file in the bucket (is the class name spelled as in "
                "Google's categories.txt, spaces included?)"
            ) from error
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from error
    except (urllib.error.URLError, OSError, HTTPException) as error:
        raise _TransientError(f"request failed: {error}") from error

    with response:
        status = response.status
        if offset and status == 206:
            start = _range_start(response.headers.get("Content-Range"))
            if start != offset:
                raise DownloadError(f"{url}: asked for bytes from {offset}, server sent from {start}")
            mode = "ab"
        else:
            offset, mode = 0, "wb"  # 200: the server ignored the Range header; start over
        length = response.headers.get("Content-Length")
        expected = int(length) if length is not None and length.isdigit() else None
        received = 0
        with (
            part.open(mode) as sink,
            tqdm(
                total=None if expected is None else offset + expected,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=label,
                disable=None if progress else True,  # None: only on a terminal
                leave=False,
            ) as bar,
        ):
            received = _copy(response, sink, bar, url)
        if expected is not None and received != expected:
            raise _TransientError(f"body ended after {received} of {expected} bytes")


def _copy(response: IO[bytes], sink: IO[bytes], bar: tqdm, url: str) -> int:
    """Copy the response body to ``sink`` chunk by chunk; returns the bytes copied."""
    received = 0
    while True:
        try:
            chunk = response.read(_CHUNK_BYTES)
        except (OSError, HTTPException) as error:
            sink.flush()  # keep what arrived: the next attempt resumes after it
            raise _TransientError(f"connection broke after {received} bytes: {error}") from error
        if not chunk:
            return received
        sink.write(chunk)
        received += len(chunk)
        bar.update(len(chunk))


def _range_start(content_range: str | None) -> int | None:
    """First byte of a ``Content-Range: bytes START-END/TOTAL`` header, or None if unparsable."""
    if not content_range or not content_range.startswith("bytes "):
        return None
    first, _, _ = content_range[len("bytes ") :].partition("-")
    return int(first) if first.isdigit() else None


def _complete_size(content_range: str | None) -> int | None:
    """TOTAL from a 416 answer's ``Content-Range: bytes */TOTAL`` header, or None."""
    if not content_range or "/" not in content_range:
        return None
    total = content_range.rsplit("/", 1)[1]
    return int(total) if total.isdigit() else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _read_sums(path: Path) -> dict[str, str]:
    """Relative path -> sha256 from a ``sha256sum``-style file; empty if there is none."""
    if not path.exists():
        return {}
    sums = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        digest, separator, name = line.partition("  ")
        if separator and len(digest) == 64:
            sums[name] = digest
    return sums


def _write_sums(path: Path, sums: dict[str, str]) -> None:
    """Rewrite the checksum file atomically (temporary file, then rename), sorted by path."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text("".join(f"{sums[name]}  {name}\n" for name in sorted(sums)), encoding="utf-8")
    os.replace(temporary, path)
