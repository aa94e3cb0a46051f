"""The archive of consented drawings: real rounds in a real redis-server, real files, real drawings."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
import redis.asyncio as aioredis

from game import rules
from game.codes import new_room_code
from game.commands import JoinRoom, RecordRecognition, StartGame, Tick
from game.errors import NotAPlayer
from game.events import RoundEnded
from game.settings import RoomSettings
from game.state import Role, RoomState
from inference.dataset import load_corpus, split_of
from inference.evaluate import collect_drawings
from inference.formats import load_drawings, read_ndjson
from inference.model import SEED_LABELS
from inference.simplify import simplify_raw
from server.app import running_server
from server.archive import (
    ARCHIVE_GROUP,
    ARCHIVE_STREAM,
    ArchivedDrawing,
    Archiver,
    Segment,
    archive_as_dataset,
    consent_key,
    enqueue_round,
    forget_in_archive,
    forget_player,
    iter_archive,
    open_archive,
    record_consent,
)
from server.archive import run as archive_cli
from server.archive.jobs import ensure_group
from server.cli import build_parser
from server.config import Settings
from server.store import RoomStore, StrokeEntry
from tests.server.wsclient import TestClient, drawing_batches

REPO_ROOT = Path(__file__).resolve().parents[2]
ROUND_START_OFFSET_MS = 1500.0  # where in the round the drawing starts, by the player's clock
OFFICIAL_KEYS = ["word", "countrycode", "timestamp", "recognized", "key_id", "drawing"]


# ---------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def raw_drawings(quickdraw_dir: Path) -> dict[str, list[list[np.ndarray]]]:
    """Real raw drawings with pen timings (canvas pixels, t in ms): a few apples and clouds."""
    found: dict[str, list[list[np.ndarray]]] = {}
    for word in ("apple", "cloud"):
        records = read_ndjson(quickdraw_dir / "raw" / f"{word}.ndjson.gz")
        found[word] = [next(records).strokes for _ in range(4)]
    return found


async def _played_round(
    client: aioredis.Redis,
    word: str,
    drawings: dict[str, list[np.ndarray]],
    *,
    spectators: Sequence[str] = (),
    recognized: Sequence[str] = (),
    archive: bool = True,
) -> tuple[RoomState, RoundEnded]:
    """One real round through the rules and the Redis store: the first player hosts, everyone in
    ``drawings`` streams their strokes, the round ends at its deadline."""
    store = RoomStore(client, idle_ttl=3600, finished_ttl=600)
    now = time.time()
    settings = RoomSettings.validated({"words": [word], "rounds": 1, "archive": archive}, [word])
    host, *others = drawings
    code = new_room_code(random.Random(uuid.uuid4().int))
    state, _ = rules.create_room(code, host, f"name of {host}", settings, now)
    version = await store.create(state)
    for player_id in others:
        state, _ = rules.apply(state, JoinRoom(player_id, f"name of {player_id}", Role.PLAYER), now)
    for spectator in spectators:
        state, _ = rules.apply(state, JoinRoom(spectator, f"name of {spectator}", Role.SPECTATOR), now)
    state, _ = rules.apply(state, StartGame(by=host, seed=1), now)
    version = await store.commit(state, version)
    assert state.round is not None
    for player_id, strokes in drawings.items():
        for index, stroke in enumerate(strokes):
            points = [[float(x), float(y), float(t) + ROUND_START_OFFSET_MS] for x, y, t in stroke.tolist()]
            for start in range(0, len(points), 8):
                entry = StrokeEntry(player_id, index, points[start : start + 8], start + 8 >= len(points))
                await store.append_stroke(code, state.game_number, state.round.number, entry, now)
    for player_id in recognized:
        state, _ = rules.apply(state, RecordRecognition(player_id, word, now + 0.5), now + 0.5)
    assert state.round is not None and state.phase == "round", "leave someone unrecognized"
    state, events = rules.apply(state, Tick(), state.round.ends_at + 0.01)
    await store.commit(state, version)
    ended = next(event for event in events if isinstance(event, RoundEnded))
    return state, ended


def _archive_files(root: Path) -> list[Path]:
    """Every file of the archive proper (not the scratch space of unfinished writes)."""
    return sorted(p for p in root.rglob("*") if p.is_file() and ".tmp" not in p.relative_to(root).parts)


def _check_whole(root: Path) -> int:
    """Assert every archive file parses completely; return the drawings in simplified files."""
    drawings = 0
    for path in _archive_files(root):
        kind = path.relative_to(root).parts[0]
        if kind in ("simplified", "raw"):
            lines = path.read_bytes().splitlines()
            assert lines and path.read_bytes().endswith(b"\n"), path
            records = list(read_ndjson(path))
            assert len(records) == len(lines), path
            drawings += len(records) if kind == "simplified" else 0
        elif kind == "index":
            assert set(json.loads(path.read_bytes())) == {"word", "day", "segment", "key_ids"}
    return drawings


def _cli(argv: list[str]) -> int:
    """``doodle-party ARGV`` as routed by server/cli.py (without its process-wide logging set-up)."""
    args = build_parser(argv).parse_args(argv)
    assert args.module == "server.archive"
    return archive_cli(args)


async def _eventually(check: Callable[[], bool], timeout: float) -> None:
    """Poll until ``check()`` holds: files on disk give nothing to wait on."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _archiver(client: aioredis.Redis, root: Path | str, consumer: str = "gateway-a") -> Archiver:
    return Archiver(client, root, consumer=consumer, claim_idle_ms=50, block_ms=50)


