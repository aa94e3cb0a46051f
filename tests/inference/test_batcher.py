"""MicroBatcher: batching, order, withdrawal and errors, with plain functions and the real model."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from inference.batcher import BatcherClosed, BatchReport, MicroBatcher, Withdrawn
from inference.recognizer import Recognizer


class Gate:
    """A predict_batch that records its batches and can be held shut to let work pile up."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.open = threading.Event()
        self.open.set()
        self.entered = threading.Event()

    def __call__(self, requests: Sequence[str]) -> list[str]:
        self.batches.append(list(requests))
        self.entered.set()
        assert self.open.wait(5), "test gate never opened"
        return [f"done:{request}" for request in requests]

    def hold(self) -> None:
        self.open.clear()
        self.entered.clear()

    async def wait_entered(self) -> None:
        await asyncio.to_thread(self.entered.wait, 5)


async def started(batcher: MicroBatcher[str, str]) -> MicroBatcher[str, str]:
    await batcher.start()
    return batcher


async def test_requests_are_grouped_up_to_max_batch() -> None:
    """Ten concurrent requests with max_batch 4 run as batches of 4, 4 and 2, in submission order."""
    gate = Gate()
    gate.hold()
    batcher = await started(MicroBatcher(gate, max_batch=4, max_wait_ms=20))
    blocker = asyncio.ensure_future(batcher.submit("warm"))
    await gate.wait_entered()
    results = [asyncio.ensure_future(batcher.submit(f"r{i}")) for i in range(10)]
    await asyncio.sleep(0)
    gate.open.set()
    assert await asyncio.gather(*results) == [f"done:r{i}" for i in range(10)]
    await blocker
    assert gate.batches == [
        ["warm"],
        ["r0", "r1", "r2", "r3"],
        ["r4", "r5", "r6", "r7"],
        ["r8", "r9"],
    ]
    stats = batcher.stats
    assert (stats.batches, stats.items, stats.last_batch_size) == (4, 11, 2)
    assert stats.avg_batch_size == pytest.approx(11 / 4)
    await batcher.aclose()


async def test_concurrent_batches_share_the_pending_work() -> None:
    """concurrency 2: two batches run at once, and 20 pending requests with both slots free make two
    batches of 10 rather than one of 16 and one of 4."""
    running: list[list[str]] = []
    both_running = threading.Barrier(2, timeout=5)

    def predict(requests: Sequence[str]) -> list[str]:
        running.append(list(requests))
        if len(running) <= 2:
            both_running.wait()  # raises if the second batch never starts while the first runs
        return [f"done:{request}" for request in requests]

    batcher = MicroBatcher(
        predict,
        max_batch=16,
        max_wait_ms=50,
        concurrency=2,
        executor=concurrent.futures.ThreadPoolExecutor(2),
    )
    with pytest.raises(ValueError):
        MicroBatcher(predict, concurrency=0)
    await batcher.start()
    results = [batcher.enqueue(f"r{i}") for i in range(20)]
    assert await asyncio.gather(*results) == [f"done:r{i}" for i in range(20)]
    assert running == [[f"r{i}" for i in range(10)], [f"r{i}" for i in range(10, 20)]]
    await batcher.aclose()


async def test_a_few_pending_requests_are_not_split_into_tiny_batches() -> None:
    """concurrency 2 and both slots free: up to 15 pending requests run as one batch, not two of which
    one holds fewer than 8 (small batches cost several times more CPU per request)."""
    batches: list[list[str]] = []

    def predict(requests: Sequence[str]) -> list[str]:
        batches.append(list(requests))
        return [f"done:{request}" for request in requests]

    batcher = MicroBatcher(
        predict,
        max_batch=16,
        max_wait_ms=50,
        concurrency=2,
        executor=concurrent.futures.ThreadPoolExecutor(2),
    )
    await batcher.start()
    for count in (6, 9, 15):  # 15: two batches would hold fewer than 8 each
        batches.clear()
        results = [batcher.enqueue(f"r{i}") for i in range(count)]
        assert await asyncio.gather(*results) == [f"done:r{i}" for i in range(count)]
        assert batches == [[f"r{i}" for i in range(count)]]
    await batcher.aclose()


