"""How our long-running processes run: their event loop (`serve`, `bots`), and `serve`'s garbage
collector (the bots turn theirs off for a run: `server/bots/__init__.py`)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

# The cyclic collector's thresholds once a process is up (see `quiet_gc`).
GC_THRESHOLDS = (20_000, 20, 20)


def event_loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The event loop of `serve` (`Settings.event_loop`) or `bots`: "uvloop" or "asyncio".

    Raises:
        ValueError: another name.
    """
    if name == "asyncio":
        return asyncio.new_event_loop
    if name == "uvloop":
        import uvloop  # only where it was asked for: tests and tools run on asyncio's own loop

        return uvloop.new_event_loop
    raise ValueError(f"event_loop must be 'uvloop' or 'asyncio', not {name!r}")


def quiet_gc() -> None:
    """Keep the cyclic garbage collector from stalling the event loop; call once everything is loaded.

    Everything loaded so far (torch, the model, the modules: ~190,000 objects in a gateway) lives as
    long as the process. Frozen, the collector stops re-scanning it: a full collection took ~45 ms of a
    gateway's event loop each time (its p99 latency spikes). A young collection every 700 container
    objects (the default) cost a busy gateway ~4% of its event loop: each stroke batch allocates
    dozens (points, frames, futures), nearly all freed by reference counting soon after; rarer
    collections find fewer of them alive.
    Not for tests: they run many servers in one process, whose later garbage a freeze would keep.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