# ---------------------------------------------------------------------- consent and format


async def test_consented_drawing_is_archived_in_the_official_format(
    redis_client: aioredis.Redis, tmp_path: Path, raw_drawings: dict[str, list[list[np.ndarray]]]
) -> None:
    """A consenting player's real apple becomes one simplified and one raw line in Google's format."""
    apple = raw_drawings["apple"][0]
    state, ended = await _played_round(redis_client, "apple", {"p_aaaaaaaaaaaa": apple}, recognized=[])
    await record_consent(redis_client, state.code, "p_aaaaaaaaaaaa", True)
    await enqueue_round(redis_client, state, ended)
    assert await _archiver(redis_client, tmp_path).process_available() == 1

    day = time.strftime("%Y-%m-%d", time.gmtime(ended.results_until - state.settings.results_seconds))
    (simplified_file,) = (tmp_path / "simplified" / "apple" / day).iterdir()
    raw_file = tmp_path / "raw" / "apple" / day / simplified_file.name
    assert list(json.loads(simplified_file.read_text())) == OFFICIAL_KEYS
    assert list(json.loads(raw_file.read_text())) == OFFICIAL_KEYS

    (simplified,) = read_ndjson(simplified_file)
    (raw,) = read_ndjson(raw_file)
    assert simplified.source == "simplified" and raw.source == "raw"
    assert simplified.word == raw.word == "apple"
    assert simplified.key_id == raw.key_id and len(simplified.key_id) == 19
    assert simplified.recognized is False and simplified.countrycode == ""
    assert simplified.timestamp is not None and simplified.timestamp.startswith(day)
    # Simplified by Google's recipe; raw keeps the points and the times since the first point.
    for ours, expected in zip(simplified.strokes, simplify_raw(apple), strict=True):
        np.testing.assert_array_equal(ours, expected)
    for ours, original in zip(raw.strokes, apple, strict=True):
        np.testing.assert_allclose(ours, original - [0, 0, original[0, 2] - apple[0][0, 2]], atol=0.01)

    (record,) = iter_archive(tmp_path)
    assert record.key_id == simplified.key_id and record.raw_strokes is not None
    # Nothing that names the player, the room or anybody's session is written anywhere.
    everything = b"".join(path.read_bytes() for path in _archive_files(tmp_path))
    for secret in (b"p_aaaaaaaaaaaa", b"name of", state.code.encode()):
        assert secret not in everything
    assert await redis_client.xlen(ARCHIVE_STREAM) == 0  # acknowledged and deleted


