"""MicroBatcher: batching, coalescing, backpressure and errors, with plain functions and the real model."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from inference.batcher import BatcherClosed, BatchReport, MicroBatcher, Overloaded, Superseded
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
    blocker = asyncio.ensure_future(batcher.submit("warm", "warm"))
    await gate.wait_entered()
    results = [asyncio.ensure_future(batcher.submit(f"k{i}", f"r{i}")) for i in range(10)]
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
    """concurrency 2: two batches run at once, and 10 pending requests with both slots free make two
    batches of 5 rather than one of 8 and one of 2; with one slot busy, a batch grows to max_batch."""
    running: list[list[str]] = []
    both_running = threading.Barrier(2, timeout=5)

    def predict(requests: Sequence[str]) -> list[str]:
        running.append(list(requests))
        if len(running) <= 2:
            both_running.wait()  # raises if the second batch never starts while the first runs
        return [f"done:{request}" for request in requests]

    batcher = MicroBatcher(
        predict,
        max_batch=8,
        max_wait_ms=50,
        concurrency=2,
        executor=concurrent.futures.ThreadPoolExecutor(2),
    )
    with pytest.raises(ValueError):
        MicroBatcher(predict, concurrency=0)
    await batcher.start()
    results = [batcher.enqueue(f"k{i}", f"r{i}") for i in range(10)]
    assert await asyncio.gather(*results) == [f"done:r{i}" for i in range(10)]
    assert running == [[f"r{i}" for i in range(5)], [f"r{i}" for i in range(5, 10)]]
    await batcher.aclose()


async def test_a_lone_request_waits_at_most_max_wait() -> None:
    """A single request is not held back longer than max_wait_ms for company."""
    gate = Gate()
    batcher = await started(MicroBatcher(gate, max_batch=64, max_wait_ms=30))
    started_at = time.monotonic()
    assert await batcher.submit("a", "x") == "done:x"
    elapsed = time.monotonic() - started_at
    assert 0.025 <= elapsed < 0.5
    await batcher.aclose()


async def test_a_full_batch_does_not_wait() -> None:
    """When max_batch requests are pending the batch runs at once, not after max_wait_ms."""
    gate = Gate()
    batcher = await started(MicroBatcher(gate, max_batch=3, max_wait_ms=5_000))
    started_at = time.monotonic()
    results = await asyncio.gather(*(batcher.submit(i, f"r{i}") for i in range(3)))
    assert results == ["done:r0", "done:r1", "done:r2"]
    assert time.monotonic() - started_at < 1.0
    await batcher.aclose()


async def test_newer_request_for_a_key_supersedes_the_queued_one() -> None:
    """Only the newest drawing of a key runs; the older caller gets Superseded; its place in line is kept."""
    gate = Gate()
    gate.hold()
    batcher = await started(MicroBatcher(gate, max_batch=8, max_wait_ms=0))
    blocker = asyncio.ensure_future(batcher.submit("busy", "b"))
    await gate.wait_entered()
    first = asyncio.ensure_future(batcher.submit("alice", "alice-v1"))
    other = asyncio.ensure_future(batcher.submit("bob", "bob-v1"))
    second = asyncio.ensure_future(batcher.submit("alice", "alice-v2"))
    third = asyncio.ensure_future(batcher.submit("alice", "alice-v3"))
    await asyncio.sleep(0)
    assert batcher.pending == 2
    gate.open.set()
    with pytest.raises(Superseded):
        await first
    with pytest.raises(Superseded):
        await second
    assert await third == "done:alice-v3"
    assert await other == "done:bob-v1"
    await blocker
    assert gate.batches[1] == ["alice-v3", "bob-v1"]
    assert batcher.stats.superseded == 2
    await batcher.aclose()


async def test_full_queue_refuses_ordinary_requests_but_never_deciding_ones() -> None:
    """At max_pending an ordinary request gets Overloaded; a deciding one evicts the oldest ordinary one."""
    gate = Gate()
    gate.hold()
    batcher = await started(MicroBatcher(gate, max_batch=8, max_wait_ms=0, max_pending=2))
    blocker = asyncio.ensure_future(batcher.submit("busy", "b"))
    await gate.wait_entered()
    oldest = asyncio.ensure_future(batcher.submit("a", "a1"))
    kept = asyncio.ensure_future(batcher.submit("b", "b1"))
    await asyncio.sleep(0)
    with pytest.raises(Overloaded):
        await batcher.submit("c", "c1")
    deciding = [asyncio.ensure_future(batcher.submit(f"d{i}", f"d{i}", deciding=True)) for i in range(3)]
    await asyncio.sleep(0)
    gate.open.set()
    with pytest.raises(Overloaded):
        await oldest
    with pytest.raises(Overloaded):
        await kept  # the second deciding request evicted it too
    assert await asyncio.gather(*deciding) == ["done:d0", "done:d1", "done:d2"]
    await blocker
    assert batcher.stats.overloaded == 3
    await batcher.aclose()


async def test_deciding_requests_run_first() -> None:
    """Queued deciding requests jump the line; a key coalesced with a deciding request becomes deciding."""
    gate = Gate()
    gate.hold()
    batcher = await started(MicroBatcher(gate, max_batch=8, max_wait_ms=0))
    blocker = asyncio.ensure_future(batcher.submit("busy", "b"))
    await gate.wait_entered()
    futures = [
        asyncio.ensure_future(batcher.submit("n1", "n1")),
        asyncio.ensure_future(batcher.submit("n2", "n2")),
        asyncio.ensure_future(batcher.submit("d1", "d1", deciding=True)),
        asyncio.ensure_future(batcher.submit("n2", "n2-final", deciding=True)),
    ]
    await asyncio.sleep(0)
    gate.open.set()
    await asyncio.gather(*futures, blocker, return_exceptions=True)
    assert gate.batches[1] == ["d1", "n2-final", "n1"]
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
    outcomes = await asyncio.gather(*(batcher.submit(i, i) for i in range(2)), return_exceptions=True)
    assert [type(outcome) for outcome in outcomes] == [RuntimeError, RuntimeError]
    assert await batcher.submit("again", 21) == 42
    assert [report.failed for report in reports] == [True, False]
    await batcher.aclose()


async def test_wrong_number_of_results_is_an_error() -> None:
    """predict_batch must return one result per request."""
    batcher: MicroBatcher[int, int] = MicroBatcher(lambda requests: [], max_wait_ms=0)
    await batcher.start()
    with pytest.raises(ValueError, match="0 results for 1"):
        await batcher.submit("k", 1)
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
    assert await batcher.submit("k", 7) == 7
    ticking.cancel()
    assert ticks >= 15
    await batcher.aclose()


async def test_close_drains_or_refuses() -> None:
    """aclose() runs pending work by default; aclose(drain=False) fails it with BatcherClosed."""
    gate = Gate()
    batcher = await started(MicroBatcher(gate, max_wait_ms=50))
    pending = asyncio.ensure_future(batcher.submit("a", "a"))
    await asyncio.sleep(0)
    await batcher.aclose()
    assert await pending == "done:a"
    with pytest.raises(BatcherClosed):
        await batcher.submit("b", "b")

    gate = Gate()
    batcher = await started(MicroBatcher(gate, max_wait_ms=5_000))
    pending = asyncio.ensure_future(batcher.submit("a", "a"))
    await asyncio.sleep(0)
    await batcher.aclose(drain=False)
    with pytest.raises(BatcherClosed):
        await pending
    assert gate.batches == []


async def test_discard_drops_a_queued_request() -> None:
    """discard(key) removes the queued request (the player left); its caller gets Superseded."""
    gate = Gate()
    batcher = await started(MicroBatcher(gate, max_wait_ms=5_000))
    pending = asyncio.ensure_future(batcher.submit("gone", "x"))
    await asyncio.sleep(0)
    assert batcher.discard("gone") is True
    assert batcher.discard("gone") is False
    with pytest.raises(Superseded):
        await pending
    await batcher.aclose()
    assert gate.batches == []


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
    batched = await asyncio.gather(*(batcher.submit(i, raster) for i, raster in enumerate(real_bitmaps)))
    await batcher.aclose()
    assert max(batch_sizes) > 1
    one_by_one = [recognizer.predict_rasters(raster[None])[0] for raster in real_bitmaps]
    np.testing.assert_allclose(np.stack(batched), np.stack(one_by_one), rtol=0, atol=1e-5)
    assert [int(np.argmax(row)) for row in batched] == [int(np.argmax(row)) for row in one_by_one]
    labels = [recognizer.labels[int(np.argmax(row))] for row in batched]
    assert labels.count("apple") >= 4 and labels.count("star") >= 4
