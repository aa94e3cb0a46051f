"""Recognition as the gateway sees it: drawings go in with `update()`, guesses come out via `on_result`.

One service, two deployments, one code path:

- `LocalRecognition` (embedded, the default of `serve`): a `MicroBatcher` in this process runs
  `recognize_batch` in a worker thread, so the event loop never waits for the model; or, with
  `processes` N, in N child processes of this one (`inference.processes.ProcessPool`), so that
  rasterizing does not hold the gateway's GIL and the model uses the machine's other cores.
- `StreamRecognition` (distributed): jobs go to the Redis Stream `doodle:jobs`; `doodle-party worker`
  processes (server/worker.py) read them through the consumer group `workers`, run the same
  `MicroBatcher` and `recognize_batch`, and XADD each result to `doodle:results:{gateway_id}`, the
  stream of the gateway that holds the player.

What a service promises (both deployments, enforced by `GuessScheduler`):

- `update(job)` never blocks and never raises for load. Per player (room_code, player_id) only the
  newest drawing is kept; at most one ordinary job per player is in flight, and a player's jobs are
  sent at least `guess_interval_ms` apart. Work is therefore bounded by players x guess rate, not by
  stroke messages. When recognition falls behind, each player's next guess simply waits for the
  previous one: the system guesses less often instead of queueing more.
- A `deciding=True` job (stroke end, the final drawing at round end) skips the interval, the
  one-in-flight rule and every capacity limit: it is sent at once and never shed. But a player has
  at most one deciding job in flight: a newer one waits for that result (replacing any drawing that
  waited, and staying deciding), so ending strokes fast cannot buy one player, or one room, more
  model time than one job at a time each; with the per-drawing point cap (game.rules) that bounds
  what one player can cost. Ordinary jobs in flight are bounded by `max_in_flight`; players ready
  beyond it wait in line, served round robin over rooms, so no room can starve another
  (`GuessScheduler` is the one admission policy; the batchers behind it never refuse). If a deciding
  result is lost (a worker died and the stream was trimmed), it is sent again after
  `result_timeout_s`.
- Each delivered `RecognitionResult` is for the newest drawing judged so far: a result older than one
  already delivered for the same player is dropped. Results for forgotten players, duplicates (a job
  run twice after a worker crash) and results of unknown jobs are dropped quietly (DEBUG log).
- `on_result(result)` is awaited by one delivery task, in arrival order. Keep it quick (hand the
  message to the connection's send queue); an exception it raises is logged with its traceback and
  counted in `doodle_recognition_errors_total`, and delivery goes on.
- `forget(room_code, player_id)`: the player left or the round is over. Queued and deferred work is
  dropped, and late results for that player's jobs are dropped quietly.

Modules, one job each: `jobs` (job, request, result; `judge`), `scheduler` (`GuessScheduler`, the one
admission policy: coalescing, deciding jobs, shedding), `service` (what both deployments share),
`embedded` and `stream` (the two deployments), `codecs` (stream wire format), `keys` (Redis names),
`metrics`. The model itself is judged in `inference.recognize`.

Redis keys (fixed names, not room keys: rooms use {room:CODE} hash tags and live in server/store.py)::

    doodle:jobs                  stream, consumer group "workers"; field "job" = msgpack job
    doodle:results:{gateway_id}  stream per gateway; field "result" = msgpack result; expires when idle
    doodle:labels                JSON list of the workers' model labels (set by each worker at start)
"""

from server.recognition.codecs import (
    WIRE_VERSION,
    decode_request,
    decode_result,
    encode_request,
    encode_result,
)
from server.recognition.embedded import LocalRecognition, auto_processes
from server.recognition.jobs import PlayerKey, RecognitionJob, RecognitionResult, judge
from server.recognition.keys import (
    JOBS_STREAM,
    LABELS_KEY,
    RESULTS_MAXLEN,
    RESULTS_PREFIX,
    RESULTS_TTL_S,
    WORKER_GROUP,
    ensure_group,
    results_stream,
)
from server.recognition.scheduler import GuessScheduler
from server.recognition.service import OnResult, RecognitionService
from server.recognition.stream import StreamRecognition

__all__ = [
    "JOBS_STREAM",
    "LABELS_KEY",
    "RESULTS_MAXLEN",
    "RESULTS_PREFIX",
    "RESULTS_TTL_S",
    "WIRE_VERSION",
    "WORKER_GROUP",
    "GuessScheduler",
    "LocalRecognition",
    "OnResult",
    "PlayerKey",
    "RecognitionJob",
    "RecognitionResult",
    "RecognitionService",
    "StreamRecognition",
    "auto_processes",
    "decode_request",
    "decode_result",
    "encode_request",
    "encode_result",
    "ensure_group",
    "judge",
    "results_stream",
]