async def test_unconsented_players_and_spectators_leave_nothing(
    redis_client: aioredis.Redis, tmp_path: Path, raw_drawings: dict[str, list[list[np.ndarray]]]
) -> None:
    """Of three drawers only the one who consented is kept; a spectator cannot even store a stroke."""
    apples = raw_drawings["apple"]
    drawings = {"p_consenting1": apples[0], "p_declined000": apples[1], "p_neverasked0": apples[2]}
    state, ended = await _played_round(
        redis_client, "apple", drawings, spectators=["p_spectator00"], recognized=["p_declined000"]
    )
    await record_consent(redis_client, state.code, "p_consenting1", True)
    await record_consent(redis_client, state.code, "p_declined000", False)
    # The consent set lives exactly as long as the room.
    room_ttl = await redis_client.pttl("{room:" + state.code + "}")
    assert 0 < room_ttl - 1000 <= await redis_client.pttl(consent_key(state.code)) <= room_ttl
    await enqueue_round(redis_client, state, ended)
    await _archiver(redis_client, tmp_path).process_available()

    records = list(iter_archive(tmp_path))
    assert len(records) == 1
    np.testing.assert_array_equal(records[0].strokes[0], simplify_raw(apples[0])[0])
    assert len(list((tmp_path / "index").iterdir())) == 1


async def test_spectator_strokes_are_refused_during_a_round(redis_client: aioredis.Redis) -> None:
    """While a round runs, the store refuses a spectator's stroke, so there is nothing to archive."""
    store = RoomStore(redis_client, idle_ttl=3600, finished_ttl=600)
    now = time.time()
    settings = RoomSettings.validated({"words": ["apple"], "rounds": 1, "archive": True}, ["apple"])
    state, _ = rules.create_room("CDF4HJ", "p_host0000000", "host", settings, now)
    version = await store.create(state)
    state, _ = rules.apply(state, JoinRoom("p_tv000000000", "tv", Role.SPECTATOR), now)
    state, _ = rules.apply(state, StartGame(by="p_host0000000", seed=1), now)
    await store.commit(state, version)
    with pytest.raises(NotAPlayer):
        await store.append_stroke("CDF4HJ", 1, 1, StrokeEntry("p_tv000000000", 0, [[1, 1, 0]], True), now)


async def test_room_that_does_not_archive_queues_nothing(
    redis_client: aioredis.Redis, raw_drawings: dict[str, list[list[np.ndarray]]]
) -> None:
    """With the room's archive setting off (the default), no job is queued, consent or not."""
    state, ended = await _played_round(
        redis_client, "apple", {"p_aaaaaaaaaaaa": raw_drawings["apple"][0]}, archive=False
    )
    await record_consent(redis_client, state.code, "p_aaaaaaaaaaaa", True)
    await enqueue_round(redis_client, state, ended)
    assert not await redis_client.exists(ARCHIVE_STREAM)


async def test_withdrawn_consent_and_forget_me_apply_to_queued_rounds(
    redis_client: aioredis.Redis, tmp_path: Path, raw_drawings: dict[str, list[list[np.ndarray]]]
) -> None:
    """Consent withdrawn, or forget_me sent, after the round but before it is written: nothing is kept."""
    apples = raw_drawings["apple"]
    drawings = {"p_withdrawn00": apples[0], "p_forgetful00": apples[1], "p_staying0000": apples[2]}
    state, ended = await _played_round(redis_client, "apple", drawings)
    for player_id in drawings:
        await record_consent(redis_client, state.code, player_id, True)
    await enqueue_round(redis_client, state, ended)
    await record_consent(redis_client, state.code, "p_withdrawn00", False)
    assert await forget_player(Settings(archive_dir=tmp_path), redis_client, "p_forgetful00") == 0
    await _archiver(redis_client, tmp_path).process_available()
    (record,) = iter_archive(tmp_path)
    np.testing.assert_array_equal(record.strokes[0], simplify_raw(apples[2])[0])


# ---------------------------------------------------------------------- deletion and retention


