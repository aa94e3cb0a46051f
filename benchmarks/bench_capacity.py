"""Capacity of a Doodle Party deployment, measured with the load-testing bots (``doodle-party bots``).

Three measurements, each on servers this script starts itself (``doodle-party serve`` on free
loopback ports, in a scratch directory) and stops afterwards:

- ``capacity``: one gateway with the embedded defaults (embedded Redis, recognition in-process).
  Bots in a separate process play whole games at increasing numbers of players; a level passes when
  every game completed, nothing was lost, no error came back, and the p99 of
  ``stroke_to_guess_unthrottled`` is under 100 ms (the p99 of ``stroke_to_guess``, which includes the
  server's deliberate 150 ms guess interval, is reported beside it; see docs/bots.md). Besides
  latency, each level reports the CPU time the server spent per stroke message and per
  drawing-player-second, which other load on the machine barely moves.
- ``idle``: memory per idle connected player: RSS of the gateway (and of its Redis) before and after
  opening N connections that say hello and sit in lobby rooms of 8, and what that means for 1 GiB.
- ``scaleout``: 1 redis-server + 2 gateways (``--recognition workers``) + 2 ``doodle-party worker``
  processes; the bots of every room are spread over both gateways, so every room spans two nodes.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_capacity.py capacity --levels 20,40,80,120,160 --profile
    .venv/bin/python benchmarks/bench_capacity.py idle --connections 1000,3000
    .venv/bin/python benchmarks/bench_capacity.py scaleout --players 80
    .venv/bin/python benchmarks/bench_capacity.py all --out runs/bench_capacity.json

``--profile`` samples the gateway with py-spy (``pip install py-spy`` into .venv; not a project
dependency) in non-blocking mode during the last passing level and prints where its time goes.
Every wait is bounded; only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DOODLE = str(BIN / "doodle-party")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0
P99_LIMIT_MS = 100.0


# ---------------------------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc)."""
    parents: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                parents[int(stat.rsplit(")", 1)[1].split()[1])].append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def command_name(pid: int) -> str:
    """The process's command name (``/proc/PID/comm``); "" if it is gone."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def rss_mb(pid: int) -> float:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except OSError:
        return 0.0
    return pages * PAGE_KB / 1024


def machine_busy_seconds() -> float:
    """CPU seconds all cores of the machine spent not idle since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / CLOCK_TICKS


def cpu_pressure() -> float | None:
    """Share of the last 10 s in which some task waited for a CPU (Linux PSI), in %."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        return float(Path("/proc/pressure/cpu").read_text().split()[1].split("=")[1])
    return None


@dataclass
class Service:
    """A server process this script started."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    port: int | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def cpu(self) -> dict[str, float]:
        """CPU seconds of the process, of all its children, and of the children that are the embedded
        redis-server (the rest are recognition processes and their forkserver)."""
        descendants = children(self.process.pid)
        redis = [child for child in descendants if command_name(child) == "redis-server"]
        return {
            "self": cpu_seconds(self.process.pid),
            "children": sum(cpu_seconds(child) for child in descendants),
            "redis": sum(cpu_seconds(child) for child in redis),
        }

    def rss(self) -> dict[str, float]:
        return {
            "self": rss_mb(self.process.pid),
            "children": sum(rss_mb(child) for child in children(self.process.pid)),
        }


class Cluster:
    """Starts services in a scratch directory and stops them all, whatever happens."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="bench-capacity-"))
        self.services: list[Service] = []

    def start(self, name: str, argv: list[str], port: int | None = None) -> Service:
        log = self.workdir / f"{name}.log"
        # Every bot comes from loopback: lift the per-address look-up and creation limits.
        env = {
            **os.environ,
            "DOODLE_LOG_LEVEL": "warning",
            "DOODLE_JOIN_ATTEMPTS_PER_MINUTE": "100000",
            "DOODLE_ROOMS_PER_MINUTE": "100000",
        }
        with log.open("wb") as out:
            process = subprocess.Popen(argv, cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT, env=env)
        service = Service(name, process, log, port)
        self.services.append(service)
        return service

    def gateway(self, name: str, redis_url: str | None = None, recognition: str | None = None) -> Service:
        port = free_port()
        argv = [DOODLE, "serve", "--port", str(port), "--log-level", "warning"]
        if redis_url:
            argv += ["--redis-url", redis_url]
        if recognition:
            argv += ["--recognition", recognition]
        service = self.start(name, argv, port)
        wait_healthy(service)
        return service

    def redis(self) -> tuple[Service, str]:
        from server.redis_embedded import redis_server_binary

        port = free_port()
        argv = [
            redis_server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        service = self.start("redis", argv, port)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                return service, f"redis://127.0.0.1:{port}/0"
            time.sleep(0.1)
        raise RuntimeError(f"redis-server did not start; see {service.log}")

    def close(self) -> None:
        for service in reversed(self.services):
            if service.process.poll() is None:
                service.process.send_signal(signal.SIGTERM)
        for service in reversed(self.services):
            try:
                service.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait(STOP_TIMEOUT_S)
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextlib.contextmanager
def cluster() -> Iterator[Cluster]:
    running = Cluster()
    try:
        yield running
    finally:
        running.close()


def wait_healthy(service: Service) -> None:
    """Poll GET /healthz until it answers 200 (the gateway loads its model first)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(
                f"{service.name} exited; see {service.log}:\n{service.log.read_text()[-2000:]}"
            )
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"http://127.0.0.1:{service.port}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        time.sleep(0.3)
    raise RuntimeError(f"{service.name} not healthy within {START_TIMEOUT_S:.0f}s; see {service.log}")


