"""Where the archive's files live: a local directory, or object storage through fsspec.

Both back ends offer the same few operations on paths relative to the archive root, and both make a
write all-or-nothing, so a reader never sees half a file:

- local: write to ``ROOT/.tmp/*.part``, fsync, ``os.replace`` onto the target, fsync the directory.
  A process killed mid-write leaves only a ``.part`` file in ``.tmp/``, which readers never list and
  ``clean_temporaries`` removes later. Read-modify-write is serialised between the processes of one
  host with ``flock`` on ``ROOT/.lock``.
- fsspec (``s3://``, ``gs://``, ``memory://``, ...): one PUT per file, which object stores apply
  whole or not at all. fsspec is imported only here and only for such a URL, so a server without the
  ``archive-cloud`` extra runs fine with a local archive. Rewrites are serialised by the caller's
  Redis lock (see ``archiver.py``); ``lock()`` is a no-op.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

from server.archive.errors import CloudSupportMissing

TMP_DIR = ".tmp"
LOCK_FILE = ".lock"


class Storage(Protocol):
    """Files under one archive root; ``rel`` paths use ``/`` and never start with it."""

    def read(self, rel: str) -> bytes | None:
        """The file's bytes, or None when it does not exist."""
        ...

    def write_atomic(self, rel: str, chunks: Iterable[bytes]) -> None:
        """Create or replace the file with the concatenated chunks: afterwards it is all there, durable;
        if the process dies first, the old file (or none) is still there."""
        ...

    def create_once(self, rel: str, data: bytes) -> bytes:
        """Create the file unless it exists; return what it holds (ours, or an earlier writer's)."""
        ...

    def delete(self, rel: str) -> bool:
        """Remove the file; False if it was not there."""
        ...

    def list(self, prefix: str) -> list[str]:
        """Every file under the folder ``prefix``, recursively, sorted; hidden names are skipped."""
        ...

    def local_path(self, rel: str) -> Path | None:
        """The file's path on this machine, if the archive is local."""
        ...

    def lock(self) -> contextlib.AbstractContextManager[Any]:
        """Hold this while reading and rewriting a file others may rewrite too."""
        ...

    def clean_temporaries(self, older_than_s: float) -> int:
        """Remove leftovers of writes that died; returns how many."""
        ...


def is_remote(location: str | Path) -> bool:
    """Whether a configured archive location is an object-storage URL (anything but a local path)."""
    text = str(location)
    return "://" in text and not text.startswith("file://")


def open_storage(location: str | Path) -> Storage:
    """The back end for a local directory (or ``file://`` URL) or an fsspec URL.

    Raises:
        CloudSupportMissing: a URL is given but fsspec is not installed.
    """
    if is_remote(location):
        return FsspecStorage(str(location))
    text = str(location)
    return LocalStorage(Path(text[len("file://") :] if text.startswith("file://") else text))