async def test_forget_me_removes_every_drawing_of_the_player(
    redis_client: aioredis.Redis, tmp_path: Path, raw_drawings: dict[str, list[list[np.ndarray]]]
) -> None:
    """Two rounds, two players: forgetting one removes both of their drawings, in both formats."""
    archiver = _archiver(redis_client, tmp_path)
    for word in ("apple", "cloud"):
        pair = {"p_forgetme000": raw_drawings[word][0], "p_keepme00000": raw_drawings[word][1]}
        state, ended = await _played_round(redis_client, word, pair, recognized=["p_forgetme000"])
        for player_id in pair:
            await record_consent(redis_client, state.code, player_id, True)
        await enqueue_round(redis_client, state, ended)
        await archiver.process_available()
    assert _check_whole(tmp_path) == 4

    settings = Settings(archive_dir=tmp_path)
    assert await forget_player(settings, redis_client, "p_forgetme000") == 2
    assert _check_whole(tmp_path) == 2
    kept = {r.word: r for r in iter_archive(tmp_path)}
    assert set(kept) == {"apple", "cloud"}
    for word, record in kept.items():
        assert record.recognized is False  # the recognized drawings were the forgotten player's
        np.testing.assert_array_equal(record.strokes[0], simplify_raw(raw_drawings[word][1])[0])
    assert sum(1 for path in _archive_files(tmp_path) if path.parts[-3] == "index") == 2
    raw_keys = {r.key_id for path in (tmp_path / "raw").rglob("*.ndjson") for r in read_ndjson(path)}
    assert raw_keys == {r.key_id for r in kept.values()}
    assert await forget_player(settings, redis_client, "p_forgetme000") == 0


async def test_forget_on_an_archive_never_written_creates_nothing(
    redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    """forget_me in a deployment that never archived answers 0 and leaves no folder behind."""
    root = tmp_path / "archive"
    assert await forget_player(Settings(archive_dir=root), redis_client, "p_nobody000000") == 0
    assert not root.exists()


def _segment(segment_id: str, word: str, ended_at: float, strokes: list[np.ndarray], player: str) -> Segment:
    points = tuple(tuple((float(x), float(y), float(t)) for x, y, t in stroke.tolist()) for stroke in strokes)
    return Segment(segment_id, word, ended_at, (ArchivedDrawing(player, True, points),))


def test_forget_by_key_prune_and_export_from_the_command_line(
    tmp_path: Path, raw_drawings: dict[str, list[list[np.ndarray]]], capsys: pytest.CaptureFixture[str]
) -> None:
    """`archive forget --key`, `archive prune --days` and `archive export --out` do what they say."""
    root = tmp_path / "archive"
    archive = open_archive(root)
    now = time.time()
    old = now - 400 * 86400
    (old_key,) = archive.write_segment(_segment("1-0", "apple", old, raw_drawings["apple"][0], "p_old"))
    (gone_key,) = archive.write_segment(_segment("2-0", "apple", now, raw_drawings["apple"][1], "p_a"))
    archive.write_segment(_segment("3-0", "apple", now, raw_drawings["apple"][2], "p_b"))
    archive.write_segment(_segment("4-0", "cloud", now, raw_drawings["cloud"][0], "p_a"))

    assert _cli(["archive", "forget", "--key", gone_key, "--dir", str(root)]) == 0
    assert "removed 1 drawing" in capsys.readouterr().out
    assert _cli(["archive", "prune", "--days", "365", "--dir", str(root)]) == 0
    assert "removed 1 drawing" in capsys.readouterr().out
    assert {r.key_id for r in iter_archive(root)}.isdisjoint({old_key, gone_key})
    assert _check_whole(root) == 2

    out = tmp_path / "dataset"
    assert _cli(["archive", "export", "--out", str(out), "--dir", str(root)]) == 0
    assert "exported 2 drawing(s) of 2 word(s)" in capsys.readouterr().out
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "raw/apple.ndjson",
        "raw/cloud.ndjson",
        "simplified/apple.ndjson",
        "simplified/cloud.ndjson",
    ]
    # The training code's own loader reads the export as official data, timings included.
    loaded = load_drawings(out)
    assert {word: len(records) for word, records in loaded.items()} == {"apple": 1, "cloud": 1}
    for records in loaded.values():
        assert records[0].raw_strokes is not None and records[0].source == "simplified"
    assert not any(name in (out / "raw" / "apple.ndjson").read_text() for name in ("p_a", "salt"))


