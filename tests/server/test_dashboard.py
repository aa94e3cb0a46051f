"""The Grafana dashboard asks only for metrics that a real gateway or a real worker exports."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from server.app import running_server
from server.config import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = REPO_ROOT / "deploy" / "grafana-dashboard.json"

# What an expression holds besides metric names: label matchers, ranges, strings, grouping clauses,
# function calls and numbers. Left over are the metric names.
_NOT_METRICS = [
    re.compile(r"\{[^}]*\}"),  # {connected="true"}
    re.compile(r"\[[^\]]*\]"),  # [$__rate_interval]
    re.compile(r"\b(?:by|without)\s*\([^)]*\)"),  # by (phase)
    re.compile(r"\b[a-z_]+\s*\("),  # sum( rate( histogram_quantile(
    re.compile(r"\b\d+(?:\.\d+)?\b"),  # 0.95
]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads."""
    for pattern in _NOT_METRICS:
        expr = pattern.sub(" ", expr)
    return set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))


def exported_names(body: str) -> set[str]:
    """Every series name a scrape can carry: a histogram's _bucket/_sum/_count, a counter's _total."""
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "info": ["_info"]}
    names = set()
    for family in text_string_to_metric_families(body):
        for suffix in suffixes.get(family.type, [""]):
            names.add(family.name + suffix)
    return names


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, expression) of every query of every panel."""
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def test_query_parser_finds_the_metric_names() -> None:
    """The name finder keeps metric names and leaves out functions, labels, ranges and numbers."""
    expr = (
        'histogram_quantile(0.95, sum by (le) (rate(doodle_recognition_latency_seconds_bucket{mode="x"}'
        "[$__rate_interval]))) / max(doodle_rooms)"
    )
    assert metric_names(expr) == {"doodle_recognition_latency_seconds_bucket", "doodle_rooms"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return urllib.request.urlopen(url, timeout=5).read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def worker_metrics_url(redis_url: str) -> Iterator[str]:
    """A real `doodle-party worker` process serving /metrics (started as the CLI starts it); its URL."""
    port = _free_port()
    command = [sys.executable, "-m", "server.cli", "worker", "--redis-url", redis_url, "--log-format", "json"]
    worker = subprocess.Popen(
        [*command, "--metrics-port", str(port), "--metrics-host", "127.0.0.1"],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        worker.terminate()
        worker.wait(timeout=15)


async def test_every_dashboard_query_names_an_exported_metric(
    redis_url: str, worker_metrics_url: str
) -> None:
    """Scrape a real gateway and a real `doodle-party worker`: every metric that any panel query of
    deploy/grafana-dashboard.json reads is in one of the two scrapes."""
    queries = dashboard_queries()
    assert len(queries) >= 20
    async with running_server(Settings(port=0, redis_url=redis_url)) as server:
        gateway_body = await asyncio.to_thread(_get, f"http://127.0.0.1:{server.port}/metrics")
    worker_body = await asyncio.to_thread(_get, worker_metrics_url)
    exported = exported_names(gateway_body) | exported_names(worker_body)
    assert "doodle_worker_jobs_total" in exported and "doodle_rooms" in exported
    # A worker exports no gateway figures, so per-instance panels show gateways only.
    assert "doodle_connections" not in exported_names(worker_body)
    missing = []
    for title, expr in queries:
        names = metric_names(expr)
        if not names:
            missing.append((title, expr, "reads no metric"))
        missing += [(title, expr, name) for name in sorted(names - exported)]
    assert not missing, missing


@pytest.mark.parametrize("title", ["Rooms by phase", "Players and spectators", "Games in play"])
def test_deployment_panels_take_the_max_over_gateways(title: str) -> None:
    """Every gateway reports the same deployment-wide census, so its panels take max, never sum."""
    for panel_title, expr in dashboard_queries():
        if panel_title == title:
            assert expr.startswith("max"), expr
