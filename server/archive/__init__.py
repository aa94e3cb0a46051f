"""The archive of consented drawings: keep them in Google's format, delete them on request.

Only drawings of players who consented (``hello`` ``consent: {archive: true}``), in rooms whose host
turned ``archive`` on, are kept; spectators never draw and never consent. What is kept is the drawing
(simplified and raw with timings), its word, whether it was recognized and when (the day); never a
name, token, address, player id or room code. See docs/privacy.md.

Modules, one job each:

- ``jobs``: the Redis side: the per-room consent set, the stream of finished rounds, forget requests;
- ``archiver``: the consumer that writes rounds off the event loop, and ``forget_player``;
- ``layout``: the files (official ndjson by word and day, the pseudonymous index), read and export;
- ``storage``: local directory or object storage (fsspec, optional), atomic writes;
- ``cli``: ``doodle-party archive forget | prune | export | run``;
- ``errors``: ``ArchiveError`` and its subclasses.

The gateway calls :func:`record_consent` when a player takes a seat, :func:`enqueue_round` after
committing a round end, runs an :class:`Archiver`, and answers ``forget_me`` with
:func:`forget_player`.
"""

from server.archive.archiver import Archiver, archive_location, forget_in_archive, forget_player
from server.archive.cli import configure_parser, run
from server.archive.errors import ArchiveBusy, ArchiveError, CloudSupportMissing
from server.archive.jobs import (
    ARCHIVE_GROUP,
    ARCHIVE_STREAM,
    ArchiveJob,
    DrawerResult,
    consent_key,
    enqueue_round,
    record_consent,
)
from server.archive.layout import (
    Archive,
    ArchivedDrawing,
    Segment,
    archive_as_dataset,
    iter_archive,
    open_archive,
)

__all__ = [
    "ARCHIVE_GROUP",
    "ARCHIVE_STREAM",
    "Archive",
    "ArchiveBusy",
    "ArchiveError",
    "ArchiveJob",
    "ArchivedDrawing",
    "Archiver",
    "CloudSupportMissing",
    "DrawerResult",
    "Segment",
    "archive_as_dataset",
    "archive_location",
    "configure_parser",
    "consent_key",
    "enqueue_round",
    "forget_in_archive",
    "forget_player",
    "iter_archive",
    "open_archive",
    "record_consent",
    "run",
]