def test_archive_as_dataset_merges_days_and_segments(
    tmp_path: Path, raw_drawings: dict[str, list[list[np.ndarray]]]
) -> None:
    """Every segment of every day of a word ends up in that word's one official file pair."""
    archive = open_archive(tmp_path / "archive")
    now = time.time()
    for index, strokes in enumerate(raw_drawings["apple"]):
        archive.write_segment(_segment(f"{index}-0", "apple", now - index * 86400, strokes, f"p_{index}"))
    counts = archive_as_dataset(tmp_path / "archive", tmp_path / "out")
    assert counts == {"apple": 4}
    (records,) = load_drawings(tmp_path / "out").values()
    assert len({r.key_id for r in records}) == 4


def test_training_and_evaluation_read_the_archive_beside_official_data(
    tmp_path: Path, quickdraw_dir: Path, raw_drawings: dict[str, list[list[np.ndarray]]]
) -> None:
    """`train --data OFFICIAL --data ARCHIVE` and `evaluate` read an archive as it is written: each
    archived drawing lands in the split its key_id gives, beside the official drawings."""
    root = tmp_path / "archive"
    archive = open_archive(root)
    keys = []
    for index, strokes in enumerate(raw_drawings["apple"] + raw_drawings["cloud"]):
        word = "apple" if index < len(raw_drawings["apple"]) else "cloud"
        keys += archive.write_segment(_segment(f"{index}-0", word, time.time(), strokes, f"p_{index}"))
    splits = ("train", "val", "test")
    both = {split: load_corpus([quickdraw_dir, root], SEED_LABELS, split) for split in splits}
    official = {split: load_corpus(quickdraw_dir, SEED_LABELS, split) for split in splits}
    for split, corpus in both.items():
        archived = {d.key_id for d in corpus.drawings} - {d.key_id for d in official[split].drawings}
        assert archived == {key for key in keys if split_of(key) == split}
    assert {split_of(key) for key in keys} >= {"train"}

    evaluated = collect_drawings([quickdraw_dir, root], ["apple", "cloud"], split="all", max_per_class=None)
    assert set(keys) <= {d.key_id for d in evaluated}
    assert [d.word for d in evaluated] == sorted((d.word for d in evaluated), key=["apple", "cloud"].index)

    for command in ("train", "evaluate"):
        argv = [command, "--data", str(quickdraw_dir), "--data", str(root)]
        args = build_parser(argv).parse_args(argv)
        assert args.data == [quickdraw_dir, root]


# ---------------------------------------------------------------------- crashes


async def test_job_of_a_crashed_gateway_is_taken_over(
    redis_client: aioredis.Redis, tmp_path: Path, raw_drawings: dict[str, list[list[np.ndarray]]]
) -> None:
    """A job read by a gateway that died before writing is claimed and written by another one."""
    state, ended = await _played_round(redis_client, "apple", {"p_aaaaaaaaaaaa": raw_drawings["apple"][0]})
    await record_consent(redis_client, state.code, "p_aaaaaaaaaaaa", True)
    await ensure_group(redis_client)
    await enqueue_round(redis_client, state, ended)
    taken = await redis_client.xreadgroup(ARCHIVE_GROUP, "gateway-dead", {ARCHIVE_STREAM: ">"}, count=10)
    assert len(taken[0][1]) == 1  # ... and then the process was killed
    survivor = _archiver(redis_client, tmp_path, consumer="gateway-b")
    assert await survivor.process_available() == 0  # not idle long enough yet: maybe still working
    await asyncio.sleep(0.1)
    assert await survivor.process_available() == 1
    assert len(list(iter_archive(tmp_path))) == 1
    assert (await redis_client.xpending(ARCHIVE_STREAM, ARCHIVE_GROUP))["pending"] == 0