# ---------------------------------------------------------------------------------------------- bots


@dataclass
class LevelResult:
    """One bots run against one deployment, with the CPU each process used."""

    players: int
    rooms: int
    report: dict[str, Any]
    wall_s: float
    cpu_s: dict[str, float]
    machine_busy_cores: float
    cpu_pressure_pct: float | None
    passed: bool = False
    profile: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        lat = self.report["latency_ms"]
        strokes = self.report["strokes"]["sent"]
        drawing_mean = self.report["drawing_players"]["mean"]
        # "<service>.redis" is the part of "<service>.children" that is Redis: shown, not added twice.
        whole = {k: v for k, v in self.cpu_s.items() if not k.endswith(".redis")}
        gateway_cpu = sum(v for k, v in whole.items() if k.startswith(("gateway", "worker")))
        ours = sum(whole.values())
        return {
            "players": self.players,
            "rooms": self.rooms,
            "passed": self.passed,
            "ok": self.report["ok"],
            "drawing_mean": drawing_mean,
            "drawing_max": self.report["drawing_players"]["max"],
            "strokes_per_s": round(strokes / self.wall_s, 1),
            "messages_in_per_s": round(self.report["messages"]["received"] / self.wall_s, 1),
            "p99_stroke_to_guess": lat["stroke_to_guess"]["p99"],
            "p99_stroke_to_guess_unthrottled": lat["stroke_to_guess_unthrottled"]["p99"],
            "p50_stroke_to_guess_unthrottled": lat["stroke_to_guess_unthrottled"]["p50"],
            "p99_pen_up_to_guess": lat["pen_up_to_guess"]["p99"],
            "p99_stroke_to_relay": lat["stroke_to_relay"]["p99"],
            "lost": self.report["lost"],
            "errors": self.report["errors"],
            "errors_by_code": self.report["errors_by_code"],
            "late_strokes": self.report["late_strokes"],
            "disconnects": self.report["disconnects"],
            "failures": self.report["failures"][:5],
            "lost_examples": self.report["lost_examples"][:5],
            "error_examples": self.report["error_examples"][:5],
            "games": f"{self.report['games_completed']}/{self.report['games_started']}",
            "recognition_rate": self.report["recognition_rate"],
            "cpu_cores": {name: round(value / self.wall_s, 2) for name, value in self.cpu_s.items()},
            "server_cpu_ms_per_stroke": round(1000 * gateway_cpu / max(strokes, 1), 3),
            "server_cpu_ms_per_drawing_player_s": round(
                1000 * gateway_cpu / max(drawing_mean * self.wall_s, 1), 2
            ),
            "machine_busy_cores": round(self.machine_busy_cores, 2),
            "others_cores": round(self.machine_busy_cores - ours / self.wall_s, 2),
            "cpu_pressure_pct": self.cpu_pressure_pct,
        }


