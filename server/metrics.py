"""Counters, gauges and histograms, rendered in the Prometheus text exposition format 0.0.4.

Hand-written instead of `prometheus_client`: the server needs three metric types, labels and one
`render()`; that is about a hundred lines, with no global collectors, multiprocess mode or extra
dependency to configure.

Usage::

    from server import metrics

    messages_in = metrics.counter("doodle_messages_in_total", "Client messages received.", ["type"])
    messages_in.inc(type="stroke")
    metrics.gauge("doodle_rooms", "Rooms held by this gateway.").set(12)
    metrics.histogram("doodle_send_seconds", "Time to send one frame.").observe(0.002)
    body = metrics.render()  # serve with CONTENT_TYPE on GET /metrics

`counter`, `gauge` and `histogram` get or create a metric in the process-wide `REGISTRY`, so two
modules asking for the same name share it; asking again with another type or other label names raises
`ValueError`. Every method is safe to call from any thread (the batcher's inference thread included).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_BUCKETS",
    "LATENCY_BUCKETS",
    "REGISTRY",
    "Counter",
    "Gauge",
    "Histogram",
    "Metrics",
    "counter",
    "gauge",
    "histogram",
    "render",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds, for request-style latencies (Prometheus client's defaults).
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    10.0,
)
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

LabelValues = tuple[str, ...]


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _label_text(names: Sequence[str], values: Sequence[str], extra: tuple[str, str] | None = None) -> str:
    pairs = [f'{name}="{_escape_label(value)}"' for name, value in zip(names, values, strict=True)]
    if extra is not None:
        pairs.append(f'{extra[0]}="{_escape_label(extra[1])}"')
    return "{" + ",".join(pairs) + "}" if pairs else ""


class _Metric:
    """Common part: a name, help text, label names and one value slot per label combination."""

    kind = "untyped"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str]) -> None:
        self.name = name
        self.help = help_text
        self.labelnames: tuple[str, ...] = tuple(labelnames)
        self._lock = threading.Lock()

    def _key(self, labels: dict[str, str | int | float | bool]) -> LabelValues:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {tuple(labels)}")
        # Booleans as Prometheus writes them elsewhere: "true"/"false".
        return tuple(
            ("true" if labels[name] else "false") if isinstance(labels[name], bool) else str(labels[name])
            for name in self.labelnames
        )

    def samples(self) -> Iterable[str]:
        raise NotImplementedError

    def render(self) -> str:
        head = f"# HELP {self.name} {_escape_help(self.help)}\n# TYPE {self.name} {self.kind}\n"
        return head + "".join(line + "\n" for line in self.samples())


class Counter(_Metric):
    """A value that only goes up (requests, errors, guesses)."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labelnames)
        self._values: dict[LabelValues, float] = {}

    def inc(self, amount: float = 1.0, **labels: str | int | float | bool) -> None:
        """Add `amount` (>= 0) to the series named by `labels`.

        Raises:
            ValueError: a negative amount, or labels other than the counter's label names.
        """
        if amount < 0:
            raise ValueError(f"{self.name}: a counter cannot go down ({amount})")
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str | int | float | bool) -> float:
        """Current value of one series (0 if never incremented)."""
        key = self._key(labels)
        with self._lock:
            return self._values.get(key, 0.0)

    def samples(self) -> Iterable[str]:
        with self._lock:
            items = sorted(self._values.items())
        if not items and not self.labelnames:
            items = [((), 0.0)]
        for key, value in items:
            yield f"{self.name}{_label_text(self.labelnames, key)} {_format_value(value)}"


