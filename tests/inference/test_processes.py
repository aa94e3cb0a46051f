"""ProcessPool: calls run in child processes, and a killed child costs a retry, not the pool."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import uvloop

from inference.processes import ChildDied, ProcessPool

REPO = Path(__file__).resolve().parents[2]
_state: dict[str, object] = {}


def _remember(value: str) -> None:  # initializer: runs once in every child
    _state["value"] = value


def _read(suffix: str) -> tuple[int, str]:
    return os.getpid(), f"{_state['value']}{suffix}"


def _die_once(marker: str) -> int:
    """Kill this process the first time it is called (a crash in native code, an OOM kill)."""
    if not Path(marker).exists():
        Path(marker).write_text("died")
        os.kill(os.getpid(), signal.SIGKILL)
    return os.getpid()


def _die_always() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _divide(a: int, b: int) -> float:
    return a / b


def _sleep(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


async def test_calls_run_in_initialized_children() -> None:
    pool = ProcessPool(2, _remember, ("model",))
    try:
        await pool.start(str)
        assert len(pool.pids) == 2 and os.getpid() not in pool.pids
        results = await asyncio.gather(*(pool.run(_read, f"-{i}") for i in range(6)))
        assert [text for _pid, text in results] == [f"model-{i}" for i in range(6)]
        assert {pid for pid, _text in results} == set(pool.pids)  # both children took calls
    finally:
        await pool.aclose()


def _echo_doubled(array: np.ndarray) -> np.ndarray:
    return array * 2


@pytest.mark.parametrize(
    "loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"]
)
def test_large_calls_and_answers_pass_whole_while_the_loop_keeps_running(
    loop_factory: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    """Calls and answers far larger than a socket's buffer (a batch of long drawings): written as
    the child reads, never blocking the event loop, and read back whole; on the server's loop
    (uvloop) too, which makes the sockets it watches non-blocking."""

    async def main() -> None:
        pool = ProcessPool(2)
        try:
            await pool.start()
            arrays = [np.arange(n * 250_000, (n + 1) * 250_000, dtype=np.float32) for n in range(4)]
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.001)

            beating = asyncio.ensure_future(ticker())
            answers = await asyncio.gather(*(pool.run(_echo_doubled, array) for array in arrays))
            beating.cancel()
            for array, answer in zip(arrays, answers, strict=True):
                assert np.array_equal(answer, array * 2)  # 1 MB each way
            assert pool.restarts == 0 and ticks > 0
        finally:
            await pool.aclose()

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main())


async def test_an_exception_comes_back_to_its_caller_and_the_child_stays() -> None:
    pool = ProcessPool(1)
    try:
        await pool.start()
        with pytest.raises(ZeroDivisionError):
            await pool.run(_divide, 1, 0)
        assert await pool.run(_divide, 6, 3) == 2 and pool.restarts == 0
    finally:
        await pool.aclose()


async def test_a_killed_child_is_replaced_and_its_call_retried(tmp_path: Path) -> None:
    pool = ProcessPool(1, _remember, ("model",))
    try:
        await pool.start(str)
        (first,) = pool.pids
        pid = await asyncio.wait_for(pool.run(_die_once, str(tmp_path / "marker")), 60)
        assert pid != first and pool.restarts == 1 and pool.pids == [pid]
        assert (await pool.run(_read, "!"))[1] == "model!"  # the new child was initialized
    finally:
        await pool.aclose()


async def test_a_child_killed_from_outside_mid_call() -> None:
    pool = ProcessPool(1)
    try:
        await pool.start(str)
        (victim,) = pool.pids
        running = asyncio.ensure_future(pool.run(_sleep, 1.0))
        await asyncio.sleep(0.3)
        os.kill(victim, signal.SIGKILL)
        assert await asyncio.wait_for(running, 60) != victim  # ran again on the new child
        assert pool.restarts == 1
    finally:
        await pool.aclose()


async def test_a_call_that_kills_every_child_fails_after_its_retries(tmp_path: Path) -> None:
    """No endless restarts: a call whose every try kills its process gets ChildDied, and the pool
    still serves the next call."""
    pool = ProcessPool(1, retries=1)
    try:
        await pool.start()
        with pytest.raises(ChildDied):
            await asyncio.wait_for(pool.run(_die_always), 60)
        assert pool.restarts == 2
        assert await pool.run(_divide, 4, 2) == 2
    finally:
        await pool.aclose()


_OWNER = """
import asyncio, time
from inference.processes import ProcessPool

async def main():
    pool = ProcessPool(2)
    await pool.start(str)
    print(" ".join(map(str, pool.pids)), flush=True)
    time.sleep(60)

asyncio.run(main())
"""


def test_children_exit_when_their_owner_is_killed() -> None:
    """SIGKILL the process that owns a pool: nothing shuts the pool down, yet its children (and the
    forkserver they came from) go too, instead of waiting for work forever."""
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert owner.stdout is not None
        children = [int(pid) for pid in owner.stdout.readline().split()]
        assert len(children) == 2
        owner.kill()
        owner.wait(10)
        deadline = time.monotonic() + 10
        while any(_running(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_running(pid) for pid in children)
    finally:
        owner.kill()


def _running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting for its parent counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


async def test_every_call_fails_after_shutdown() -> None:
    pool = ProcessPool(1)
    await pool.start()
    (child,) = pool.pids
    await pool.aclose()
    assert not _running(child)
    with pytest.raises(RuntimeError, match="shut down"):
        await pool.run(_sleep, 0)
    with pytest.raises(ValueError):
        ProcessPool(0)