async def test_malformed_job_is_dropped_not_retried_forever(
    redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    """A job that cannot be read is acknowledged and logged, and the next job still gets through."""
    await ensure_group(redis_client)
    await redis_client.xadd(ARCHIVE_STREAM, {"job": b"not msgpack of a job"})
    assert await _archiver(redis_client, tmp_path).process_available() == 1
    assert await redis_client.xlen(ARCHIVE_STREAM) == 0
    assert (await redis_client.xpending(ARCHIVE_STREAM, ARCHIVE_GROUP))["pending"] == 0


async def test_archiver_runs_until_stopped(
    redis_client: aioredis.Redis, tmp_path: Path, raw_drawings: dict[str, list[list[np.ndarray]]]
) -> None:
    """run() writes rounds as they are queued and returns soon after stop is set."""
    stop = asyncio.Event()
    archiver = _archiver(redis_client, tmp_path)
    task = asyncio.create_task(archiver.run(stop))
    state, ended = await _played_round(redis_client, "cloud", {"p_aaaaaaaaaaaa": raw_drawings["cloud"][0]})
    await record_consent(redis_client, state.code, "p_aaaaaaaaaaaa", True)
    await enqueue_round(redis_client, state, ended)
    await _eventually(lambda: archiver.drawings_written == 1, timeout=5)
    stop.set()
    async with asyncio.timeout(2):
        await task
    assert [r.word for r in iter_archive(tmp_path)] == ["cloud"]


WRITER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from server.archive import ArchivedDrawing, Segment, open_archive

    archive = open_archive(sys.argv[1])
    rng = np.random.default_rng(0)
    for n in range(10_000):
        drawings = []
        for d in range(20):
            strokes = tuple(
                tuple((float(x), float(y), i * 16.0) for i, (x, y) in enumerate(rng.uniform(0, 900, (80, 2))))
                for _ in range(12)
            )
            drawings.append(ArchivedDrawing(f"p_{n}_{d}", bool(d % 2), strokes))
        archive.write_segment(Segment(f"{n}-0", ("apple", "cloud")[n % 2], time.time(), tuple(drawings)))
        print(n, flush=True)
    """
)


def test_kill_during_writing_leaves_only_whole_files(tmp_path: Path) -> None:
    """SIGKILL a process that is writing big segments: every file in the archive parses completely."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    killed_mid_write = 0
    for attempt in range(3):
        root = tmp_path / f"archive{attempt}"
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root)], env=env, stdout=subprocess.PIPE, text=True
        )
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "0"  # one whole segment is on disk
        # Kill as soon as the next drawings file is being written (its temporary exists).
        deadline = time.monotonic() + 20
        while not list((root / ".tmp").glob("*.ndjson.*.part")) and time.monotonic() < deadline:
            time.sleep(0.001)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        killed_mid_write += bool(list((root / ".tmp").glob("*.ndjson.*.part")))
        assert _check_whole(root) >= 20
        records = list(iter_archive(root))
        assert len(records) % 20 == 0 and all(r.raw_strokes is not None for r in records)
        if killed_mid_write:
            break
    assert killed_mid_write, "the writer was never caught mid-write"


# ---------------------------------------------------------------------- where it goes


async def test_object_storage_through_fsspec(
    redis_client: aioredis.Redis, raw_drawings: dict[str, list[list[np.ndarray]]], tmp_path: Path
) -> None:
    """With a URL root (fsspec's memory file system standing in for a bucket) the same cycle works."""
    pytest.importorskip("fsspec")
    url = f"memory://doodle-archive-{uuid.uuid4().hex}"
    pair = {"p_aaaaaaaaaaaa": raw_drawings["apple"][0], "p_bbbbbbbbbbbb": raw_drawings["apple"][1]}
    state, ended = await _played_round(redis_client, "apple", pair)
    for player_id in pair:
        await record_consent(redis_client, state.code, player_id, True)
    await enqueue_round(redis_client, state, ended)
    await _archiver(redis_client, url).process_available()
    assert len(list(iter_archive(url))) == 2
    assert await forget_in_archive(redis_client, open_archive(url), "p_aaaaaaaaaaaa") == 1
    (record,) = iter_archive(url)
    np.testing.assert_array_equal(record.strokes[0], simplify_raw(raw_drawings["apple"][1])[0])
    assert archive_as_dataset(url, tmp_path / "out") == {"apple": 1}


