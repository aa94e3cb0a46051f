"""Recognition services: scheduling rules, the embedded service, and two gateways over a real Redis."""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from inference.formats import read_ndjson
from inference.ort import OnnxUnavailable
from inference.recognizer import DEFAULT_CHECKPOINT, RUNTIMES, Recognizer
from server import metrics
from server.app import running_server
from server.config import MODEL_RUNTIMES, Settings, settings_from_env
from server.recognition import (
    JOBS_STREAM,
    LABELS_KEY,
    GuessScheduler,
    LocalRecognition,
    RecognitionJob,
    RecognitionResult,
    StreamRecognition,
    auto_processes,
    decode_request,
    decode_result,
    encode_request,
    encode_result,
    judge,
    results_stream,
)
from server.worker import run_worker

Strokes = list[list[list[float]]]
_ids = itertools.count()


def job(
    player: str = "p1",
    *,
    room: str = "ROOM",
    strokes: Strokes | None = None,
    deciding: bool = False,
    target: str | None = "apple",
    gateway: str = "g1",
) -> RecognitionJob:
    return RecognitionJob(
        job_id=f"job{next(_ids)}",
        gateway_id=gateway,
        room_code=room,
        player_id=player,
        round=1,
        target_word=target,
        strokes=strokes if strokes is not None else [[[0.0, 0.0, 0.0], [10.0, 10.0, 5.0]]],
        canvas=None,
        deciding=deciding,
        submitted_at=time.time(),
    )


@pytest.fixture(scope="module")
def recognizer(seed_model_path: Path) -> Recognizer:
    return Recognizer.from_seed(seed_model_path)


@pytest.fixture(scope="module")
def doodles(quickdraw_dir: Path) -> dict[str, list[Strokes]]:
    """Real raw drawings (canvas pixels with pen times), a few per word."""
    drawings: dict[str, list[Strokes]] = {}
    for word in ("apple", "star", "cloud"):
        records = itertools.islice(read_ndjson(quickdraw_dir / "raw" / f"{word}.ndjson.gz"), 6)
        drawings[word] = [[stroke.tolist() for stroke in record.strokes] for record in records]
    return drawings


class Collector:
    """An on_result callback that keeps what it got and lets a test wait for a count."""

    def __init__(self) -> None:
        self.results: list[RecognitionResult] = []
        self._changed = asyncio.Event()

    async def __call__(self, result: RecognitionResult) -> None:
        self.results.append(result)
        self._changed.set()

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[RecognitionResult]:
        return await self.wait_for_ids(set(), count, timeout)

    async def wait_for_ids(
        self, job_ids: set[str], count: int = 0, timeout: float = 10.0
    ) -> list[RecognitionResult]:
        """Wait until at least `count` results, including every one of `job_ids`, have arrived."""
        async with asyncio.timeout(timeout):
            while len(self.results) < count or not job_ids <= set(self.job_ids):
                self._changed.clear()
                await self._changed.wait()
        return self.results

    @property
    def job_ids(self) -> list[str]:
        return [result.job_id for result in self.results]


# -- GuessScheduler: the rules, with explicit time --------------------------------------------------


def scheduler(**overrides: float) -> GuessScheduler:
    settings = {"min_interval_s": 0.1, "max_in_flight": 100, "result_timeout_s": 5.0} | overrides
    return GuessScheduler(
        min_interval_s=settings["min_interval_s"],
        max_in_flight=int(settings["max_in_flight"]),
        result_timeout_s=settings["result_timeout_s"],
    )


def test_scheduler_coalesces_to_the_newest_drawing_and_limits_the_rate() -> None:
    """While a job is in flight, newer drawings replace each other; the newest goes after the interval."""
    gate = scheduler()
    first, second, third = job(), job(), job()
    assert gate.offer(first, now=0.0) == [first]
    assert gate.offer(second, now=0.01) == []
    assert gate.offer(third, now=0.02) == []
    assert gate.coalesced == 1
    assert gate.completed(first.job_id, now=0.05) == (True, [])  # too soon after the first
    assert gate.next_deadline() == pytest.approx(0.1)
    assert gate.poll(now=0.1) == [third]
    assert gate.in_flight == 1 and gate.deferred == 0


