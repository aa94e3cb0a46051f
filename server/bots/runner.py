"""Run a fleet of bots against a server: build the rooms, play, print progress, settle the report.

``run_bots(options)`` is the whole run and returns the ``Report``. Every wait in it is bounded: the
run as a whole stops after the duration plus a full game plus the ramp-up and a margin, and whatever
had not finished by then is a failure in the report.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Callable
from typing import TextIO

from server.bots.bot import Bot, Fleet, Ramp, Role, RoomDriver
from server.bots.ledger import Ledger
from server.bots.library import DEFAULT_WORDS, DrawingLibrary, default_data_dir
from server.bots.options import BotOptions
from server.bots.report import Report, Tally, build_report

__all__ = ["load_library", "run_bots"]


def load_library(options: BotOptions) -> tuple[DrawingLibrary, tuple[str, ...]]:
    """The drawings to replay, and the words the rooms will play.

    Raises:
        FileNotFoundError: the data directory or a requested word's drawings are missing.
        ValueError: fewer words with drawings than rounds.
    """
    data_dir = options.data_dir or default_data_dir()
    words = options.words or DEFAULT_WORDS
    library = DrawingLibrary.load(data_dir, words)
    if len(library.words) < options.rounds:
        raise ValueError(f"{options.rounds} rounds need as many words; {data_dir} has {len(library.words)}")
    return library, tuple(library.words)


def build_fleet(options: BotOptions, fleet: Fleet) -> tuple[list[RoomDriver], list[Bot]]:
    """Every room and its bots, with the wrong-drawing and churning bots chosen up front.

    Hosts come first in the list so that they get the first connection slots of the ramp.
    """
    rng = random.Random(options.seed)
    members = options.players + options.spectators
    drivers = [RoomDriver(index, expected_members=members) for index in range(options.rooms)]
    players = [(room, seat) for room in range(options.rooms) for seat in range(options.players)]
    wrong = set(rng.sample(players, round(options.wrong_share * len(players))))
    churnable = [
        (room, seat) for room in range(options.rooms) for seat in range(1, members)
    ]  # seat 0 is the host: its lobby commands stay on one connection
    churning = set(rng.sample(churnable, round(options.churn * len(churnable))))
    hosts: list[Bot] = []
    others: list[Bot] = []
    for driver in drivers:
        for seat in range(members):
            role: Role = "host" if seat == 0 else "player" if seat < options.players else "spectator"
            bot = Bot(
                fleet,
                driver,
                name=f"r{driver.index}{'s' if role == 'spectator' else 'p'}{seat}",
                role=role,
                url=options.urls[seat % len(options.urls)],
                draws_wrong=(driver.index, seat) in wrong,
                churns=(driver.index, seat) in churning,
                rng=random.Random(f"{options.seed}:{driver.index}:{seat}"),
            )
            (hosts if role == "host" else others).append(bot)
    return drivers, hosts + others


async def run_bots(
    options: BotOptions, progress_to: TextIO = sys.stderr, on_loaded: Callable[[], None] | None = None
) -> Report:
    """Play the whole run and return its report.

    Args:
        on_loaded: called once the drawings are loaded, before the first bot connects (the CLI
            freezes the heap and turns the cyclic garbage collector off there:
            `server.bots._no_gc_stalls`).

    Raises:
        FileNotFoundError, ValueError: see ``load_library``.
    """
    library, words = await asyncio.to_thread(load_library, options)
    if on_loaded is not None:
        on_loaded()
    tally = Tally()
    ledger = Ledger()
    started = time.monotonic()
    fleet = Fleet(options, library, words, ledger, tally, Ramp(options.ramp), started)
    drivers, bots = build_fleet(options, fleet)
    tally.bots = len(bots)
    limit = options.duration_s + options.stagger_s + fleet.game_timeout_s + fleet.join_timeout_s + 30
    reporter = asyncio.create_task(_progress(tally, started, progress_to)) if options.progress else None
    sampler = asyncio.create_task(_sample_drawing(tally))
    try:
        async with asyncio.timeout(limit):
            await asyncio.gather(*(bot.live() for bot in bots))
    except TimeoutError:
        tally.fail(f"the run did not finish within {limit:.0f}s")
    finally:
        for task in (reporter, sampler):
            if task is not None:
                task.cancel()
    duration = time.monotonic() - started
    settings = {
        "urls": list(options.urls),
        "rooms": options.rooms,
        "players": options.players,
        "spectators": options.spectators,
        "duration_s": options.duration_s,
        "stagger_s": options.stagger_s,
        "rounds": options.rounds,
        "round_seconds": options.round_seconds,
        "results_seconds": options.results_seconds,
        "show_drawings": options.show_drawings,
        "archive": options.archive,
        "words": list(words),
        "wrong_share": options.wrong_share,
        "churn": options.churn,
        "encoding": "msgpack" if options.msgpack else "json",
        "batch_ms": options.batch_ms,
        "canvas": list(options.canvas),
        "data": str(library.source),
        "drawings": library.size,
        "seed": options.seed,
    }
    return build_report(tally, ledger, rooms=len(drivers), duration_s=duration, settings=settings)


async def _sample_drawing(tally: Tally) -> None:
    """Once a second, how many players are drawing (for the report's mean and max)."""
    while True:
        await asyncio.sleep(1.0)
        tally.drawing_samples.append(tally.drawing_now)


async def _progress(tally: Tally, started: float, out: TextIO) -> None:
    """One line a second: who is connected, how far the games are, throughput and trouble."""
    sent = received = strokes = 0
    while True:
        await asyncio.sleep(1.0)
        elapsed = time.monotonic() - started
        errors = sum(tally.errors.values())
        print(
            f"[{elapsed:6.1f}s] connected {tally.connected}/{tally.bots} | drawing {tally.drawing_now}"
            f" | games {tally.games_completed}/{tally.games_started} rounds {tally.rounds_played}"
            f" | msg/s out {tally.messages_sent - sent} in {tally.messages_received - received}"
            f" strokes/s {tally.strokes_sent - strokes} | errors {errors} disconnects {tally.disconnects}"
            f" failures {len(tally.failures)}",
            file=out,
            flush=True,
        )
        sent, received, strokes = tally.messages_sent, tally.messages_received, tally.strokes_sent