async def test_a_lone_request_waits_at_most_max_wait() -> None:
    """A single request is not held back longer than max_wait_ms for company."""
    gate = Gate()
    batcher = await started(MicroBatcher(gate, max_batch=64, max_wait_ms=30))
    started_at = time.monotonic()
    assert await batcher.submit("x") == "done:x"
    elapsed = time.monotonic() - started_at
    assert 0.025 <= elapsed < 0.5
    await batcher.aclose()


async def test_a_full_batch_does_not_wait() -> None:
    """When max_batch requests are pending the batch runs at once, not after max_wait_ms."""
    gate = Gate()
    batcher = await started(MicroBatcher(gate, max_batch=3, max_wait_ms=5_000))
    started_at = time.monotonic()
    results = await asyncio.gather(*(batcher.submit(f"r{i}") for i in range(3)))
    assert results == ["done:r0", "done:r1", "done:r2"]
    assert time.monotonic() - started_at < 1.0
    await batcher.aclose()


async def test_every_request_runs_none_refused_none_replaced() -> None:
    """The batcher admits everything: many requests queued behind a busy batch all run, in order."""
    gate = Gate()
    gate.hold()
    batcher = await started(MicroBatcher(gate, max_batch=8, max_wait_ms=0))
    blocker = asyncio.ensure_future(batcher.submit("busy"))
    await gate.wait_entered()
    queued = [asyncio.ensure_future(batcher.submit(f"alice-v{i}")) for i in range(20)]
    await asyncio.sleep(0)
    assert batcher.pending == 20
    gate.open.set()
    assert await asyncio.gather(*queued) == [f"done:alice-v{i}" for i in range(20)]
    await blocker
    assert gate.batches[1:] == [[f"alice-v{i}" for i in range(8 * n, min(20, 8 * n + 8))] for n in range(3)]
    await batcher.aclose()


async def test_urgent_requests_run_first() -> None:
    """Queued urgent requests jump the line; each lane keeps its own order."""
    gate = Gate()
    gate.hold()
    reports: list[BatchReport] = []
    batcher = await started(MicroBatcher(gate, max_batch=8, max_wait_ms=0, on_batch=reports.append))
    blocker = asyncio.ensure_future(batcher.submit("b"))
    await gate.wait_entered()
    futures = [
        asyncio.ensure_future(batcher.submit("n1")),
        asyncio.ensure_future(batcher.submit("n2")),
        asyncio.ensure_future(batcher.submit("d1", urgent=True)),
        asyncio.ensure_future(batcher.submit("d2", urgent=True)),
    ]
    await asyncio.sleep(0)
    gate.open.set()
    await asyncio.gather(*futures, blocker)
    assert gate.batches[1] == ["d1", "d2", "n1", "n2"]
    assert [report.deciding for report in reports] == [0, 2]
    await batcher.aclose()