def test_scheduler_sends_deciding_jobs_at_once_and_drops_stale_results() -> None:
    """A deciding job skips the interval and the in-flight rule; an older result arriving later is dropped."""
    gate = scheduler()
    ordinary, waiting, final = job(), job(), job(deciding=True)
    gate.offer(ordinary, now=0.0)
    gate.offer(waiting, now=0.01)
    assert gate.offer(final, now=0.02) == [final]
    assert gate.deferred == 0  # the deciding drawing is newer than the one that waited
    assert gate.completed(final.job_id, now=0.03) == (True, [])
    assert gate.completed(ordinary.job_id, now=0.04) == (False, [])  # older than what was delivered
    assert gate.completed(ordinary.job_id, now=0.05) == (False, [])  # unknown now: a duplicate


def test_scheduler_sends_one_deciding_job_per_player_at_a_time() -> None:
    """Ending strokes fast buys no more model time: a player's next deciding drawing waits for the
    previous decision (the newest one, still deciding), while other rooms' drawings go at once."""
    gate = scheduler(max_in_flight=2)
    flood = [job("mallory", room="A", deciding=True) for _ in range(5)]
    sent = [sent for each in flood for sent in gate.offer(each, 0.0)]
    assert sent == [flood[0]]
    later = job("mallory", room="A")  # a newer, ordinary drawing replaces the waiting finished one
    assert gate.offer(later, 0.01) == []
    honest = job("ana", room="B", deciding=True)
    assert gate.offer(honest, 0.02) == [honest]
    deliver, to_send = gate.completed(flood[0].job_id, 0.05)
    assert deliver and [each.job_id for each in to_send] == [later.job_id]
    assert to_send[0].deciding  # it holds the finished stroke that waited
    assert gate.in_flight == 2


def test_scheduler_caps_ordinary_jobs_in_flight_but_not_deciding_ones() -> None:
    """Past max_in_flight ordinary drawings wait their turn; deciding ones still go."""
    gate = scheduler(max_in_flight=2)
    a, b, c = job("a"), job("b"), job("c")
    assert gate.offer(a, 0.0) == [a]
    assert gate.offer(b, 0.0) == [b]
    assert gate.offer(c, 0.0) == []
    final = job("d", deciding=True)
    assert gate.offer(final, 0.0) == [final]
    deliver, to_send = gate.completed(a.job_id, 0.01)
    assert deliver and to_send == [c]


def test_scheduler_resends_lost_deciding_jobs_and_gives_up_ordinary_ones() -> None:
    """No result within result_timeout_s: a deciding job is sent again, an ordinary one is let go."""
    gate = scheduler(result_timeout_s=1.0)
    ordinary, final = job("a"), job("b", deciding=True)
    gate.offer(ordinary, 0.0)
    gate.offer(final, 0.5)
    assert gate.poll(1.0) == []
    assert gate.lost == 1 and gate.in_flight == 1
    assert gate.poll(1.5) == [final]
    assert gate.retried == 1
    assert gate.completed(final.job_id, 1.6) == (True, [])