def bots_argv(
    args: argparse.Namespace, urls: Sequence[str], players: int, out: Path
) -> tuple[list[str], int]:
    rooms = max(1, players // args.room_players)
    argv = [
        DOODLE, "bots", "--url", ",".join(urls),
        "--rooms", str(rooms), "--players", str(args.room_players), "--spectators", str(args.spectators),
        "--duration", str(args.seconds), "--stagger", str(args.stagger), "--rounds", str(args.rounds),
        "--round-seconds", str(args.round_seconds), "--results-seconds", "1",
        "--ramp", str(args.ramp), "--json", str(out), "--seed", "1",
    ]  # fmt: skip
    if args.msgpack:
        argv.append("--msgpack")
    if args.batch_ms is not None:
        argv += ["--batch-ms", str(args.batch_ms)]
    return argv, rooms


def run_bots_level(
    args: argparse.Namespace,
    services: Sequence[Service],
    players: int,
    *,
    profile_s: float = 0.0,
) -> LevelResult:
    """Run the bots once against ``services`` (gateways first) and collect their report and CPU use."""
    gateways = [s for s in services if s.name.startswith("gateway")]
    out = Path(tempfile.mkstemp(prefix="bots-", suffix=".json")[1])
    argv, rooms = bots_argv(args, [g.url for g in gateways], players, out)
    before = {s.name: s.cpu() for s in services}
    busy_before = machine_busy_seconds()
    started = time.monotonic()
    log = out.with_suffix(".log")
    with log.open("wb") as sink:
        bots = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT)
    profile: dict[str, Any] = {}
    if profile_s:
        time.sleep(min(10.0, args.seconds / 3))  # past the ramp-up
        profile = profile_gateway(gateways[0], profile_s)
    timeout = args.seconds + args.stagger + args.rounds * (args.round_seconds + 6) + players / args.ramp + 120
    bots_cpu = 0.0
    while bots.poll() is None and time.monotonic() - started < timeout:
        bots_cpu = max(bots_cpu, cpu_seconds(bots.pid))  # read while it lives; gone once reaped
        time.sleep(0.25)
    if bots.poll() is None:
        bots.kill()
    bots.wait()
    wall = time.monotonic() - started
    output = log.read_bytes()
    log.unlink(missing_ok=True)
    after = {s.name: s.cpu() for s in services}
    cpu: dict[str, float] = {}
    for service in services:
        cpu[service.name] = after[service.name]["self"] - before[service.name]["self"]
        if after[service.name]["children"] or before[service.name]["children"]:
            cpu[f"{service.name}.children"] = (
                after[service.name]["children"] - before[service.name]["children"]
            )
        if after[service.name]["redis"] or before[service.name]["redis"]:
            cpu[f"{service.name}.redis"] = after[service.name]["redis"] - before[service.name]["redis"]
    cpu["bots"] = bots_cpu
    try:
        report = json.loads(out.read_text())
    except (OSError, ValueError):
        raise RuntimeError(f"the bots wrote no report:\n{output.decode(errors='replace')[-3000:]}") from None
    finally:
        out.unlink(missing_ok=True)
    result = LevelResult(
        players=players,
        rooms=rooms,
        report=report,
        wall_s=wall,
        cpu_s=cpu,
        machine_busy_cores=(machine_busy_seconds() - busy_before) / wall,
        cpu_pressure_pct=cpu_pressure(),
        profile=profile,
    )
    unthrottled = report["latency_ms"]["stroke_to_guess_unthrottled"]["p99"]
    result.passed = bool(report["ok"]) and unthrottled is not None and unthrottled < P99_LIMIT_MS
    return result


# ---------------------------------------------------------------------------------------------- profile


def profile_gateway(gateway: Service, seconds: float) -> dict[str, Any]:
    """Sample the gateway with py-spy (non-blocking: the server is never paused) and sum where time goes."""
    py_spy = shutil.which("py-spy", path=str(BIN)) or shutil.which("py-spy")
    if py_spy is None:
        return {"error": "py-spy not installed (pip install py-spy into .venv)"}
    raw = Path(tempfile.mkstemp(prefix="pyspy-", suffix=".txt")[1])
    argv = [py_spy, "record", "--nonblocking", "--threads", "--idle", "-r", "100", "-d", str(int(seconds)),
            "-f", "raw", "-o", str(raw), "-p", str(gateway.process.pid)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, timeout=seconds + 60, check=False)
    if done.returncode != 0 or not raw.exists():
        return {"error": done.stderr.decode(errors="replace")[-500:]}
    summary = summarize_profile(raw.read_text())
    raw.unlink(missing_ok=True)
    return summary


# What each bucket means, matched against a function name anywhere in a sample's stack (first match
# wins, in this order).
PROFILE_BUCKETS: list[tuple[str, tuple[str, ...]]] = [
    ("idle (waiting in epoll)", ("EpollSelector.select",)),
    ("recognition: rasterize", ("Recognizer.rasterize",)),
    ("recognition: model", ("Recognizer.predict_rasters",)),
    ("recognition: other (thread)", ("LocalRecognition._predict_batch", "judge", "recognize_batch")),
    ("recognition: scheduling (event loop)", ("ScheduledRecognition", "MicroBatcher")),
    ("stroke in: Redis append + relay publish", ("RoomStore.append_stroke",)),
    ("stroke in: recognition hand-off", ("Gateway._stroke",)),
    ("guess/recognized out (on_recognition)", ("Gateway.on_recognition",)),
    ("room transitions (transact)", ("Gateway.transact",)),
    ("fan-out of published messages", ("Gateway._read_published",)),
    ("socket writes (per-client writer)", ("Gateway._write_loop",)),
    ("frame read + parse", ("Gateway._read_loop",)),
    ("websockets protocol (data_received)", ("_read_ready", "data_received")),
]


