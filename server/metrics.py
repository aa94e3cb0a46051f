"""Prometheus metrics of one process: `prometheus_client` collectors behind keyword-label helpers.

Every process (gateway or worker) exports the client's process, platform and garbage-collector
metrics, ``doodle_build_info`` and ``doodle_uptime_seconds``; modules add their own with the helpers.
docs/operations.md lists every metric and says what it counts.

Usage::

    from server import metrics

    messages_in = metrics.counter("doodle_messages_in_total", "Client messages received.", ["type"])
    messages_in.inc(type="stroke")
    metrics.gauge("doodle_local_rooms", "Rooms held by this gateway.").set(12)
    metrics.histogram("doodle_send_seconds", "Time to send one frame.").observe(0.002)
    body, content_type = metrics.exposition(accept_header)

Why helpers over the client's own objects: call sites name labels as keywords on the call itself
(``JOBS.inc(mode="embedded", deciding=True)``), booleans become "true"/"false" as Prometheus writes
them, and asking twice for one name returns the same metric (modules of one process and tests that
start several servers share them) instead of the client's "Duplicated timeseries" error.
"""

from __future__ import annotations

import platform
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata

import prometheus_client
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

__all__ = [
    "DEFAULT_BUCKETS",
    "LATENCY_BUCKETS",
    "REGISTRY",
    "Counter",
    "Gauge",
    "Histogram",
    "Metrics",
    "counter",
    "exposition",
    "gauge",
    "histogram",
    "with_process_metrics",
]

# `x_created` series double every counter and histogram and no dashboard of ours reads them.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

# Seconds, for request-style latencies (Prometheus client's defaults).
DEFAULT_BUCKETS: tuple[float, ...] = prometheus_client.Histogram.DEFAULT_BUCKETS[:-1]
# Seconds, finer at the low end where batched inference lives.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.002,
    0.004,
    0.008,
    0.016,
    0.032,
    0.064,
    0.128,
    0.256,
    0.512,
    1.024,
    2.048,
    4.096,
)

LabelValue = str | int | float | bool


def _label_values(labelnames: tuple[str, ...], labels: dict[str, LabelValue], name: str) -> list[str]:
    if set(labels) != set(labelnames):
        raise ValueError(f"{name} takes labels {labelnames}, got {tuple(labels)}")
    return [
        ("true" if labels[key] else "false") if isinstance(labels[key], bool) else str(labels[key])
        for key in labelnames
    ]


class _Metric:
    """A client metric and its label names; ``_child(**labels)`` picks one series."""

    kind = "untyped"

    def __init__(
        self, name: str, labelnames: Sequence[str], metric: MetricWrapperBase, registry: CollectorRegistry
    ):
        self.name = name
        self.labelnames: tuple[str, ...] = tuple(labelnames)
        self._metric = metric
        self._registry = registry
        # Series already looked up, by their labels as given: a hot path (every message in) skips
        # prometheus_client's validation and locking once a series exists.
        self._children: dict[tuple[tuple[str, LabelValue], ...], MetricWrapperBase] = {}

    def _sample(self, sample_name: str, labels: dict[str, LabelValue]) -> float:
        values = _label_values(self.labelnames, labels, self.name)
        value = self._registry.get_sample_value(sample_name, dict(zip(self.labelnames, values, strict=True)))
        return 0.0 if value is None else value

    def _child(self, labels: dict[str, LabelValue]) -> MetricWrapperBase:
        if not self.labelnames:
            if labels:
                raise ValueError(f"{self.name} takes no labels, got {tuple(labels)}")
            return self._metric
        key = tuple(labels.items())
        child = self._children.get(key)
        if child is None:
            child = self._metric.labels(*_label_values(self.labelnames, labels, self.name))
            self._children[key] = child
        return child

    def remove(self, **labels: LabelValue) -> None:
        """Forget one series (a closed component's gauge)."""
        values = _label_values(self.labelnames, labels, self.name)
        self._children.clear()
        try:
            self._metric.remove(*values)
        except KeyError:
            pass  # never set: nothing to forget


class Counter(_Metric):
    """A value that only goes up (requests, errors, guesses)."""

    kind = "counter"

    def inc(self, amount: float = 1.0, **labels: LabelValue) -> None:
        """Add `amount` (>= 0) to the series named by `labels`.

        Raises:
            ValueError: a negative amount, or labels other than the counter's label names.
        """
        self._child(labels).inc(amount)  # type: ignore[attr-defined]

    def value(self, **labels: LabelValue) -> float:
        """Current value of one series (0 if never incremented)."""
        return self._sample(self.name, labels)


class Gauge(_Metric):
    """A value that goes up and down (connections, queue depth); may be computed at scrape time."""

    kind = "gauge"

    def set(self, value: float, **labels: LabelValue) -> None:
        """Set the series named by `labels` to `value`."""
        self._child(labels).set(value)  # type: ignore[attr-defined]

    def inc(self, amount: float = 1.0, **labels: LabelValue) -> None:
        """Add `amount` (may be negative) to the series named by `labels`."""
        self._child(labels).inc(amount)  # type: ignore[attr-defined]

    def dec(self, amount: float = 1.0, **labels: LabelValue) -> None:
        """Subtract `amount` from the series named by `labels`."""
        self._child(labels).dec(amount)  # type: ignore[attr-defined]

    def set_function(self, function: Callable[[], float], **labels: LabelValue) -> None:
        """Read the series from `function()` at every scrape (e.g. a queue's current length)."""
        self._child(labels).set_function(function)  # type: ignore[attr-defined]

    def value(self, **labels: LabelValue) -> float:
        """Current value of one series (0 if never set)."""
        return self._sample(self.name, labels)