def test_scheduler_serves_waiting_rooms_in_turn_whatever_their_size() -> None:
    """Under overload a room of eight and a room of one get the freed capacity alternately."""
    gate = scheduler(max_in_flight=1, min_interval_s=0.0)
    busy = job("x", room="BUSY")
    assert gate.offer(busy, 0.0) == [busy]
    big = [job(f"b{index}", room="BIG") for index in range(8)]
    small = [job("s", room="SMALL") for _ in range(4)]
    for drawing in big[:4]:
        assert gate.offer(drawing, 0.01) == []
    assert gate.offer(small[0], 0.02) == []
    for drawing in big[4:]:
        assert gate.offer(drawing, 0.03) == []
    assert gate.waiting == 9
    served: list[RecognitionJob] = []
    finished = busy
    for step in range(6):
        now = 0.1 + step / 10
        _deliver, to_send = gate.completed(finished.job_id, now)
        assert len(to_send) == 1
        finished = to_send[0]
        served.append(finished)
        if finished.room_code == "SMALL" and step < 4:
            assert gate.offer(small[step // 2 + 1], now) == []  # the small room's player draws on
    assert [drawing.room_code for drawing in served] == ["BIG", "SMALL", "BIG", "SMALL", "BIG", "SMALL"]
    assert [drawing.player_id for drawing in served if drawing.room_code == "BIG"] == ["b0", "b1", "b2"]


def test_scheduler_a_player_whose_result_came_waits_behind_those_in_line() -> None:
    """Capacity freed by a result goes to the player first in line, not back to the one it came from."""
    gate = scheduler(max_in_flight=1, min_interval_s=0.0)
    mine, theirs, my_next = job("me"), job("them"), job("me")
    assert gate.offer(mine, 0.0) == [mine]
    assert gate.offer(theirs, 0.01) == []
    assert gate.offer(my_next, 0.02) == []
    assert gate.completed(mine.job_id, 0.05) == (True, [theirs])
    assert gate.completed(theirs.job_id, 0.06) == (True, [my_next])


def test_scheduler_waiting_work_is_one_drawing_per_player() -> None:
    """However many drawings arrive while capacity is short, each player keeps one place and one drawing."""
    gate = scheduler(max_in_flight=1, min_interval_s=0.0)
    first = job("a")
    gate.offer(first, 0.0)
    updates = [job(player) for _ in range(50) for player in ("b", "c")]
    for update in updates:
        assert gate.offer(update, 0.01) == []
    assert gate.waiting == 2 and gate.deferred == 2
    assert gate.coalesced == 98
    _deliver, to_send = gate.completed(first.job_id, 0.02)
    assert to_send == [updates[-2]]  # b, first in line, with its newest drawing


def test_scheduler_forget_drops_queued_work_and_late_results() -> None:
    """After forget(), the player's results are unknown and the room they took is free again."""
    gate = scheduler(max_in_flight=1)
    mine, other = job("me"), job("other")
    gate.offer(mine, 0.0)
    gate.offer(other, 0.0)
    assert gate.forget("ROOM", "me") == [mine.job_id]
    assert gate.pump(0.0) == [other]
    assert gate.completed(mine.job_id, 0.1) == (False, [])


# -- wire format -----------------------------------------------------------------------------------


def test_jobs_and_results_survive_the_wire(doodles: dict[str, list[Strokes]], recognizer: Recognizer) -> None:
    """Encoding keeps what the model sees: the same drawing gives the same probabilities after the trip."""
    request = replace(job(strokes=doodles["apple"][0]), threshold=0.4)
    decoded = decode_request(encode_request(request))
    assert (decoded.job_id, decoded.room_code, decoded.threshold) == (request.job_id, "ROOM", 0.4)
    [direct] = judge(recognizer, [request])
    [via_wire] = judge(recognizer, [decoded])
    assert [label for label, _ in direct.guesses] == [label for label, _ in via_wire.guesses]
    assert direct.target_score == pytest.approx(via_wire.target_score, abs=1e-6)
    assert decode_result(encode_result(direct)) == direct
    with pytest.raises(ValueError):
        decode_request(b"\x93junk")


# -- LocalRecognition (embedded) --------------------------------------------------------------------


@pytest.fixture(params=[0, 2], ids=["thread", "processes"])
async def local(
    request: pytest.FixtureRequest, recognizer: Recognizer, seed_model_path: Path
) -> AsyncIterator[tuple[LocalRecognition, Collector]]:
    """The embedded service with the model in a thread, and in two child processes."""
    collector = Collector()
    service = LocalRecognition(
        recognizer,
        on_result=collector,
        guess_interval_ms=0,
        max_wait_ms=2,
        processes=request.param,
        load_model=functools.partial(Recognizer.from_seed, seed_model_path),
    )
    await service.start()
    yield service, collector
    await service.aclose()


async def test_local_recognition_guesses_real_doodles(
    local: tuple[LocalRecognition, Collector], doodles: dict[str, list[Strokes]], recognizer: Recognizer
) -> None:
    """Complete real drawings: three guesses each, and `recognized` means top-1 == target at >= threshold."""
    service, collector = local
    assert service.labels == recognizer.labels
    jobs = [
        job(f"{word}{index}", strokes=strokes, target=word)
        for word, drawings in doodles.items()
        for index, strokes in enumerate(drawings)
    ]
    for each in jobs:
        service.update(each)
    results = await collector.wait_for(len(jobs))
    assert sorted(collector.job_ids) == sorted(each.job_id for each in jobs)
    for result in results:
        assert len(result.guesses) == 3
        target = result.player_id.rstrip("0123456789")
        top_label, top_score = result.guesses[0]
        assert result.recognized == (top_label == target and top_score >= 0.5)
        assert result.target_score is not None and 0.0 <= result.target_score <= 1.0
        assert result.finished_at >= result.submitted_at
    assert sum(result.recognized for result in results) >= len(jobs) * 2 // 3
    assert "doodle_recognition_batch_size_bucket" in metrics.exposition(None)[0].decode()


async def test_a_killed_recognition_process_loses_no_deciding_job(
    recognizer: Recognizer, seed_model_path: Path, doodles: dict[str, list[Strokes]]
) -> None:
    """SIGKILL the child mid-batch: a new one takes over, and the batch it held is answered anyway."""
    collector = Collector()
    service = LocalRecognition(
        recognizer,
        on_result=collector,
        guess_interval_ms=0,
        processes=1,
        load_model=functools.partial(Recognizer.from_seed, seed_model_path),
    )
    await service.start()
    try:
        assert service.pool is not None
        (victim,) = service.pool.pids
        jobs = [job(f"p{i}", strokes=doodles["apple"][i % 6], deciding=True) for i in range(64)]
        for each in jobs:
            service.update(each)
        os.kill(victim, signal.SIGKILL)
        await collector.wait_for_ids({each.job_id for each in jobs}, timeout=60)
        assert service.pool.restarts == 1 and victim not in service.pool.pids
        late = job("late", strokes=doodles["star"][0], target="star")
        service.update(late)
        (result,) = [r for r in await collector.wait_for_ids({late.job_id}) if r.job_id == late.job_id]
        assert result.guesses[0][0] == "star"
    finally:
        await service.aclose()
    assert service.pool.pids == []


async def test_recognition_processes_run_below_the_gateway(
    recognizer: Recognizer, seed_model_path: Path
) -> None:
    """`nice` is added to the children's nice value: a busy machine serves the event loop first."""
    service = LocalRecognition(
        recognizer,
        on_result=Collector(),
        processes=1,
        load_model=functools.partial(Recognizer.from_seed, seed_model_path),
        nice=3,
    )
    await service.start()
    try:
        assert service.pool is not None
        (child,) = service.pool.pids
        assert os.getpriority(os.PRIO_PROCESS, child) == os.getpriority(os.PRIO_PROCESS, 0) + 3
    finally:
        await service.aclose()


async def test_coalescing_keeps_only_the_newest_drawing(
    recognizer: Recognizer, doodles: dict[str, list[Strokes]]
) -> None:
    """Five quick updates of one player cost two forward passes: the first, and the newest."""
    collector = Collector()
    service = LocalRecognition(recognizer, on_result=collector, guess_interval_ms=150)
    await service.start()
    drawing = doodles["star"][0]
    updates = [job("p", strokes=drawing[: index + 1]) for index in range(min(5, len(drawing)))]
    updates += [job("p", strokes=drawing) for _ in range(5 - len(updates))]
    for update in updates:
        service.update(update)
        await asyncio.sleep(0.01)
    await collector.wait_for(2)
    await asyncio.sleep(0.3)
    assert collector.job_ids == [updates[0].job_id, updates[-1].job_id]
    assert service.batcher.stats.items == 2
    await service.aclose()


async def test_overload_sheds_guesses_but_never_a_deciding_recognition(
    recognizer: Recognizer, doodles: dict[str, list[Strokes]]
) -> None:
    """A burst of 30 players with 4 ordinary slots: guesses are shed by the scheduler (the batcher
    refuses nothing), every deciding job is answered once, and the batcher's queue stays bounded."""
    collector = Collector()
    service = LocalRecognition(
        recognizer, on_result=collector, max_batch=4, max_wait_ms=1, guess_interval_ms=0, max_in_flight=4
    )
    await service.start()
    drawings = [strokes for drawings in doodles.values() for strokes in drawings]
    deciding_ids, ordinary_ids = set(), set()
    for index in range(30):
        ordinary = job(f"p{index}", strokes=drawings[index % len(drawings)][:1])
        final = job(f"p{index}", strokes=drawings[index % len(drawings)], deciding=True)
        ordinary_ids.add(ordinary.job_id)
        deciding_ids.add(final.job_id)
        service.update(ordinary)
        assert service.batcher.pending <= 4 + len(deciding_ids)  # ordinary work queued: at most 4
        service.update(final)
    await collector.wait_for_ids(deciding_ids, timeout=15)
    await asyncio.sleep(0.1)
    stats = service.batcher.stats
    # Each ordinary drawing went once capacity allowed and was taken back, still queued, when its
    # player's deciding drawing came: only the 30 deciding drawings were judged.
    assert stats.pending == 0 and stats.items == 30 and stats.withdrawn == 30
    assert not ordinary_ids & set(collector.job_ids)
    assert len(set(collector.job_ids)) == len(collector.job_ids)
    await service.aclose()


async def test_forgotten_players_get_no_results(recognizer: Recognizer) -> None:
    """forget() drops queued work and late results quietly; other players are unaffected."""
    collector = Collector()
    service = LocalRecognition(recognizer, on_result=collector, guess_interval_ms=0, max_wait_ms=50)
    await service.start()
    service.update(job("leaver"))
    service.update(job("stayer"))
    service.forget("ROOM", "leaver")
    await collector.wait_for(1)
    await asyncio.sleep(0.1)
    assert [result.player_id for result in collector.results] == ["stayer"]
    await service.aclose()


# -- StreamRecognition: two gateways, one worker, one real Redis -----------------------------------


async def test_results_reach_the_gateway_that_holds_the_player(
    redis_url: str, redis_client: aioredis.Redis, recognizer: Recognizer, doodles: dict[str, list[Strokes]]
) -> None:
    """Two gateways share the jobs stream; each gets exactly its own players' results back."""
    stop = asyncio.Event()
    # The Redis is shared with earlier tests, whose workers published another model's labels.
    await redis_client.delete(LABELS_KEY)
    worker = asyncio.create_task(
        run_worker(redis_url, consumer_name="w1", recognizer=recognizer, stop_event=stop, max_wait_ms=2)
    )
    for _ in range(600):  # gateways learn the labels the worker publishes: wait for them (30 s at most)
        if await redis_client.get(LABELS_KEY) is not None:
            break
        await asyncio.sleep(0.05)
    collectors = {"gw-a": Collector(), "gw-b": Collector()}
    gateways = {
        gateway_id: StreamRecognition(
            redis_url, gateway_id=gateway_id, on_result=collector, guess_interval_ms=0
        )
        for gateway_id, collector in collectors.items()
    }
    for gateway in gateways.values():
        await gateway.start()
    sent: dict[str, set[str]] = {gateway_id: set() for gateway_id in gateways}
    drawings = [strokes for drawings in doodles.values() for strokes in drawings]
    for index, strokes in enumerate(drawings):
        gateway_id = "gw-a" if index % 2 else "gw-b"
        each = job(f"{gateway_id}-p{index}", strokes=strokes, gateway=gateway_id, deciding=index % 3 == 0)
        sent[gateway_id].add(each.job_id)
        gateways[gateway_id].update(each)
    for gateway_id, collector in collectors.items():
        await collector.wait_for(len(sent[gateway_id]))
    await asyncio.sleep(0.1)
    for gateway_id, collector in collectors.items():
        assert sorted(collector.job_ids) == sorted(sent[gateway_id])
        assert all(result.player_id.startswith(gateway_id) for result in collector.results)
    assert await redis_client.get(LABELS_KEY) is not None
    assert gateways["gw-a"].labels == recognizer.labels
    # Finished jobs are deleted from the stream, and read results from each gateway's stream.
    assert await redis_client.xlen(JOBS_STREAM) == 0
    assert await redis_client.xlen(results_stream("gw-a")) <= 1
    for gateway in gateways.values():
        await gateway.aclose()
    stop.set()
    await asyncio.wait_for(worker, 15)


# -- metrics exposition ----------------------------------------------------------------------------


def test_metrics_helpers_take_keyword_labels_and_render_the_prometheus_text_format() -> None:
    """Counters, gauges (set or computed) and histograms render as Prometheus text; booleans become
    "true"/"false"; asking again for a name returns the same metric, with other labels raises."""
    registry = metrics.Metrics(CollectorRegistry())
    jobs = registry.counter("doodle_jobs_total", "Jobs sent.", ["mode", "deciding"])
    jobs.inc(mode="stream", deciding=True)
    jobs.inc(2, mode="stream", deciding=True)
    registry.gauge("doodle_depth", 'Queue "depth".', ["queue"]).set_function(lambda: 7, queue="batcher")
    sizes = registry.histogram("doodle_batch_size", "Batch sizes.", buckets=(1, 8))
    for size in (1, 5, 64):
        sizes.observe(size)
    assert registry.counter("doodle_jobs_total", "Jobs sent.", ["mode", "deciding"]) is jobs
    with pytest.raises(ValueError):
        registry.gauge("doodle_jobs_total", "not a gauge")
    with pytest.raises(ValueError):
        registry.counter("doodle_jobs_total", "Jobs sent.", ["mode"])
    with pytest.raises(ValueError):
        jobs.inc(mode="stream")
    with pytest.raises(ValueError):
        jobs.inc(-1, mode="stream", deciding=True)
    assert jobs.value(mode="stream", deciding=True) == 3
    assert sizes.count() == 3
    body, content_type = metrics.exposition(None, registry.registry)
    assert content_type.startswith("text/plain; version=0.0.4")
    assert body.decode() == (
        "# HELP doodle_jobs_total Jobs sent.\n"
        "# TYPE doodle_jobs_total counter\n"
        'doodle_jobs_total{deciding="true",mode="stream"} 3.0\n'
        '# HELP doodle_depth Queue "depth".\n'
        "# TYPE doodle_depth gauge\n"
        'doodle_depth{queue="batcher"} 7.0\n'
        "# HELP doodle_batch_size Batch sizes.\n"
        "# TYPE doodle_batch_size histogram\n"
        'doodle_batch_size_bucket{le="1.0"} 1.0\n'
        'doodle_batch_size_bucket{le="8.0"} 2.0\n'
        'doodle_batch_size_bucket{le="+Inf"} 3.0\n'
        "doodle_batch_size_count 3.0\n"
        "doodle_batch_size_sum 70.0\n"
    )
    openmetrics, content_type = metrics.exposition("application/openmetrics-text", registry.registry)
    assert content_type.startswith("application/openmetrics-text")
    assert openmetrics.decode().endswith("# EOF\n")


# -- deployment defaults -----------------------------------------------------------------------------


@pytest.mark.parametrize(("cores", "expected"), [({0}, 0), ({0, 1}, 2), (set(range(16)), 4)])
def test_auto_processes_one_per_core_none_on_a_single_core(
    monkeypatch: pytest.MonkeyPatch, cores: set[int], expected: int
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: cores)
    assert auto_processes() == expected


async def test_serve_runs_the_model_in_child_processes_by_default(redis_url: str) -> None:
    """The default settings on a multi-core machine: recognition in child processes, configurable."""
    assert settings_from_env({}).recognition_processes == -1
    assert settings_from_env({"DOODLE_RECOGNITION_PROCESSES": "0"}).recognition_processes == 0
    async with running_server(Settings(port=0, redis_url=redis_url)) as server:
        service = server.gateway.recognition
        assert isinstance(service, LocalRecognition)
        if auto_processes() == 0:  # a single-core machine: a thread
            assert service.pool is None
        else:
            assert service.pool is not None and len(service.pool.pids) == auto_processes()
            assert os.getpid() not in service.pool.pids


async def test_the_model_runtime_setting_reaches_the_recognizer(redis_url: str, tmp_path: Path) -> None:
    """DOODLE_MODEL_RUNTIME picks what runs the network: ONNX Runtime by default (the shipped graph),
    torch when asked; demanding ONNX Runtime for a checkpoint without a graph fails at start, in one
    clear error."""
    assert MODEL_RUNTIMES == RUNTIMES  # the settings' list and the recognizer's are one list
    assert settings_from_env({}).model_runtime == "auto"
    for runtime, expected in (("auto", "onnxruntime"), ("torch", "torch")):
        settings = settings_from_env({"DOODLE_MODEL_RUNTIME": runtime}).with_overrides(
            {"port": 0, "redis_url": redis_url, "recognition_processes": 0}
        )
        async with running_server(settings) as server:
            service = server.gateway.recognition
            assert isinstance(service, LocalRecognition)
            assert service._recognizer.runtime == expected
    bare = tmp_path / "model.pt"
    bare.write_bytes(DEFAULT_CHECKPOINT.read_bytes())  # no graph beside it
    demanding = Settings(port=0, redis_url=redis_url, checkpoint=bare, model_runtime="onnxruntime")
    with pytest.raises(OnnxUnavailable, match="no exported graph"):
        async with running_server(demanding):
            pass


def test_scheduler_names_ordinary_jobs_a_later_deciding_one_made_outdated() -> None:
    """After a finished stroke is sent, the player's older ordinary job in flight is outdated; taking it
    back (abandon) frees its capacity for others at once."""
    gate = scheduler(max_in_flight=1)
    ordinary, other = job("me"), job("other")
    gate.offer(ordinary, 0.0)
    gate.offer(other, 0.0)
    assert gate.outdated_in_flight("ROOM", "me") == []  # nothing newer yet
    final = job("me", deciding=True)
    assert gate.offer(final, 0.01) == [final]
    assert gate.outdated_in_flight("ROOM", "me") == [ordinary.job_id]
    assert gate.abandon(ordinary.job_id, 0.01) == [other]
    assert gate.completed(ordinary.job_id, 0.02) == (False, [])


async def test_a_finished_stroke_takes_back_the_queued_guess_it_outdates(recognizer: Recognizer) -> None:
    """A deciding drawing offered while the player's ordinary one still waits in the batcher: only the
    deciding one is judged (the batcher's queue is held by a long max_wait)."""
    collector = Collector()
    service = LocalRecognition(recognizer, on_result=collector, guess_interval_ms=0, max_wait_ms=200)
    await service.start()
    ordinary, final = job("p"), job("p", deciding=True)
    service.update(ordinary)
    service.update(final)
    await collector.wait_for(1)
    await asyncio.sleep(0.3)
    assert collector.job_ids == [final.job_id]
    assert service.batcher.stats.items == 1 and service.batcher.stats.withdrawn == 1
    await service.aclose()
