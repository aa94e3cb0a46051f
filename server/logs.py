"""structlog set-up: JSON lines when not on a terminal, coloured console lines when on one."""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog


def _finite_numbers(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """NaN and infinities are not JSON: a statistic with no samples yet is logged as null."""
    for key, value in event.items():
        if isinstance(value, float) and not math.isfinite(value):
            event[key] = None
    return event


class _HandshakeFailures(logging.Filter):
    """websockets logs every request it cannot upgrade or parse (``HEAD /healthz`` from an uptime
    check, a port scanner) with two chained tracebacks. It is the peer's mistake, not ours: one line,
    and only when debugging."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() != "opening handshake failed" or not record.exc_info:
            return True
        exc = record.exc_info[1]
        cause = exc.__cause__ if exc is not None and exc.__cause__ is not None else exc
        record.msg, record.args, record.exc_info, record.exc_text = (
            f"opening handshake failed: {cause}",
            None,
            None,
            None,
        )
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def configure_logging(level: str = "info", log_format: str = "auto") -> None:
    """Configure structlog and the stdlib root logger once, for the whole process.

    Args:
        level: debug, info, warning or error.
        log_format: "json", "console", or "auto" (console when stderr is a terminal).
    """
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        raise ValueError(f"unknown log level {level!r}")
    use_console = log_format == "console" or (log_format == "auto" and sys.stderr.isatty())
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer() if use_console else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            _finite_numbers,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries (websockets, redis) log through the stdlib; keep them quiet unless debugging.
    logging.basicConfig(level=max(numeric_level, logging.WARNING), stream=sys.stderr, format="%(message)s")
    handshake = logging.getLogger("websockets.server")
    if not any(isinstance(f, _HandshakeFailures) for f in handshake.filters):
        handshake.addFilter(_HandshakeFailures())