class Gauge(_Metric):
    """A value that goes up and down (connections, queue depth); may be computed at render time."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labelnames)
        self._values: dict[LabelValues, float] = {}
        self._functions: dict[LabelValues, Callable[[], float]] = {}

    def set(self, value: float, **labels: str | int | float | bool) -> None:
        """Set the series named by `labels` to `value`."""
        key = self._key(labels)
        with self._lock:
            self._values[key] = float(value)

    def inc(self, amount: float = 1.0, **labels: str | int | float | bool) -> None:
        """Add `amount` (may be negative) to the series named by `labels`."""
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def dec(self, amount: float = 1.0, **labels: str | int | float | bool) -> None:
        """Subtract `amount` from the series named by `labels`."""
        self.inc(-amount, **labels)

    def set_function(self, function: Callable[[], float], **labels: str | int | float | bool) -> None:
        """Read the series from `function()` at every render (e.g. a queue's current length)."""
        key = self._key(labels)
        with self._lock:
            self._functions[key] = function
            self._values.pop(key, None)

    def remove(self, **labels: str | int | float | bool) -> None:
        """Forget one series (a closed component's gauge)."""
        key = self._key(labels)
        with self._lock:
            self._values.pop(key, None)
            self._functions.pop(key, None)

    def value(self, **labels: str | int | float | bool) -> float:
        """Current value of one series (0 if never set)."""
        key = self._key(labels)
        with self._lock:
            function = self._functions.get(key)
            if function is None:
                return self._values.get(key, 0.0)
        return float(function())

    def samples(self) -> Iterable[str]:
        with self._lock:
            values = dict(self._values)
            functions = dict(self._functions)
        for key, function in functions.items():
            values[key] = float(function())
        if not values and not self.labelnames:
            values[()] = 0.0
        for key, value in sorted(values.items()):
            yield f"{self.name}{_label_text(self.labelnames, key)} {_format_value(value)}"


class Histogram(_Metric):
    """Observations counted into cumulative buckets, with their sum and count (latencies, sizes)."""

    kind = "histogram"

    def __init__(
        self,
        name: str,
        help_text: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> None:
        super().__init__(name, help_text, labelnames)
        if "le" in self.labelnames:
            raise ValueError("'le' is reserved for histogram buckets")
        bounds = sorted(float(bound) for bound in buckets)
        if not bounds or bounds != sorted(set(bounds)):
            raise ValueError(f"{name}: buckets must be distinct and non-empty")
        if not math.isinf(bounds[-1]):
            bounds.append(math.inf)
        self.buckets: tuple[float, ...] = tuple(bounds)
        # Per series: count per bucket (not cumulative), sum, count.
        self._series: dict[LabelValues, tuple[list[int], list[float]]] = {}

    def observe(self, value: float, **labels: str | int | float | bool) -> None:
        """Record one observation in the series named by `labels`."""
        key = self._key(labels)
        index = next(i for i, bound in enumerate(self.buckets) if value <= bound)
        with self._lock:
            series = self._series.get(key)
            if series is None:
                series = ([0] * len(self.buckets), [0.0, 0.0])
                self._series[key] = series
            series[0][index] += 1
            series[1][0] += value
            series[1][1] += 1

    def count(self, **labels: str | int | float | bool) -> int:
        """How many observations the series holds."""
        key = self._key(labels)
        with self._lock:
            series = self._series.get(key)
            return int(series[1][1]) if series else 0

    def samples(self) -> Iterable[str]:
        with self._lock:
            snapshot = {key: (list(counts), list(totals)) for key, (counts, totals) in self._series.items()}
        if not snapshot and not self.labelnames:
            snapshot[()] = ([0] * len(self.buckets), [0.0, 0.0])
        for key, (counts, (total, count)) in sorted(snapshot.items()):
            cumulative = 0
            for bound, bucket_count in zip(self.buckets, counts, strict=True):
                cumulative += bucket_count
                le = _format_value(bound)
                yield f"{self.name}_bucket{_label_text(self.labelnames, key, ('le', le))} {cumulative}"
            yield f"{self.name}_sum{_label_text(self.labelnames, key)} {_format_value(total)}"
            yield f"{self.name}_count{_label_text(self.labelnames, key)} {_format_value(count)}"


class Metrics:
    """A registry: metrics by name, rendered together."""

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}
        self._lock = threading.Lock()

    def _get_or_create(self, kind: type[_Metric], name: str, factory: Callable[[], _Metric]) -> _Metric:
        with self._lock:
            existing = self._metrics.get(name)
            if existing is None:
                metric = factory()
                self._metrics[name] = metric
                return metric
        if type(existing) is not kind:
            raise ValueError(f"{name} is already registered as a {existing.kind}")
        return existing

    def counter(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Counter:
        """Get or create a counter.

        Raises:
            ValueError: `name` exists as another type or with other label names.
        """
        metric = self._get_or_create(Counter, name, lambda: Counter(name, help_text, labelnames))
        self._check_labels(metric, labelnames)
        assert isinstance(metric, Counter)
        return metric

    def gauge(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Gauge:
        """Get or create a gauge.

        Raises:
            ValueError: `name` exists as another type or with other label names.
        """
        metric = self._get_or_create(Gauge, name, lambda: Gauge(name, help_text, labelnames))
        self._check_labels(metric, labelnames)
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
        metric = self._get_or_create(Histogram, name, lambda: Histogram(name, help_text, labelnames, buckets))
        self._check_labels(metric, labelnames)
        assert isinstance(metric, Histogram)
        return metric

    @staticmethod
    def _check_labels(metric: _Metric, labelnames: Sequence[str]) -> None:
        if metric.labelnames != tuple(labelnames):
            raise ValueError(f"{metric.name} has labels {metric.labelnames}, asked for {tuple(labelnames)}")

    def render(self) -> str:
        """Every metric in the Prometheus text format 0.0.4, sorted by name."""
        with self._lock:
            metrics = sorted(self._metrics.items())
        return "".join(metric.render() for _name, metric in metrics)


REGISTRY = Metrics()


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


def render() -> str:
    """The process-wide registry in the Prometheus text format 0.0.4."""
    return REGISTRY.render()
