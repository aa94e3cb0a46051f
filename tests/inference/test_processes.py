"""ProcessPool: work runs in child processes, and a killed child costs a retry, not the pool."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inference.processes import ProcessPool

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


def _sleep(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def test_calls_run_in_initialized_children() -> None:
    pool = ProcessPool(2, _remember, ("model",))
    try:
        pool.warm_up(str)
        assert len(pool.pids) == 2 and os.getpid() not in pool.pids
        results = [pool.submit(_read, f"-{i}").result(timeout=30) for i in range(4)]
        assert [text for _pid, text in results] == [f"model-{i}" for i in range(4)]
        assert {pid for pid, _text in results} <= set(pool.pids)
    finally:
        pool.shutdown()


def test_a_killed_child_is_replaced_and_its_call_retried(tmp_path: Path) -> None:
    pool = ProcessPool(1, _remember, ("model",))
    try:
        pool.warm_up(str)
        (first,) = pool.pids
        pid = pool.submit(_die_once, str(tmp_path / "marker")).result(timeout=60)
        assert pid != first and pool.restarts == 1 and pool.pids == [pid]
        assert pool.submit(_read, "!").result(timeout=30)[1] == "model!"  # the new child was initialized
    finally:
        pool.shutdown()


def test_a_child_killed_from_outside_mid_call(tmp_path: Path) -> None:
    pool = ProcessPool(1)
    try:
        pool.warm_up(str)
        (victim,) = pool.pids
        running = pool.submit(_sleep, 1.0)
        time.sleep(0.3)
        os.kill(victim, signal.SIGKILL)
        assert running.result(timeout=60) != victim  # ran again on the new child
        assert pool.restarts == 1
    finally:
        pool.shutdown()


_OWNER = """
import sys, time
from inference.processes import ProcessPool
pool = ProcessPool(2)
pool.warm_up(str)
print(" ".join(map(str, pool.pids)), flush=True)
time.sleep(60)
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


def test_every_call_fails_after_shutdown() -> None:
    pool = ProcessPool(1)
    pool.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(_sleep, 0).result(timeout=5)
    with pytest.raises(ValueError):
        ProcessPool(0)