class LocalStorage:
    """An archive in a local (or mounted) directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def read(self, rel: str) -> bytes | None:
        try:
            return (self.root / rel).read_bytes()
        except FileNotFoundError:
            return None

    def write_atomic(self, rel: str, chunks: Iterable[bytes]) -> None:
        target = self.root / rel
        scratch = self.root / TMP_DIR
        _makedirs_durable(scratch)
        _makedirs_durable(target.parent)
        fd, temporary = tempfile.mkstemp(dir=scratch, prefix=target.name[:40] + ".", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        _fsync_dir(target.parent)

    def create_once(self, rel: str, data: bytes) -> bytes:
        target = self.root / rel
        scratch = self.root / TMP_DIR
        _makedirs_durable(scratch)
        _makedirs_durable(target.parent)
        fd, temporary = tempfile.mkstemp(dir=scratch, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            # link() fails if the target exists: of two racing creators exactly one wins.
            with contextlib.suppress(FileExistsError):
                os.link(temporary, target)
                _fsync_dir(target.parent)
        finally:
            os.unlink(temporary)
        return target.read_bytes()

    def delete(self, rel: str) -> bool:
        target = self.root / rel
        try:
            target.unlink()
        except FileNotFoundError:
            return False
        # Drop folders left empty (a pruned day, a forgotten player), never the root itself.
        parent = target.parent
        while parent != self.root and self.root in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent
        return True

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix
        if not base.is_dir():
            return []
        found = []
        for folder, dirs, files in os.walk(base):
            dirs[:] = [name for name in dirs if not name.startswith(".")]
            for name in files:
                if not name.startswith("."):
                    found.append(Path(folder, name).relative_to(self.root).as_posix())
        return sorted(found)

    def local_path(self, rel: str) -> Path | None:
        return self.root / rel

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        _makedirs_durable(self.root)
        with open(self.root / LOCK_FILE, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def clean_temporaries(self, older_than_s: float) -> int:
        scratch = self.root / TMP_DIR
        if not scratch.is_dir():
            return 0
        removed = 0
        cutoff = time.time() - older_than_s
        for entry in scratch.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if entry.stat().st_mtime < cutoff:
                    entry.unlink()
                    removed += 1
        return removed


class FsspecStorage:
    """An archive in object storage (S3-compatible, GCS, ...) or any other fsspec file system."""

    def __init__(self, url: str) -> None:
        try:
            import fsspec  # the archive-cloud extra; only needed for a URL
        except ImportError as exc:
            raise CloudSupportMissing(
                f"archive at {url} needs fsspec: pip install 'doodle-party[archive-cloud]'"
            ) from exc
        self.url = url
        self.fs, base = fsspec.core.url_to_fs(url)
        self.base = str(base).rstrip("/")

    def __repr__(self) -> str:
        return f"FsspecStorage({self.url!r})"

    def _full(self, rel: str) -> str:
        return f"{self.base}/{rel}"

    def read(self, rel: str) -> bytes | None:
        try:
            return bytes(self.fs.cat_file(self._full(rel)))
        except FileNotFoundError:
            return None

    def write_atomic(self, rel: str, chunks: Iterable[bytes]) -> None:
        # One PUT of the whole object: object stores never show a partial upload.
        self.fs.pipe_file(self._full(rel), b"".join(chunks))

    def create_once(self, rel: str, data: bytes) -> bytes:
        path = self._full(rel)
        if not self.fs.exists(path):
            try:
                # mode="create" is a conditional PUT where the back end supports one (s3fs, gcsfs).
                self.fs.pipe_file(path, data, mode="create")
            except FileExistsError:
                pass
            except TypeError:  # an fsspec back end without modes: check-then-put
                self.fs.pipe_file(path, data)
        return bytes(self.fs.cat_file(path))

    def delete(self, rel: str) -> bool:
        try:
            self.fs.rm_file(self._full(rel))
        except FileNotFoundError:
            return False
        return True

    def list(self, prefix: str) -> list[str]:
        base = self._full(prefix).rstrip("/")
        try:
            found = self.fs.find(base)
        except FileNotFoundError:
            return []
        relative = (_relative(str(path), self.base) for path in found)
        return sorted(rel for rel in relative if rel and not any(p.startswith(".") for p in rel.split("/")))

    def local_path(self, rel: str) -> Path | None:
        return None

    def lock(self) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()

    def clean_temporaries(self, older_than_s: float) -> int:
        return 0  # whole-object PUTs leave no temporaries


def _relative(path: str, base: str) -> str:
    """``path`` relative to ``base``; fsspec back ends differ on a leading slash."""
    path, base = path.lstrip("/"), base.lstrip("/")
    return path[len(base) + 1 :] if path.startswith(base + "/") else ""


def _fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable (a crash after it cannot undo it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _makedirs_durable(path: Path) -> None:
    """``mkdir -p`` that also fsyncs each parent that got a new folder."""
    if path.is_dir():
        return
    missing = []
    probe = path
    while not probe.is_dir():
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir()
        _fsync_dir(folder.parent)
