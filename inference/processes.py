"""A pool of worker processes, driven by the event loop, that survives the death of one of them.

Rasterizing a batch holds the GIL for most of its time, so in the gateway's own process it competes
with the event loop for one core. `ProcessPool` moves calls into other processes (each loads the
model once, in `initializer`) so that preprocessing and the network use the other cores.

Each child has one socket pair to the owner, whose end is an asyncio transport: the event loop writes
a call to an idle child and reads the answer as it arrives, never blocking (a call or an answer may
be larger than the socket's buffer), with no thread of the owner involved.
(`concurrent.futures.ProcessPoolExecutor` hands every call through two threads of the owner, a queue
feeder and a result manager, and back through `call_soon_threadsafe`: 300-365 µs of the owner's CPU
per call against about 120 here, a share of the gateway's one core; `benchmarks/bench_pool.py`.)

A server's pool must outlive its processes: when one dies (killed for memory, a crash in native
code) its socket reads end-of-file at once; it is replaced, and the call it took down runs once more
on a new one, so a lost process costs one batch's latency, not the service.
Processes are started by a *forkserver*: the gateway has threads (Redis, the event loop's executor),
and forking a process with threads is unsafe, but the forkserver is a single-threaded process that
imports `preload` (torch, the model code) once; every child forks from it in milliseconds instead of
importing torch again, which matters when a child is replaced after a crash.

Children must not outlive their owner: if the owner is killed (SIGKILL, the OOM killer), its end of
every socket closes and an idle child reads end-of-file and exits; a busy one watches the owner's
process too (a pidfd on Linux, else a poll once a second) and exits when it is gone. The forkserver
then exits with its last child.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import pickle
import select
import signal
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any, TypeVar, cast

import structlog

__all__ = ["ChildDied", "ProcessPool"]

T = TypeVar("T")

log = structlog.get_logger(__name__)

STOP_TIMEOUT_S = 5.0


class ChildDied(RuntimeError):
    """The process running a call died, and the call's retries are spent."""