def summarize_profile(raw: str) -> dict[str, Any]:
    """Share of samples per bucket, per thread, and the top functions by own time."""
    per_thread: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = stack.split(";")
        thread = frames[0].split(":")[-1].strip() if frames[0].startswith("thread") else "?"
        names = [frame.split(" (")[0] for frame in frames[1:]]
        bucket = next(
            (label for label, keys in PROFILE_BUCKETS if any(k in n for n in names for k in keys)), None
        )
        if bucket is None:
            bucket = "thread pool idle" if names and names[-1] == "_worker" else "other"
        per_thread[thread][bucket] += samples
        if bucket not in ("idle (waiting in epoll)", "thread pool idle") and names:
            own[names[-1]] += samples
        total += samples
    return {
        "samples": total,
        "threads": {
            thread: {bucket: round(100 * n / sum(counts.values()), 1) for bucket, n in counts.most_common()}
            for thread, counts in per_thread.items()
        },
        "top_own": [(name, round(100 * n / max(total, 1), 1)) for name, n in own.most_common(15)],
    }


# ---------------------------------------------------------------------------------------------- measurements


def measure_capacity(args: argparse.Namespace) -> dict[str, Any]:
    """Increasing levels against one embedded gateway (a fresh one per level) until one fails."""
    levels: list[LevelResult] = []
    for players in args.levels:
        with cluster() as running:
            gateway = running.gateway("gateway")
            print(f"capacity: {players} players ...", file=sys.stderr, flush=True)
            result = run_bots_level(args, [gateway], players)
        levels.append(result)
        print(json.dumps(result.summary()), file=sys.stderr, flush=True)
        if not result.passed and not args.keep_going:
            break
    passing = [level for level in levels if level.passed]
    profile: dict[str, Any] = {}
    if args.profile and levels:
        target = (passing or levels)[-1].players
        with cluster() as running:
            gateway = running.gateway("gateway")
            print(f"capacity: profiling at {target} players ...", file=sys.stderr, flush=True)
            profiled = run_bots_level(args, [gateway], target, profile_s=min(30.0, args.seconds))
        profile = {"players": target, "summary": profiled.summary(), **profiled.profile}
    return {
        "levels": [level.summary() for level in levels],
        "largest_passing": passing[-1].players if passing else 0,
        "profile": profile,
    }


async def _open_idle_players(url: str, count: int, per_second: float) -> list[ClientConnection]:
    """``count`` players that say hello and sit in lobby rooms of 8 (public protocol only)."""
    sockets: list[ClientConnection] = []
    code = ""
    for index in range(count):
        ws = await connect(url, compression=None, ping_interval=None, open_timeout=10)
        await ws.send(json.dumps({"type": "hello", "name": f"idle{index}", "canvas": [390, 844]}))
        json.loads(await asyncio.wait_for(ws.recv(), 10))
        if index % 8 == 0:
            await ws.send(json.dumps({"type": "create_room", "settings": {"rounds": 1}}))
        else:
            await ws.send(json.dumps({"type": "join_room", "code": code}))
        while True:  # skip nothing but what we asked for: the room snapshot
            reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if reply["type"] == "room":
                code = reply["code"]
                break
            if reply["type"] == "error":
                raise RuntimeError(f"idle player {index}: {reply}")
        sockets.append(ws)
        await asyncio.sleep(1 / per_second)
    return sockets


async def _hold_and_measure(
    gateway: Service, counts: Sequence[int], settle_s: float
) -> list[dict[str, float]]:
    points = []
    sockets: list[ClientConnection] = []
    # Warm-up: the first connections allocate what every later one reuses (code paths, pools).
    warm = await _open_idle_players(gateway.url, 16, 200)
    for ws in warm:
        await ws.close()
    await asyncio.sleep(settle_s)
    base = gateway.rss()
    points.append({"connections": 0, "gateway_mb": base["self"], "redis_mb": base["children"]})
    try:
        for count in counts:
            sockets += await _open_idle_players(gateway.url, count - len(sockets), 400)
            await asyncio.sleep(settle_s)
            now = gateway.rss()
            points.append({"connections": count, "gateway_mb": now["self"], "redis_mb": now["children"]})
            print(f"idle: {count} connections: {now}", file=sys.stderr, flush=True)
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return points


