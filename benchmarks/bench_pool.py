"""The owner's CPU per call handed to a child process: `inference.processes.ProcessPool` (a socket
pair per child, read by the event loop) against `concurrent.futures.ProcessPoolExecutor` through
`run_in_executor` (what ProcessPool wrapped before: a feeder and a result thread in the owner).

Each call carries a batch like the recognizer's (4 drawings of 5 strokes of 40 points, float32) and
returns 4 small results; calls go one after the other, so the figure is the hand-off alone. Both
pools have one forkserver child; the owner's CPU is read with `time.process_time()` (all its
threads). Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_pool.py --calls 3000
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import multiprocessing
import os
import sys
import time
from typing import Any

import numpy as np
import uvloop

from inference.processes import ProcessPool

BATCH = [[np.zeros((40, 3), np.float32) for _ in range(5)] for _ in range(4)]


def judge(batch: list[Any]) -> list[tuple[str, float]]:
    return [("apple", 0.5)] * len(batch)


async def per_call(call: Any, calls: int) -> tuple[float, float]:
    for _ in range(100):  # warm up
        await call()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        await call()
    return 1e6 * (time.process_time() - cpu) / calls, 1e6 * (time.perf_counter() - wall) / calls


async def run(calls: int) -> None:
    loop = asyncio.get_running_loop()
    executor = concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver"))
    before = await per_call(lambda: loop.run_in_executor(executor, judge, BATCH), calls)
    executor.shutdown()
    pool = ProcessPool(1)
    await pool.start()
    after = await per_call(lambda: pool.run(judge, BATCH), calls)
    await pool.aclose()
    for name, (cpu, wall) in (("ProcessPoolExecutor + run_in_executor", before), ("ProcessPool", after)):
        print(f"{name:<40} {cpu:6.0f} owner CPU µs/call, {wall:6.0f} wall µs/call")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}", file=sys.stderr)
    uvloop.run(run(args.calls))


if __name__ == "__main__":
    main()
