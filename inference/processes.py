"""A pool of worker processes that survives the death of one of them.

Rasterizing a batch holds the GIL for most of its time, so in the gateway's own process it competes
with the event loop for one core. `ProcessPool` moves batches into other processes (each loads the
model once, in `initializer`) so that preprocessing and the network use the other cores.

`concurrent.futures.ProcessPoolExecutor` alone is not enough for a server: when one of its processes
dies (killed for memory, a crash in native code) the whole pool is *broken*, and every later call fails
until someone builds a new one. `ProcessPool` builds a new one at once and runs each call that the dead
process took down once more on it, so a lost process costs one batch's latency, not the service.
Processes are started by a *forkserver*: the gateway has threads (Redis, the event loop's executor),
and forking a process with threads is unsafe, but the forkserver is a single-threaded process that
imports `preload` (torch, the model code) once; every child forks from it in milliseconds instead of
importing torch again, which matters when a pool is rebuilt after a crash.

Children must not outlive their owner: if the owner is killed (SIGKILL, the OOM killer), nothing
shuts the pool down, and its children, each holding the other end of the task queue, would wait for
work forever. Each child therefore watches the owner's process (a pidfd on Linux, else a poll once a
second) and exits when it is gone; the forkserver then exits with its last child.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

__all__ = ["ProcessPool"]

T = TypeVar("T")


class ProcessPool(concurrent.futures.Executor):
    """`ProcessPoolExecutor` that replaces itself when a process dies, retrying the calls it lost.

    Args:
        processes: worker processes.
        initializer: run once in each new process (load the model there); must be importable.
        initargs: its arguments (picklable).
        retries: how often a call whose process died is run again on the new pool.
        preload: modules the forkserver imports before it forks children (only the first pool of a
            process starts the forkserver, so only the first pool's list counts).
    """

    def __init__(
        self,
        processes: int,
        initializer: Callable[..., object] | None = None,
        initargs: Sequence[Any] = (),
        *,
        retries: int = 1,
        preload: Sequence[str] = (),
    ) -> None:
        if processes < 1:
            raise ValueError(f"processes must be >= 1, got {processes}")
        self.processes = processes
        self._initializer = initializer
        self._initargs = tuple(initargs)
        self._retries = retries
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._closed = False
        self.restarts = 0
        self._context = multiprocessing.get_context("forkserver")
        if preload:
            self._context.set_forkserver_preload(list(preload))

    def _current(self) -> concurrent.futures.ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError("the process pool is shut down")
            if self._pool is None:
                self._pool = concurrent.futures.ProcessPoolExecutor(
                    self.processes,
                    mp_context=self._context,
                    initializer=_start_child,
                    initargs=(os.getpid(), self._initializer, self._initargs),
                )
            return self._pool

    def _replace(self, broken: concurrent.futures.ProcessPoolExecutor) -> None:
        """Drop `broken` (if it is still the current pool); the next call builds a fresh one."""
        with self._lock:
            if self._pool is not broken:
                return  # another call replaced it already
            self._pool = None
            self.restarts += 1
        broken.shutdown(wait=False, cancel_futures=True)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        """Run ``fn(*args, **kwargs)`` in a worker process; see the class docstring for failures."""
        outer: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._submit(outer, fn, args, kwargs, self._retries)
        return outer

    def _submit(
        self,
        outer: concurrent.futures.Future[T],
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        retries: int,
    ) -> None:
        try:
            pool = self._current()
            inner = pool.submit(fn, *args, **kwargs)
        except BrokenProcessPool as exc:
            self._replace(pool)
            if retries > 0:
                self._submit(outer, fn, args, kwargs, retries - 1)
            else:
                outer.set_exception(exc)
            return
        except RuntimeError as exc:  # shut down
            outer.set_exception(exc)
            return

        def done(finished: concurrent.futures.Future[T]) -> None:
            if finished.cancelled():
                outer.cancel()
                return
            error = finished.exception()
            if isinstance(error, BrokenProcessPool):
                self._replace(pool)
                if retries > 0 and not self._closed:
                    self._submit(outer, fn, args, kwargs, retries - 1)
                    return
            if error is not None:
                outer.set_exception(error)
            else:
                outer.set_result(finished.result())

        inner.add_done_callback(done)

    def warm_up(self, fn: Callable[[], object]) -> None:
        """Start the processes now rather than at the first batch, and run `fn` in them.

        The executor starts one more process per call while none is idle, so `processes` calls at once
        start them all; this returns when the calls are done (each process loaded its model first).
        """
        pool = self._current()
        for future in [pool.submit(fn) for _ in range(self.processes)]:
            future.result()

    @property
    def pids(self) -> list[int]:
        """Process ids of the current pool's live processes (for CPU accounting and tests)."""
        with self._lock:
            processes = dict(getattr(self._pool, "_processes", None) or {})
        return [pid for pid, process in processes.items() if process.is_alive()]

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the processes (see `concurrent.futures.Executor.shutdown`)."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def _start_child(
    owner_pid: int, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]
) -> None:
    """Initializer of every child: exit when the owner dies, then run the pool's own initializer."""
    # A Ctrl-C in the terminal reaches the whole process group; the owner shuts the pool down in
    # order, so a child that took it too would only print a KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(owner_pid,), name="owner-watch", daemon=True).start()
    if initializer is not None:
        initializer(*initargs)


def _exit_with(owner_pid: int) -> None:
    """Block until process `owner_pid` ends, then end this process at once."""
    try:
        pidfd = os.pidfd_open(owner_pid)
    except (AttributeError, OSError):  # not Linux >= 5.3, or the owner is already gone
        pidfd = None
    if pidfd is not None:
        select.select([pidfd], [], [])  # a pidfd turns readable when its process exits
    else:
        while _alive(owner_pid):
            time.sleep(1.0)
    os._exit(0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else (our owner's pid was reused)
        return False
    return True