def measure_idle(args: argparse.Namespace) -> dict[str, Any]:
    """RSS of the gateway and its Redis with N idle players connected."""
    with cluster() as running:
        gateway = running.gateway("gateway")
        points = asyncio.run(_hold_and_measure(gateway, args.connections, args.settle))
    base, last = points[0], points[-1]
    per_kb = 1024 * (last["gateway_mb"] - base["gateway_mb"]) / last["connections"]
    redis_kb = 1024 * (last["redis_mb"] - base["redis_mb"]) / last["connections"]
    # The slope between the last two points leaves out what the first connections cost once.
    if len(points) >= 3:
        a, b = points[-2], points[-1]
        slope_kb = 1024 * (b["gateway_mb"] - a["gateway_mb"]) / (b["connections"] - a["connections"])
    else:
        slope_kb = per_kb
    fits = int((1024 - base["gateway_mb"]) * 1024 / max(slope_kb, 1e-9))
    return {
        "points": points,
        "gateway_kb_per_idle_player": round(per_kb, 1),
        "gateway_kb_per_idle_player_slope": round(slope_kb, 1),
        "redis_kb_per_idle_player": round(redis_kb, 1),
        "gateway_base_mb": round(base["gateway_mb"], 1),
        "idle_players_in_1_gib": fits,
    }


def measure_scaleout(args: argparse.Namespace) -> dict[str, Any]:
    """2 gateways + 2 workers + 1 Redis, every room spread over both gateways; beside 1 embedded gateway."""
    results: dict[str, Any] = {}
    for players in args.scale_players:
        with cluster() as running:
            _redis, redis_url = running.redis()
            gateways = [running.gateway(f"gateway{i}", redis_url, "workers") for i in (1, 2)]
            workers = [
                running.start(f"worker{i}", [DOODLE, "worker", "--redis-url", redis_url, "--threads", "1"])
                for i in (1, 2)
            ]
            services = [*gateways, *workers, _redis]
            print(f"scaleout: {players} players over 2 gateways ...", file=sys.stderr, flush=True)
            spread = run_bots_level(args, services, players)
        with cluster() as running:
            single = running.gateway("gateway")
            print(f"scaleout: {players} players on 1 embedded gateway ...", file=sys.stderr, flush=True)
            alone = run_bots_level(args, [single], players)
        results[str(players)] = {"two_gateways": spread.summary(), "one_gateway": alone.summary()}
        print(json.dumps(results[str(players)]), file=sys.stderr, flush=True)
    return results


# ---------------------------------------------------------------------------------------------- main


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "cpu_pressure_pct": cpu_pressure(),
        "python": sys.version.split()[0],
    }


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    def numbers(text: str) -> list[int]:
        return [int(part) for part in text.split(",") if part.strip()]

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["capacity", "idle", "scaleout", "all"])
    parser.add_argument("--levels", type=numbers, default=[20, 40, 80, 120, 160, 240, 320])
    parser.add_argument("--keep-going", action="store_true", help="run every level even after a failure")
    parser.add_argument("--profile", action="store_true", help="py-spy the gateway at the last passing level")
    parser.add_argument("--seconds", type=float, default=30.0, help="bots --duration per level")
    parser.add_argument("--room-players", type=int, default=4, help="players per room")
    parser.add_argument("--spectators", type=int, default=1, help="spectators per room")
    parser.add_argument("--stagger", type=float, default=10.0, help="bots --stagger")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--round-seconds", type=int, default=15)
    parser.add_argument("--ramp", type=float, default=100.0)
    parser.add_argument(
        "--batch-ms", type=int, help="the bots' flush timer (default: the reference client's 50 ms)"
    )
    parser.add_argument("--json-wire", dest="msgpack", action="store_false", help="bots speak JSON")
    parser.add_argument("--connections", type=numbers, default=[1000, 3000], help="idle: connection counts")
    parser.add_argument("--settle", type=float, default=5.0, help="idle: seconds before reading RSS")
    parser.add_argument("--scale-players", type=numbers, default=[80], help="scaleout: players")
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    results: dict[str, Any] = {
        "machine_before": machine(),
        "settings": {k: str(v) for k, v in vars(args).items()},
    }
    if args.what in ("capacity", "all"):
        results["capacity"] = measure_capacity(args)
    if args.what in ("idle", "all"):
        results["idle"] = measure_idle(args)
    if args.what in ("scaleout", "all"):
        results["scaleout"] = measure_scaleout(args)
    results["machine_after"] = machine()
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