class _Child(asyncio.Protocol):
    """The owner's side of one child: its process and its end of the socket pair, read and written
    by the event loop without blocking (multiprocessing's message format: a length, then a pickle)."""

    def __init__(self, pool: ProcessPool, process: multiprocessing.process.BaseProcess) -> None:
        self.pool = pool
        self.process = process
        self.transport: asyncio.Transport | None = None
        self.call: asyncio.Future[Any] | None = None  # what it runs now; None when idle
        self.alive = True
        self._received = bytearray()

    def send(self, message: object) -> None:
        """Queue `message` for the child; the transport writes it as the socket drains."""
        assert self.transport is not None
        payload = ForkingPickler.dumps(message)
        size = len(payload)
        header = struct.pack("!i", size) if size <= 0x7FFFFFFF else struct.pack("!iQ", -1, size)
        self.transport.writelines([header, payload])

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._received += data
        while len(self._received) >= 4:
            (size,) = struct.unpack_from("!i", self._received)
            start = 4
            if size == -1:
                if len(self._received) < 12:
                    return
                (size,) = struct.unpack_from("!Q", self._received, 4)
                start = 12
            if len(self._received) < start + size:
                return
            answer = pickle.loads(self._received[start : start + size])
            del self._received[: start + size]
            self.pool._answered(self, answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.pool._died(self)


class ProcessPool:
    """Child processes that run calls for the event loop, each one replaced when it dies.

    Args:
        processes: worker processes.
        initializer: run once in each new process (load the model there); must be importable.
        initargs: its arguments (picklable).
        retries: how often a call whose process died is run again on another.
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
        self._children: list[_Child] = []
        self._idle: deque[_Child] = deque()
        self._waiters: deque[asyncio.Future[_Child]] = deque()  # calls waiting for an idle child
        self._closed = False
        self.restarts = 0
        self._context = multiprocessing.get_context("forkserver")
        if preload:
            self._context.set_forkserver_preload(list(preload))

    async def start(self, ready: Callable[[], object] | None = None) -> None:
        """Start the processes now rather than at the first call, and run `ready` in each (which
        returns once that child's initializer, the model's loading, is done)."""
        await self._ensure_started()
        if ready is not None:
            await asyncio.gather(*(self.run(ready) for _ in range(self.processes)))

    async def run(self, fn: Callable[..., T], /, *args: Any) -> T:
        """Run ``fn(*args)`` in an idle child process and return its result.

        Raises:
            What `fn` raised, in the child (pickled back).
            ChildDied: the child died on every try (see `retries`).
            RuntimeError: the pool is shut down.
        """
        for attempt in range(self._retries + 1):
            child = await self._take_idle()
            call: asyncio.Future[T] = asyncio.get_running_loop().create_future()
            child.call = call
            child.send((fn, args))
            try:
                return await call
            except ChildDied:
                if attempt == self._retries:
                    raise
        raise AssertionError("unreachable")

    @property
    def pids(self) -> list[int]:
        """Process ids of the live children (for CPU accounting and tests)."""
        return [child.process.pid for child in self._children if child.alive and child.process.pid]

    async def aclose(self) -> None:
        """Stop the processes: each reads end-of-file and exits (killed after STOP_TIMEOUT_S);
        calls still running or waiting fail with RuntimeError."""
        self._closed = True
        children, self._children = self._children, []
        self._idle.clear()
        for child in children:
            self._forget(child, RuntimeError("the process pool is shut down"))
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(RuntimeError("the process pool is shut down"))
        await asyncio.to_thread(_stop, [child.process for child in children])

    # ------------------------------------------------------------------ children

    async def _ensure_started(self) -> None:
        if self._closed:
            raise RuntimeError("the process pool is shut down")
        while len(self._children) < self.processes:
            await self._spawn()

    async def _spawn(self) -> None:
        mine, theirs = socket.socketpair()
        their_end = Connection(theirs.detach())
        process = self._context.Process(
            target=_child_main,
            args=(their_end, os.getpid(), self._initializer, self._initargs),
            name="recognition",
            daemon=True,
        )
        child = _Child(self, process)
        self._children.append(child)  # counted at once: a concurrent caller does not start another
        try:
            process.start()
            await asyncio.get_running_loop().connect_accepted_socket(lambda: child, mine)
        except BaseException:
            self._children.remove(child)
            mine.close()
            raise
        finally:
            their_end.close()  # it lives in the child only, so the child's death reads as end-of-file
        self._give_back(child)

    async def _take_idle(self) -> _Child:
        await self._ensure_started()
        while self._idle:
            child = self._idle.popleft()
            if child.alive:
                return child
        waiter: asyncio.Future[_Child] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        return await waiter

    def _give_back(self, child: _Child) -> None:
        child.call = None
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(child)
                return
        self._idle.append(child)

    def _answered(self, child: _Child, answer: tuple[bool, Any]) -> None:
        ok, value = answer
        call = child.call
        self._give_back(child)
        if call is not None and not call.done():  # else its caller was cancelled
            if ok:
                call.set_result(value)
            else:
                call.set_exception(value)

    def _died(self, child: _Child) -> None:
        if not child.alive:
            return
        self._forget(child, ChildDied(f"recognition process {child.process.pid} died"))
        child.process.join(0)  # reaped, not left a zombie
        self._children.remove(child)
        self.restarts += 1
        # Its replacement starts with the next call (`_take_idle`), not here: a child that cannot
        # start at all (its initializer fails) then costs each call its retries, not a spawn loop.
        # Calls already waiting for a child get one now.
        if self._waiters and not self._closed:
            task = asyncio.get_running_loop().create_task(self._ensure_started())
            task.add_done_callback(_log_failure)

    def _forget(self, child: _Child, error: Exception) -> None:
        child.alive = False
        if child.transport is not None:
            child.transport.close()
        if child.call is not None and not child.call.done():
            child.call.set_exception(error)
        child.call = None


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("recognition_process_start_failed", error=repr(task.exception()))


def _stop(processes: list[multiprocessing.process.BaseProcess]) -> None:
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()


def _child_main(
    conn: Connection,
    owner_pid: int,
    initializer: Callable[..., object] | None,
    initargs: tuple[Any, ...],
) -> None:
    """A child's life: initialize, then run calls until the owner's end closes."""
    _start_child(owner_pid, initializer, initargs)
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):
            return  # the owner shut the pool down, or died
        try:
            answer: tuple[bool, Any] = (True, fn(*args))
        except Exception as exc:
            answer = (False, exc)
        try:
            conn.send(answer)
        except (EOFError, OSError):
            return
        except Exception as exc:  # the result or the exception does not pickle
            conn.send((False, RuntimeError(f"{fn.__name__}: its answer does not pickle: {exc!r}")))


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
