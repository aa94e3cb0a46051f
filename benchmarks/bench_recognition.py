"""Recognitions per second and latency, 'drawing updated' -> 'guess ready': our pipeline vs the origin's.

One run, the same real doodles (Quick, Draw! raw drawings of the model's classes, replayed as growing
prefixes the way a phone streams them), the same model, the same number of concurrent players:

- baseline: the origin's design, provided here: an HTTP endpoint (stdlib `ThreadingHTTPServer`, one
  thread per connection, keep-alive) that takes one PNG of the canvas per request, decodes it, crops
  and resizes it to 28x28 and runs one forward pass per request, on torch as the origin did
  (`--baseline-runtime onnxruntime` gives it the runtime the server uses). The PNGs are rendered before the
  clock starts (in the origin they are rendered by the phone). Latency: from the request being
  written to the response being read, by an asyncio client in the benchmark process.
- embedded: `LocalRecognition` (MicroBatcher in the gateway process) for several batch settings.
- workers: `StreamRecognition` in the gateway process + 1 or 2 `python -m server.worker` processes
  over a real redis-server. Latency: from `update()` (job.submitted_at) to `on_result`.
- public (`--public N`): the product's own path. `doodle-party serve` (embedded defaults, guess
  interval 0) in a process of its own, and N WebSocket clients (msgpack) sending practice `recognize`
  messages, each waiting for its `guess` (at most `--public-rate` per client and second, under the
  server's per-connection message limit). Latency: from the message being written to the guess
  being read; CPU: the server process and its children (model processes, redis-server).

Players are closed loops: each sends its next drawing as soon as the previous guess arrives (the
guess interval is 0, so this measures capacity, not the game's rate limit). Besides wall-clock
throughput, each row reports the CPU time the serving processes spent per recognition (baseline: the
HTTP server; ours: the gateway process, which also runs the simulated players, plus the workers and
redis-server), which is far less sensitive to other load on the machine than wall-clock numbers.

    .venv/bin/python benchmarks/bench_recognition.py --out runs/bench_recognition.json
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import io
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import redis.asyncio as aioredis
import torch
from PIL import Image, ImageDraw

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from inference.batcher import percentile  # noqa: E402
from inference.formats import read_ndjson  # noqa: E402
from inference.recognizer import Recognizer  # noqa: E402
from server.recognition import (  # noqa: E402
    LABELS_KEY,
    LocalRecognition,
    OnResult,
    RecognitionJob,
    RecognitionResult,
    StreamRecognition,
)
from server.redis_embedded import EmbeddedRedis  # noqa: E402

Strokes = list[list[list[float]]]
CANVAS_SIDE = 256  # the PNG a baseline client sends


# -- workload ----------------------------------------------------------------------------------------


def load_updates(shared: Path, labels: Sequence[str], per_word: int, steps: int) -> list[tuple[str, Strokes]]:
    """(word, drawing so far) pairs: each real raw drawing cut at `steps` growing prefixes."""
    updates: list[tuple[str, Strokes]] = []
    for word in labels:
        path = shared / "quickdraw" / "raw" / f"{word}.ndjson.gz"
        if not path.is_file():
            continue
        for record in itertools.islice(read_ndjson(path), per_word):
            strokes = [stroke.tolist() for stroke in record.strokes]
            total = sum(len(stroke) for stroke in strokes)
            for step in range(1, steps + 1):
                budget = max(1, round(total * step / steps))
                prefix: Strokes = []
                for stroke in strokes:
                    if budget <= 0:
                        break
                    prefix.append(stroke[:budget])
                    budget -= len(stroke)
                updates.append((word, prefix))
    return updates


def render_png(strokes: Strokes) -> bytes:
    """What the origin's client sends: its canvas as a PNG, white strokes on black."""
    points = np.concatenate([np.asarray(stroke, dtype=np.float64)[:, :2] for stroke in strokes])
    origin = points.min(axis=0)
    extent = max(float((points.max(axis=0) - origin).max()), 1.0)
    scale = (CANVAS_SIDE - 16) / extent
    image = Image.new("L", (CANVAS_SIDE, CANVAS_SIDE), 0)
    draw = ImageDraw.Draw(image)
    for stroke in strokes:
        xy = [((x - origin[0]) * scale + 8, (y - origin[1]) * scale + 8) for x, y, *_ in stroke]
        if len(xy) == 1:
            xy = xy * 2
        draw.line(xy, fill=255, width=6, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# -- the origin's design: one PNG per HTTP request, one forward pass per request -------------------


def png_to_raster(data: bytes) -> np.ndarray:
    """Decode, crop to the drawing with a margin, resize to 28x28 (as the origin's app did)."""
    image = Image.open(io.BytesIO(data)).convert("L")
    box = image.getbbox() or (0, 0, image.width, image.height)
    left, top, right, bottom = box
    side = max(right - left, bottom - top)
    pad = side // 8 + 2
    cx, cy = (left + right) // 2, (top + bottom) // 2
    half = side // 2 + pad
    crop = image.crop((cx - half, cy - half, cx + half, cy + half))
    return np.array(crop.resize((28, 28), Image.Resampling.BOX), dtype=np.uint8)


def serve_baseline(port: int, checkpoint: Path | None, runtime: str) -> None:
    recognizer = Recognizer.load(checkpoint, runtime)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, to be kind to the baseline

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            probabilities = recognizer.predict_rasters(png_to_raster(body)[None])[0]
            answer = json.dumps({"guesses": recognizer.top_k(probabilities, 3)}).encode()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256  # the default listen backlog of 5 resets some of 64 simultaneous connects

    server = Server(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()


# -- measurement ---------------------------------------------------------------------------------------

CpuProbe = Callable[[], float]


def self_cpu() -> float:
    """CPU seconds (user + system) this process has used, all threads."""
    times = os.times()
    return times.user + times.system


def process_cpu(pid: int) -> float:
    """CPU seconds another process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Window:
    """The measured part of a run: opens `measure_s` before the end, notes wall and CPU time."""

    def __init__(self, warmup_s: float, measure_s: float, cpu: CpuProbe) -> None:
        self.stop_at = time.perf_counter() + warmup_s + measure_s
        self.opens_at = self.stop_at - measure_s
        self.cpu = cpu
        self.started: float | None = None
        self.cpu_started = 0.0
        self.latencies: list[float] = []
        self.errors = 0
        self.closed: tuple[float, float] | None = None

    @property
    def running(self) -> bool:
        return time.perf_counter() < self.stop_at

    def record(self, latency_s: float) -> None:
        if self.started is None and time.perf_counter() >= self.opens_at:
            self.started = time.perf_counter()
            self.cpu_started = self.cpu()
        if self.started is not None:
            self.latencies.append(latency_s)

    def close(self) -> tuple[float, float]:
        """(wall seconds, CPU seconds) of the window, as of the first call (before processes stop)."""
        if self.closed is None:
            if self.started is None:
                self.closed = (0.0, 0.0)
            else:
                self.closed = (time.perf_counter() - self.started, self.cpu() - self.cpu_started)
        return self.closed


@dataclass
class Outcome:
    name: str
    deployment: str
    max_batch: int | None
    max_wait_ms: float | None
    workers: int | None
    threads: int
    players: int
    seconds: float
    recognitions: int
    per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    cpu_ms_per_recognition: float
    errors: int = 0
    avg_batch: float | None = None


def summarize(
    name: str, deployment: str, window: Window, players: int, threads: int, **extra: Any
) -> Outcome:
    seconds, cpu_seconds = window.close()
    ordered = sorted(window.latencies)
    outcome = Outcome(
        name=name,
        deployment=deployment,
        max_batch=extra.get("max_batch"),
        max_wait_ms=extra.get("max_wait_ms"),
        workers=extra.get("workers"),
        threads=threads,
        players=players,
        seconds=seconds,
        recognitions=len(ordered),
        per_second=len(ordered) / seconds if seconds else 0.0,
        p50_ms=percentile(ordered, 0.50) * 1000.0,
        p95_ms=percentile(ordered, 0.95) * 1000.0,
        p99_ms=percentile(ordered, 0.99) * 1000.0,
        cpu_ms_per_recognition=cpu_seconds / max(len(ordered), 1) * 1000.0,
        errors=window.errors,
        avg_batch=extra.get("avg_batch"),
    )
    print(json.dumps(asdict(outcome)), flush=True)
    return outcome


async def drive_service(
    make_service: Callable[[OnResult], LocalRecognition | StreamRecognition],
    updates: list[tuple[str, Strokes]],
    players: int,
    window: Window,
    gateway_id: str,
) -> float | None:
    """Closed-loop players against a recognition service, recorded in `window`; returns the avg batch."""
    waiting: dict[str, asyncio.Future[RecognitionResult]] = {}

    async def on_result(result: RecognitionResult) -> None:
        future = waiting.pop(result.job_id, None)
        if future is not None and not future.done():
            future.set_result(result)

    service = make_service(on_result)
    await service.start()
    ids = itertools.count()
    # As the gateway holds a drawing: float32 (n, 3) arrays, each message's points converted once
    # when it arrives (server/gateway.py), not at every recognition.
    held = [
        (word, [np.asarray(stroke, np.float32).reshape(-1, 3) for stroke in strokes])
        for word, strokes in updates
    ]
    loop = asyncio.get_running_loop()

    async def player(index: int) -> None:
        cursor = index * 7919
        while window.running:
            word, strokes = held[cursor % len(updates)]
            cursor += 1
            job_id = f"{index}-{next(ids)}"
            future = loop.create_future()
            waiting[job_id] = future
            service.update(
                RecognitionJob(
                    job_id=job_id,
                    gateway_id=gateway_id,
                    room_code="BENCH",
                    player_id=f"p{index}",
                    round=1,
                    target_word=word,
                    strokes=strokes,
                    canvas=None,
                    deciding=False,
                    submitted_at=time.time(),
                )
            )
            result = await future
            window.record(time.time() - result.submitted_at)

    await asyncio.gather(*(player(index) for index in range(players)))
    window.close()  # before the service stops its processes
    stats = service.batcher.stats if isinstance(service, LocalRecognition) else None
    await service.aclose()
    return stats.avg_batch_size if stats else None


async def drive_baseline(port: int, pngs: list[bytes], players: int, window: Window) -> None:
    """Closed-loop HTTP clients (one keep-alive connection each) posting PNGs."""
    requests = [
        b"POST /predict HTTP/1.1\r\nHost: bench\r\nContent-Type: image/png\r\nContent-Length: "
        + str(len(png)).encode()
        + b"\r\n\r\n"
        + png
        for png in pngs
    ]

    async def client(index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        cursor = index * 7919
        while window.running:
            request = requests[cursor % len(requests)]
            cursor += 1
            started = time.time()
            try:
                writer.write(request)
                await writer.drain()
                length = 0
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b""):
                        break
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                json.loads(await reader.readexactly(length))
            except (ConnectionError, asyncio.IncompleteReadError, ValueError):
                window.errors += 1  # counted, not timed; reconnect and go on
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            window.record(time.time() - started)
        writer.close()

    await asyncio.gather(*(client(index) for index in range(players)))


def start_process(command: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )


def stop_process(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def run_baseline(args: argparse.Namespace, pngs: list[bytes], threads: int) -> Outcome:
    port = free_port()
    command = [sys.executable, __file__, "--serve-baseline", str(port), "--baseline-threads", str(threads)]
    command += ["--baseline-runtime", args.baseline_runtime]
    if args.checkpoint:
        command += ["--checkpoint", str(args.checkpoint)]
    server = start_process(command)
    try:
        assert server.stdout is not None
        line = await asyncio.to_thread(server.stdout.readline)
        assert line.strip() == "ready", line
        window = Window(args.warmup, args.duration, lambda: process_cpu(server.pid))
        await drive_baseline(port, pngs, args.players, window)
        outcome = summarize(
            f"baseline: HTTP + PNG, 1 pass/request, {threads} torch thread{'s' if threads > 1 else ''}",
            "baseline",
            window,
            args.players,
            threads,
        )
    finally:
        stop_process(server)
    return outcome


async def run_embedded(
    args: argparse.Namespace,
    recognizer: Recognizer,
    updates: list[tuple[str, Strokes]],
    max_batch: int,
    wait: float,
    threads: int,
    processes: int,
) -> Outcome:
    services: list[LocalRecognition] = []

    def make(on_result: OnResult) -> LocalRecognition:
        service = LocalRecognition(
            recognizer,
            on_result=on_result,
            max_batch=max_batch,
            max_wait_ms=wait,
            guess_interval_ms=0,
            torch_threads=threads,
            processes=processes,
            load_model=functools.partial(Recognizer.load, args.checkpoint),
        )
        services.append(service)
        return service

    def cpu() -> float:  # this process and the recognition processes (started before the window)
        pool = services[0].pool if services else None
        return self_cpu() + sum(process_cpu(pid) for pid in (pool.pids if pool else []))

    window = Window(args.warmup, args.duration, cpu)
    avg_batch = await drive_service(make, updates, args.players, window, "bench")
    where = f"{processes} process{'es' if processes > 1 else ''}" if processes else "a thread"
    return summarize(
        f"embedded batch<={max_batch} wait {wait:g} ms, {threads} torch thread{'s' if threads > 1 else ''}"
        f" in {where}",
        "embedded",
        window,
        args.players,
        threads,
        max_batch=max_batch,
        max_wait_ms=wait,
        avg_batch=avg_batch,
    )


ANSWER_TIMEOUT_S = 10.0


async def drive_public(
    url: str, updates: list[tuple[str, Strokes]], clients: int, rate: float, window: Window
) -> None:
    """Closed-loop WebSocket clients: practice `recognize`, wait for the matching `guess`, again."""
    import msgpack
    from websockets.asyncio.client import connect

    def message(strokes: Strokes) -> dict[str, Any]:
        # The drawing's own extent as its canvas: raw drawings are in the pixels of the phone they came
        # from, some a little above or left of it (negative), which the server refuses as out of the
        # canvas; moved to start at 0, as a phone's own canvas would have held them.
        low_x = min(point[0] for stroke in strokes for point in stroke)
        low_y = min(point[1] for stroke in strokes for point in stroke)
        moved = [[[x - low_x, y - low_y, *rest] for x, y, *rest in stroke] for stroke in strokes]
        side_x = max(point[0] for stroke in moved for point in stroke) + 1
        side_y = max(point[1] for stroke in moved for point in stroke) + 1
        return {"type": "recognize", "strokes": moved, "canvas": [side_x, side_y]}

    messages = [message(strokes) for _word, strokes in updates]

    async def client(index: int) -> None:
        async with connect(url, max_size=2**20) as ws:
            await ws.send(msgpack.packb({"type": "hello", "name": f"bench{index}", "id": "h"}))
            while msgpack.unpackb(await ws.recv()).get("type") != "welcome":
                pass
            cursor, sequence = index * 7919, 0
            while window.running:
                body = messages[cursor % len(messages)]
                cursor += 1
                sequence += 1
                ref = f"r{sequence}"
                started = time.time()
                await ws.send(msgpack.packb({**body, "id": ref}))
                while True:
                    try:
                        # Bounded: a request never answered is an error, not a client stalled for good.
                        reply = msgpack.unpackb(await asyncio.wait_for(ws.recv(), ANSWER_TIMEOUT_S))
                    except TimeoutError:
                        window.errors += 1
                        break
                    if reply.get("type") == "error":
                        window.errors += 1
                        break
                    if reply.get("type") == "guess" and reply.get("ref") == ref:
                        window.record(time.time() - started)
                        break
                await asyncio.sleep(max(0.0, started + 1 / rate - time.time()))

    await asyncio.gather(*(client(index) for index in range(clients)))


async def run_public(args: argparse.Namespace, updates: list[tuple[str, Strokes]], clients: int) -> Outcome:
    port = free_port()
    env = {**os.environ, "DOODLE_GUESS_INTERVAL_MS": "0", "DOODLE_LOG_LEVEL": "warning"}
    command = [str(Path(sys.executable).parent / "doodle-party"), "serve", "--port", str(port)]
    if args.checkpoint:
        command += ["--checkpoint", str(args.checkpoint)]
    server = start_serve(command, env)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("doodle-party serve did not start") from None
                await asyncio.sleep(0.2)
        await asyncio.sleep(2.0)  # the model processes load after the port opens

        def cpu() -> float:
            return process_cpu(server.pid) + sum(process_cpu(pid) for pid in descendants(server.pid))

        window = Window(args.warmup, args.duration, cpu)
        await drive_public(f"ws://127.0.0.1:{port}/", updates, clients, args.public_rate, window)
        outcome = summarize(
            f"public: WebSocket practice recognize, {clients} clients, serve defaults",
            "public",
            window,
            clients,
            1,
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return outcome


def start_serve(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc), read once per call."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


async def run_workers(
    args: argparse.Namespace,
    redis_server: EmbeddedRedis,
    updates: list[tuple[str, Strokes]],
    count: int,
    max_batch: int,
    wait: float,
    labels: tuple[str, ...],
) -> Outcome:
    redis_url = redis_server.url
    client = aioredis.Redis.from_url(redis_url)
    await client.delete(LABELS_KEY)  # each worker sets it once its model is loaded
    await client.aclose()
    threads = args.worker_threads
    processes = []
    for index in range(count):
        command = [
            sys.executable, "-m", "server.worker", "--redis-url", redis_url, "--name", f"bench-w{index}",
            "--max-batch", str(max_batch), "--max-wait-ms", str(wait), "--threads", str(threads),
            "--log-level", "warning",
        ]  # fmt: skip
        if args.checkpoint:
            command += ["--checkpoint", str(args.checkpoint)]
        processes.append(start_process(command))
    pids = [process.pid for process in processes]
    assert redis_server.process is not None
    pids.append(redis_server.process.pid)
    try:
        await wait_workers_loaded(redis_url, args.worker_start_s)
        gateway_id = f"bench-{count}-{max_batch}"

        def make(on_result: OnResult) -> StreamRecognition:
            return StreamRecognition(
                redis_url, gateway_id=gateway_id, on_result=on_result, labels=labels, guess_interval_ms=0
            )

        window = Window(
            args.warmup, args.duration, lambda: self_cpu() + sum(process_cpu(pid) for pid in pids)
        )
        await drive_service(make, updates, args.players, window, gateway_id)
        outcome = summarize(
            f"{count} worker{'s' if count > 1 else ''} (Redis Stream) batch<={max_batch} wait {wait:g} ms, "
            f"{threads} torch thread{'s' if threads > 1 else ''} each",
            "workers",
            window,
            args.players,
            threads,
            max_batch=max_batch,
            max_wait_ms=wait,
            workers=count,
        )
    finally:
        for process in processes:
            stop_process(process)
    return outcome


async def wait_workers_loaded(redis_url: str, timeout_s: float) -> None:
    """Wait until a worker has published its labels (model loaded), then a moment for the others."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                if await client.exists(LABELS_KEY):
                    break
                await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
    finally:
        await client.aclose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def parse_batch_settings(values: Sequence[str]) -> list[tuple[int, float]]:
    settings = []
    for value in values:
        batch, wait = value.split("/")
        settings.append((int(batch), float(wait)))
    return settings


def medians(outcomes: list[Outcome]) -> list[Outcome]:
    """One row per configuration: the median of each number over the rounds."""
    by_name: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_name.setdefault(outcome.name, []).append(outcome)
    rows = []
    for runs in by_name.values():
        row = asdict(runs[0])
        for key in ("seconds", "per_second", "p50_ms", "p95_ms", "p99_ms", "cpu_ms_per_recognition"):
            row[key] = statistics.median(getattr(run, key) for run in runs)
        row["recognitions"] = sum(run.recognitions for run in runs)
        row["errors"] = sum(run.errors for run in runs)
        if runs[0].avg_batch is not None:
            row["avg_batch"] = statistics.median(run.avg_batch or 0.0 for run in runs)
        rows.append(Outcome(**row))
    return rows


def markdown(outcomes: list[Outcome]) -> str:
    baselines = [outcome for outcome in outcomes if outcome.deployment == "baseline"]
    baseline = max(baselines, key=lambda outcome: outcome.per_second) if baselines else None
    lines = [
        "| path | recognitions/s | vs best baseline | p50 ms | p95 ms | p99 ms | CPU ms per recognition "
        "| avg batch |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for outcome in outcomes:
        ratio = f"{outcome.per_second / baseline.per_second:.1f}x" if baseline and baseline.per_second else ""
        batch = f"{outcome.avg_batch:.1f}" if outcome.avg_batch else ""
        lines.append(
            f"| {outcome.name} | {outcome.per_second:,.0f} | {ratio} | {outcome.p50_ms:.1f} | "
            f"{outcome.p95_ms:.1f} | {outcome.p99_ms:.1f} | {outcome.cpu_ms_per_recognition:.2f} | {batch} |"
        )
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> None:
    shared = Path(os.environ.get("DOODLE_SHARED", REPO_ROOT.parent / "shared"))
    recognizer = Recognizer.load(args.checkpoint)
    updates = load_updates(shared, recognizer.labels, args.per_word, args.steps)
    started = time.perf_counter()
    pngs = [render_png(strokes) for _word, strokes in updates]
    print(
        json.dumps(
            {
                "drawing_states": len(updates),
                "classes": len({word for word, _ in updates}),
                "model": recognizer.source,
                "players": args.players,
                "png_bytes_avg": statistics.mean(len(png) for png in pngs),
                "png_render_ms_avg_client_side": (time.perf_counter() - started) / len(pngs) * 1000,
                "points_avg": statistics.mean(sum(len(s) for s in strokes) for _w, strokes in updates),
                "load_avg_before": os.getloadavg(),
            }
        ),
        flush=True,
    )
    outcomes: list[Outcome] = []
    for _round in range(args.rounds):
        if not args.skip_baseline:
            for threads in args.baseline_threads:
                outcomes.append(await run_baseline(args, pngs, threads))
        for clients in args.public:
            outcomes.append(await run_public(args, updates, clients))
        for processes in args.processes:
            for threads in args.embedded_threads:
                for max_batch, wait in parse_batch_settings(args.embedded):
                    outcomes.append(
                        await run_embedded(args, recognizer, updates, max_batch, wait, threads, processes)
                    )
        if args.workers:
            with EmbeddedRedis() as redis_server:
                for count in args.workers:
                    for max_batch, wait in parse_batch_settings(args.worker_batches):
                        outcome = await run_workers(
                            args, redis_server, updates, count, max_batch, wait, recognizer.labels
                        )
                        outcomes.append(outcome)
    print(json.dumps({"load_avg_after": os.getloadavg()}), flush=True)
    table = markdown(medians(outcomes))
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "args": {k: str(v) for k, v in vars(args).items()},
            "outcomes": [asdict(o) for o in outcomes],
        }
        args.out.write_text(json.dumps(report, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--players", type=int, default=64, help="concurrent closed-loop players")
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per configuration")
    parser.add_argument("--warmup", type=float, default=1.5, help="unmeasured seconds before each window")
    parser.add_argument("--rounds", type=int, default=1, help="repeat every configuration, interleaved")
    parser.add_argument("--per-word", type=int, default=5, help="real drawings per class")
    parser.add_argument("--steps", type=int, default=6, help="prefixes per drawing (a phone's updates)")
    parser.add_argument(
        "--embedded", nargs="*", default=["1/0", "8/2", "32/4", "64/4", "128/8"], help="MAX_BATCH/MAX_WAIT_MS"
    )
    parser.add_argument(
        "--embedded-threads", type=int, nargs="*", default=[1], help="torch threads, embedded"
    )
    parser.add_argument(
        "--processes",
        type=int,
        nargs="*",
        default=[0],
        help="embedded: recognition child processes (0 = a thread of the gateway process)",
    )
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2], help="worker process counts")
    parser.add_argument(
        "--worker-batches", nargs="*", default=["64/4"], help="MAX_BATCH/MAX_WAIT_MS, workers"
    )
    parser.add_argument("--worker-threads", type=int, default=1, help="torch threads per worker")
    parser.add_argument("--worker-start-s", type=float, default=30.0, help="longest wait for workers to load")
    parser.add_argument(
        "--baseline-threads", type=int, nargs="*", default=[1, 2], help="torch threads, baseline"
    )
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--baseline-runtime",
        choices=["torch", "onnxruntime"],
        default="torch",
        help="what runs the baseline's network (default torch: the origin served a PyTorch model)",
    )
    parser.add_argument(
        "--public", type=int, nargs="*", default=[], help="public path: WebSocket client counts (e.g. 256)"
    )
    parser.add_argument(
        "--public-rate", type=float, default=40.0, help="public path: most messages/s per client"
    )
    parser.add_argument("--out", type=Path)
    parser.add_argument("--serve-baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        torch.set_num_threads(args.baseline_threads[0])
        serve_baseline(args.serve_baseline, args.checkpoint, args.baseline_runtime)
        return
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
