"""Tests for inference.download against a real HTTP server on 127.0.0.1 (port 0) that speaks Range."""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from inference.download import (
    CHECKSUM_FILE,
    SEED20,
    ChecksumMismatch,
    DownloadError,
    configure_parser,
    download,
    file_url,
    read_class_list,
    run,
)
from inference.formats import discover, load_drawings, read_bitmaps


@dataclass
class Bucket:
    """What the fake bucket serves and what it saw: files by URL path, requests, drops to do."""

    files: dict[str, bytes]
    base_url: str = ""
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    drop_once: set[str] = field(default_factory=set)  # paths whose next answer stops halfway
    ignore_range: bool = False


class _BucketHandler(BaseHTTPRequestHandler):
    bucket: Bucket

    def do_GET(self) -> None:
        bucket = self.bucket
        range_header = self.headers.get("Range")
        bucket.requests.append((self.path, range_header))
        body = bucket.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        if range_header and not bucket.ignore_range:
            start = int(range_header.removeprefix("bytes=").rstrip("-"))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.path in bucket.drop_once:
            # Announce the whole length, send half, then hang up: a dropped connection mid-file.
            bucket.drop_once.discard(self.path)
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean


@pytest.fixture
def bucket(quickdraw_dir: Path) -> Iterator[Bucket]:
    """A real HTTP server on 127.0.0.1, port 0, serving real Quick, Draw! bytes in the bucket layout."""
    apple = gzip.decompress((quickdraw_dir / "simplified" / "apple.ndjson.gz").read_bytes())
    ice_cream = gzip.decompress((quickdraw_dir / "raw" / "ice cream.ndjson.gz").read_bytes())
    bitmaps = io.BytesIO()
    np.save(bitmaps, np.asarray(read_bitmaps(quickdraw_dir / "numpy_bitmap" / "cloud.npy"))[:200])
    files = {
        "/full/simplified/apple.ndjson": apple,
        "/full/raw/ice%20cream.ndjson": ice_cream,
        "/full/numpy_bitmap/cloud.npy": bitmaps.getvalue(),
    }
    state = Bucket(files=files)
    handler = type("Handler", (_BucketHandler,), {"bucket": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_downloads_into_bucket_layout_with_checksums(bucket: Bucket, tmp_path: Path) -> None:
    """Files land in the layout discover() reads, spaces kept, with a correct SHA256SUMS."""
    download(["apple"], tmp_path, ["simplified"], base_url=bucket.base_url, progress=False)
    results = download(["ice cream"], tmp_path, ["raw"], base_url=bucket.base_url, progress=False)
    assert [r.status for r in results] == ["downloaded"]
    apple = tmp_path / "simplified" / "apple.ndjson"
    ice_cream = tmp_path / "raw" / "ice cream.ndjson"
    assert apple.read_bytes() == bucket.files["/full/simplified/apple.ndjson"]
    assert ice_cream.read_bytes() == bucket.files["/full/raw/ice%20cream.ndjson"]
    assert (tmp_path / CHECKSUM_FILE).read_text().splitlines() == [  # sha256sum -c format, sorted
        f"{_sha(ice_cream.read_bytes())}  raw/ice cream.ndjson",
        f"{_sha(apple.read_bytes())}  simplified/apple.ndjson",
    ]
    assert not list(tmp_path.rglob("*.part"))
    found = discover(tmp_path)
    assert found["ice cream"].raw == ice_cream
    assert len(load_drawings(tmp_path, ["apple"])["apple"]) == 59


def test_rerun_verifies_instead_of_fetching(bucket: Bucket, tmp_path: Path) -> None:
    """A second run hashes what is there, finds it matches SHA256SUMS and makes no request."""
    download(["cloud"], tmp_path, ["numpy_bitmap"], base_url=bucket.base_url, progress=False)
    requests_before = len(bucket.requests)
    results = download(["cloud"], tmp_path, ["numpy_bitmap"], base_url=bucket.base_url, progress=False)
    assert [r.status for r in results] == ["verified"]
    assert len(bucket.requests) == requests_before
    assert read_bitmaps(tmp_path / "numpy_bitmap" / "cloud.npy").shape == (200, 784)


def test_changed_file_fails_checksum_until_repaired(bucket: Bucket, tmp_path: Path) -> None:
    """A file altered after download raises ChecksumMismatch; --repair fetches it again."""
    download(["apple"], tmp_path, base_url=bucket.base_url, progress=False)
    apple = tmp_path / "simplified" / "apple.ndjson"
    apple.write_bytes(apple.read_bytes()[:-10])
    with pytest.raises(ChecksumMismatch, match=r"apple\.ndjson: sha256 .* does not match"):
        download(["apple"], tmp_path, base_url=bucket.base_url, progress=False)
    results = download(["apple"], tmp_path, base_url=bucket.base_url, progress=False, repair=True)
    assert [r.status for r in results] == ["downloaded"]
    assert apple.read_bytes() == bucket.files["/full/simplified/apple.ndjson"]


def test_dropped_connection_resumes_on_next_run(bucket: Bucket, tmp_path: Path) -> None:
    """Without retries the run fails, keeping the .part; the next run resumes it with a Range request."""
    path = "/full/simplified/apple.ndjson"
    body = bucket.files[path]
    bucket.drop_once.add(path)
    with pytest.raises(DownloadError, match="rerun to resume"):
        download(["apple"], tmp_path, base_url=bucket.base_url, retries=0, progress=False)
    part = tmp_path / "simplified" / "apple.ndjson.part"
    assert part.read_bytes() == body[: len(body) // 2]
    assert not (tmp_path / CHECKSUM_FILE).exists()

    results = download(["apple"], tmp_path, base_url=bucket.base_url, retries=0, progress=False)
    assert [r.status for r in results] == ["resumed"]
    assert bucket.requests[-1] == (path, f"bytes={len(body) // 2}-")
    assert (tmp_path / "simplified" / "apple.ndjson").read_bytes() == body
    assert not part.exists()
    assert (tmp_path / CHECKSUM_FILE).read_text() == f"{_sha(body)}  simplified/apple.ndjson\n"


def test_dropped_connection_retried_within_run(bucket: Bucket, tmp_path: Path) -> None:
    """With retries, one run survives the drop by resuming after the bytes it already has."""
    path = "/full/numpy_bitmap/cloud.npy"
    bucket.drop_once.add(path)
    results = download(
        ["cloud"], tmp_path, ["numpy_bitmap"], base_url=bucket.base_url, retry_wait_s=0, progress=False
    )
    assert [r.status for r in results] == ["resumed"]
    assert [rng for p, rng in bucket.requests if p == path] == [
        None,
        f"bytes={len(bucket.files[path]) // 2}-",
    ]
    assert results[0].sha256 == _sha(bucket.files[path])


def test_server_ignoring_range_restarts_cleanly(bucket: Bucket, tmp_path: Path) -> None:
    """A 200 answer to a Range request means the whole body: the .part is rewritten, not appended to."""
    part = tmp_path / "simplified" / "apple.ndjson.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"stale bytes from somewhere else")
    bucket.ignore_range = True
    download(["apple"], tmp_path, base_url=bucket.base_url, progress=False)
    assert (tmp_path / "simplified" / "apple.ndjson").read_bytes() == bucket.files[
        "/full/simplified/apple.ndjson"
    ]


def test_complete_part_file_is_finished_not_refetched(bucket: Bucket, tmp_path: Path) -> None:
    """A whole .part (a run stopped before the rename) gets 416 and is simply finished."""
    body = bucket.files["/full/simplified/apple.ndjson"]
    part = tmp_path / "simplified" / "apple.ndjson.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(body)
    download(["apple"], tmp_path, base_url=bucket.base_url, progress=False)
    assert (tmp_path / "simplified" / "apple.ndjson").read_bytes() == body


def test_404_is_a_clear_error(bucket: Bucket, tmp_path: Path) -> None:
    """An unknown class fails at once (no retries) with the URL and a hint about the name."""
    with pytest.raises(DownloadError, match=r"unicorn\.ndjson: HTTP 404 Not Found: .*class name"):
        download(["unicorn"], tmp_path, base_url=bucket.base_url, retry_wait_s=0, progress=False)
    assert len(bucket.requests) == 1
    assert not list(tmp_path.rglob("unicorn*"))


def test_cli_entry_point(bucket: Bucket, tmp_path: Path) -> None:
    """configure_parser + run: a class file and a repeated --format; exit 1 on a 404, 2 on no classes."""
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    class_file = tmp_path / "classes.txt"
    class_file.write_text("# wanted\ncloud\n\n")
    out = tmp_path / "data"
    args = parser.parse_args(
        [
            "--class-file",
            str(class_file),
            "--out",
            str(out),
            "--format",
            "numpy_bitmap",
            "--base-url",
            bucket.base_url,
        ]
    )
    assert run(args) == 0
    assert (out / "numpy_bitmap" / "cloud.npy").exists()
    args = parser.parse_args(
        ["dragon", "--out", str(out), "--base-url", bucket.base_url, "--retry-wait", "0"]
    )
    assert run(args) == 1
    assert run(parser.parse_args(["--out", str(out)])) == 2


def test_class_lists_and_urls(tmp_path: Path) -> None:
    """seed20 expands to the seed model's classes; URLs quote spaces; duplicates are dropped."""
    assert len(SEED20) == 20 and "ice cream" in SEED20
    class_file = tmp_path / "extra.txt"
    class_file.write_text("The Mona Lisa\napple\n")
    words = read_class_list(["seed20", "apple"], class_file)
    assert words[:20] == list(SEED20) and words[20:] == ["The Mona Lisa"]
    assert (
        file_url("https://storage.googleapis.com/quickdraw_dataset/", "simplified", "ice cream")
        == "https://storage.googleapis.com/quickdraw_dataset/full/simplified/ice%20cream.ndjson"
    )
    assert (
        file_url("https://storage.googleapis.com/quickdraw_dataset", "sketchrnn", "The Mona Lisa")
        == "https://storage.googleapis.com/quickdraw_dataset/sketchrnn/The%20Mona%20Lisa.npz"
    )
    assert file_url("http://x", "numpy_bitmap", "t-shirt") == "http://x/full/numpy_bitmap/t-shirt.npy"
    with pytest.raises(ValueError, match="unknown format"):
        download(["apple"], tmp_path, ["png"])