def test_local_archive_needs_no_fsspec(tmp_path: Path) -> None:
    """Without fsspec installed a local archive works, and a bucket URL fails with a clear error."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["fsspec"] = None  # as if the archive-cloud extra were not installed
        from server.archive import ArchivedDrawing, CloudSupportMissing, Segment, iter_archive, open_archive

        archive = open_archive(sys.argv[1])
        points = ((0.0, 0.0, 0.0), (30.0, 40.0, 20.0), (60.0, 10.0, 45.0))
        archive.write_segment(Segment("1-0", "star", 1.7e9, (ArchivedDrawing("p_x", True, (points,)),)))
        assert [r.word for r in iter_archive(sys.argv[1])] == ["star"]
        try:
            open_archive("s3://bucket/prefix")
        except CloudSupportMissing as exc:
            print("refused:", exc)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "refused:" in done.stdout and "archive-cloud" in done.stdout


# ---------------------------------------------------------------------- through the real server


async def test_real_game_archives_consented_drawing_and_forget_me_removes_it(
    redis_url: str, tmp_path: Path, apple: list[np.ndarray], cloud: list[np.ndarray]
) -> None:
    """Over real WebSockets: the consenting host's apple is archived, the other player's cloud and the
    spectator leave nothing, and forget_me removes the host's drawing."""
    settings = Settings(
        port=0, redis_url=redis_url, archive_dir=tmp_path, guess_interval_ms=50, recognition_processes=0
    )
    async with running_server(settings) as server:
        host = await TestClient.connect(server.url)
        await host.hello("host", consent={"archive": True}, canvas=[256, 256])
        options = {"words": ["apple"], "rounds": 1, "round_seconds": 5, "results_seconds": 1, "archive": True}
        room = await host.request({"type": "create_room", "settings": options}, "room")
        assert room["type"] == "room", room
        player = await TestClient.connect(server.url)
        await player.hello("player", canvas=[256, 256])
        assert (await player.request({"type": "join_room", "code": room["code"]}, "room"))["type"] == "room"
        tv = await TestClient.connect(server.url)
        await tv.hello("tv", consent={"archive": True})
        joined = await tv.request({"type": "join_room", "code": room["code"], "role": "spectator"}, "room")
        assert joined["type"] == "room"

        await host.send({"type": "start_game"})
        await host.wait_for("round_started")
        for client, drawing in ((host, apple), (player, cloud)):
            for message in drawing_batches(drawing, 1):
                await client.send(message)
                await asyncio.sleep(0.002)
        await host.wait_for("game_over", timeout=30)

        await _eventually(lambda: bool(list(iter_archive(tmp_path))), timeout=10)
        (record,) = iter_archive(tmp_path)
        assert record.word == "apple" and record.recognized is True and record.raw_strokes is not None
        assert [r.key_id for r in load_drawings(tmp_path)["apple"]] == [record.key_id]  # what train reads
        for path in (tmp_path / "simplified").rglob("*.ndjson"):
            assert [r.key_id for r in read_ndjson(path)] == [record.key_id]
        everything = b"".join(path.read_bytes() for path in _archive_files(tmp_path))
        for secret in (host.player_id, player.player_id, tv.player_id, host.token, room["code"]):
            assert str(secret).encode() not in everything

        forgotten = await host.request({"type": "forget_me"}, "forgotten")
        assert forgotten == {"type": "forgotten", "drawings_removed": 1}
        assert list(iter_archive(tmp_path)) == []
        for client in (host, player, tv):
            await client.close()
