"""``doodle-party bots``: load-test a running server with bots that replay real Quick, Draw! drawings.

The bots speak only the public protocol (docs/protocol.md); docs/bots.md explains the options and
the report. Modules, one job each::

    options.py   the command line, read into one BotOptions
    library.py   where drawings come from (data directory, shipped fallback)
    replay.py    a drawing -> timed stroke batches on a phone canvas (no I/O, no clock)
    bot.py       one simulated client: connection, protocol, drawing, bookkeeping
    ledger.py    what was sent and who saw it: lost strokes and recognitions
    report.py    tallies, latency percentiles, the final report
    runner.py    the run: rooms, ramp-up, progress line, deadline, report
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys

from server.bots.options import configure_parser, options_from_args
from server.runtime import event_loop_factory

__all__ = ["configure_parser", "run"]


BOTS_EVENT_LOOP = "uvloop" if sys.platform != "win32" else "asyncio"


def _no_gc_stalls() -> None:
    """No cyclic collection while the bots run: one would add its stall to every latency they measure.

    The ledger of every stroke sent grows all run long and all of it stays alive, so each collection
    walks more of it (measured: young collections up to 30 ms, full ones up to 82 ms, in a 40 s run
    of 320 players). Reference counting still frees everything without cycles; a run lasts minutes.
    """
    gc.freeze()
    gc.disable()


def run(args: argparse.Namespace) -> int:
    """Run the bots; print the report; 0 when every game completed and nothing was lost, else 1.

    Returns 2 for options out of range or missing drawings.
    """
    from server.bots.runner import run_bots  # websockets and numpy only when the bots really run

    try:
        options = options_from_args(args)
    except ValueError as exc:
        print(f"doodle-party bots: {exc}", file=sys.stderr)
        return 2
    try:
        # On uvloop, as `serve` runs: the bots share the load-test machine with the server, and every
        # core they spend on their sockets is taken from the server they measure.
        with asyncio.Runner(loop_factory=event_loop_factory(BOTS_EVENT_LOOP)) as runner:
            report = runner.run(run_bots(options, on_loaded=_no_gc_stalls))
    except (FileNotFoundError, ValueError) as exc:
        print(f"doodle-party bots: {exc}", file=sys.stderr)
        return 2
    print(report.render())
    if options.json_path is not None:
        options.json_path.write_text(report.to_json() + "\n")
    return 0 if report.ok else 1
