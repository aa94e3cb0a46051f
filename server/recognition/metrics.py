"""The recognition metrics (both deployments and the workers), and the batcher's observer."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from inference.batcher import BatchReport
from server import metrics

log = structlog.get_logger("server.recognition")

_BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)

UPDATES = metrics.counter(
    "doodle_recognition_updates_total", "Drawing updates offered for recognition.", ["mode"]
)
COALESCED = metrics.counter(
    "doodle_recognition_coalesced_total", "Updates replaced by a newer drawing before being sent.", ["mode"]
)
JOBS = metrics.counter("doodle_recognition_jobs_total", "Jobs sent to the model.", ["mode", "deciding"])
# Not the game's recognitions (`doodle_players_recognized_total`, counted by the gateway): the model
# matches a drawer's word again on every update after the first, and the room refuses late matches.
RESULTS = metrics.counter(
    "doodle_recognition_results_total",
    "Model answers delivered to the gateway, by outcome: word_matched (the decision rule accepts the "
    "round's word, again on every update), word_not_matched, or practice (no word to match).",
    ["mode", "outcome"],
)
DROPPED = metrics.counter(
    "doodle_recognition_dropped_total", "Jobs or results dropped, by reason.", ["mode", "reason"]
)
ERRORS = metrics.counter(
    "doodle_recognition_errors_total", "Recognition failures, by where.", ["mode", "where"]
)
LATENCY = metrics.histogram(
    "doodle_recognition_latency_seconds",
    "From 'drawing updated' (job.submitted_at) to 'guess ready' at the gateway.",
    ["mode"],
    metrics.LATENCY_BUCKETS,
)
IN_FLIGHT = metrics.gauge("doodle_recognition_in_flight", "Jobs sent and not yet answered.", ["mode"])
DEFERRED = metrics.gauge(
    "doodle_recognition_deferred", "Players whose newest drawing waits for its turn.", ["mode"]
)
QUEUE_DEPTH = metrics.gauge(
    "doodle_recognition_queue_depth",
    "Drawings waiting for a batch (batcher) or a worker (stream).",
    ["queue"],
)
BATCH_SIZE = metrics.histogram(
    "doodle_recognition_batch_size", "Drawings per model call.", ["mode"], _BATCH_SIZE_BUCKETS
)
INFERENCE = metrics.histogram(
    "doodle_recognition_inference_seconds",
    "Wall time of one batched rasterize + forward pass.",
    ["mode"],
    metrics.LATENCY_BUCKETS,
)
QUEUE_WAIT = metrics.histogram(
    "doodle_recognition_queue_wait_seconds",
    "Longest wait in the batcher of a batch's drawings.",
    ["mode"],
    metrics.LATENCY_BUCKETS,
)


def batch_observer(mode: str) -> Callable[[BatchReport], None]:
    """The batcher's `on_batch` for `mode` ("embedded" or "worker"): batch size and latency metrics."""

    def observe(report: BatchReport) -> None:
        BATCH_SIZE.observe(report.size, mode=mode)
        INFERENCE.observe(report.inference_s, mode=mode)
        QUEUE_WAIT.observe(report.queue_wait_s, mode=mode)
        if report.failed:
            ERRORS.inc(mode=mode, where="predict")

    return observe
