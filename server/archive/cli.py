"""``doodle-party archive``: the operator's commands for the archive of consented drawings.

    doodle-party archive forget --player ID | --key KEY_ID [--dir DIR]   delete a player's / one drawing
    doodle-party archive prune [--days N] [--dir DIR]                  delete days past the retention
    doodle-party archive export --out DIR [--dir DIR]                  official layout, for training
    doodle-party archive run [--dir DIR]                               an archiver outside any gateway

``--dir`` is a directory or an object-storage URL (``s3://bucket/prefix``, needs the archive-cloud
extra); it defaults to the server's settings (``DOODLE_ARCHIVE_DIR``). With Redis configured
(``--redis-url`` or ``REDIS_URL``), ``forget --player`` also stops queued rounds from adding the
player's drawings and takes the same lock as the gateways; without it, it only deletes files.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import redis.asyncio as aioredis

from server.archive.archiver import Archiver, archive_location, forget_in_archive
from server.archive.jobs import mark_forgotten
from server.archive.layout import Archive, open_archive
from server.archive.storage import is_remote
from server.config import settings_from_env


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``archive`` actions to ``parser``."""
    actions = parser.add_subparsers(dest="archive_command", required=True, metavar="ACTION")

    def with_location(action: argparse.ArgumentParser) -> argparse.ArgumentParser:
        action.add_argument("--dir", help="archive directory or URL (default: DOODLE_ARCHIVE_DIR)")
        return action

    forget = with_location(actions.add_parser("forget", help="delete a player's drawings, or one drawing"))
    who = forget.add_mutually_exclusive_group(required=True)
    who.add_argument("--player", help="the player id (p_...) whose drawings go")
    who.add_argument("--key", help="the key_id of one drawing")
    forget.add_argument("--redis-url", help="Redis of the gateways (default: REDIS_URL)")

    prune = with_location(actions.add_parser("prune", help="delete drawings older than the retention"))
    prune.add_argument(
        "--days", type=int, help="keep this many days (default: DOODLE_ARCHIVE_RETENTION_DAYS)"
    )

    export = with_location(actions.add_parser("export", help="write the official layout for training"))
    export.add_argument("--out", type=Path, required=True, help="folder for simplified/ and raw/")

    run_parser = with_location(actions.add_parser("run", help="run an archiver outside a gateway"))
    run_parser.add_argument("--redis-url", help="Redis of the gateways (default: REDIS_URL)")


def run(args: argparse.Namespace) -> int:
    """Run one ``archive`` action; returns the exit status."""
    settings = settings_from_env()
    location: str | Path = args.dir or archive_location(settings)
    action = args.archive_command
    if action == "prune":
        days = settings.archive_retention_days if args.days is None else args.days
        if days < 0:
            print("--days must be 0 or more", file=sys.stderr)
            return 2
        removed = _archive(location).prune(days, time.time())
        print(f"removed {removed} drawing(s) older than {days} day(s) from {location}")
        return 0
    if action == "export":
        counts = _archive(location).export(args.out)
        for word, count in counts.items():
            print(f"{word}: {count}")
        print(f"exported {sum(counts.values())} drawing(s) of {len(counts)} word(s) to {args.out}")
        return 0
    redis_url = args.redis_url or settings.redis_url
    if action == "forget":
        if args.key is not None:
            removed = _archive(location).forget_key(args.key)
        elif redis_url is not None:
            removed = asyncio.run(_forget_online(redis_url, _archive(location), args.player))
        else:
            if is_remote(location):
                print("warning: without Redis, other deletions are not locked out", file=sys.stderr)
            removed = _archive(location).forget_player(args.player)
        print(f"removed {removed} drawing(s) from {location}")
        return 0
    if action == "run":
        if redis_url is None:
            print("archive run needs --redis-url or REDIS_URL", file=sys.stderr)
            return 2
        asyncio.run(_run_archiver(redis_url, location, settings.archive_retention_days))
        return 0
    raise AssertionError(f"unknown archive action {action!r}")  # argparse only offers the above


def _archive(location: str | Path) -> Archive:
    return open_archive(location)


async def _forget_online(redis_url: str, archive: Archive, player_id: str) -> int:
    client = aioredis.Redis.from_url(redis_url)
    try:
        await mark_forgotten(client, player_id)
        return await forget_in_archive(client, archive, player_id)
    finally:
        await client.aclose()


async def _run_archiver(redis_url: str, location: str | Path, retention_days: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    client = aioredis.Redis.from_url(redis_url)
    consumer = f"archiver-{socket.gethostname()}-{os.getpid()}"
    try:
        await Archiver(client, location, consumer=consumer, retention_days=retention_days).run(stop)
    finally:
        await client.aclose()