async def test_predict_errors_reach_every_caller_and_the_loop_goes_on() -> None:
    """An exception in predict_batch is raised in each caller of that batch; later batches still run."""
    calls = 0

    def flaky(requests: Sequence[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("model exploded")
        return [request * 2 for request in requests]

    reports: list[BatchReport] = []
    batcher = MicroBatcher(flaky, max_batch=4, max_wait_ms=10, on_batch=reports.append)
    await batcher.start()
    outcomes = await asyncio.gather(*(batcher.submit(i) for i in range(2)), return_exceptions=True)
    assert [type(outcome) for outcome in outcomes] == [RuntimeError, RuntimeError]
    assert await batcher.submit(21) == 42
    assert [report.failed for report in reports] == [True, False]
    await batcher.aclose()


async def test_wrong_number_of_results_is_an_error() -> None:
    """predict_batch must return one result per request."""
    batcher: MicroBatcher[int, int] = MicroBatcher(lambda requests: [], max_wait_ms=0)
    await batcher.start()
    with pytest.raises(ValueError, match="0 results for 1"):
        await batcher.submit(1)
    await batcher.aclose()


async def test_the_event_loop_keeps_running_during_a_batch() -> None:
    """predict_batch runs in a thread: a slow batch does not stop other coroutines."""

    def slow(requests: Sequence[int]) -> list[int]:
        time.sleep(0.3)
        return list(requests)

    batcher = await started(MicroBatcher(slow, max_wait_ms=0))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    assert await batcher.submit(7) == 7
    ticking.cancel()
    assert ticks >= 15
    await batcher.aclose()


async def test_close_drains_or_refuses() -> None:
    """aclose() runs pending work by default; aclose(drain=False) fails it with BatcherClosed."""
    gate = Gate()
    batcher = await started(MicroBatcher(gate, max_wait_ms=50))
    pending = asyncio.ensure_future(batcher.submit("a"))
    await asyncio.sleep(0)
    await batcher.aclose()
    assert await pending == "done:a"
    with pytest.raises(BatcherClosed):
        await batcher.submit("b")

    gate = Gate()
    batcher = await started(MicroBatcher(gate, max_wait_ms=5_000))
    pending = asyncio.ensure_future(batcher.submit("a"))
    await asyncio.sleep(0)
    await batcher.aclose(drain=False)
    with pytest.raises(BatcherClosed):
        await pending
    assert gate.batches == []


async def test_withdraw_takes_back_queued_requests() -> None:
    """withdraw(match) takes back the queued requests it matches (their player left): Withdrawn."""
    gate = Gate()
    batcher = await started(MicroBatcher(gate, max_wait_ms=5_000))
    gone = [asyncio.ensure_future(batcher.submit("gone-1")), asyncio.ensure_future(batcher.submit("gone-2"))]
    kept = asyncio.ensure_future(batcher.submit("kept"))
    await asyncio.sleep(0)
    assert batcher.withdraw(lambda request: request.startswith("gone")) == 2
    assert batcher.withdraw(lambda request: request.startswith("gone")) == 0
    for future in gone:
        with pytest.raises(Withdrawn):
            await future
    assert batcher.pending == 1 and batcher.stats.withdrawn == 2
    await batcher.aclose()
    assert await kept == "done:kept"
    assert gate.batches == [["kept"]]


@pytest.fixture(scope="module")
def recognizer(seed_model_path: Path) -> Recognizer:
    return Recognizer.from_seed(seed_model_path)


@pytest.fixture(scope="module")
def real_bitmaps(quickdraw_dir: Path) -> np.ndarray:
    rows = [
        np.load(quickdraw_dir / "numpy_bitmap" / f"{word}.npy", mmap_mode="r")[:6]
        for word in ("apple", "star")
    ]
    return np.concatenate(rows).reshape(-1, 28, 28).copy()


async def test_batched_output_equals_unbatched_output(
    recognizer: Recognizer, real_bitmaps: np.ndarray
) -> None:
    """Real doodles through the real model: results from shared batches equal one-at-a-time results."""
    batch_sizes: list[int] = []

    def predict(rasters: Sequence[np.ndarray]) -> list[np.ndarray]:
        batch_sizes.append(len(rasters))
        return list(recognizer.predict_rasters(np.stack(rasters)))

    batcher = MicroBatcher(predict, max_batch=8, max_wait_ms=20)
    await batcher.start()
    batched = await asyncio.gather(*(batcher.submit(raster) for raster in real_bitmaps))
    await batcher.aclose()
    assert max(batch_sizes) > 1
    one_by_one = [recognizer.predict_rasters(raster[None])[0] for raster in real_bitmaps]
    np.testing.assert_allclose(np.stack(batched), np.stack(one_by_one), rtol=0, atol=1e-5)
    assert [int(np.argmax(row)) for row in batched] == [int(np.argmax(row)) for row in one_by_one]
    labels = [recognizer.labels[int(np.argmax(row))] for row in batched]
    assert labels.count("apple") >= 4 and labels.count("star") >= 4
