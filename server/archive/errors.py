"""What can go wrong with the archive of consented drawings, each error carrying a wire code.

DoodleError (game.errors)
└── ArchiveError            archive_unavailable
    ├── CloudSupportMissing archive_unavailable   archive at a URL, fsspec not installed
    └── ArchiveBusy         archive_busy          another deletion held the archive too long
"""

from __future__ import annotations

from game.errors import DoodleError


class ArchiveError(DoodleError):
    """The archive cannot do what was asked right now."""

    code = "archive_unavailable"


class CloudSupportMissing(ArchiveError):
    """The archive lives at an object-storage URL but the ``archive-cloud`` extra is not installed."""


class ArchiveBusy(ArchiveError):
    """The archive's rewrite lock stayed taken longer than we wait; nothing was changed."""

    code = "archive_busy"