class Histogram(_Metric):
    """Observations counted into cumulative buckets, with their sum and count (latencies, sizes)."""

    kind = "histogram"

    def observe(self, value: float, **labels: LabelValue) -> None:
        """Record one observation in the series named by `labels`."""
        self._child(labels).observe(value)  # type: ignore[attr-defined]

    def count(self, **labels: LabelValue) -> int:
        """How many observations the series holds."""
        return int(self._sample(self.name + "_count", labels))


class Metrics:
    """Get-or-create access to the metrics of one `CollectorRegistry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._metrics: dict[str, _Metric] = {}
        self._lock = threading.Lock()

    def _get_or_create(
        self, kind: type[_Metric], name: str, labelnames: Sequence[str], factory: Callable[[], _Metric]
    ) -> _Metric:
        with self._lock:
            metric = self._metrics.get(name)
            if metric is None:
                metric = self._metrics[name] = factory()
        if type(metric) is not kind:
            raise ValueError(f"{name} is already registered as a {metric.kind}")
        if metric.labelnames != tuple(labelnames):
            raise ValueError(f"{name} has labels {metric.labelnames}, asked for {tuple(labelnames)}")
        return metric

    def counter(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Counter:
        """Get or create a counter (`name` ends in ``_total``).

        Raises:
            ValueError: `name` exists as another type or with other label names.
        """

        def create() -> Counter:
            client = prometheus_client.Counter(name, help_text, labelnames, registry=self.registry)
            return Counter(name, labelnames, client, self.registry)

        metric = self._get_or_create(Counter, name, labelnames, create)
        assert isinstance(metric, Counter)
        return metric

    def gauge(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Gauge:
        """Get or create a gauge.

        Raises:
            ValueError: `name` exists as another type or with other label names.
        """

        def create() -> Gauge:
            client = prometheus_client.Gauge(name, help_text, labelnames, registry=self.registry)
            return Gauge(name, labelnames, client, self.registry)

        metric = self._get_or_create(Gauge, name, labelnames, create)
        assert isinstance(metric, Gauge)
        return metric

    def histogram(
        self,
        name: str,
        help_text: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> Histogram:
        """Get or create a histogram (`buckets` only matter on creation).

        Raises:
            ValueError: `name` exists as another type or with other label names.
        """

        def create() -> Histogram:
            client = prometheus_client.Histogram(
                name, help_text, labelnames, registry=self.registry, buckets=tuple(buckets)
            )
            return Histogram(name, labelnames, client, self.registry)

        metric = self._get_or_create(Histogram, name, labelnames, create)
        assert isinstance(metric, Histogram)
        return metric


# The client's default registry: it already holds the process, platform and gc collectors.
REGISTRY = Metrics(prometheus_client.REGISTRY)


def counter(name: str, help_text: str, labelnames: Sequence[str] = ()) -> Counter:
    """Get or create a counter in the process-wide registry."""
    return REGISTRY.counter(name, help_text, labelnames)


def gauge(name: str, help_text: str, labelnames: Sequence[str] = ()) -> Gauge:
    """Get or create a gauge in the process-wide registry."""
    return REGISTRY.gauge(name, help_text, labelnames)


def histogram(
    name: str, help_text: str, labelnames: Sequence[str] = (), buckets: Sequence[float] = DEFAULT_BUCKETS
) -> Histogram:
    """Get or create a histogram in the process-wide registry."""
    return REGISTRY.histogram(name, help_text, labelnames, buckets)


# -- build and uptime: every process -----------------------------------------------------------------

_STARTED_AT = time.monotonic()


def _version() -> str:
    try:
        return metadata.version("doodle-party")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


prometheus_client.Info("doodle_build", "The running release of Doodle Party.").info(
    {"version": _version(), "python": platform.python_version()}
)
gauge("doodle_uptime_seconds", "Seconds since this process started serving metrics.").set_function(
    lambda: time.monotonic() - _STARTED_AT
)


# -- exposition --------------------------------------------------------------------------------------


class _Forward(Collector):
    """Collects another registry, so one scrape can join the process's and a server's own metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[prometheus_client.Metric]:
        return self._registry.collect()

    def describe(self) -> Iterable[prometheus_client.Metric]:
        return []  # no duplicate check against the forwarded registry: the names are disjoint


def with_process_metrics(own: CollectorRegistry) -> CollectorRegistry:
    """A registry that collects `own` and then the process-wide one (what a gateway's /metrics shows)."""
    joined = CollectorRegistry(auto_describe=False)
    joined.register(_Forward(own))
    joined.register(_Forward(prometheus_client.REGISTRY))
    return joined


def exposition(
    accept_header: str | None, registry: CollectorRegistry = prometheus_client.REGISTRY
) -> tuple[bytes, str]:
    """The body and Content-Type of a scrape: OpenMetrics when the scraper asks for it, else text 0.0.4."""
    encoder, content_type = choose_encoder(accept_header or "")
    return encoder(registry), content_type
